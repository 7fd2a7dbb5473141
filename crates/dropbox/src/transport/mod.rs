//! Our HTTP client for the official SDK's routes: reqwest over rustls (HTTP/1.1 and 2, pooled
//! connections), endpoints rewritten per [`Endpoints`], an extra CA, fresh access tokens,
//! and retries with exponential backoff and full jitter ([`Backoff`]) for network failures,
//! 5xx and 429 (honouring `Retry-After`, whatever the body's format).
//!
//! JSON answers (every route but downloads) are read whole here, so that an answer cut off
//! midway or garbled on the way (a successful answer that is not JSON, or a download whose
//! `Dropbox-API-Result` is not) is retried like a network failure instead of surfacing as an
//! unreadable result. Download bodies stream; the engine checks them against `content_hash`.
//!
//! This file holds the transport and its retry loop; `request.rs` the requests the SDK builds
//! (authentication, header arguments), `read.rs` how answers are read and when a request has
//! stalled.

mod read;
mod request;

pub use read::MAX_JSON_ANSWER;
pub use request::Request;
pub(crate) use request::{NoAuth, WithArg};

use crate::auth::Authorizer;
use crate::backoff::Backoff;
use crate::endpoints::Endpoints;
use crate::error::Error;
use crate::throttle::Limits;
use bytes::Bytes;
use dropbox_sdk::async_client_trait::{HttpClient, HttpRequestResultRaw, UserAuthClient};
use read::{Progress, ReadFail, download_body, is_json, longpoll_deadline, read_all};
use request::Auth;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upload bodies under a limit go out in pieces of this size.
const PIECE: usize = 64 * 1024;

/// How hard to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts for network errors and 5xx (including the first).
    pub attempts: u32,
    /// Attempts for 429s.
    pub rate_limit_attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Largest backoff.
    pub max: Duration,
    /// Longest `Retry-After` honoured in place (longer ones are returned as errors).
    pub max_retry_after: Duration,
    /// A request that moves no byte either way for this long has stalled: it is given up
    /// (and the operation tried again later), however long the whole transfer takes.
    pub stall: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            rate_limit_attempts: 8,
            base: Duration::from_millis(100),
            max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(300),
            stall: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The back-off between tries: from `base` up to `max`, with full jitter.
    pub fn schedule(&self) -> Backoff {
        Backoff::new(self.base, self.max).full_jitter()
    }

    /// Full-jitter exponential backoff for attempt `n` (0-based).
    pub fn backoff(&self, n: u32) -> Duration {
        self.schedule().delay(n)
    }
}

/// Counters of what went over the wire (for status and benchmarks).
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Requests sent (including retries).
    pub requests: AtomicU64,
    /// Request body bytes sent (including retries).
    pub bytes_up: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
}

enum SendError {
    Auth(Error),
    Http(reqwest::Error),
    /// Nothing moved for the stall time.
    Stalled,
}

/// The SDK's HTTP client.
pub struct Transport {
    http: reqwest::Client,
    endpoints: Endpoints,
    auth: Arc<Authorizer>,
    retry: RetryPolicy,
    /// Bandwidth limits (none unless set).
    limits: parking_lot::RwLock<Arc<Limits>>,
    /// Counters.
    pub stats: TransportStats,
    /// Requests in flight, adapted to the server's 429s ([`crate::adapt`]).
    pub adapt: crate::adapt::Aimd,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// A reqwest client that trusts the web PKI plus `endpoints.ca_file`.
pub fn http_client(
    endpoints: &Endpoints,
    follow_redirects: bool,
) -> Result<reqwest::Client, Error> {
    // rustls needs a process-wide crypto provider; ring is ours. A second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("nuvosync/", env!("CARGO_PKG_VERSION")))
        // Only connecting has a fixed time-out; a request that has started is given up when
        // it stops moving (`Progress`), not when its whole transfer takes long — a read
        // time-out would also run while a large body is still being sent.
        .connect_timeout(Duration::from_secs(15))
        // As many idle connections as the engine runs small transfers at once (128 + 32): a
        // smaller pool would close and reopen TLS connections all through a first sync.
        .pool_max_idle_per_host(160)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true);
    if !follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    if let Some(ca) = &endpoints.ca_file {
        let pem = std::fs::read(ca).map_err(|e| {
            Error::Unexpected(format!(
                "cannot read the CA file {} (NUVOSYNC_CA_FILE): {e}",
                ca.display()
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Unexpected(format!("the CA file {} is not PEM: {e}", ca.display()))
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| Error::Unexpected(format!("cannot set up HTTPS: {e}")))
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn sdk_err(e: Error) -> dropbox_sdk::Error {
    dropbox_sdk::Error::HttpClient(Box::new(e))
}

impl Transport {
    /// A transport for `endpoints`, authenticating through `auth`.
    pub fn new(
        http: reqwest::Client,
        endpoints: Endpoints,
        auth: Arc<Authorizer>,
        retry: RetryPolicy,
    ) -> Self {
        Transport {
            http,
            endpoints,
            auth,
            retry,
            limits: parking_lot::RwLock::default(),
            stats: TransportStats::default(),
            adapt: crate::adapt::Aimd::default(),
        }
    }

    /// Pace uploads and downloads by `limits` (shared; changing them takes effect at once).
    pub fn set_limits(&self, limits: Arc<Limits>) {
        *self.limits.write() = limits;
    }

    /// A request body sent in pieces, each counted as progress when it is handed to the
    /// connection and, under an upload limit, each when its turn comes.
    fn body(&self, body: &Bytes, progress: &Progress) -> reqwest::Body {
        if body.is_empty() {
            return reqwest::Body::from(Bytes::new());
        }
        let limits = self.limits.read().clone();
        let (body, progress) = (body.clone(), progress.clone());
        let pieces = futures_util::stream::unfold(0usize, move |at| {
            let (body, limits, progress) = (body.clone(), limits.clone(), progress.clone());
            async move {
                if at >= body.len() {
                    return None;
                }
                let end = (at + PIECE).min(body.len());
                if limits.upload.get() != 0 {
                    limits.upload.before_send((end - at) as u64).await;
                }
                if end == body.len() {
                    progress.sent_all(body.len() as u64);
                } else {
                    progress.touch();
                }
                Some((Ok::<_, std::io::Error>(body.slice(at..end)), end))
            }
        });
        reqwest::Body::wrap_stream(pieces)
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The authorizer.
    pub fn authorizer(&self) -> &Arc<Authorizer> {
        &self.auth
    }

    async fn send_once(
        &self,
        req: &Request,
        body: &Bytes,
    ) -> Result<(reqwest::Response, Progress), SendError> {
        let mut rb = self.http.post(&req.url);
        if req.auth == Auth::User {
            // Always send a fresh token (refreshed shortly before expiry), whatever the SDK saw.
            let token = self.auth.token().await.map_err(SendError::Auth)?;
            rb = rb.header("Authorization", format!("Bearer {token}"));
        }
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("authorization") {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_up
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let progress = Progress::new();
        let sent = rb
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(self.body(body, &progress))
            .send();
        let resp = if req.url.ends_with("/list_folder/longpoll") {
            // Silent by design until something changes: only its own deadline applies.
            tokio::time::timeout(longpoll_deadline(body), sent)
                .await
                .map_err(|_| SendError::Stalled)?
        } else {
            tokio::select! {
                r = sent => r,
                _ = progress.stalled(self.retry.stall) => return Err(SendError::Stalled),
            }
        };
        progress.touch();
        resp.map(|r| (r, progress)).map_err(SendError::Http)
    }

    fn stalled(&self) -> dropbox_sdk::Error {
        sdk_err(Error::Stalled(self.retry.stall.as_secs().max(1)))
    }
}

impl HttpClient for Transport {
    type Request = Request;

    async fn execute(
        &self,
        request: Request,
        body: Bytes,
    ) -> Result<HttpRequestResultRaw, dropbox_sdk::Error> {
        let mut failures = 0u32;
        let mut limited = 0u32;
        // Longpoll waits by design and is not counted by Dropbox's load limits.
        let adapts = !request.url.ends_with("/list_folder/longpoll");
        loop {
            let permit = if adapts {
                Some(self.adapt.acquire().await)
            } else {
                None
            };
            let sent = self.send_once(&request, &body).await;
            if adapts && !matches!(&sent, Ok((r, _)) if r.status().as_u16() == 429) {
                self.adapt.success();
            }
            match sent {
                Err(SendError::Auth(e)) => return Err(sdk_err(e)),
                // Not retried here: the operation fails and is tried again later, so one
                // silent request never holds up a run for several stall times.
                Err(SendError::Stalled) => return Err(self.stalled()),
                Err(SendError::Http(e)) => {
                    failures += 1;
                    if failures >= self.retry.attempts {
                        let what = if e.is_connect() {
                            "connection refused or unreachable"
                        } else if e.is_timeout() {
                            "timed out"
                        } else {
                            "connection failed"
                        };
                        return Err(sdk_err(Error::Network(what.to_string())));
                    }
                    tracing::debug!(attempt = failures, "network error, retrying: {e}");
                }
                Ok((resp, progress)) => {
                    let status = resp.status().as_u16();
                    if status == 429 {
                        limited += 1;
                        let wait = retry_after(resp.headers()).unwrap_or(Duration::from_secs(1));
                        let json = resp
                            .headers()
                            .get(reqwest::header::CONTENT_TYPE)
                            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                        let text = match read_all(resp, self.retry.stall, 64 * 1024).await {
                            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                            Err(ReadFail::Stalled) => return Err(self.stalled()),
                            Err(ReadFail::Broken(_)) => String::new(),
                        };
                        let write = text.contains("too_many_write_operations");
                        if limited >= self.retry.rate_limit_attempts
                            || wait > self.retry.max_retry_after
                        {
                            return Err(sdk_err(Error::RateLimited {
                                retry_after_secs: wait.as_secs().max(1),
                                write,
                            }));
                        }
                        tracing::debug!(
                            wait_ms = wait.as_millis() as u64,
                            json,
                            write,
                            "rate limited; waiting"
                        );
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        if !write && adapts {
                            // Everyone waits out Retry-After in `acquire`, with fewer in flight.
                            self.adapt.rate_limited(wait);
                            drop(permit);
                            continue;
                        }
                        drop(permit);
                        // Lock contention clears fast; add jitter so parallel writers spread out.
                        let jitter = self.retry.backoff(limited.min(4));
                        tokio::time::sleep(
                            wait.max(Duration::from_millis(100))
                                + if write { jitter } else { Duration::ZERO },
                        )
                        .await;
                        continue;
                    }
                    if (500..600).contains(&status) {
                        failures += 1;
                        if failures < self.retry.attempts {
                            tracing::debug!(status, attempt = failures, "server error, retrying");
                            self.stats.retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(self.retry.backoff(failures)).await;
                            continue;
                        }
                    }
                    let result_header = resp
                        .headers()
                        .get("Dropbox-API-Result")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let content_length = resp.content_length();
                    let answer = match &result_header {
                        // A download: the result is in the header, the body streams.
                        Some(h) if status == 200 && !is_json(h.as_bytes()) => {
                            Err("a download's metadata is not JSON".to_string())
                        }
                        Some(_) => Ok(download_body(
                            resp,
                            self.limits.read().clone(),
                            progress,
                            self.retry.stall,
                        )),
                        None => match read_all(resp, self.retry.stall, MAX_JSON_ANSWER).await {
                            Err(ReadFail::Stalled) => return Err(self.stalled()),
                            Err(ReadFail::Broken(what)) => Err(what),
                            Ok(b) if status == 200 && !b.is_empty() && !is_json(&b) => {
                                Err("the answer is not JSON".to_string())
                            }
                            Ok(b) => Ok(Box::new(futures_util::io::Cursor::new(b.to_vec()))
                                as Box<dyn futures_util::AsyncRead + Send + Unpin>),
                        },
                    };
                    match answer {
                        Ok(body) => {
                            return Ok(HttpRequestResultRaw {
                                status,
                                result_header,
                                content_length,
                                body,
                            });
                        }
                        Err(what) => {
                            failures += 1;
                            if failures >= self.retry.attempts {
                                return Err(sdk_err(Error::Garbled(what)));
                            }
                            tracing::debug!(attempt = failures, "{what}; retrying");
                        }
                    }
                }
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.retry.backoff(failures)).await;
        }
    }

    fn new_request(&self, url: &str) -> Request {
        Request {
            url: self.endpoints.rewrite(url),
            headers: Vec::new(),
            auth: Auth::User,
            arg: None,
        }
    }

    async fn update_token(&self, old_token: Arc<String>) -> Result<bool, dropbox_sdk::Error> {
        let stale = if old_token.is_empty() {
            None
        } else {
            Some(&old_token)
        };
        self.auth.refresh(stale).await.map_err(sdk_err)
    }

    fn token(&self) -> Option<Arc<String>> {
        // Any token we hold: the transport refreshes before sending when needed.
        self.auth.current()
    }
}

impl UserAuthClient for Transport {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for n in 0..20 {
            let d = p.backoff(n);
            assert!(d <= Duration::from_secs(1), "{d:?}");
            assert!(d >= Duration::from_millis(50));
        }
    }
}
