//! Credentials: the route's `auth` checked (a bearer token, HTTP Basic with the app's key and
//! secret, or none at all), the token's scope and root, and `Dropbox-API-Path-Root`.

use super::stop::Stop;
use crate::routes::{Auth, Call, NOAUTH_WITH_HEADER, RouteInfo};
use crate::state::{Access, Emulator};
use crate::wire::{ApiError, Scope};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

/// Check the caller's credentials as the route's `auth` asks (see [`Auth`]) and make the
/// call they stand for: its account, token and scope. A refusal is the answer.
pub(super) fn authenticate(
    emu: &Emulator,
    info: RouteInfo,
    route: &str,
    headers: &HeaderMap,
    query: &str,
) -> Result<Call, Stop> {
    let mut call = Call {
        route: route.to_string(),
        arg: Bytes::from_static(b"null"),
        body: Bytes::new(),
        account: None,
        scope: Scope::full(),
        token: None,
        range: None,
    };
    if info.auth == Auth::NoAuth && headers.contains_key(http::header::AUTHORIZATION) {
        // files.stone: `auth="noauth"` (longpoll, the only such route: the cursor alone names
        // the account); the answer as Dropbox gives it (dropbox-sdk-rust#15).
        return Err(ApiError::BadInput(format!(
            "Error in call to API function \"{route}\": {NOAUTH_WITH_HEADER}"
        ))
        .into());
    }
    if info.auth == Auth::App {
        // check.stone `auth="app"`: HTTP Basic with a registered app's key and secret.
        let Some((key, secret)) = basic_auth(headers) else {
            return Err(ApiError::BadInput(format!(
                "Error in call to API function \"{route}\": Must provide HTTP header \"Authorization\" with HTTP Basic app key and secret."
            ))
            .into());
        };
        let known = emu
            .app(&key)
            .is_some_and(|app| app.secret.as_deref() == Some(secret.as_str()));
        if !known {
            return Err(ApiError::Auth("invalid_access_token").into());
        }
    }
    if matches!(info.auth, Auth::User | Auth::AppOrUser) {
        let Some(token) = bearer(headers, query) else {
            return Err(ApiError::BadInput(format!(
                "Error in call to API function \"{route}\": Must provide HTTP header \"Authorization\" or URL parameter \"authorization\"."
            ))
            .into());
        };
        let grant = emu.tokens.lock().access.get(&token).cloned();
        let Some(grant) = grant else {
            return Err(ApiError::Auth("invalid_access_token").into());
        };
        if grant.expires_at.is_some_and(|t| t <= emu.now()) {
            return Err(ApiError::Auth("expired_access_token").into());
        }
        if let Some(refused) = crate::oauth::missing_scope(&grant, route) {
            return Err(Stop::answer(refused));
        }
        let Some(account) = emu.account(&grant.account) else {
            return Err(ApiError::Auth("invalid_access_token").into());
        };
        call.scope = match &grant.access {
            Access::AppFolder(name) => {
                ensure_app_folder(emu, &account, name);
                Scope::app_folder(name)
            }
            Access::Full => Scope::full(),
        }
        .with_casing(emu.config.parent_casing_seed);
        if let Some(root) = headers.get("Dropbox-API-Path-Root") {
            if let Err(e) = check_path_root(root, &account) {
                return Err(e.into());
            }
        }
        call.account = Some(account);
        call.token = Some(token);
    }
    Ok(call)
}

/// The app key and secret of an `Authorization: Basic` header.
pub(super) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (a, b) = s.split_once(':')?;
    Some((a.to_string(), b.to_string()))
}

/// The bearer token of the `Authorization` header, or of the `authorization` URL parameter.
fn bearer(headers: &HeaderMap, query: &str) -> Option<String> {
    let from_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let from_query = || crate::oauth::form(query).remove("authorization");
    let v = from_header.or_else(from_query)?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// Create the app folder `/Apps/NAME` of an app-folder token if it is not there yet.
fn ensure_app_folder(emu: &Emulator, account: &crate::state::Account, name: &str) {
    let path = format!("/apps/{}", crate::store::lower(name));
    if account.ns.lock().get(&path).is_some() {
        return;
    }
    emu.mutate(account, |r| {
        if r.ns.get(&path).is_none() {
            let _ = r.create_folder(&format!("/Apps/{name}"), false);
        }
    });
}

/// Check `Dropbox-API-Path-Root` (common.stone `PathRoot`): `home`, or the user's own root or
/// namespace; another is `invalid_root` or `no_permission`.
fn check_path_root(raw: &HeaderValue, account: &crate::state::Account) -> Result<(), ApiError> {
    let v: serde_json::Value = serde_json::from_slice(raw.as_bytes())
        .map_err(|_| ApiError::BadInput("Error in call to API function: HTTP header \"Dropbox-API-Path-Root\": could not decode input as JSON".into()))?;
    let ns =
        match v.get(".tag").and_then(|t| t.as_str()) {
            Some("home") => return Ok(()),
            Some("root") => v.get("root"),
            Some("namespace_id") => v.get("namespace_id"),
            _ => return Err(ApiError::BadInput(
                "Error in call to API function: HTTP header \"Dropbox-API-Path-Root\": unknown tag"
                    .into(),
            )),
        };
    if ns.and_then(|n| n.as_str()) == Some(account.namespace_id.as_str()) {
        return Ok(());
    }
    // common.stone PathRoot: `root` naming another namespace than the user's root is
    // `invalid_root` (with the user's current root info); `namespace_id` naming a namespace
    // the user cannot access is `no_permission`.
    if v.get(".tag").and_then(|t| t.as_str()) == Some("namespace_id") {
        return Err(ApiError::PathRoot(
            serde_json::json!({".tag": "no_permission"}),
        ));
    }
    Err(ApiError::PathRoot(serde_json::json!({
        ".tag": "invalid_root",
        "invalid_root": {".tag": "user", "root_namespace_id": account.namespace_id, "home_namespace_id": account.namespace_id}
    })))
}
