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
//!
//! This file holds the registered apps, the scopes and the shared answers; the consent pages
//! are in `consent.rs`, the token endpoint in `token.rs`.

mod consent;
mod token;

pub use consent::{authorize_decision, authorize_page};
pub use token::token;

pub use crate::apps::{NUVOSYNC_REDIRECT_URIS, RegisteredApp};
use crate::state::Grant;
use crate::wire::{Body, json_response};
use http::{Response, StatusCode};
use serde_json::json;
use std::collections::HashMap;

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
/// table ([`crate::route_table::route_info`]) records it. `auth/token/revoke` needs none;
/// `files/list_folder/longpoll` is `auth="noauth"` and takes no token at all.
pub fn required_scope(route: &str) -> Option<&'static str> {
    crate::route_table::route_info(route).and_then(|r| r.scope)
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

#[cfg(test)]
mod tests;
