//! The consent pages at `/oauth2/authorize`: the request checked (the app, its exact
//! redirect URI, the scopes, the PKCE challenge), the page shown, and the user's decision
//! sent back to the app with a code.

use super::{RegisteredApp, form, parse_scopes};
use crate::state::{AuthCode, Emulator};
use crate::wire::{Body, text_response};
use http::{Response, StatusCode};
use std::collections::HashMap;

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

/// What an authorization request asks for, once checked.
pub(super) struct Authorization {
    pub(super) app: RegisteredApp,
    /// Scopes asked for (`None`: all of the app's).
    scopes: Option<Vec<String>>,
}

pub(super) fn validate_authorize(
    emu: &Emulator,
    q: &HashMap<String, String>,
) -> Result<Authorization, String> {
    let client_id = q.get("client_id").map(String::as_str).unwrap_or("");
    let Some(app) = emu.app(client_id) else {
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
