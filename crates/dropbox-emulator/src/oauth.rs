//! OAuth 2 as Dropbox enforces it: registered apps, the consent page at `/oauth2/authorize`,
//! the token endpoint `/oauth2/token`, and scopes on every route.
//!
//! - Only registered apps ([`RegisteredApp`], `--app KEY[=SECRET]:FOLDER:URI,...`) may
//!   authorize or use the token endpoint; an unknown `client_id` is refused.
//! - A `redirect_uri` must be exactly one registered for the app — scheme, host, port and
//!   path; a loopback address on another port is refused like any other.
//! - Codes are single use (a replay revokes what the first exchange issued), live ten
//!   minutes, are bound to the client id and redirect URI, and carry the PKCE challenge
//!   (S256 or plain). A code without a challenge needs the app's secret to be exchanged.
//! - A client secret that is sent must be the app's: otherwise 400 `invalid_client`, on the
//!   exchange and on a refresh alike. A refresh token from a secret-authenticated exchange
//!   needs the secret again; one from a PKCE exchange does not.
//! - Tokens carry scopes: those asked for at authorize (all of the app's otherwise), or
//!   fewer on a refresh with `scope`. A route whose scope (from the API spec) a token lacks
//!   answers 401 `missing_scope` ([`missing_scope`]).
//!
//! Every rule cites its source in the crate README ("OAuth, as Dropbox enforces it").

use crate::state::{Access, AuthCode, Emulator, Grant, RefreshGrant};
use crate::wire::{Body, json_response, text_response};
use base64::Engine as _;
use http::{Response, StatusCode};
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;

/// The redirect URIs of nuvosync's app key: its fixed loopback port and the two fallbacks
/// (the same list nuvosync's client tries, `nuvosync_dropbox::auth::LINK_PORTS`).
pub const NUVOSYNC_REDIRECT_URIS: &[&str] = &[
    "http://127.0.0.1:28752/callback",
    "http://127.0.0.1:28753/callback",
    "http://127.0.0.1:28754/callback",
];

/// The scopes a user-linked app can be given: every `scope` attribute of a user route in the
/// API spec (`*.stone`), plus OpenID's `email` and `profile`.
pub const USER_SCOPES: &[&str] = &[
    "account_info.read",
    "account_info.write",
    "contacts.read",
    "contacts.write",
    "email",
    "file_requests.read",
    "file_requests.write",
    "files.content.read",
    "files.content.write",
    "files.metadata.read",
    "files.metadata.write",
    "files.permanent_delete",
    "openid",
    "profile",
    "sharing.read",
    "sharing.write",
];

/// The scope a route needs, if any: its `scope` attribute in the API spec, as the route
/// table ([`crate::routes::route_info`]) records it. `auth/token/revoke` needs none;
/// `files/list_folder/longpoll` is `auth="noauth"` and takes no token at all.
pub fn required_scope(route: &str) -> Option<&'static str> {
    crate::routes::route_info(route).and_then(|r| r.scope)
}

/// The answer to a call whose token lacks the route's scope: 401 with the `AuthError` union's
/// `missing_scope` member (a `TokenScopeError`, auth.stone), or `None` when the token may call it.
pub fn missing_scope(grant: &Grant, route: &str) -> Option<Response<Body>> {
    let needed = required_scope(route)?;
    let scopes = grant.scopes.as_ref()?;
    if scopes.iter().any(|s| s == needed) {
        return None;
    }
    Some(json_response(
        StatusCode::UNAUTHORIZED,
        &json!({
            "error_summary": "missing_scope/",
            "error": {".tag": "missing_scope", "required_scope": needed},
        }),
    ))
}

/// An app as registered in Dropbox's App Console: its key (`client_id`), optionally its
/// secret, its access type (an app folder, or the whole Dropbox) and its redirect URIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredApp {
    /// The app key.
    pub key: String,
    /// The app secret; `None` when the emulator was not told one (then no secret is right).
    pub secret: Option<String>,
    /// The app folder's name (`Apps/<folder>`), or `None` for full Dropbox access.
    pub folder: Option<String>,
    /// The redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
}

impl RegisteredApp {
    /// nuvosync's own app key: the app folder `nuvolos.cloud`, with the redirect URIs of its
    /// fixed loopback ports.
    pub fn nuvosync() -> RegisteredApp {
        RegisteredApp {
            key: crate::state::NUVOSYNC_APP_KEY.into(),
            secret: None,
            folder: Some(crate::state::NUVOSYNC_APP_FOLDER.into()),
            redirect_uris: NUVOSYNC_REDIRECT_URIS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// An app with full Dropbox access and no redirect URI (its users paste codes).
    pub fn full_access(key: &str) -> RegisteredApp {
        RegisteredApp {
            key: key.into(),
            secret: None,
            folder: None,
            redirect_uris: vec![],
        }
    }

    /// Parse `KEY[=SECRET]:FOLDER[:URI[,URI...]]`; an empty FOLDER means full Dropbox access.
    pub fn parse(spec: &str) -> Result<RegisteredApp, String> {
        let usage = || {
            format!(
                "--app must look like KEY[=SECRET]:FOLDER:REDIRECT_URI[,REDIRECT_URI...] (FOLDER empty for full Dropbox access), got {spec:?}"
            )
        };
        let mut parts = spec.splitn(3, ':');
        let (Some(id), Some(folder)) = (parts.next(), parts.next()) else {
            return Err(usage());
        };
        let (key, secret) = match id.split_once('=') {
            Some((k, s)) => (k, Some(s.to_string())),
            None => (id, None),
        };
        if key.is_empty() || secret.as_deref() == Some("") {
            return Err(usage());
        }
        let mut redirect_uris = vec![];
        for uri in parts
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|u| !u.is_empty())
        {
            let parsed = url::Url::parse(uri)
                .map_err(|e| format!("--app {spec:?}: {uri:?} is not a URL ({e})"))?;
            if parsed.fragment().is_some() {
                return Err(format!(
                    "--app {spec:?}: a redirect URI has no fragment ({uri:?})"
                ));
            }
            redirect_uris.push(uri.to_string());
        }
        Ok(RegisteredApp {
            key: key.into(),
            secret,
            folder: (!folder.is_empty()).then(|| folder.to_string()),
            redirect_uris,
        })
    }
}

impl std::str::FromStr for RegisteredApp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RegisteredApp::parse(s)
    }
}

/// The registered app with this key.
pub fn app(emu: &Emulator, key: &str) -> Option<RegisteredApp> {
    emu.config.apps.iter().rev().find(|a| a.key == key).cloned()
}

/// Parse `application/x-www-form-urlencoded` (or a query string).
pub fn form(s: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn invalid_client() -> Response<Body> {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "Invalid client_id or client_secret",
    )
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = text_response(status, body);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Dropbox's page for a malformed authorization request (an unknown app, an unregistered
/// redirect URI...): "Error (400)" with the details for developers.
fn bad_request_page(detail: &str) -> Response<Body> {
    html(
        StatusCode::BAD_REQUEST,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Dropbox - 400</title></head><body>\
             <h1>Error (400)</h1><p>It seems the app you were using submitted a bad request. If you would like to \
             report this error to the app's developer, include the information below.</p>\
             <h2>More details for developers</h2><p id=\"detail\">{}</p></body></html>",
            escape(detail)
        ),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A space-separated scope list: every scope known, sorted, without repeats.
fn parse_scopes(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = vec![];
    for scope in s.split_whitespace() {
        if !USER_SCOPES.contains(&scope) {
            return Err(format!("Invalid scope: \"{scope}\"."));
        }
        out.push(scope.to_string());
    }
    if out.is_empty() {
        return Err("Invalid scope: the scope list is empty.".into());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What an authorization request asks for, once checked.
struct Authorization {
    app: RegisteredApp,
    /// Scopes asked for (`None`: all of the app's).
    scopes: Option<Vec<String>>,
}

fn validate_authorize(
    emu: &Emulator,
    q: &HashMap<String, String>,
) -> Result<Authorization, String> {
    let client_id = q.get("client_id").map(String::as_str).unwrap_or("");
    let Some(app) = app(emu, client_id) else {
        return Err(format!("Invalid client_id: \"{client_id}\"."));
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err("response_type must be \"code\".".into());
    }
    if let Some(uri) = q.get("redirect_uri") {
        if !app.redirect_uris.iter().any(|r| r == uri) {
            return Err(format!(
                "Invalid redirect_uri: \"{uri}\": It must exactly match one of the redirect URIs you've pre-configured for your app (including the path)."
            ));
        }
    }
    let scopes = match q.get("scope") {
        Some(s) => Some(parse_scopes(s)?),
        None => None,
    };
    match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256") | Some("plain") | None) if (43..=128).contains(&c.len()) => {}
        (Some(_), Some("S256") | Some("plain") | None) => {
            return Err("code_challenge must be 43 to 128 characters.".into());
        }
        (Some(_), Some(m)) => return Err(format!("Unsupported code_challenge_method \"{m}\".")),
        (None, _) => {}
    }
    Ok(Authorization { app, scopes })
}

/// `GET /oauth2/authorize`: validate, then show the consent page.
pub fn authorize_page(emu: &Emulator, query: &str) -> Response<Body> {
    let q = form(query);
    let auth = match validate_authorize(emu, &q) {
        Ok(a) => a,
        Err(msg) => return bad_request_page(&msg),
    };
    let scope = match &auth.app.folder {
        Some(folder) => format!("its own folder, Apps/{folder}, in your Dropbox"),
        None => "all files and folders in your Dropbox".to_string(),
    };
    let mut names: Vec<String> = emu.accounts.read().keys().cloned().collect();
    names.sort();
    let preferred = q.get("account").cloned();
    let options: String = names
        .iter()
        .map(|n| {
            let sel = if Some(n) == preferred.as_ref() {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{0}\"{sel}>{0}@example.com</option>",
                escape(n)
            )
        })
        .collect();
    let hidden: String = q
        .iter()
        .filter(|(k, _)| k.as_str() != "account")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    html(
        StatusCode::OK,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>API Request Authorization - Dropbox (emulated)</title></head>\
             <body><h1>{app} would like access to {scope}</h1>\
             <form id=\"consent\" method=\"post\" action=\"/oauth2/authorize\">{hidden}\
             <label>Signed in as <select name=\"account\" id=\"account\">{options}</select></label>\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button></form></body></html>",
            app = escape(&auth.app.key),
        ),
    )
}

/// `POST /oauth2/authorize`: the user's decision. Redirects back with `code` and `state`.
pub fn authorize_decision(emu: &Emulator, body: &str) -> Response<Body> {
    let q = form(body);
    let auth = match validate_authorize(emu, &q) {
        Ok(a) => a,
        Err(msg) => return bad_request_page(&msg),
    };
    let redirect = q.get("redirect_uri").cloned();
    let state = q.get("state").cloned();
    let back = |params: Vec<(&str, String)>| -> Response<Body> {
        let Some(uri) = &redirect else { unreachable!() };
        let mut url = match url::Url::parse(uri) {
            Ok(u) => u,
            Err(_) => return bad_request_page("Invalid redirect_uri."),
        };
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in params {
                pairs.append_pair(k, &v);
            }
            if let Some(s) = &state {
                pairs.append_pair("state", s);
            }
        }
        let mut r = html(StatusCode::FOUND, String::new());
        if let Ok(v) = http::HeaderValue::from_str(url.as_str()) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    };
    if q.get("decision").map(String::as_str) != Some("allow") {
        if redirect.is_some() {
            return back(vec![
                ("error", "access_denied".into()),
                (
                    "error_description",
                    "The user chose not to give your app access to their Dropbox account.".into(),
                ),
            ]);
        }
        return html(
            StatusCode::OK,
            "<!doctype html><h1>Access denied</h1>".into(),
        );
    }
    let account = q
        .get("account")
        .cloned()
        .filter(|a| emu.account(a).is_some());
    let Some(account) = account else {
        return html(
            StatusCode::BAD_REQUEST,
            "<!doctype html><h1>Unknown account</h1>".into(),
        );
    };
    // Every secret the emulator issues has a prefix of its kind, so a search of logs finds any
    // that leaked: `sl.` access tokens (as Dropbox's), `rt.` refresh tokens, `ac.` codes.
    let code = emu.random_token("ac.");
    let challenge = q.get("code_challenge").map(|c| {
        (
            c.clone(),
            q.get("code_challenge_method")
                .cloned()
                .unwrap_or_else(|| "plain".into()),
        )
    });
    emu.tokens.lock().codes.insert(
        code.clone(),
        AuthCode {
            account,
            client_id: auth.app.key.clone(),
            redirect_uri: redirect.clone(),
            challenge,
            offline: q.get("token_access_type").map(String::as_str) == Some("offline"),
            expires_at: emu.now() + 600,
            used_by: None,
            scopes: auth.scopes,
        },
    );
    match redirect {
        Some(_) => back(vec![("code", code)]),
        None => html(
            StatusCode::OK,
            format!(
                "<!doctype html><h1>Enter this code into your app</h1><p><code id=\"code\">{}</code></p>",
                escape(&code)
            ),
        ),
    }
}

/// Who is calling the token endpoint: a registered app, and whether it proved itself with
/// its secret.
struct Client {
    app: RegisteredApp,
    with_secret: bool,
}

/// Authenticate the caller of `/oauth2/token`: `client_id` (and `client_secret`) in the form
/// or as HTTP Basic. A secret that is sent must be the app's.
fn client(
    emu: &Emulator,
    q: &HashMap<String, String>,
    basic_auth: Option<(String, String)>,
) -> Result<Client, Box<Response<Body>>> {
    let (basic_id, basic_secret) = match basic_auth {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (None, None),
    };
    let Some(client_id) = q.get("client_id").cloned().or(basic_id) else {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No auth function available for given request",
        )));
    };
    let Some(app) = app(emu, &client_id) else {
        return Err(Box::new(invalid_client()));
    };
    let secret = q.get("client_secret").cloned().or(basic_secret);
    let with_secret = match secret {
        Some(s) if app.secret.as_deref() == Some(s.as_str()) => true,
        Some(_) => return Err(Box::new(invalid_client())),
        None => false,
    };
    Ok(Client { app, with_secret })
}

/// `POST /oauth2/token`.
pub fn token(emu: &Emulator, body: &str, basic_auth: Option<(String, String)>) -> Response<Body> {
    let q = form(body);
    let grant_type = q.get("grant_type").cloned();
    if !matches!(
        grant_type.as_deref(),
        Some("authorization_code" | "refresh_token")
    ) {
        return match grant_type {
            Some(other) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("\"{other}\" is not supported"),
            ),
            None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "No grant_type"),
        };
    }
    let client = match client(emu, &q, basic_auth) {
        Ok(c) => c,
        Err(refused) => return *refused,
    };
    match grant_type.as_deref() {
        Some("authorization_code") => exchange_code(emu, &q, &client),
        _ => refresh(emu, &q, &client),
    }
}

fn issue(
    emu: &Emulator,
    account: &str,
    app: &RegisteredApp,
    family: Option<String>,
    scopes: Option<Vec<String>>,
) -> (String, Grant) {
    let access = match &app.folder {
        Some(folder) => Access::AppFolder(folder.clone()),
        None => Access::Full,
    };
    let token = emu.random_token("sl.");
    let grant = Grant {
        account: account.to_string(),
        access,
        expires_at: Some(emu.now() + emu.config.token_lifetime_secs as i64),
        family,
        scopes,
    };
    emu.tokens
        .lock()
        .access
        .insert(token.clone(), grant.clone());
    emu.persist_access(&token, &grant);
    (token, grant)
}

fn exchange_code(emu: &Emulator, q: &HashMap<String, String>, client: &Client) -> Response<Body> {
    let invalid = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(code) = q.get("code") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "No code");
    };
    let mut tokens = emu.tokens.lock();
    let Some(entry) = tokens.codes.get_mut(code) else {
        return invalid("code doesn't exist or has expired");
    };
    if let Some(issued) = entry.used_by.clone() {
        drop(tokens);
        // A replayed code: revoke what the first exchange issued.
        emu.revoke(&issued);
        return invalid("code has already been used");
    }
    if entry.expires_at < emu.now() {
        return invalid("code doesn't exist or has expired");
    }
    if client.app.key != entry.client_id {
        return invalid("invalid client_id for this code");
    }
    if q.get("redirect_uri") != entry.redirect_uri.as_ref() {
        return invalid("redirect_uri mismatch");
    }
    match (&entry.challenge, q.get("code_verifier")) {
        (Some((challenge, method)), Some(verifier)) => {
            let computed = if method == "S256" {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()))
            } else {
                verifier.clone()
            };
            if &computed != challenge {
                return invalid("invalid code verifier");
            }
        }
        (Some(_), None) => return invalid("code verifier is required"),
        // Without PKCE the app proves itself with its secret.
        (None, _) if !client.with_secret => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "No auth function available for given request",
            );
        }
        (None, _) => {}
    }
    let account = entry.account.clone();
    let offline = entry.offline;
    let public = entry.challenge.is_some();
    let scopes = entry
        .scopes
        .clone()
        .unwrap_or_else(|| USER_SCOPES.iter().map(|s| s.to_string()).collect());
    let refresh = offline.then(|| emu.random_token("rt."));
    drop(tokens);
    let (token, _grant) = issue(
        emu,
        &account,
        &client.app,
        refresh.clone(),
        Some(scopes.clone()),
    );
    let mut tokens = emu.tokens.lock();
    if let Some(entry) = tokens.codes.get_mut(code) {
        entry.used_by = Some(token.clone());
    }
    if let Some(r) = &refresh {
        let rg = RefreshGrant {
            account: account.clone(),
            app_key: Some(client.app.key.clone()),
            scopes: Some(scopes.clone()),
            public,
        };
        tokens.refresh.insert(r.clone(), rg.clone());
        drop(tokens);
        emu.persist_refresh(r, &rg);
    } else {
        drop(tokens);
    }
    let acct = emu.account(&account);
    let mut body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": emu.config.token_lifetime_secs,
        "scope": scopes.join(" "),
        "uid": acct.as_ref().map(|a| a.namespace_id.clone()).unwrap_or_default(),
        "account_id": acct.as_ref().map(|a| a.account_id.clone()).unwrap_or_default(),
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    json_response(StatusCode::OK, &body)
}

fn refresh(emu: &Emulator, q: &HashMap<String, String>, client: &Client) -> Response<Body> {
    let Some(rt) = q.get("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No refresh_token",
        );
    };
    let grant = emu.tokens.lock().refresh.get(rt).cloned();
    let Some(grant) = grant else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh token is invalid or revoked",
        );
    };
    if grant.app_key.as_ref().is_some_and(|k| k != &client.app.key) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh token was issued to another app",
        );
    }
    if !grant.public && !client.with_secret {
        // A grant made with the app's secret is refreshed with it (not a PKCE grant).
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No auth function available for given request",
        );
    }
    let scopes = match q.get("scope") {
        None => grant.scopes.clone(),
        Some(asked) => {
            let asked = match parse_scopes(asked) {
                Ok(s) => s,
                Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e),
            };
            if let Some(granted) = &grant.scopes {
                if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        &format!("\"{extra}\" was not granted to this refresh token"),
                    );
                }
            }
            Some(asked)
        }
    };
    let (token, _) = issue(emu, &grant.account, &client.app, Some(rt.clone()), scopes);
    json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "bearer", "expires_in": emu.config.token_lifetime_secs}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emu() -> std::sync::Arc<Emulator> {
        Emulator::new(crate::Config {
            accounts: vec![("ada".into(), "tok-ada".into())],
            apps: vec![
                RegisteredApp::nuvosync(),
                RegisteredApp::parse("conf=s3cret::http://localhost:9/cb").unwrap(),
            ],
            ..crate::Config::default()
        })
        .unwrap()
    }

    #[test]
    fn apps_parse_from_the_command_line_form() {
        let a = RegisteredApp::parse(
            "k1=sec:nuvolos.cloud:http://127.0.0.1:5/callback,http://localhost:6/",
        )
        .unwrap();
        assert_eq!(a.key, "k1");
        assert_eq!(a.secret.as_deref(), Some("sec"));
        assert_eq!(a.folder.as_deref(), Some("nuvolos.cloud"));
        assert_eq!(
            a.redirect_uris,
            ["http://127.0.0.1:5/callback", "http://localhost:6/"]
        );
        let full = RegisteredApp::parse("2jmbq42w7vof78h:").unwrap();
        assert_eq!(full, RegisteredApp::full_access("2jmbq42w7vof78h"));
        for bad in ["", "key", ":folder:", "k=:f:", "k:f:not a url"] {
            assert!(RegisteredApp::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authorize_checks_the_app_the_redirect_and_pkce() {
        let e = emu();
        let q = |s: &str| validate_authorize(&e, &form(s)).map(|a| a.app.key);
        let ch = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(
            q(&format!(
                "client_id=nuvosync-desktop&response_type=code&code_challenge={ch}&code_challenge_method=S256&redirect_uri=http%3A%2F%2F127.0.0.1%3A28752%2Fcallback"
            ))
            .unwrap(),
            "nuvosync-desktop"
        );
        // Another port, another path, another host name for the same address: all refused.
        for uri in [
            "http://127.0.0.1:28755/callback",
            "http://127.0.0.1:28752/",
            "http://localhost:28752/callback",
            "https://127.0.0.1:28752/callback",
        ] {
            let err = q(&format!(
                "client_id=nuvosync-desktop&response_type=code&redirect_uri={}",
                url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
            ))
            .unwrap_err();
            assert!(err.contains("must exactly match"), "{uri}: {err}");
        }
        assert_eq!(
            q("client_id=unknown&response_type=code").unwrap_err(),
            "Invalid client_id: \"unknown\"."
        );
        assert!(q("response_type=code").unwrap_err().contains("client_id"));
        assert!(q("client_id=conf&response_type=token").is_err());
        assert!(q("client_id=conf&response_type=code&code_challenge=short").is_err());
        assert!(q("client_id=conf&response_type=code&scope=files.everything").is_err());
        assert!(q("client_id=conf&response_type=code&scope=files.content.read").is_ok());
    }

    #[test]
    fn scopes_of_the_routes_come_from_the_spec() {
        assert_eq!(
            required_scope("users/get_current_account"),
            Some("account_info.read")
        );
        assert_eq!(required_scope("files/download"), Some("files.content.read"));
        assert_eq!(
            required_scope("files/upload_session/finish_batch_v2"),
            Some("files.content.write")
        );
        assert_eq!(required_scope("auth/token/revoke"), None);
        assert_eq!(required_scope("files/no_such_route"), None);
    }

    fn status_and_json(r: Response<Body>) -> (u16, serde_json::Value) {
        let status = r.status().as_u16();
        let body = futures_body(r);
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    fn futures_body(r: Response<Body>) -> Vec<u8> {
        use http_body_util::BodyExt;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(r.into_body().collect())
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn the_token_endpoint_refuses_unknown_apps_and_wrong_secrets() {
        let e = emu();
        let refresh = |extra: &str, basic: Option<(String, String)>| {
            status_and_json(token(
                &e,
                &format!("grant_type=refresh_token&refresh_token=tok-ada{extra}"),
                basic,
            ))
        };
        let (s, body) = refresh("&client_id=unknown", None);
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
        let (s, body) = refresh("&client_id=conf&client_secret=wrong", None);
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
        let (s, body) = refresh("", Some(("conf".into(), "wrong".into())));
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
        // nuvosync's key has no secret: any secret sent is wrong.
        let (s, body) = refresh("&client_id=nuvosync-desktop&client_secret=x", None);
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
        let (s, _) = refresh("&client_id=conf&client_secret=s3cret", None);
        assert_eq!(s, 200);
        let (s, _) = refresh("&client_id=nuvosync-desktop", None);
        assert_eq!(s, 200);
    }

    #[test]
    fn a_refresh_with_scope_narrows_the_token() {
        let e = emu();
        let (s, body) = status_and_json(token(
            &e,
            "grant_type=refresh_token&refresh_token=tok-ada&client_id=nuvosync-desktop&scope=files.metadata.read",
            None,
        ));
        assert_eq!(s, 200, "{body}");
        let t = body["access_token"].as_str().unwrap().to_string();
        let grant = e.tokens.lock().access[&t].clone();
        assert_eq!(grant.scopes, Some(vec!["files.metadata.read".to_string()]));
        assert!(missing_scope(&grant, "files/list_folder").is_none());
        let (s, body) =
            status_and_json(missing_scope(&grant, "users/get_current_account").unwrap());
        assert_eq!(s, 401);
        assert_eq!(body["error"][".tag"], "missing_scope");
        assert_eq!(body["error"]["required_scope"], "account_info.read");
        let (s, body) = status_and_json(token(
            &e,
            "grant_type=refresh_token&refresh_token=tok-ada&client_id=nuvosync-desktop&scope=files.bogus",
            None,
        ));
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_scope")));
    }
}
