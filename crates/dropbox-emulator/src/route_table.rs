//! The route table: every route the emulator serves, with its style, authentication, write
//! lock and scope as the API spec gives them.

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
