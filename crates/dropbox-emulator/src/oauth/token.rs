//! The token endpoint `/oauth2/token`: the client authenticated, a code exchanged (PKCE or
//! the app's secret) and a refresh token used, with the scopes each token carries.

use super::{RegisteredApp, USER_SCOPES, form, invalid_client, oauth_error, parse_scopes};
use crate::state::{Access, Emulator, Grant, RefreshGrant};
use crate::wire::{Body, json_response};
use base64::Engine as _;
use http::{Response, StatusCode};
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;

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
    let Some(app) = emu.app(&client_id) else {
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
