//! `check/app`, `check/user` and `users/get_current_account`.

use super::{Call, Reply, decode, to_json};
use crate::state::Emulator;
use crate::wire::ApiError;
use dropbox_sdk::users;

/// `check/app` and `check/user` (check.stone): after the route's authentication, echo
/// `query` (at most 500 characters) back as `result`.
pub(super) fn echo(call: &Call) -> Result<Reply, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EchoArg {
        #[serde(default)]
        query: String,
    }
    let arg: EchoArg = decode(call)?;
    if arg.query.chars().count() > 500 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: query",
            format!(
                "'{}...' longer than 500",
                arg.query.chars().take(20).collect::<String>()
            ),
        ));
    }
    Ok(Reply::Json(serde_json::json!({"result": arg.query})))
}

pub(super) fn current_account(_emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let a = call.account()?;
    let display = a.given_name();
    let name = users::Name::new(
        display.clone(),
        "Emulated".into(),
        display.clone(),
        format!("{display} Emulated"),
        display[..1.min(display.len())].to_string() + "E",
    );
    let root = dropbox_sdk::common::RootInfo::User(dropbox_sdk::common::UserRootInfo::new(
        a.namespace_id.clone(),
        a.namespace_id.clone(),
    ));
    let acct = users::FullAccount::new(
        a.account_id.clone(),
        name,
        a.email(),
        true,
        false,
        "en".into(),
        "https://www.dropbox.com/referrals/emulated".into(),
        false,
        dropbox_sdk::users_common::AccountType::Basic,
        root,
    )
    .with_country("CH".into());
    to_json(acct)
}
