//! OAuth 2: the consent page at `/oauth2/authorize` and the token endpoint `/oauth2/token`.
//!
//! Codes are single use (a replay revokes what the first exchange issued), live ten
//! minutes, are bound to the client id and redirect URI, and carry the PKCE challenge
//! (S256 or plain). Access tokens expire after the configured lifetime; refresh tokens
//! last until revoked. App keys listed as app-folder apps get tokens jailed in their app
//! folder; every other key gets full access (so Maestral's built-in key works).

use crate::state::{Access, AuthCode, Emulator, Grant, RefreshGrant};
use crate::wire::{Body, json_response, text_response};
use base64::Engine as _;
use http::{Response, StatusCode};
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;

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

fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = text_response(status, body);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A redirect URI we may send a code to: loopback http, any port and path.
fn loopback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && matches!(
                u.host_str(),
                Some("127.0.0.1") | Some("localhost") | Some("[::1]")
            )
    })
}

/// `GET /oauth2/authorize`: validate, then show the consent page.
pub fn authorize_page(emu: &Emulator, query: &str) -> Response<Body> {
    let q = form(query);
    if let Err(msg) = validate_authorize(&q) {
        return html(
            StatusCode::BAD_REQUEST,
            format!(
                "<!doctype html><title>Error</title><h1>Invalid request</h1><p>{}</p>",
                escape(&msg)
            ),
        );
    }
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let scope = match emu.app_folder_of(&client_id) {
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
            app = escape(&client_id),
        ),
    )
}

fn validate_authorize(q: &HashMap<String, String>) -> Result<(), String> {
    if q.get("client_id").is_none_or(|c| c.is_empty()) {
        return Err("Missing client_id.".into());
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err("response_type must be \"code\".".into());
    }
    if let Some(uri) = q.get("redirect_uri") {
        if !loopback(uri) {
            return Err(format!(
                "Invalid redirect_uri: \"{uri}\". It must be a loopback http address."
            ));
        }
    }
    match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256") | Some("plain") | None) if (43..=128).contains(&c.len()) => Ok(()),
        (Some(_), Some("S256") | Some("plain") | None) => {
            Err("code_challenge must be 43 to 128 characters.".into())
        }
        (Some(_), Some(m)) => Err(format!("Unsupported code_challenge_method \"{m}\".")),
        (None, _) => Ok(()),
    }
}

/// `POST /oauth2/authorize`: the user's decision. Redirects back with `code` and `state`.
pub fn authorize_decision(emu: &Emulator, body: &str) -> Response<Body> {
    let q = form(body);
    if let Err(msg) = validate_authorize(&q) {
        return html(
            StatusCode::BAD_REQUEST,
            format!(
                "<!doctype html><h1>Invalid request</h1><p>{}</p>",
                escape(&msg)
            ),
        );
    }
    let redirect = q.get("redirect_uri").cloned();
    let state = q.get("state").cloned();
    let back = |params: Vec<(&str, String)>| -> Response<Body> {
        let Some(uri) = &redirect else { unreachable!() };
        let mut url = match url::Url::parse(uri) {
            Ok(u) => u,
            Err(_) => return html(StatusCode::BAD_REQUEST, "bad redirect_uri".into()),
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
            client_id: q.get("client_id").cloned().unwrap_or_default(),
            redirect_uri: redirect.clone(),
            challenge,
            offline: q.get("token_access_type").map(String::as_str) == Some("offline"),
            expires_at: emu.now() + 600,
            used_by: None,
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

/// `POST /oauth2/token`.
pub fn token(emu: &Emulator, body: &str, basic_auth: Option<(String, String)>) -> Response<Body> {
    let q = form(body);
    let client_id = q
        .get("client_id")
        .cloned()
        .or_else(|| basic_auth.as_ref().map(|(id, _)| id.clone()));
    match q.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(emu, &q, client_id),
        Some("refresh_token") => refresh(emu, &q, client_id),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("\"{other}\" is not supported"),
        ),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "No grant_type"),
    }
}

fn issue(
    emu: &Emulator,
    account: &str,
    client_id: &str,
    family: Option<String>,
) -> (String, Grant) {
    let access = match emu.app_folder_of(client_id) {
        Some(folder) => Access::AppFolder(folder),
        None => Access::Full,
    };
    let token = emu.random_token("sl.");
    let grant = Grant {
        account: account.to_string(),
        access,
        expires_at: Some(emu.now() + emu.config.token_lifetime_secs as i64),
        family,
    };
    emu.tokens
        .lock()
        .access
        .insert(token.clone(), grant.clone());
    emu.persist_access(&token, &grant);
    (token, grant)
}

fn exchange_code(
    emu: &Emulator,
    q: &HashMap<String, String>,
    client_id: Option<String>,
) -> Response<Body> {
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
    if client_id.as_deref() != Some(entry.client_id.as_str()) {
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
        (None, _) => {} // a confidential client would send its secret; no secrets are checked here
    }
    let account = entry.account.clone();
    let offline = entry.offline;
    let client = entry.client_id.clone();
    let refresh = offline.then(|| emu.random_token("rt."));
    drop(tokens);
    let (token, grant) = issue(emu, &account, &client, refresh.clone());
    let mut tokens = emu.tokens.lock();
    if let Some(entry) = tokens.codes.get_mut(code) {
        entry.used_by = Some(token.clone());
    }
    if let Some(r) = &refresh {
        let rg = RefreshGrant {
            account: account.clone(),
            app_key: Some(client.clone()),
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
        "scope": "account_info.read files.content.read files.content.write files.metadata.read files.metadata.write",
        "uid": acct.as_ref().map(|a| a.namespace_id.clone()).unwrap_or_default(),
        "account_id": acct.as_ref().map(|a| a.account_id.clone()).unwrap_or_default(),
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    let _ = grant;
    json_response(StatusCode::OK, &body)
}

fn refresh(
    emu: &Emulator,
    q: &HashMap<String, String>,
    client_id: Option<String>,
) -> Response<Body> {
    let Some(rt) = q.get("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No refresh_token",
        );
    };
    let Some(client_id) = client_id else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "No client_id");
    };
    let grant = emu.tokens.lock().refresh.get(rt).cloned();
    let Some(grant) = grant else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh token is invalid or revoked",
        );
    };
    if grant.app_key.as_ref().is_some_and(|k| k != &client_id) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh token was issued to another app",
        );
    }
    let (token, _) = issue(emu, &grant.account, &client_id, Some(rt.clone()));
    json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "bearer", "expires_in": emu.config.token_lifetime_secs}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_are_allowed() {
        assert!(loopback("http://127.0.0.1:5555/cb"));
        assert!(loopback("http://localhost:1/"));
        assert!(!loopback("https://127.0.0.1/cb"));
        assert!(!loopback("http://evil.example/cb"));
    }

    #[test]
    fn authorize_requires_code_flow_and_sane_pkce() {
        let ok = form(
            "client_id=a&response_type=code&code_challenge=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&code_challenge_method=S256",
        );
        assert!(validate_authorize(&ok).is_ok());
        assert!(validate_authorize(&form("client_id=a&response_type=token")).is_err());
        assert!(
            validate_authorize(&form("client_id=a&response_type=code&code_challenge=short"))
                .is_err()
        );
        assert!(validate_authorize(&form("response_type=code")).is_err());
    }
}
