//! Credentials and their upkeep: short-lived access tokens minted from a refresh token,
//! refreshed shortly before they expire and once when Dropbox says one has expired; and the
//! OAuth 2 authorization-code flow with PKCE (S256) that produces the refresh token.
//!
//! Tokens are [`Secret`]s: their `Debug` and `Display` never show the value, so they cannot
//! reach a log line or an error message by accident.

use crate::endpoints::Endpoints;
use crate::error::{AuthProblem, Error};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, TokenResponse, TokenUrl,
};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// nuvosync's Dropbox app key (an app-folder app; its folder is `Apps/nuvolos.cloud`).
/// Override with the `app_key` setting for another registered app.
pub const DEFAULT_APP_KEY: &str = "nuvosync-desktop";

/// The app folder of nuvosync's app key (`Apps/nuvolos.cloud` in the user's Dropbox).
pub const APP_FOLDER: &str = "nuvolos.cloud";

/// Refresh this long before an access token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A secret string (a token or code) that never prints.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What the client authenticates with.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A fixed access token (no refresh possible).
    Access(Secret),
    /// A refresh token for an app key; access tokens are minted from it.
    Refresh {
        /// The long-lived refresh token.
        refresh_token: Secret,
        /// The app key it belongs to.
        app_key: String,
    },
    /// `NUVOSYNC_TOKEN`: used as a refresh token when Dropbox accepts it as one, otherwise as
    /// an access token.
    Either {
        /// The token.
        token: Secret,
        /// App key to refresh with.
        app_key: String,
    },
}

/// Hands out valid access tokens, refreshing them as needed.
pub struct Authorizer {
    credential: Mutex<Credential>,
    endpoints: Endpoints,
    http: reqwest::Client,
    current: Mutex<Option<(Arc<String>, Option<Instant>)>>,
    refreshing: tokio::sync::Mutex<()>,
    refreshes: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorizer(***)")
    }
}

type OauthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn oauth_client(endpoints: &Endpoints, app_key: &str) -> Result<OauthClient, Error> {
    let token_url = endpoints
        .token
        .join("oauth2/token")
        .map_err(|e| Error::Unexpected(format!("token URL: {e}")))?;
    Ok(BasicClient::new(ClientId::new(app_key.to_string()))
        .set_auth_uri(AuthUrl::from_url(endpoints.authorize.clone()))
        .set_token_uri(TokenUrl::from_url(token_url)))
}

/// Turn an oauth2 request failure into our error: `invalid_grant` means the grant is gone.
fn token_error<RE: std::error::Error + 'static>(
    e: oauth2::RequestTokenError<
        RE,
        oauth2::StandardErrorResponse<oauth2::basic::BasicErrorResponseType>,
    >,
) -> Error {
    use oauth2::basic::BasicErrorResponseType as T;
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => match r.error() {
            T::InvalidGrant | T::InvalidClient | T::UnauthorizedClient => {
                Error::Auth(AuthProblem::Revoked)
            }
            other => Error::Auth(AuthProblem::Other(format!(
                "Dropbox refused the token request ({other})"
            ))),
        },
        oauth2::RequestTokenError::Request(e) => {
            Error::Network(format!("token request failed: {e}"))
        }
        oauth2::RequestTokenError::Parse(e, _) => {
            Error::Unexpected(format!("token response did not parse: {e}"))
        }
        oauth2::RequestTokenError::Other(s) => Error::Unexpected(s),
    }
}

impl Authorizer {
    /// An authorizer for `credential`, talking to `endpoints` with `http` (which must not
    /// follow redirects).
    pub fn new(credential: Credential, endpoints: Endpoints, http: reqwest::Client) -> Self {
        let current = match &credential {
            Credential::Access(t) => Some((Arc::new(t.expose().to_string()), None)),
            _ => None,
        };
        Authorizer {
            credential: Mutex::new(credential),
            endpoints,
            http,
            current: Mutex::new(current),
            refreshing: tokio::sync::Mutex::new(()),
            refreshes: Default::default(),
        }
    }

    /// The token to send now, if one is held and not about to expire.
    pub fn cached(&self) -> Option<Arc<String>> {
        let cur = self.current.lock();
        match &*cur {
            Some((t, None)) => Some(t.clone()),
            Some((t, Some(exp))) if Instant::now() + REFRESH_MARGIN < *exp => Some(t.clone()),
            _ => None,
        }
    }

    /// The access token held now, even if it is about to expire (for building a request;
    /// [`Authorizer::token`] refreshes).
    pub fn current(&self) -> Option<Arc<String>> {
        self.current.lock().as_ref().map(|(t, _)| t.clone())
    }

    /// How many times a refresh was performed (for tests and status).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid access token, refreshing first if none is held or it expires soon.
    pub async fn token(&self) -> Result<Arc<String>, Error> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        self.refresh(None).await?;
        self.current
            .lock()
            .as_ref()
            .map(|(t, _)| t.clone())
            .ok_or(Error::Auth(AuthProblem::Revoked))
    }

    /// Refresh now. With `stale`, skip the refresh if another task already replaced that token.
    /// Returns false if this credential cannot be refreshed.
    pub async fn refresh(&self, stale: Option<&Arc<String>>) -> Result<bool, Error> {
        let _one_at_a_time = self.refreshing.lock().await;
        if let (Some(stale), Some((cur, _))) = (stale, self.current.lock().as_ref()) {
            if !Arc::ptr_eq(stale, cur) && cur.as_str() != stale.as_str() {
                return Ok(true);
            }
        }
        if stale.is_none() && self.cached().is_some() {
            return Ok(true);
        }
        let credential = self.credential.lock().clone();
        let (token, app_key, either) = match credential {
            Credential::Access(_) => return Ok(false),
            Credential::Refresh {
                refresh_token,
                app_key,
            } => (refresh_token, app_key, false),
            Credential::Either { token, app_key } => (token, app_key, true),
        };
        let client = oauth_client(&self.endpoints, &app_key)?;
        let result = client
            .exchange_refresh_token(&RefreshToken::new(token.expose().to_string()))
            .request_async(&self.http)
            .await;
        match result {
            Ok(resp) => {
                let exp = resp.expires_in().map(|d| Instant::now() + d);
                *self.current.lock() = Some((Arc::new(resp.access_token().secret().clone()), exp));
                if either {
                    *self.credential.lock() = Credential::Refresh {
                        refresh_token: token,
                        app_key,
                    };
                }
                self.refreshes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!("access token refreshed");
                Ok(true)
            }
            Err(e) => {
                let err = token_error(e);
                if either && matches!(err, Error::Auth(_)) {
                    // Not a refresh token: use it as an access token from now on.
                    tracing::debug!(
                        "the configured token is not a refresh token; using it as an access token"
                    );
                    *self.credential.lock() = Credential::Access(token.clone());
                    *self.current.lock() = Some((Arc::new(token.expose().to_string()), None));
                    return Ok(true);
                }
                Err(err)
            }
        }
    }

    /// Forget the access token (after a 401 that refresh cannot fix).
    pub fn invalidate(&self) {
        *self.current.lock() = None;
    }
}

/// The loopback ports the sign-in listens on for Dropbox's redirect, in order: a fixed port and
/// two fallbacks. Dropbox sends the browser back only to a redirect URI registered for the app,
/// matched exactly (port included), so all three are registered — see the README section
/// "Use your own Dropbox app". When none is free, the sign-in falls back to pasting a code.
pub const LINK_PORTS: [u16; 3] = [28752, 28753, 28754];

/// The redirect URI of a loopback port: `http://127.0.0.1:PORT/callback`.
pub fn redirect_uri_for(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// The permissions (OAuth scopes) nuvosync asks for, derived from the routes it calls (each
/// route's `scope` in the API spec): `account_info.read` for `users/get_current_account` and
/// `users/get_space_usage`; `files.metadata.read` for `list_folder` (and `continue`,
/// `get_latest_cursor`), `get_metadata` and `list_revisions`; `files.content.read` for
/// `download`; `files.content.write` for `upload`, the upload sessions, `delete_v2`,
/// `move_v2`, `copy_v2`, `create_folder_v2`, their batches and `restore`. Longpoll takes no
/// token, and revoking one needs no scope.
pub const SCOPES: [&str; 4] = [
    "account_info.read",
    "files.content.read",
    "files.content.write",
    "files.metadata.read",
];

/// Why linking cannot start with this app key, if it cannot: nuvosync's default key is a
/// placeholder that the real Dropbox does not know, so against Dropbox an app key of one's own
/// is needed. Emulators (any other endpoint) know the placeholder.
pub fn app_key_problem(endpoints: &Endpoints, app_key: &str) -> Option<String> {
    let real = endpoints
        .authorize
        .host_str()
        .is_some_and(|h| h == "www.dropbox.com" || h.ends_with(".dropbox.com"));
    if app_key.trim().is_empty() {
        return Some("the Dropbox app key is empty — run `nuvosync link --app-key YOUR_APP_KEY` (README: \"Use your own Dropbox app\")".into());
    }
    (real && app_key == DEFAULT_APP_KEY).then(|| {
        format!(
            "nuvosync needs a Dropbox app key to link with Dropbox: {DEFAULT_APP_KEY:?} is only a placeholder, and Dropbox would refuse it. \
             Register an app of your own (free, a few minutes) at https://www.dropbox.com/developers/apps — Scoped access, App folder \"{APP_FOLDER}\", \
             the permissions {} and the redirect URIs {} — then run `nuvosync link --app-key YOUR_APP_KEY` \
             (or set app_key in config.toml, or NUVOSYNC_APP_KEY). Every step is in the README section \"Use your own Dropbox app\".",
            SCOPES.join(", "),
            LINK_PORTS.map(redirect_uri_for).join(", "),
        )
    })
}

/// The result of a successful link: what to store, and who was linked.
#[derive(Debug, Clone)]
pub struct LinkResult {
    /// The refresh token (store it; never log it).
    pub refresh_token: Secret,
    /// A first access token.
    pub access_token: Secret,
    /// The app key it was issued to.
    pub app_key: String,
    /// Dropbox account id, when the token endpoint says it.
    pub account_id: Option<String>,
    /// The permissions granted, as the token endpoint listed them (empty if it did not).
    pub scopes: Vec<String>,
}

/// How Dropbox hands the sign-in back to nuvosync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// To a listener on 127.0.0.1: the first free port of these (each registered as
    /// [`redirect_uri_for`]); the code-paste flow when none is free.
    Loopback(Vec<u16>),
    /// No redirect: Dropbox shows a code for the user to paste.
    Paste,
}

/// One authorization in progress: the authorize URL to open, and what is needed to finish.
pub struct LinkSession {
    client: OauthClient,
    app_key: String,
    verifier: Mutex<Option<PkceCodeVerifier>>,
    state: CsrfToken,
    redirect_uri: Option<String>,
    paste_reason: Option<String>,
    /// The page to open in a browser or webview.
    pub authorize_url: String,
    listener: Mutex<Option<tokio::net::TcpListener>>,
    http: reqwest::Client,
}

impl fmt::Debug for LinkSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSession")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// How long one connection to the redirect listener may take to send its request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once by the redirect listener (more wait to be accepted).
const MAX_CONNECTIONS: usize = 64;
/// The longest request head the redirect listener reads.
const MAX_HEAD: usize = 16 * 1024;

impl LinkSession {
    /// Start a link. With [`Redirect::Loopback`], a listener on the first free of the given
    /// ports receives the redirect (the code-paste flow when none is free — see
    /// [`LinkSession::paste_reason`]); with [`Redirect::Paste`], Dropbox shows the code for the
    /// user to paste.
    pub async fn start(
        endpoints: &Endpoints,
        app_key: &str,
        http: reqwest::Client,
        redirect: Redirect,
    ) -> Result<LinkSession, Error> {
        let mut client = oauth_client(endpoints, app_key)?;
        let (mut listener, mut redirect_uri, mut paste_reason) = (None, None, None);
        if let Redirect::Loopback(ports) = redirect {
            let mut busy = vec![];
            for port in &ports {
                match tokio::net::TcpListener::bind(("127.0.0.1", *port)).await {
                    Ok(l) => {
                        listener = Some(l);
                        redirect_uri = Some(redirect_uri_for(*port));
                        break;
                    }
                    Err(e) => {
                        tracing::debug!("sign-in port {port} is not free: {e}");
                        busy.push(port.to_string());
                    }
                }
            }
            if listener.is_none() {
                paste_reason = Some(format!(
                    "no sign-in port is free on this computer (tried {}), so Dropbox will show a code to paste instead",
                    busy.join(", ")
                ));
            }
        }
        if let Some(uri) = &redirect_uri {
            client = client.set_redirect_uri(
                RedirectUrl::new(uri.clone()).map_err(|e| Error::Unexpected(e.to_string()))?,
            );
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_scopes(SCOPES.iter().map(|s| oauth2::Scope::new(s.to_string())))
            .add_extra_param("token_access_type", "offline")
            .url();
        Ok(LinkSession {
            client,
            app_key: app_key.to_string(),
            verifier: Mutex::new(Some(verifier)),
            state,
            redirect_uri,
            paste_reason,
            authorize_url: url.to_string(),
            listener: Mutex::new(listener),
            http,
        })
    }

    /// The loopback redirect URI, if this session listens for one.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// Why a loopback sign-in became a code-paste one (no free port), if it did.
    pub fn paste_reason(&self) -> Option<&str> {
        self.paste_reason.as_deref()
    }

    /// Exchange a code for tokens. A code can be exchanged once per session.
    pub async fn finish_with_code(&self, code: &str) -> Result<LinkResult, Error> {
        let verifier = self.verifier.lock().take().ok_or_else(|| {
            Error::Auth(AuthProblem::Other(
                "this sign-in was already completed; start a new one".into(),
            ))
        })?;
        let resp = self
            .client
            .exchange_code(AuthorizationCode::new(code.trim().to_string()))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match token_error(e) {
                Error::Auth(_) => Error::Auth(AuthProblem::Other("Dropbox did not accept the sign-in code (it may be mistyped, expired or already used) — run `nuvosync link` again".into())),
                other => other,
            })?;
        let scopes: Vec<String> = resp
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        if !scopes.is_empty() {
            let missing: Vec<&str> = SCOPES
                .iter()
                .copied()
                .filter(|s| !scopes.iter().any(|g| g == s))
                .collect();
            if !missing.is_empty() {
                return Err(Error::Auth(AuthProblem::Other(format!(
                    "the Dropbox app {} was not given the permission{} {} — enable {} on the app's Permissions tab in the App Console (dropbox.com/developers/apps), then run `nuvosync link` again",
                    self.app_key,
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", "),
                    if missing.len() > 1 { "them" } else { "it" },
                ))));
            }
        }
        let refresh = resp.refresh_token().ok_or_else(|| {
            Error::Unexpected(
                "Dropbox returned no refresh token (offline access was not granted)".into(),
            )
        })?;
        Ok(LinkResult {
            refresh_token: Secret::new(refresh.secret().clone()),
            access_token: Secret::new(resp.access_token().secret().clone()),
            app_key: self.app_key.clone(),
            account_id: None,
            scopes,
        })
    }

    /// Check a redirect URL (as a webview saw it) and finish with its code.
    pub async fn finish_with_redirect(&self, redirect: &str) -> Result<LinkResult, Error> {
        let code = self.code_from_redirect(redirect)?;
        self.finish_with_code(&code).await
    }

    fn code_from_redirect(&self, redirect: &str) -> Result<String, Error> {
        match self.parse_redirect(redirect) {
            Callback::Code(c) => Ok(c),
            Callback::Denied(why) | Callback::Foreign(why) => {
                Err(Error::Auth(AuthProblem::Other(why)))
            }
        }
    }

    /// Classify a redirect: a code for this sign-in, a refusal for this sign-in (the user
    /// said no), or something that does not belong to this sign-in.
    fn parse_redirect(&self, redirect: &str) -> Callback {
        let parsed = url::Url::parse(redirect)
            .or_else(|_| url::Url::parse(&format!("http://127.0.0.1{redirect}")));
        let Ok(url) = parsed else {
            return Callback::Foreign("the sign-in redirect is not a URL".into());
        };
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        if q.get("state").map(String::as_str) != Some(self.state.secret().as_str()) {
            return Callback::Foreign(
                "the sign-in reply did not match this sign-in (state mismatch); it was ignored"
                    .into(),
            );
        }
        if let Some(err) = q.get("error") {
            let why = q
                .get("error_description")
                .cloned()
                .unwrap_or_else(|| err.clone());
            return Callback::Denied(format!(
                "Dropbox sign-in was not completed: {why} — run `nuvosync link` to try again"
            ));
        }
        match q.get("code") {
            Some(c) => Callback::Code(c.clone()),
            None => Callback::Foreign("the sign-in reply carried no code".into()),
        }
    }

    /// Wait (up to `timeout`) for the browser to come back to the loopback listener.
    ///
    /// Connections are served concurrently, each with its own time limit, so a local program
    /// that connects and sends nothing (or sends slowly) cannot hold up the real redirect.
    /// Only a `GET /callback` carrying this sign-in's `state` is taken: anything else is
    /// refused and waiting goes on. The first valid reply finishes the link and closes the
    /// listener, so any later callback is refused by the OS.
    pub async fn wait_for_redirect(&self, timeout: Duration) -> Result<LinkResult, Error> {
        let listener = self.listener.lock().take().ok_or_else(|| {
            Error::Auth(AuthProblem::Other(
                "this sign-in does not listen for a redirect".into(),
            ))
        })?;
        let deadline = tokio::time::Instant::now() + timeout;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Callback, tokio::net::TcpStream)>(4);
        let mut connections = tokio::task::JoinSet::new();
        let state = Arc::new(self.state.secret().clone());
        loop {
            tokio::select! {
                accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => {
                    let (stream, _) = match accepted {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!("sign-in listener: {e}");
                            continue;
                        }
                    };
                    let tx = tx.clone();
                    let state = state.clone();
                    connections.spawn(async move {
                        let head = tokio::time::timeout(CONNECTION_TIMEOUT, read_head(stream)).await;
                        let Ok(Some((mut stream, target))) = head else {
                            return; // too slow, too long or not HTTP: dropped
                        };
                        match classify(&target, &state) {
                            Ok(callback) => {
                                let _ = tx.send((callback, stream)).await;
                            }
                            Err((status, why)) => {
                                tracing::warn!("refused a sign-in callback: {why}");
                                let page = format!(
                                    "<!doctype html><title>nuvosync</title><h1>Refused</h1><p>{}</p>",
                                    html_escape(&why)
                                );
                                let _ = tokio::time::timeout(
                                    CONNECTION_TIMEOUT,
                                    respond(&mut stream, status, &page),
                                )
                                .await;
                            }
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                Some((callback, mut stream)) = rx.recv() => {
                    let (status, page, outcome) = match callback {
                        Callback::Code(code) => {
                            let outcome = self.finish_with_code(&code).await;
                            match &outcome {
                                Ok(_) => ("200 OK", "<!doctype html><title>nuvosync</title><h1>nuvosync is linked to your Dropbox.</h1><p>You can close this window.</p>".to_string(), outcome),
                                Err(e) => ("400 Bad Request", format!("<!doctype html><title>nuvosync</title><h1>Linking failed</h1><p>{}</p>", html_escape(&e.to_string())), outcome),
                            }
                        }
                        Callback::Denied(why) => (
                            "200 OK",
                            format!("<!doctype html><title>nuvosync</title><h1>Not linked</h1><p>{}</p>", html_escape(&why)),
                            Err(Error::Auth(AuthProblem::Other(why))),
                        ),
                        Callback::Foreign(_) => continue, // never sent: refused in its task
                    };
                    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, respond(&mut stream, status, &page)).await;
                    connections.abort_all();
                    return outcome;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::Auth(AuthProblem::Other(
                        "timed out waiting for the Dropbox sign-in to come back — run `nuvosync link` to try again".into(),
                    )));
                }
            }
        }
    }
}

/// Read an HTTP request head (up to [`MAX_HEAD`] bytes); returns the stream and the request
/// target of a `GET`, or `None` for anything else.
async fn read_head(mut stream: tokio::net::TcpStream) -> Option<(tokio::net::TcpStream, String)> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_HEAD {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next()?.split_whitespace();
    match (first.next(), first.next()) {
        (Some("GET"), Some(target)) => Some((stream, target.to_string())),
        _ => None,
    }
}

/// Decide what a request to the redirect listener is, before anything else is done with it:
/// only `/callback` with this sign-in's `state` goes on (with a code, or with Dropbox's
/// refusal); anything else gets an HTTP status and why.
fn classify(target: &str, state: &str) -> Result<Callback, (&'static str, String)> {
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
        return Err(("400 Bad Request", "not a sign-in reply".into()));
    };
    if url.path() != "/callback" {
        return Err(("404 Not Found", "not the sign-in callback".into()));
    }
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    if q.get("state").map(String::as_str) != Some(state) {
        return Err((
            "400 Bad Request",
            "the sign-in reply did not match this sign-in (state mismatch); it was ignored".into(),
        ));
    }
    if let Some(err) = q.get("error") {
        let why = q
            .get("error_description")
            .cloned()
            .unwrap_or_else(|| err.clone());
        return Ok(Callback::Denied(format!(
            "Dropbox sign-in was not completed: {why} — run `nuvosync link` to try again"
        )));
    }
    match q.get("code") {
        Some(c) => Ok(Callback::Code(c.clone())),
        None => Err((
            "400 Bad Request",
            "the sign-in reply carried no code".into(),
        )),
    }
}

/// What came back to the redirect listener.
enum Callback {
    /// A code for this sign-in.
    Code(String),
    /// This sign-in was refused by the user or Dropbox.
    Denied(String),
    /// Not for this sign-in (forged, stale, malformed).
    Foreign(String),
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn respond(
    stream: &mut tokio::net::TcpStream,
    status: &str,
    body: &str,
) -> std::io::Result<()> {
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sl.very-secret");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let c = Credential::Refresh {
            refresh_token: s,
            app_key: "k".into(),
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
