//! Probes for `nuvosync doctor`: is a host reachable and what time does it say it is, which
//! scopes the linked token was granted. Each probe is one small request that changes nothing.

use crate::auth::Credential;
use crate::endpoints::Endpoints;
use crate::error::Error;
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// The HTTP client the probes take ([`crate::transport::http_client`] makes one).
pub type HttpClient = reqwest::Client;

/// What one request to a host showed.
#[derive(Clone, Debug)]
pub struct HostProbe {
    /// The HTTP status it answered with (any status means the host is reachable).
    pub status: Option<u16>,
    /// Why no answer came (DNS, connect, TLS, time-out).
    pub error: Option<String>,
    /// The server's `Date` header, if it sent one.
    pub server_date: Option<SystemTime>,
    /// When the answer arrived (the `Date` header was written about half a round trip ago).
    pub received: SystemTime,
    /// How long the round trip took.
    pub elapsed: Duration,
}

/// One GET of `url` (a host's `…/2/` base; its status does not matter, only that it answers).
pub async fn host(http: &reqwest::Client, url: &Url) -> HostProbe {
    let start = Instant::now();
    let r = http
        .get(url.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let received = SystemTime::now();
    let elapsed = start.elapsed();
    match r {
        Ok(resp) => HostProbe {
            status: Some(resp.status().as_u16()),
            error: None,
            server_date: resp
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
            received,
            elapsed,
        },
        Err(e) => {
            // The chain of causes says what failed (DNS, refused, certificate); no secret is in
            // a GET without credentials.
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            HostProbe {
                status: None,
                error: Some(msg),
                server_date: None,
                received,
                elapsed,
            }
        }
    }
}

/// Which of `needed` the credential's grant lacks. A refresh answer does not list the grant's
/// scopes (only the code exchange does: `/oauth2/token` docs), but a refresh may ask for a subset
/// of them with `scope`, and one outside the grant is refused with 400 `invalid_scope`: so each
/// needed scope is asked for alone. `None` for an access token, whose grant cannot be asked
/// about. Each refresh mints an access token that is dropped: nothing else changes.
pub async fn missing_scopes(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    credential: &Credential,
    needed: &[&str],
) -> Result<Option<Vec<String>>, Error> {
    let (token, app_key, either) = match credential {
        Credential::Access(_) => return Ok(None),
        Credential::Refresh {
            refresh_token,
            app_key,
        } => (refresh_token, app_key, false),
        Credential::Either { token, app_key } => (token, app_key, true),
    };
    let url = endpoints
        .token
        .join("oauth2/token")
        .map_err(|e| Error::Unexpected(format!("token URL: {e}")))?;
    let mut missing = vec![];
    for scope in needed {
        let resp = http
            .post(url.clone())
            .timeout(Duration::from_secs(20))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.expose()),
                ("client_id", app_key.as_str()),
                ("scope", scope),
            ])
            .send()
            .await
            .map_err(|e| Error::Network(format!("token request failed: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            continue;
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = body
            .get("error")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown")
            .to_string();
        match code.as_str() {
            "invalid_scope" => missing.push(scope.to_string()),
            // NUVOSYNC_TOKEN holds an access token, not a refresh token.
            _ if either && status.is_client_error() => return Ok(None),
            "invalid_grant" | "invalid_client" => {
                return Err(Error::Auth(crate::error::AuthProblem::Revoked));
            }
            _ => {
                return Err(Error::Unexpected(format!(
                    "Dropbox refused the token refresh ({status}, {code})"
                )));
            }
        }
    }
    Ok(Some(missing))
}
