//! The Dropbox API v2 routes: argument decoding with the official types, path rules,
//! and each route's results and errors.

use crate::cursor::Cursor;
use crate::ops::{ConflictKind, Mode, OpError, RelocateError};
use crate::state::{Account, Emulator, Session};
use crate::store::{Namespace, Node, lower};
use crate::wire::{self, ApiError, RateReason, Scope};
use bytes::Bytes;
use dropbox_sdk::{files, users};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use sync_core::ContentHash;

/// Largest request body a content route accepts (150 MiB).
pub const MAX_PAYLOAD: u64 = 150 * 1024 * 1024;
/// Upload sessions expire after this long.
pub const SESSION_LIFETIME_SECS: i64 = 7 * 24 * 3600;
/// Concurrent-session appends must be multiples of this.
pub const CONCURRENT_ALIGN: u64 = 4 * 1024 * 1024;
/// Default and maximum `list_folder` page size.
pub const PAGE_LIMIT: usize = 2000;

/// How a route takes its argument and returns its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// JSON body in, JSON body out.
    Rpc,
    /// Argument in `Dropbox-API-Arg`, bytes in the body, JSON out.
    Upload,
    /// Argument in `Dropbox-API-Arg`, result in `Dropbox-API-Result`, bytes out.
    Download,
}

/// How a route authenticates the caller: `auth` in the route's `attrs` in the API spec
/// (`stone_cfg.stone`: `user`, `team`, `app`, `noauth`, or two of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `auth = "user"`: `Authorization: Bearer <access token>`.
    User,
    /// `auth = "app, user"`: a user token (or the app's key and secret, for shared links,
    /// which the emulator does not serve).
    AppOrUser,
    /// `auth = "app"`: HTTP Basic with the app key and secret.
    App,
    /// `auth = "noauth"`: no credentials at all. Dropbox refuses a request to such a route
    /// that carries an `Authorization` header with a 400 (see [`NOAUTH_WITH_HEADER`]).
    NoAuth,
}

/// The 400 text Dropbox sends when a no-auth route gets an `Authorization` header, as users of
/// the official Rust SDK reported it (dropbox/dropbox-sdk-rust#15, where the SDK's maintainer
/// confirms longpoll is the API's one no-auth route).
pub const NOAUTH_WITH_HEADER: &str =
    "Your request includes an Authorization header, but this function does not use it.";

/// A known route: its style, how it authenticates, whether it writes, and the scope it needs.
#[derive(Clone, Copy, Debug)]
pub struct RouteInfo {
    /// Request style.
    pub style: Style,
    /// How the caller authenticates.
    pub auth: Auth,
    /// Takes the namespace write lock.
    pub write: bool,
    /// The OAuth scope the route needs (`scope` in its attrs), if any.
    pub scope: Option<&'static str>,
}

/// (name, style, auth, write, scope, source) — one row of [`ROUTES`].
type RouteRow = (
    &'static str,
    Style,
    Auth,
    bool,
    Option<&'static str>,
    &'static str,
);

/// Every route the emulator serves, with its attributes as the API spec gives them
/// (`dropbox/dropbox-api-spec` at 0d994ebe; the number is the line of the `route` in the
/// namespace's `.stone` file). `write`: a state-changing call that takes the namespace lock
/// (Dropbox's data-ingress guide).
#[rustfmt::skip]
const ROUTES: &[RouteRow] = {
    use Auth::*;
    use Style::*;
    const MR: Option<&str> = Some("files.metadata.read");
    const CR: Option<&str> = Some("files.content.read");
    const CW: Option<&str> = Some("files.content.write");
    const AI: Option<&str> = Some("account_info.read");
    &[
        ("check/app",                               Rpc,      App,       false, None, "check.stone:18"),
        ("check/user",                              Rpc,      User,      false, AI,   "check.stone:5"),
        ("users/get_current_account",               Rpc,      User,      false, AI,   "users.stone:342"),
        ("users/get_space_usage",                   Rpc,      User,      false, AI,   "users.stone:361"),
        ("auth/token/revoke",                       Rpc,      User,      false, None, "auth.stone:94"),
        ("files/list_folder",                       Rpc,      AppOrUser, false, MR,   "files.stone:2824"),
        ("files/list_folder/continue",              Rpc,      AppOrUser, false, MR,   "files.stone:2848"),
        ("files/list_folder/get_latest_cursor",     Rpc,      User,      false, MR,   "files.stone:2859"),
        ("files/list_folder/longpoll",              Rpc,      NoAuth,    false, MR,   "files.stone:2871"),
        ("files/get_metadata",                      Rpc,      User,      false, MR,   "files.stone:2814"),
        ("files/list_revisions",                    Rpc,      User,      false, MR,   "files.stone:3208"),
        ("files/download",                          Download, User,      false, CR,   "files.stone:2716"),
        ("files/export",                            Download, User,      false, CR,   "files.stone:2742"),
        ("files/upload",                            Upload,   User,      true,  CW,   "files.stone:3014"),
        ("files/upload_session/start",              Upload,   User,      false, CW,   "files.stone:3029"),
        ("files/upload_session/append",             Upload,   User,      false, CW,   "files.stone:3063"),
        ("files/upload_session/append_v2",          Upload,   User,      false, CW,   "files.stone:3078"),
        ("files/upload_session/append_batch",       Upload,   User,      false, CW,   "files.stone:3094"),
        ("files/upload_session/finish",             Upload,   User,      true,  CW,   "files.stone:3113"),
        ("files/upload_session/start_batch",        Rpc,      User,      false, CW,   "files.stone:3143"),
        ("files/upload_session/finish_batch",       Rpc,      User,      true,  CW,   "files.stone:3156"),
        ("files/upload_session/finish_batch_v2",    Rpc,      User,      true,  CW,   "files.stone:3178"),
        ("files/upload_session/finish_batch/check", Rpc,      User,      false, CW,   "files.stone:3197"),
        ("files/delete",                            Rpc,      User,      true,  CW,   "files.stone:2641"),
        ("files/delete_v2",                         Rpc,      User,      true,  CW,   "files.stone:2653"),
        ("files/delete_batch",                      Rpc,      User,      true,  CW,   "files.stone:2480"),
        ("files/delete_batch/check",                Rpc,      User,      false, CW,   "files.stone:2491"),
        ("files/move_v2",                           Rpc,      User,      true,  CW,   "files.stone:2675"),
        ("files/copy_v2",                           Rpc,      User,      true,  CW,   "files.stone:2523"),
        ("files/move_batch_v2",                     Rpc,      User,      true,  CW,   "files.stone:2588"),
        ("files/copy_batch_v2",                     Rpc,      User,      true,  CW,   "files.stone:2544"),
        ("files/move_batch/check_v2",               Rpc,      User,      false, CW,   "files.stone:2612"),
        ("files/copy_batch/check_v2",               Rpc,      User,      false, CW,   "files.stone:2567"),
        ("files/create_folder_v2",                  Rpc,      User,      true,  CW,   "files.stone:2632"),
        ("files/create_folder_batch",               Rpc,      User,      true,  CW,   "files.stone:2457"),
        ("files/create_folder_batch/check",         Rpc,      User,      false, CW,   "files.stone:2470"),
        ("files/restore",                           Rpc,      User,      true,  CW,   "files.stone:3223"),
    ]
};

/// Look a route up by its name (`files/list_folder`).
pub fn route_info(name: &str) -> Option<RouteInfo> {
    ROUTES
        .iter()
        .find(|r| r.0 == name)
        .map(|&(_, style, auth, write, scope, _)| RouteInfo {
            style,
            auth,
            write,
            scope,
        })
}

/// Where the API spec defines a route (`files.stone:2871`), for messages and docs.
pub fn route_source(name: &str) -> Option<&'static str> {
    ROUTES.iter().find(|r| r.0 == name).map(|r| r.5)
}

/// What a route call carries.
pub struct Call {
    /// Route name.
    pub route: String,
    /// The JSON argument as sent (the SDK's types deserialize with borrowed keys, so they
    /// are decoded from the text, not from a `Value`). `null` when there is none.
    pub arg: Bytes,
    /// Request body (content routes).
    pub body: Bytes,
    /// The caller's account (routes with auth).
    pub account: Option<Arc<Account>>,
    /// The caller's root.
    pub scope: Scope,
    /// The token used (for revoke).
    pub token: Option<String>,
    /// `Range` header of a download.
    pub range: Option<String>,
}

/// A route's successful answer.
pub enum Reply {
    /// JSON body.
    Json(Value),
    /// Download: metadata for `Dropbox-API-Result` and the bytes.
    Download {
        /// The untagged FileMetadata.
        meta: Value,
        /// The whole content (the server layer applies Range).
        data: Bytes,
        /// The revision, used as the ETag.
        rev: String,
    },
}

fn decode<T: DeserializeOwned>(call: &Call) -> Result<T, ApiError> {
    let what = if route_info(&call.route).is_some_and(|r| r.style == Style::Rpc) {
        "request body"
    } else {
        "HTTP header \"Dropbox-API-Arg\""
    };
    serde_json::from_slice(&call.arg).map_err(|e| ApiError::bad_arg(&call.route, what, e))
}

/// Bring an argument into the form the SDK's decoders take: a void union member may be
/// sent as a bare string (`"mode": "add"`), and `.tag` may come after the other keys.
pub fn normalize_arg(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if matches!(k.as_str(), "mode" | "session_type" | "reason") {
                    if let Value::String(tag) = child {
                        *child = json!({".tag": tag.clone()});
                    }
                }
                normalize_arg(child);
            }
            if let Some(tag) = map.remove(".tag") {
                let rest = std::mem::take(map);
                map.insert(".tag".into(), tag);
                map.extend(rest);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_arg),
        _ => {}
    }
}

fn to_json(v: impl serde::Serialize) -> Result<Reply, ApiError> {
    serde_json::to_value(v)
        .map(Reply::Json)
        .map_err(|_| ApiError::Server(500))
}

/// A path argument after its form was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathArg {
    /// The root of the scope (`""`).
    Root,
    /// A full display path.
    Path(String),
    /// `id:...`.
    Id(String),
    /// `rev:...`.
    Rev(String),
}

/// Which forms a path argument may take.
#[derive(Clone, Copy)]
pub struct Forms {
    root: bool,
    id: bool,
    rev: bool,
}

const READ: Forms = Forms {
    root: false,
    id: true,
    rev: true,
};
const LOOKUP: Forms = Forms {
    root: false,
    id: true,
    rev: false,
};
const LIST: Forms = Forms {
    root: true,
    id: true,
    rev: false,
};
const WRITE: Forms = Forms {
    root: false,
    id: false,
    rev: false,
};

/// Check a path's form. Wrong shape → 400 (as Dropbox's pattern check); well shaped but
/// malformed (`//`, trailing `/`, `..`, NUL, over-long names) → 409 `malformed_path`.
pub fn parse_path(
    call: &Call,
    account: &Account,
    raw: &str,
    forms: Forms,
) -> Result<PathArg, PathProblem> {
    if raw.is_empty() {
        return if forms.root {
            Ok(PathArg::Root)
        } else {
            Err(PathProblem::Pattern)
        };
    }
    if let Some(id) = raw.strip_prefix("id:") {
        return if forms.id && !id.is_empty() {
            Ok(PathArg::Id(raw.to_string()))
        } else {
            Err(PathProblem::Pattern)
        };
    }
    if let Some(rev) = raw.strip_prefix("rev:") {
        let ok = forms.rev && rev.len() >= 9 && rev.chars().all(|c| c.is_ascii_hexdigit());
        return if ok {
            Ok(PathArg::Rev(rev.to_string()))
        } else {
            Err(PathProblem::Pattern)
        };
    }
    let rel = if let Some(rest) = raw.strip_prefix("ns:") {
        let (nsid, tail) = rest
            .split_once('/')
            .map(|(a, b)| (a, format!("/{b}")))
            .unwrap_or((rest, String::new()));
        if nsid != account.namespace_id || !call.scope.root.is_empty() {
            return Err(PathProblem::NotFound);
        }
        tail
    } else if raw.starts_with('/') {
        raw.to_string()
    } else {
        return Err(PathProblem::Pattern);
    };
    if rel.is_empty() {
        return if forms.root {
            Ok(PathArg::Root)
        } else {
            Err(PathProblem::Malformed)
        };
    }
    if rel == "/" {
        // Dropbox refuses "/" for the root, with a 400 that names the fix.
        return Err(if forms.root {
            PathProblem::RootAsSlash
        } else {
            PathProblem::Malformed
        });
    }
    for comp in rel[1..].split('/') {
        let bad = comp.is_empty()
            || comp == "."
            || comp == ".."
            // Dropbox counts a name's length in UTF-16 units, at most 255 (its help page on
            // file names counts an emoji as two characters).
            || comp.encode_utf16().count() > 255
            || comp.ends_with(' ')
            || comp
                .chars()
                .any(|c| c == '\0' || c == '\u{7f}' || c == '\\');
        if bad {
            return Err(PathProblem::Malformed);
        }
    }
    // Dropbox keeps names composed (NFC): a name sent decomposed (as macOS file systems give
    // it) is stored, listed and found composed (the official SDK's and Maestral's integration
    // tests expect `path_display` in NFC).
    let rel: String = unicode_normalization::UnicodeNormalization::nfc(rel.as_str()).collect();
    Ok(PathArg::Path(call.scope.full_path(&rel)))
}

/// Why a path argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Fails the route's path pattern (400).
    Pattern,
    /// Shaped right, but not a valid path (409 malformed_path).
    Malformed,
    /// Names a namespace the caller cannot see.
    NotFound,
    /// `"/"` where the root is meant (400: the root is `""`).
    RootAsSlash,
}

fn lookup_error(e: &OpError) -> files::LookupError {
    match e {
        OpError::NotFile => files::LookupError::NotFile,
        OpError::NotFolder => files::LookupError::NotFolder,
        OpError::MalformedPath => files::LookupError::MalformedPath(None),
        _ => files::LookupError::NotFound,
    }
}

fn write_error(e: &OpError) -> files::WriteError {
    match e {
        OpError::Conflict(ConflictKind::File) => {
            files::WriteError::Conflict(files::WriteConflictError::File)
        }
        OpError::Conflict(ConflictKind::Folder) => {
            files::WriteError::Conflict(files::WriteConflictError::Folder)
        }
        OpError::Conflict(ConflictKind::FileAncestor) => {
            files::WriteError::Conflict(files::WriteConflictError::FileAncestor)
        }
        OpError::DisallowedName => files::WriteError::DisallowedName,
        OpError::InsufficientSpace => files::WriteError::InsufficientSpace,
        OpError::MalformedPath => files::WriteError::MalformedPath(None),
        _ => files::WriteError::NoWritePermission,
    }
}

/// Resolve a path argument to a full display path for reading (ids must exist and lie in scope).
fn resolve_read(ns: &Namespace, scope: &Scope, arg: &PathArg) -> Result<Option<String>, OpError> {
    match arg {
        PathArg::Root => Ok(None),
        PathArg::Path(p) => Ok(Some(p.clone())),
        PathArg::Id(id) => {
            let p = ns.path_of_id(id).ok_or(OpError::NotFound)?;
            if !crate::store::within(p, &scope.root_lower()) {
                return Err(OpError::NotFound);
            }
            Ok(Some(
                ns.get(p).map(|n| n.display.clone()).unwrap_or_default(),
            ))
        }
        PathArg::Rev(_) => Err(OpError::NotFound),
    }
}

impl Call {
    fn account(&self) -> Result<&Arc<Account>, ApiError> {
        self.account
            .as_ref()
            .ok_or(ApiError::Auth("invalid_access_token"))
    }

    #[allow(dead_code)]
    fn arg_value(&self) -> Value {
        serde_json::from_slice(&self.arg).unwrap_or(Value::Null)
    }

    fn path(&self, raw: &str, forms: Forms) -> Result<Result<PathArg, OpError>, ApiError> {
        let account = self.account()?;
        match parse_path(self, account, raw, forms) {
            Ok(p) => Ok(Ok(p)),
            Err(PathProblem::Pattern) => Err(ApiError::bad_arg(
                &self.route,
                "path",
                format!(
                    "'{raw}' did not match pattern '(/(.|[\\r\\n])*)|(ns:[0-9]+(/.*)?)|(id:.*)'"
                ),
            )),
            Err(PathProblem::RootAsSlash) => Err(ApiError::bad_arg(
                &self.route,
                "request body: path",
                "Specify the root folder as an empty string rather than as \"/\".",
            )),
            Err(PathProblem::Malformed) => Ok(Err(OpError::MalformedPath)),
            Err(PathProblem::NotFound) => Ok(Err(OpError::NotFound)),
        }
    }

    /// A write path as a full display path, or the route error for it.
    fn write_path(
        &self,
        raw: &str,
        wrap: impl Fn(files::WriteError) -> ApiError,
    ) -> Result<String, ApiError> {
        let forms = if self.route.ends_with("upload")
            || self.route.contains("finish")
            || self.route.ends_with("delete_v2")
        {
            Forms { id: true, ..WRITE }
        } else {
            WRITE
        };
        match self.path(raw, forms)? {
            Ok(PathArg::Path(p)) => Ok(p),
            Ok(PathArg::Id(id)) => {
                let account = self.account()?;
                let ns = account.ns.lock();
                match resolve_read(&ns, &self.scope, &PathArg::Id(id)) {
                    Ok(Some(p)) => Ok(p),
                    _ => Err(wrap(files::WriteError::MalformedPath(None))),
                }
            }
            Ok(_) => Err(wrap(files::WriteError::MalformedPath(None))),
            Err(e) => Err(wrap(write_error(&e))),
        }
    }
}

/// Handle one route call (everything but longpoll, which the server awaits separately).
pub fn handle(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    match call.route.as_str() {
        "check/app" | "check/user" => echo(call),
        "users/get_current_account" => current_account(emu, call),
        "users/get_space_usage" => {
            let a = call.account()?;
            let used = a.ns.lock().used;
            to_json(users::SpaceUsage::new(
                used,
                users::SpaceAllocation::Individual(users::IndividualSpaceAllocation::new(
                    emu.config.quota_bytes,
                )),
            ))
        }
        "auth/token/revoke" => {
            if let Some(t) = &call.token {
                emu.revoke(t);
            }
            Ok(Reply::Json(Value::Null))
        }
        "files/list_folder" => list_folder(emu, call),
        "files/list_folder/continue" => list_folder_continue(call),
        "files/list_folder/get_latest_cursor" => get_latest_cursor(call),
        "files/get_metadata" => get_metadata(call),
        "files/download" => download(emu, call),
        "files/export" => export(emu, call),
        "files/upload" => upload(emu, call),
        "files/upload_session/start" => session_start(emu, call),
        "files/upload_session/start_batch" => session_start_batch(emu, call),
        "files/upload_session/append_batch" => session_append_batch(emu, call),
        "files/upload_session/append_v2" | "files/upload_session/append" => {
            session_append(emu, call)
        }
        "files/upload_session/finish" => session_finish(emu, call),
        "files/upload_session/finish_batch_v2" => finish_batch(emu, call, false),
        "files/upload_session/finish_batch" => finish_batch(emu, call, true),
        "files/upload_session/finish_batch/check" => job_check(emu, call),
        "files/delete_v2" | "files/delete" => delete(emu, call),
        "files/delete_batch" => delete_batch(emu, call),
        "files/move_v2" => relocate(emu, call, false),
        "files/copy_v2" => relocate(emu, call, true),
        "files/move_batch_v2" => relocate_batch(emu, call, false),
        "files/copy_batch_v2" => relocate_batch(emu, call, true),
        "files/delete_batch/check" | "files/move_batch/check_v2" | "files/copy_batch/check_v2" => {
            job_check(emu, call)
        }
        "files/create_folder_v2" => create_folder(emu, call),
        "files/create_folder_batch" => create_folder_batch(emu, call),
        "files/create_folder_batch/check" => job_check(emu, call),
        "files/list_revisions" => list_revisions(call),
        "files/restore" => restore(emu, call),
        other => Err(ApiError::unknown_route(other)),
    }
}

/// `check/app` and `check/user` (check.stone): after the route's authentication, echo
/// `query` (at most 500 characters) back as `result`.
fn echo(call: &Call) -> Result<Reply, ApiError> {
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

fn current_account(_emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
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

// ---------------------------------------------------------------- listing

fn list_folder(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListFolderArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ListFolderError::Path(lookup_error(e)));
    if let Some(l) = arg.limit {
        if !(1..=2000).contains(&l) {
            return Err(ApiError::bad_arg(
                &call.route,
                "request body: limit",
                format!("{l} is not within range 1..2000"),
            ));
        }
    }
    let account = call.account()?;
    let path = call.path(&arg.path, LIST)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    let root_full = match resolve_read(&ns, &call.scope, &path).map_err(|e| err(&e))? {
        None => call.scope.root.clone(),
        Some(p) => p,
    };
    let root_lower = lower(&root_full);
    if !root_lower.is_empty() {
        match ns.get(&root_lower) {
            None => return Err(err(&OpError::NotFound)),
            Some(n) if n.file().is_some() => return Err(err(&OpError::NotFolder)),
            Some(_) => {}
        }
    }
    let cursor = Cursor {
        account: account.name.clone(),
        root: root_lower,
        scope_root: call.scope.root.clone(),
        recursive: arg.recursive,
        include_deleted: arg.include_deleted,
        limit: arg.limit.map(|l| l as usize).unwrap_or(PAGE_LIMIT),
        seq: ns.seq(),
        epoch: account.epoch.load(std::sync::atomic::Ordering::Relaxed),
        after: Some(String::new()),
    };
    // The folder itself leads a recursive listing of a folder other than the root.
    let mut lead = vec![];
    if arg.recursive && cursor.root != call.scope.root_lower() {
        if let Some(n) = ns.get(&cursor.root) {
            lead.push(wire::metadata(n, &call.scope));
        }
    }
    drop(ns);
    let _ = emu;
    page(account, cursor, &call.scope, lead)
}

fn list_folder_continue(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListFolderContinueArg = decode(call)?;
    let account = call.account()?;
    let cursor = Cursor::decode(&arg.cursor)
        .ok_or_else(|| ApiError::bad_arg(&call.route, "request body: cursor", "Invalid cursor"))?;
    if cursor.account != account.name || cursor.scope_root != call.scope.root {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: cursor",
            "Invalid cursor",
        ));
    }
    if cursor.epoch != account.epoch.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::route(files::ListFolderContinueError::Reset));
    }
    // "If the folder itself that the cursor refers to is deleted, the call will return a 409
    // path error" (https://developers.dropbox.com/detecting-changes-guide, "Polling"); a move
    // is a delete at the old path. The journal holds it as one Delete of the listed folder,
    // which a listing of that folder never shows.
    if listed_folder_gone(&account.ns.lock(), &cursor) {
        return Err(ApiError::route(files::ListFolderContinueError::Path(
            files::LookupError::NotFound,
        )));
    }
    page(account, cursor, &call.scope, vec![])
}

fn get_latest_cursor(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListFolderArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ListFolderError::Path(lookup_error(e)));
    let account = call.account()?;
    let path = call.path(&arg.path, LIST)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    let root_full = resolve_read(&ns, &call.scope, &path)
        .map_err(|e| err(&e))?
        .unwrap_or_else(|| call.scope.root.clone());
    let root = lower(&root_full);
    if !root.is_empty() && ns.get(&root).is_none_or(|n| n.file().is_some()) {
        return Err(err(&if ns.get(&root).is_none() {
            OpError::NotFound
        } else {
            OpError::NotFolder
        }));
    }
    let cursor = Cursor {
        account: account.name.clone(),
        root,
        scope_root: call.scope.root.clone(),
        recursive: arg.recursive,
        include_deleted: arg.include_deleted,
        limit: arg.limit.map(|l| l as usize).unwrap_or(PAGE_LIMIT),
        seq: ns.seq(),
        epoch: account.epoch.load(std::sync::atomic::Ordering::Relaxed),
        after: None,
    };
    to_json(files::ListFolderGetLatestCursorResult::new(cursor.encode()))
}

/// One page of a listing: first the snapshot walk (while `after` is set), then the journal.
fn page(
    account: &Account,
    mut cursor: Cursor,
    scope: &Scope,
    mut entries: Vec<files::Metadata>,
) -> Result<Reply, ApiError> {
    let ns = account.ns.lock();
    let limit = cursor.limit.max(1);
    if let Some(after) = cursor.after.clone() {
        // Snapshot phase: walk the current tree (and tombstones if asked) in path order.
        let base = if cursor.root.is_empty() {
            String::new()
        } else {
            cursor.root.clone()
        };
        let start = if after.is_empty() {
            format!("{base}/")
        } else {
            after.clone()
        };
        let end = format!("{base}0");
        let mut last = None;
        let mut more = false;
        let in_scope = |k: &str| cursor.recursive || crate::store::parent(k) == base;
        let mut live = ns
            .nodes
            .range::<String, _>((
                std::ops::Bound::Excluded(start.clone()),
                std::ops::Bound::Excluded(end.clone()),
            ))
            .filter(|(k, _)| in_scope(k))
            .peekable();
        let mut dead = ns
            .tombstones
            .range::<String, _>((
                std::ops::Bound::Excluded(start.clone()),
                std::ops::Bound::Excluded(end),
            ))
            .filter(|(k, _)| cursor.include_deleted && in_scope(k))
            .peekable();
        if after.is_empty() {
            // `start` itself is excluded above; it is `base/`, which no key equals.
        }
        loop {
            if entries.len() >= limit {
                more = live.peek().is_some() || dead.peek().is_some();
                break;
            }
            let take_live = match (live.peek(), dead.peek()) {
                (Some((a, _)), Some((b, _))) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_live {
                let (k, n) = live.next().unwrap_or_else(|| unreachable!());
                entries.push(wire::metadata(n, scope));
                last = Some(k.clone());
            } else {
                let (k, t) = dead.next().unwrap_or_else(|| unreachable!());
                entries.push(wire::deleted_metadata(&t.display, scope));
                last = Some(k.clone());
            }
        }
        if more {
            cursor.after = last;
            return to_json(files::ListFolderResult::new(entries, cursor.encode(), true));
        }
        cursor.after = None;
        // Changes made during the walk are delivered from the journal on the next call.
        let has_more = ns
            .changes_since(cursor.seq, &cursor.root, cursor.recursive)
            .next()
            .is_some();
        return to_json(files::ListFolderResult::new(
            entries,
            cursor.encode(),
            has_more,
        ));
    }
    let mut seq = cursor.seq;
    let mut has_more = false;
    // One entry per path with its latest state, as Dropbox sends them.
    for (s, e) in ns.latest_changes_since(cursor.seq, &cursor.root, cursor.recursive) {
        if entries.len() >= limit {
            has_more = true;
            break;
        }
        entries.push(match &e.node {
            Some(n) => wire::metadata(n, scope),
            None => wire::deleted_metadata(&e.display, scope),
        });
        seq = s;
    }
    cursor.seq = if has_more { seq } else { ns.seq() };
    to_json(files::ListFolderResult::new(
        entries,
        cursor.encode(),
        has_more,
    ))
}

/// Whether the folder a cursor lists (other than the app folder or the whole Dropbox) was
/// deleted or moved away since the cursor's position.
fn listed_folder_gone(ns: &crate::store::Namespace, cursor: &Cursor) -> bool {
    cursor.root != lower(&cursor.scope_root)
        && ns.listed_folder_gone_since(cursor.seq, &cursor.root)
}

/// Whether a cursor's scope has changes after its position (for longpoll).
pub fn cursor_behind(account: &Account, cursor: &Cursor) -> bool {
    let ns = account.ns.lock();
    // A listed folder that went away is a change (continue then answers with the path error).
    cursor.after.is_some()
        || listed_folder_gone(&ns, cursor)
        || ns
            .changes_since(cursor.seq, &cursor.root, cursor.recursive)
            .next()
            .is_some()
}

// ---------------------------------------------------------------- metadata and download

fn get_metadata(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::GetMetadataArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::GetMetadataError::Path(lookup_error(e)));
    let account = call.account()?;
    let path = call.path(&arg.path, READ)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    if let PathArg::Rev(rev) = &path {
        // `rev:` names one version of a file (a ReadPath, as for download).
        let node = revision_node(&ns, &call.scope, rev).map_err(|e| err(&e))?;
        return to_json(wire::metadata(&node, &call.scope));
    }
    let full = resolve_read(&ns, &call.scope, &path)
        .map_err(|e| err(&e))?
        .ok_or_else(|| err(&OpError::NotFound))?;
    let key = lower(&full);
    if let Some(n) = ns.get(&key) {
        return to_json(wire::metadata(n, &call.scope));
    }
    if arg.include_deleted {
        if let Some(t) = ns.tombstones.get(&key) {
            return to_json(wire::deleted_metadata(&t.display, &call.scope));
        }
    }
    Err(err(&OpError::NotFound))
}

/// One version of a file, as a node at the path it had then; it must lie in `scope`.
fn revision_node(ns: &Namespace, scope: &Scope, rev: &str) -> Result<Node, OpError> {
    let r = ns.revisions.get(rev).ok_or(OpError::NotFound)?;
    if !crate::store::within(&lower(&r.display), &scope.root_lower()) {
        return Err(OpError::NotFound);
    }
    Ok(Node {
        id: r.id.clone(),
        display: r.display.clone(),
        written: None,
        kind: crate::store::NodeKind::File(r.version.clone()),
    })
}

fn download(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::DownloadArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::DownloadError::Path(lookup_error(e)));
    let account = call.account()?;
    #[allow(deprecated)]
    let path = match &arg.rev {
        Some(rev) if !arg.path.starts_with("rev:") => {
            call.path(&arg.path, READ)?.map_err(|e| err(&e))?;
            PathArg::Rev(rev.clone())
        }
        _ => call.path(&arg.path, READ)?.map_err(|e| err(&e))?,
    };
    let ns = account.ns.lock();
    let (meta, hash, rev) = match &path {
        PathArg::Rev(rev) => {
            let node = revision_node(&ns, &call.scope, rev).map_err(|e| err(&e))?;
            let f = node.file().ok_or(ApiError::Server(500))?;
            if !f.is_downloadable() {
                return Err(ApiError::route(files::DownloadError::UnsupportedFile));
            }
            let hash = f.hash;
            (wire::file_metadata(&node, &call.scope), hash, rev.clone())
        }
        other => {
            let full = resolve_read(&ns, &call.scope, other)
                .map_err(|e| err(&e))?
                .ok_or_else(|| err(&OpError::NotFound))?;
            let n = ns
                .get(&lower(&full))
                .ok_or_else(|| err(&OpError::NotFound))?;
            let f = n.file().ok_or_else(|| err(&OpError::NotFile))?;
            if !f.is_downloadable() {
                // files.stone DownloadError.unsupported_file: "use export instead".
                return Err(ApiError::route(files::DownloadError::UnsupportedFile));
            }
            (wire::file_metadata(n, &call.scope), f.hash, f.rev.clone())
        }
    };
    drop(ns);
    let data = emu.blob(&hash).ok_or(ApiError::Server(500))?;
    let meta = serde_json::to_value(meta).map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Download { meta, data, rev })
}

/// The extension of an export format's file (as rclone maps them: `exportKnownAPIFormats`).
fn export_extension(format: &str) -> &str {
    match format {
        "markdown" => "md",
        other => other,
    }
}

fn export(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ExportArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ExportError::Path(lookup_error(e)));
    let account = call.account()?;
    let path = call.path(&arg.path, LOOKUP)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    let full = resolve_read(&ns, &call.scope, &path)
        .map_err(|e| err(&e))?
        .ok_or_else(|| err(&OpError::NotFound))?;
    let n = ns
        .get(&lower(&full))
        .ok_or_else(|| err(&OpError::NotFound))?;
    let f = n.file().ok_or_else(|| err(&OpError::NotFile))?;
    // Only files that cannot be downloaded export (files.stone, route export: "This route
    // only supports exporting files that cannot be downloaded directly").
    let exports = f
        .export
        .as_ref()
        .ok_or_else(|| ApiError::route(files::ExportError::NonExportable))?;
    let (format, hash, size) = match &arg.export_format {
        None => exports.formats.first(),
        Some(want) => exports.formats.iter().find(|(f, _, _)| f == want),
    }
    .cloned()
    .ok_or_else(|| ApiError::route(files::ExportError::InvalidExportFormat))?;
    let file_metadata = wire::file_metadata(n, &call.scope).ok_or(ApiError::Server(500))?;
    let stem = sync_core::path::split_ext(&file_metadata.name)
        .0
        .to_string();
    let rev = f.rev.clone();
    drop(ns);
    let result = files::ExportResult::new(
        files::ExportMetadata::new(format!("{stem}.{}", export_extension(&format)), size)
            .with_export_hash(hash.to_hex()),
        file_metadata,
    );
    let data = emu.blob(&hash).ok_or(ApiError::Server(500))?;
    let meta = serde_json::to_value(result).map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Download { meta, data, rev })
}

// ---------------------------------------------------------------- uploads

fn mode_of(m: &files::WriteMode) -> Mode {
    match m {
        files::WriteMode::Add => Mode::Add,
        files::WriteMode::Overwrite => Mode::Overwrite,
        files::WriteMode::Update(rev) => Mode::Update(rev.clone()),
    }
}

/// A `client_modified` as seconds since the epoch; a malformed timestamp is refused with the
/// 400 Dropbox sends (common.stone `DropboxTimestamp`: `%Y-%m-%dT%H:%M:%SZ`).
fn client_modified(call: &Call, ts: &Option<String>) -> Result<Option<i64>, ApiError> {
    match ts {
        None => Ok(None),
        Some(s) => wire::parse_timestamp(s).map(Some).ok_or_else(|| {
            let what = if route_info(&call.route).is_some_and(|r| r.style == Style::Rpc) {
                "request body"
            } else {
                "HTTP header \"Dropbox-API-Arg\""
            };
            ApiError::bad_arg(
                &call.route,
                &format!("{what}: client_modified"),
                format!("time data '{s}' does not match format '%Y-%m-%dT%H:%M:%SZ'"),
            )
        }),
    }
}

fn check_hash(expected: &Option<String>, data: &[u8]) -> Result<ContentHash, ()> {
    let actual = ContentHash::of(data);
    match expected {
        Some(h) if !h.eq_ignore_ascii_case(&actual.to_hex()) => Err(()),
        _ => Ok(actual),
    }
}

fn upload(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadArg = decode(call)?;
    let account = call.account()?;
    // On a write error the data stays in a (closed) upload session whose id comes with the
    // error, so the commit can be retried with upload_session/finish without sending it again.
    let wrap = |e: files::WriteError| {
        let session_id = park_in_session(emu, account, &call.body);
        ApiError::route(files::UploadError::Path(files::UploadWriteFailed::new(
            e, session_id,
        )))
    };
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(files::UploadError::PayloadTooLarge));
    }
    let hash = check_hash(&arg.content_hash, &call.body)
        .map_err(|_| ApiError::route(files::UploadError::ContentHashMismatch))?;
    let full = call.write_path(&arg.path, wrap)?;
    let cm = client_modified(call, &arg.client_modified)?;
    emu.put_blob(hash, call.body.clone())
        .map_err(|_| ApiError::Server(500))?;
    let node = emu
        .mutate(account, |r| {
            r.commit(
                &full,
                &mode_of(&arg.mode),
                arg.autorename,
                arg.strict_conflict,
                cm,
                hash,
                call.body.len() as u64,
            )
        })
        .map_err(|e| wrap(write_error(&e)))?;
    to_json(wire::file_metadata(&node, &call.scope))
}

/// A new upload session of `account` holding `data`; returns its id.
fn new_session(
    emu: &Emulator,
    account: &Account,
    concurrent: bool,
    data: &[u8],
    closed: bool,
) -> String {
    let id = emu.random_token("pid_upload_session:");
    let session = Session {
        account: account.name.clone(),
        concurrent,
        data: data.to_vec(),
        parts: Default::default(),
        offset: data.len() as u64,
        closed,
        created: emu.now(),
    };
    emu.sessions
        .lock()
        .insert(id.clone(), Arc::new(parking_lot::Mutex::new(session)));
    id
}

/// Keep `data` in a new closed upload session of `account`; returns the session id.
fn park_in_session(emu: &Emulator, account: &Account, data: &Bytes) -> String {
    new_session(emu, account, false, data, true)
}

fn session_start(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionStartArg = decode(call)?;
    let account = call.account()?;
    let concurrent = matches!(arg.session_type, Some(files::UploadSessionType::Concurrent));
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(
            files::UploadSessionStartError::PayloadTooLarge,
        ));
    }
    if concurrent && !call.body.is_empty() {
        return Err(ApiError::route(
            files::UploadSessionStartError::ConcurrentSessionDataNotAllowed,
        ));
    }
    if concurrent && arg.close {
        return Err(ApiError::route(
            files::UploadSessionStartError::ConcurrentSessionCloseNotAllowed,
        ));
    }
    check_hash(&arg.content_hash, &call.body)
        .map_err(|_| ApiError::route(files::UploadSessionStartError::ContentHashMismatch))?;
    let id = new_session(emu, account, concurrent, &call.body, arg.close);
    to_json(files::UploadSessionStartResult::new(id))
}

fn session_start_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionStartBatchArg = decode(call)?;
    if !(1..=1000).contains(&arg.num_sessions) {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: num_sessions",
            format!("{} is not within range 1..1000", arg.num_sessions),
        ));
    }
    let account = call.account()?;
    let concurrent = matches!(arg.session_type, Some(files::UploadSessionType::Concurrent));
    let ids = (0..arg.num_sessions)
        .map(|_| new_session(emu, account, concurrent, &[], false))
        .collect();
    to_json(files::UploadSessionStartBatchResult::new(ids))
}

/// Find a live session of this account.
fn find_session(
    emu: &Emulator,
    account: &Account,
    id: &str,
) -> Option<Arc<parking_lot::Mutex<Session>>> {
    let mut sessions = emu.sessions.lock();
    let s = sessions.get(id)?.clone();
    let (owner, created) = {
        let g = s.lock();
        (g.account.clone(), g.created)
    };
    if emu.now() - created > SESSION_LIFETIME_SECS {
        sessions.remove(id);
        return None;
    }
    (owner == account.name).then_some(s)
}

fn session_append(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    // v1 `append` takes the cursor itself as its argument.
    let (cursor, close, content_hash) = if call.route.ends_with("append_v2") {
        let arg: files::UploadSessionAppendArg = decode(call)?;
        (arg.cursor, arg.close, arg.content_hash)
    } else {
        let cursor: files::UploadSessionCursor = decode(call)?;
        (cursor, false, None)
    };
    let account = call.account()?;
    use files::UploadSessionAppendError as E;
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(E::PayloadTooLarge));
    }
    check_hash(&content_hash, &call.body).map_err(|_| ApiError::route(E::ContentHashMismatch))?;
    append_one(emu, account, &cursor, close, &call.body).map_err(ApiError::route)?;
    Ok(Reply::Json(Value::Null))
}

/// Append `data` at `cursor` to one of `account`'s sessions (for append, append_v2 and
/// append_batch). Only session-level errors come back; the call-level ones (payload size,
/// content hash) are checked by the caller.
fn append_one(
    emu: &Emulator,
    account: &Account,
    cursor: &files::UploadSessionCursor,
    close: bool,
    data: &Bytes,
) -> Result<(), files::UploadSessionAppendError> {
    use files::UploadSessionAppendError as E;
    let session = find_session(emu, account, &cursor.session_id).ok_or(E::NotFound)?;
    let mut s = session.lock();
    if s.closed {
        return Err(E::Closed);
    }
    let len = data.len() as u64;
    if s.concurrent {
        if cursor.offset % CONCURRENT_ALIGN != 0 {
            return Err(E::ConcurrentSessionInvalidOffset);
        }
        if !close && len % CONCURRENT_ALIGN != 0 {
            return Err(E::ConcurrentSessionInvalidDataSize);
        }
        s.parts.insert(cursor.offset, data.clone());
    } else {
        if cursor.offset != s.offset {
            return Err(E::IncorrectOffset(files::UploadSessionOffsetError::new(
                s.offset,
            )));
        }
        s.data.extend_from_slice(data);
        s.offset += len;
    }
    if close {
        s.closed = true;
    }
    Ok(())
}

fn session_append_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionAppendBatchArg = decode(call)?;
    if arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "HTTP header \"Dropbox-API-Arg\": entries",
            "list has more than 1000 items",
        ));
    }
    let account = call.account()?;
    use files::UploadSessionAppendBatchEntryError as EE;
    use files::UploadSessionAppendBatchError as E;
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(E::PayloadTooLarge));
    }
    check_hash(&arg.content_hash, &call.body)
        .map_err(|_| ApiError::route(E::ContentHashMismatch))?;
    let total = arg
        .entries
        .iter()
        .try_fold(0u64, |sum, e| sum.checked_add(e.length));
    if total != Some(call.body.len() as u64) {
        return Err(ApiError::route(E::LengthMismatch));
    }
    let mut at = 0usize;
    let entries = arg
        .entries
        .iter()
        .map(|e| {
            let data = call.body.slice(at..at + e.length as usize);
            at += e.length as usize;
            match append_one(emu, account, &e.cursor, e.close, &data) {
                Ok(()) => files::UploadSessionAppendBatchResultEntry::Success,
                Err(err) => files::UploadSessionAppendBatchResultEntry::Failure(match err {
                    files::UploadSessionAppendError::IncorrectOffset(o) => EE::IncorrectOffset(o),
                    files::UploadSessionAppendError::Closed => EE::Closed,
                    files::UploadSessionAppendError::TooLarge => EE::TooLarge,
                    files::UploadSessionAppendError::ConcurrentSessionInvalidOffset => {
                        EE::ConcurrentSessionInvalidOffset
                    }
                    files::UploadSessionAppendError::ConcurrentSessionInvalidDataSize => {
                        EE::ConcurrentSessionInvalidDataSize
                    }
                    _ => EE::NotFound,
                }),
            }
        })
        .collect();
    to_json(files::UploadSessionAppendBatchResult::new(entries))
}

/// Assemble a session's data for a finish at `offset` with a final `tail`.
fn session_data(
    s: &mut Session,
    offset: u64,
    tail: &Bytes,
) -> Result<Vec<u8>, files::UploadSessionFinishError> {
    use files::UploadSessionFinishError as E;
    use files::UploadSessionLookupError as L;
    if s.concurrent {
        if !tail.is_empty() {
            return Err(E::ConcurrentSessionDataNotAllowed);
        }
        if !s.closed {
            return Err(E::ConcurrentSessionNotClosed);
        }
        let mut out = Vec::new();
        for (off, part) in &s.parts {
            if *off != out.len() as u64 {
                return Err(E::ConcurrentSessionMissingData);
            }
            out.extend_from_slice(part);
        }
        if offset != out.len() as u64 {
            return Err(E::LookupFailed(L::IncorrectOffset(
                files::UploadSessionOffsetError::new(out.len() as u64),
            )));
        }
        return Ok(out);
    }
    if offset != s.offset {
        return Err(E::LookupFailed(L::IncorrectOffset(
            files::UploadSessionOffsetError::new(s.offset),
        )));
    }
    if s.closed && !tail.is_empty() {
        return Err(E::LookupFailed(L::Closed));
    }
    let mut out = s.data.clone();
    out.extend_from_slice(tail);
    Ok(out)
}

/// Commit one finished session. Errors are the finish error union.
fn finish_one(
    emu: &Emulator,
    call: &Call,
    account: &Account,
    arg: &files::UploadSessionFinishArg,
    tail: &Bytes,
    require_closed: bool,
) -> Result<Node, files::UploadSessionFinishError> {
    use files::UploadSessionFinishError as E;
    use files::UploadSessionLookupError as L;
    let session =
        find_session(emu, account, &arg.cursor.session_id).ok_or(E::LookupFailed(L::NotFound))?;
    let data = {
        let mut s = session.lock();
        if require_closed && !s.closed {
            return Err(E::LookupFailed(L::NotClosed));
        }
        session_data(&mut s, arg.cursor.offset, tail)?
    };
    // The hash covers this call's data, which may be empty (a finish without a tail);
    // batch finishes carry no data at all, so theirs is not checked.
    if !tail.is_empty() || !require_closed {
        check_hash(&arg.content_hash, tail).map_err(|_| E::ContentHashMismatch)?;
    }
    let hash = ContentHash::of(&data);
    let len = data.len() as u64;
    let full = call
        .write_path(&arg.commit.path, |_| ApiError::Server(0))
        .map_err(|_| E::Path(files::WriteError::MalformedPath(None)))?;
    let cm = arg
        .commit
        .client_modified
        .as_deref()
        .and_then(wire::parse_timestamp);
    emu.put_blob(hash, Bytes::from(data))
        .map_err(|_| E::Other)?;
    let c = &arg.commit;
    let node = emu
        .mutate(account, |r| {
            r.commit(
                &full,
                &mode_of(&c.mode),
                c.autorename,
                c.strict_conflict,
                cm,
                hash,
                len,
            )
        })
        .map_err(|e| E::Path(write_error(&e)))?;
    // A committed session is gone; the data stays in the session only on a path error.
    emu.sessions.lock().remove(&arg.cursor.session_id);
    Ok(node)
}

fn session_finish(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionFinishArg = decode(call)?;
    client_modified(call, &arg.commit.client_modified)?;
    let account = call.account()?;
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(
            files::UploadSessionFinishError::PayloadTooLarge,
        ));
    }
    let node = finish_one(emu, call, account, &arg, &call.body, false).map_err(ApiError::route)?;
    to_json(wire::file_metadata(&node, &call.scope))
}

fn finish_batch(emu: &Emulator, call: &Call, v1: bool) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionFinishBatchArg = decode(call)?;
    for e in &arg.entries {
        client_modified(call, &e.commit.client_modified)?;
    }
    if arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: entries",
            "list has more than 1000 items",
        ));
    }
    let account = call.account()?;
    let p409 = emu.faults.read().p_write_contention_409;
    let mut results = Vec::with_capacity(arg.entries.len());
    for entry in &arg.entries {
        if emu.rng.lock().chance(p409) {
            emu.stats
                .faults
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            results.push(files::UploadSessionFinishBatchResultEntry::Failure(
                files::UploadSessionFinishError::TooManyWriteOperations,
            ));
            continue;
        }
        results.push(
            match finish_one(emu, call, account, entry, &Bytes::new(), true) {
                Ok(node) => files::UploadSessionFinishBatchResultEntry::Success(
                    wire::file_metadata(&node, &call.scope).unwrap_or_else(|| unreachable!()),
                ),
                Err(e) => files::UploadSessionFinishBatchResultEntry::Failure(e),
            },
        );
    }
    let result = files::UploadSessionFinishBatchResult::new(results);
    if v1 {
        let status =
            serde_json::to_value(files::UploadSessionFinishBatchJobStatus::Complete(result))
                .map_err(|_| ApiError::Server(500))?;
        return Ok(Reply::Json(new_job(emu, status)));
    }
    to_json(result)
}

/// Store a finished job's status and return the launch answer `{".tag":"async_job_id",...}`.
fn new_job(emu: &Emulator, status: Value) -> Value {
    let id = emu.random_token("dbjid:");
    emu.jobs.lock().insert(id.clone(), status);
    json!({".tag": "async_job_id", "async_job_id": id})
}

fn job_check(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: dropbox_sdk::dbx_async::PollArg = decode(call)?;
    match emu.jobs.lock().get(&arg.async_job_id) {
        Some(status) => Ok(Reply::Json(status.clone())),
        None => Err(ApiError::route(
            dropbox_sdk::dbx_async::PollError::InvalidAsyncJobId,
        )),
    }
}

// ---------------------------------------------------------------- delete, move, copy, folders

fn delete_one(
    emu: &Emulator,
    call: &Call,
    account: &Account,
    arg: &files::DeleteArg,
) -> Result<Node, files::DeleteError> {
    let full = match call
        .path(&arg.path, Forms { id: true, ..WRITE })
        .map_err(|_| files::DeleteError::PathLookup(files::LookupError::MalformedPath(None)))?
    {
        Ok(p) => {
            let ns = account.ns.lock();
            resolve_read(&ns, &call.scope, &p)
                .map_err(|e| files::DeleteError::PathLookup(lookup_error(&e)))?
        }
        Err(e) => return Err(files::DeleteError::PathLookup(lookup_error(&e))),
    };
    let full = full.ok_or(files::DeleteError::PathLookup(files::LookupError::NotFound))?;
    emu.mutate(account, |r| r.delete(&full, arg.parent_rev.as_deref()))
        .map_err(|e| match e {
            OpError::NotFound => files::DeleteError::PathLookup(files::LookupError::NotFound),
            OpError::TooManyFiles => files::DeleteError::TooManyFiles,
            other => files::DeleteError::PathWrite(write_error(&other)),
        })
}

fn delete(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::DeleteArg = decode(call)?;
    let account = call.account()?;
    let node = delete_one(emu, call, account, &arg).map_err(ApiError::route)?;
    let md = wire::metadata(&node, &call.scope);
    if call.route == "files/delete" {
        return to_json(md);
    }
    to_json(files::DeleteResult::new(md))
}

fn delete_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::DeleteBatchArg = decode(call)?;
    if arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: entries",
            "list has more than 1000 items",
        ));
    }
    let account = call.account()?;
    let p409 = emu.faults.read().p_write_contention_409;
    let entries = arg
        .entries
        .iter()
        .map(|e| {
            if emu.rng.lock().chance(p409) {
                return files::DeleteBatchResultEntry::Failure(
                    files::DeleteError::TooManyWriteOperations,
                );
            }
            match delete_one(emu, call, account, e) {
                Ok(node) => files::DeleteBatchResultEntry::Success(
                    files::DeleteBatchResultData::new(wire::metadata(&node, &call.scope)),
                ),
                Err(err) => files::DeleteBatchResultEntry::Failure(err),
            }
        })
        .collect();
    let status = serde_json::to_value(files::DeleteBatchJobStatus::Complete(
        files::DeleteBatchResult::new(entries),
    ))
    .map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Json(new_job(emu, status)))
}

fn relocation_error(e: RelocateError) -> files::RelocationError {
    match e {
        RelocateError::From(err) => files::RelocationError::FromLookup(lookup_error(&err)),
        RelocateError::To(err) => files::RelocationError::To(write_error(&err)),
        RelocateError::IntoItself => files::RelocationError::CantMoveFolderIntoItself,
        RelocateError::TooManyFiles => files::RelocationError::TooManyFiles,
        RelocateError::InsufficientQuota => files::RelocationError::InsufficientQuota,
    }
}

fn relocate_one(
    emu: &Emulator,
    call: &Call,
    account: &Account,
    from: &str,
    to: &str,
    autorename: bool,
    copy: bool,
) -> Result<Node, files::RelocationError> {
    let from_full = match call
        .path(from, Forms { id: true, ..WRITE })
        .map_err(|_| files::RelocationError::FromLookup(files::LookupError::MalformedPath(None)))?
    {
        Ok(p) => {
            let ns = account.ns.lock();
            resolve_read(&ns, &call.scope, &p)
                .map_err(|e| files::RelocationError::FromLookup(lookup_error(&e)))?
        }
        Err(e) => return Err(files::RelocationError::FromLookup(lookup_error(&e))),
    }
    .ok_or(files::RelocationError::FromLookup(
        files::LookupError::NotFound,
    ))?;
    let to_full = match call
        .path(to, WRITE)
        .map_err(|_| files::RelocationError::To(files::WriteError::MalformedPath(None)))?
    {
        Ok(PathArg::Path(p)) => p,
        Ok(_) => {
            return Err(files::RelocationError::To(
                files::WriteError::MalformedPath(None),
            ));
        }
        Err(e) => return Err(files::RelocationError::To(write_error(&e))),
    };
    emu.mutate(account, |r| {
        r.relocate(&from_full, &to_full, autorename, copy)
    })
    .map_err(relocation_error)
}

fn relocate(emu: &Emulator, call: &Call, copy: bool) -> Result<Reply, ApiError> {
    let arg: files::RelocationArg = decode(call)?;
    let account = call.account()?;
    let node = relocate_one(
        emu,
        call,
        account,
        &arg.from_path,
        &arg.to_path,
        arg.autorename,
        copy,
    )
    .map_err(ApiError::route)?;
    to_json(files::RelocationResult::new(wire::metadata(
        &node,
        &call.scope,
    )))
}

fn relocate_batch(emu: &Emulator, call: &Call, copy: bool) -> Result<Reply, ApiError> {
    let arg: files::MoveBatchArg = decode(call)?;
    if arg.entries.is_empty() || arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: entries",
            "list must have 1 to 1000 items",
        ));
    }
    let account = call.account()?;
    let p409 = emu.faults.read().p_write_contention_409;
    let entries = arg
        .entries
        .iter()
        .map(|e| {
            if emu.rng.lock().chance(p409) {
                return files::RelocationBatchResultEntry::Failure(
                    files::RelocationBatchErrorEntry::TooManyWriteOperations,
                );
            }
            match relocate_one(
                emu,
                call,
                account,
                &e.from_path,
                &e.to_path,
                arg.autorename,
                copy,
            ) {
                Ok(node) => {
                    files::RelocationBatchResultEntry::Success(wire::metadata(&node, &call.scope))
                }
                Err(err) => files::RelocationBatchResultEntry::Failure(
                    files::RelocationBatchErrorEntry::RelocationError(err),
                ),
            }
        })
        .collect();
    let status = serde_json::to_value(files::RelocationBatchV2JobStatus::Complete(
        files::RelocationBatchV2Result::new(entries),
    ))
    .map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Json(new_job(emu, status)))
}

fn create_folder(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::CreateFolderArg = decode(call)?;
    let account = call.account()?;
    let wrap = |e: files::WriteError| ApiError::route(files::CreateFolderError::Path(e));
    let full = call.write_path(&arg.path, wrap)?;
    let node = emu
        .mutate(account, |r| r.create_folder(&full, arg.autorename))
        .map_err(|e| wrap(write_error(&e)))?;
    to_json(files::CreateFolderResult::new(wire::folder_metadata(
        &node,
        &call.scope,
    )))
}

fn create_folder_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::CreateFolderBatchArg = decode(call)?;
    if arg.paths.len() > 10_000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: paths",
            "list has more than 10000 items",
        ));
    }
    let account = call.account()?;
    let entries: Vec<_> = arg
        .paths
        .iter()
        .map(|p| {
            let res = call
                .write_path(p, ApiError::route)
                .map_err(|_| files::WriteError::MalformedPath(None))
                .and_then(|full| {
                    emu.mutate(account, |r| r.create_folder(&full, arg.autorename))
                        .map_err(|e| write_error(&e))
                });
            match res {
                Ok(node) => files::CreateFolderBatchResultEntry::Success(
                    files::CreateFolderEntryResult::new(wire::folder_metadata(&node, &call.scope)),
                ),
                Err(e) => files::CreateFolderBatchResultEntry::Failure(
                    files::CreateFolderEntryError::Path(e),
                ),
            }
        })
        .collect();
    let result = files::CreateFolderBatchResult::new(entries);
    if arg.force_async {
        let status = serde_json::to_value(files::CreateFolderBatchJobStatus::Complete(result))
            .map_err(|_| ApiError::Server(500))?;
        return Ok(Reply::Json(new_job(emu, status)));
    }
    to_json(files::CreateFolderBatchLaunch::Complete(result))
}

// ---------------------------------------------------------------- revisions

fn list_revisions(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListRevisionsArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ListRevisionsError::Path(lookup_error(e)));
    if !(1..=100).contains(&arg.limit) {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: limit",
            format!("{} is not within range 1..100", arg.limit),
        ));
    }
    let account = call.account()?;
    let path = call.path(&arg.path, LOOKUP)?.map_err(|e| err(&e))?;
    let by_id = matches!(arg.mode, files::ListRevisionsMode::Id);
    let ns = account.ns.lock();
    let (revs, current) = match &path {
        PathArg::Id(id) if by_id => {
            let current = ns.path_of_id(id).and_then(|p| ns.get(p));
            let revs = ns.revisions_of_id(id);
            // The file (or, once deleted, its last version) must lie in the caller's scope:
            // an app-folder token must not read the history of files outside its folder.
            let location = current
                .map(|n| lower(&n.display))
                .or_else(|| revs.first().map(|r| lower(&r.display)));
            if !location.is_some_and(|l| crate::store::within(&l, &call.scope.root_lower())) {
                return Err(err(&OpError::NotFound));
            }
            (revs, current)
        }
        PathArg::Id(_) => {
            return Err(ApiError::route(files::ListRevisionsError::Path(
                files::LookupError::MalformedPath(None),
            )));
        }
        PathArg::Path(p) => {
            let key = lower(p);
            if let Some(n) = ns.get(&key) {
                if n.file().is_none() {
                    return Err(err(&OpError::NotFile));
                }
            }
            (ns.revisions_at(&key), ns.get(&key))
        }
        _ => return Err(err(&OpError::NotFound)),
    };
    if revs.is_empty() {
        return Err(err(&OpError::NotFound));
    }
    let mut revs: Vec<_> = revs.into_iter().collect();
    if let Some(before) = &arg.before_rev {
        if by_id {
            return Err(ApiError::route(
                files::ListRevisionsError::BeforeRevNotSupported,
            ));
        }
        let pos = revs
            .iter()
            .position(|r| &r.version.rev == before)
            .ok_or_else(|| ApiError::route(files::ListRevisionsError::InvalidBeforeRev))?;
        revs.drain(..=pos);
    }
    let has_more = revs.len() > arg.limit as usize;
    let entries: Vec<files::FileMetadata> = revs
        .iter()
        .take(arg.limit as usize)
        .filter_map(|r| {
            let node = Node {
                id: r.id.clone(),
                display: current
                    .map(|c| c.display.clone())
                    .unwrap_or(r.display.clone()),
                written: current.and_then(|c| c.written.clone()),
                kind: crate::store::NodeKind::File(r.version.clone()),
            };
            wire::file_metadata(&node, &call.scope)
        })
        .collect();
    let mut result = files::ListRevisionsResult::new(current.is_none(), entries, has_more);
    if current.is_none() {
        let key = match &path {
            PathArg::Path(p) => lower(p),
            _ => String::new(),
        };
        if let Some(t) = ns.tombstones.get(&key) {
            result = result.with_server_deleted(wire::timestamp(t.at));
        }
    }
    to_json(result)
}

fn restore(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::RestoreArg = decode(call)?;
    let account = call.account()?;
    let full = call.write_path(&arg.path, |e| {
        ApiError::route(files::RestoreError::PathWrite(e))
    })?;
    let node = emu
        .mutate(account, |r| r.restore(&full, &arg.rev))
        .map_err(|e| match e {
            OpError::InvalidRevision => ApiError::route(files::RestoreError::InvalidRevision),
            OpError::NotFound => ApiError::route(files::RestoreError::PathLookup(
                files::LookupError::NotFound,
            )),
            other => ApiError::route(files::RestoreError::PathWrite(write_error(&other))),
        })?;
    to_json(wire::file_metadata(&node, &call.scope))
}

/// The 429 for namespace lock contention.
pub fn contention() -> ApiError {
    ApiError::RateLimit {
        reason: RateReason::TooManyWriteOperations,
        retry_after: 1,
        text: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Config;

    fn emulator() -> Arc<Emulator> {
        Emulator::new(Config {
            accounts: vec![("ada".into(), "tok".into())],
            ..Config::default()
        })
        .unwrap()
    }

    fn call(emu: &Emulator, route: &str, arg: Value, scope: &Scope) -> Call {
        Call {
            route: route.into(),
            arg: Bytes::from(arg.to_string()),
            body: Bytes::new(),
            account: emu.account("ada"),
            scope: scope.clone(),
            token: None,
            range: None,
        }
    }

    #[test]
    fn a_failed_upload_leaves_its_data_in_a_session() {
        let emu = emulator();
        let full = Scope::full();
        let mut up = call(&emu, "files/upload", json!({"path": "/taken.txt"}), &full);
        up.body = Bytes::from_static(b"first");
        assert!(handle(&emu, &up).is_ok());
        up.body = Bytes::from_static(b"second");
        let Err(ApiError::Route(err)) = handle(&emu, &up) else {
            panic!("expected a conflict")
        };
        let sid = err["upload_session_id"].as_str().unwrap().to_string();
        assert!(sid.starts_with("pid_upload_session:"), "{err}");
        let arg =
            json!({"cursor": {"session_id": sid, "offset": 6}, "commit": {"path": "/retry.txt"}});
        let Ok(Reply::Json(md)) =
            handle(&emu, &call(&emu, "files/upload_session/finish", arg, &full))
        else {
            panic!("the commit retry failed")
        };
        assert_eq!(md["size"], 6);
    }

    #[test]
    fn append_batch_splits_the_body_by_length() {
        let emu = emulator();
        let full = Scope::full();
        let c = call(
            &emu,
            "files/upload_session/start_batch",
            json!({"num_sessions": 2}),
            &full,
        );
        let Ok(Reply::Json(r)) = handle(&emu, &c) else {
            panic!("start_batch failed")
        };
        let (a, b) = (r["session_ids"][0].clone(), r["session_ids"][1].clone());
        let entries = json!({"entries": [
            {"cursor": {"session_id": a, "offset": 0}, "length": 2, "close": true},
            {"cursor": {"session_id": b, "offset": 0}, "length": 3},
        ]});
        let mut c = call(&emu, "files/upload_session/append_batch", entries, &full);
        c.body = Bytes::from_static(b"xxyyy");
        let Ok(Reply::Json(r)) = handle(&emu, &c) else {
            panic!("append_batch failed")
        };
        assert_eq!(
            r["entries"],
            json!([{".tag": "success"}, {".tag": "success"}])
        );
        c.body = Bytes::from_static(b"xxyy");
        assert!(
            matches!(handle(&emu, &c), Err(ApiError::Route(e)) if e[".tag"] == "length_mismatch")
        );
    }

    #[test]
    fn the_root_is_empty_not_a_slash() {
        let emu = emulator();
        let full = Scope::full();
        for route in ["files/list_folder", "files/list_folder/get_latest_cursor"] {
            let r = handle(&emu, &call(&emu, route, json!({"path": "/"}), &full));
            assert!(
                matches!(&r, Err(ApiError::BadInput(m)) if m.contains("Specify the root folder as an empty string")),
                "{route}"
            );
            assert!(handle(&emu, &call(&emu, route, json!({"path": ""}), &full)).is_ok());
        }
    }

    #[test]
    fn get_metadata_takes_a_rev_path() {
        let emu = emulator();
        let full = Scope::full();
        let mut up = call(&emu, "files/upload", json!({"path": "/v.txt"}), &full);
        up.body = Bytes::from_static(b"one");
        let Ok(Reply::Json(v1)) = handle(&emu, &up) else {
            panic!("upload failed")
        };
        up.arg = Bytes::from(json!({"path": "/v.txt", "mode": {".tag": "overwrite"}}).to_string());
        up.body = Bytes::from_static(b"two!");
        assert!(handle(&emu, &up).is_ok());
        let rev = format!("rev:{}", v1["rev"].as_str().unwrap());
        let c = call(&emu, "files/get_metadata", json!({ "path": rev }), &full);
        let Ok(Reply::Json(md)) = handle(&emu, &c) else {
            panic!("rev: path refused")
        };
        assert_eq!(
            (md[".tag"].as_str(), &md["rev"], &md["size"]),
            (Some("file"), &v1["rev"], &json!(3))
        );
        let jailed = Scope::app_folder("nuvolos.cloud");
        let c = call(&emu, "files/get_metadata", json!({ "path": rev }), &jailed);
        assert!(matches!(handle(&emu, &c), Err(ApiError::Route(_))));
    }

    #[test]
    fn revisions_by_id_stay_inside_the_app_folder() {
        let emu = emulator();
        let full = Scope::full();
        let mut up = call(&emu, "files/upload", json!({"path": "/outside.txt"}), &full);
        up.body = Bytes::from_static(b"secret");
        let Ok(Reply::Json(md)) = handle(&emu, &up) else {
            panic!("upload failed")
        };
        let arg = json!({"path": md["id"], "mode": {".tag": "id"}});
        let jailed = Scope::app_folder("nuvolos.cloud");
        let r = handle(
            &emu,
            &call(&emu, "files/list_revisions", arg.clone(), &jailed),
        );
        assert!(
            matches!(r, Err(ApiError::Route(_))),
            "jailed token read outside history"
        );
        let Ok(Reply::Json(revs)) = handle(&emu, &call(&emu, "files/list_revisions", arg, &full))
        else {
            panic!("full access must see it")
        };
        assert_eq!(revs["entries"][0]["rev"], md["rev"]);
    }
}
