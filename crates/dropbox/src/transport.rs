//! Our HTTP client for the official SDK's routes: reqwest over rustls (HTTP/1.1 and 2, pooled
//! connections), endpoints rewritten per [`Endpoints`], an extra CA, fresh access tokens,
//! and retries with exponential backoff and full jitter for network failures, 5xx and 429
//! (honouring `Retry-After`, whatever the body's format).
//!
//! JSON answers (every route but downloads) are read whole here, so that an answer cut off
//! midway or garbled on the way (a successful answer that is not JSON, or a download whose
//! `Dropbox-API-Result` is not) is retried like a network failure instead of surfacing as an
//! unreadable result. Download bodies stream; the engine checks them against `content_hash`.

use crate::auth::Authorizer;
use crate::endpoints::Endpoints;
use crate::error::Error;
use crate::throttle::Limits;
use bytes::Bytes;
use dropbox_sdk::async_client_trait::HttpRequest;
use dropbox_sdk::async_client_trait::{
    HttpClient, HttpRequestResultRaw, NoauthClient, UserAuthClient,
};
use futures_util::{StreamExt, TryStreamExt};
use rand::Rng;
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
    /// Full-jitter exponential backoff for attempt `n` (0-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let cap = self.base.saturating_mul(1u32 << n.min(16)).min(self.max);
        let ms = rand::rng().random_range(0..=cap.as_millis() as u64);
        Duration::from_millis(ms.max(self.base.as_millis() as u64 / 2))
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

/// When a request last moved: a piece of its body went out, or a piece of its answer came
/// in. Time-outs measure silence, not the length of a transfer: a 10 GB upload over a slow
/// link is fine as long as it keeps moving, and an answer that stops coming is given up
/// after [`RetryPolicy::stall`] whatever stage it is in.
///
/// A piece handed to the connection may still wait in the system's send buffer (several
/// megabytes) while a slow link drains it, with nothing to show for it here: once the last
/// piece is handed over, the silence allowed grows by the time that buffer could take at a
/// slow 64 KB/s (see [`Progress::sent_all`]).
#[derive(Clone)]
struct Progress {
    start: std::time::Instant,
    last_ms: Arc<AtomicU64>,
    extra_ms: Arc<AtomicU64>,
}

/// The most a send buffer is taken to hold, and the slowest link it is taken to drain at.
const BUFFERED_MAX: u64 = 8 << 20;
const SLOW_LINK_BYTES_PER_SEC: u64 = 64 * 1024;

impl Progress {
    fn new() -> Self {
        Progress {
            start: std::time::Instant::now(),
            last_ms: Arc::default(),
            extra_ms: Arc::default(),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The whole body (`len` bytes) is handed to the connection.
    fn sent_all(&self, len: u64) {
        let buffered = len.min(BUFFERED_MAX);
        self.extra_ms
            .store(buffered * 1000 / SLOW_LINK_BYTES_PER_SEC, Ordering::Relaxed);
        self.touch();
    }

    /// Resolves once nothing has moved for `limit` (plus what [`Progress::sent_all`] allows).
    async fn stalled(&self, limit: Duration) {
        loop {
            let limit = limit + Duration::from_millis(self.extra_ms.load(Ordering::Relaxed));
            let idle = self
                .start
                .elapsed()
                .saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)));
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// The largest JSON answer read into memory. Dropbox's largest (a listing page, a batch
/// result of 1,000 entries) is a few megabytes; a server or proxy that sends more is not
/// Dropbox, and is not allowed to exhaust memory.
pub const MAX_JSON_ANSWER: usize = 64 * 1024 * 1024;

/// Why an answer's body could not be read.
enum ReadFail {
    Stalled,
    Broken(String),
}

/// Read a whole answer (at most `limit` bytes), giving up when a piece takes longer than
/// `stall`.
async fn read_all(
    mut resp: reqwest::Response,
    stall: Duration,
    limit: usize,
) -> Result<Bytes, ReadFail> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadFail::Broken(format!(
            "the answer is larger than {} MB",
            limit >> 20
        )));
    }
    let mut buf = bytes::BytesMut::new();
    loop {
        match tokio::time::timeout(stall, resp.chunk()).await {
            Err(_) => return Err(ReadFail::Stalled),
            Ok(Err(e)) => return Err(ReadFail::Broken(format!("the answer was cut off: {e}"))),
            Ok(Ok(None)) => return Ok(buf.freeze()),
            Ok(Ok(Some(piece))) => {
                if buf.len() + piece.len() > limit {
                    return Err(ReadFail::Broken(format!(
                        "the answer is larger than {} MB",
                        limit >> 20
                    )));
                }
                buf.extend_from_slice(&piece);
            }
        }
    }
}

/// The time-out of a longpoll whose body asks for `timeout` seconds: Dropbox holds it that
/// long plus up to 90 s of random jitter (`files.stone`, `ListFolderLongpollArg.timeout`),
/// and the answer needs a moment more.
fn longpoll_deadline(body: &[u8]) -> Duration {
    let asked = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("timeout").and_then(serde_json::Value::as_u64))
        .unwrap_or(30)
        .clamp(30, 480);
    Duration::from_secs(asked + 90 + 30)
}

/// How a request authenticates. Dropbox takes each route's kind from the API spec
/// (`auth=` in the `.stone` files) and refuses a request for a `noauth` route that carries
/// an `Authorization` header with HTTP 400 ("Your request includes an Authorization header,
/// but this function does not use it." — dropbox-sdk-rust#15, dropbox-sdk-java#35).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    /// `Authorization: Bearer <access token>` (`auth="user"`, the default).
    User,
    /// No `Authorization` header (`auth="noauth"`: `files/list_folder/longpoll`).
    None,
}

/// A request being built by the SDK.
pub struct Request {
    url: String,
    headers: Vec<(String, String)>,
    auth: Auth,
    /// `Dropbox-API-Arg` as we escape it (see [`header_json`]), sent instead of the SDK's.
    arg: Option<ArgHeader>,
}

/// A content route's argument: our escaping, and the SDK's for the same JSON (to check that
/// what the SDK is sending is indeed this argument).
#[derive(Clone)]
struct ArgHeader {
    ours: String,
    sdks: String,
}

impl HttpRequest for Request {
    fn set_header(mut self, name: &str, value: &str) -> Self {
        if name.eq_ignore_ascii_case("Dropbox-API-Arg") {
            if let Some(arg) = &self.arg {
                if arg.sdks == value {
                    self.headers.push((name.to_string(), arg.ours.clone()));
                    return self;
                }
                // Not the argument we were given: send what the SDK meant rather than
                // something else (names above U+FFFF are then garbled, as the SDK does).
                tracing::error!("the SDK sent another argument than the one given; using its own");
            }
        }
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// JSON text fit for an HTTP header: every character outside printable ASCII escaped as
/// `\uXXXX`, characters above U+FFFF as their UTF-16 surrogate pair — as JSON (RFC 8259 §7)
/// requires, and as Dropbox's HTTP documentation ("Formats") asks of 0x7F and every
/// non-ASCII character in a `Dropbox-API-Arg` header. The
/// SDK 0.21 writes `\u1f389` for 🎉 (U+1F389), which JSON reads as U+1F38 followed by "9".
pub(crate) fn header_json(json: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out
}

/// The SDK's own escaping of a header argument (dropbox-sdk 0.21 `json_escape_header`), to
/// recognise its value.
fn sdk_header_json(json: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if ('\x20'..'\x7f').contains(&c) {
            out.push(c);
        } else {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
    }
    out
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

/// Whether `b` is one whole JSON value.
fn is_json(b: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
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
                        Some(_) => {
                            // Paced by the download limit as it is read (a slow reader makes
                            // the server slow down).
                            let limits = self.limits.read().clone();
                            let stall = self.retry.stall;
                            // Each piece must arrive within the stall time; after an
                            // error the stream ends (the reader has its answer).
                            let stream = futures_util::stream::unfold(
                                Some((resp, limits, progress)),
                                move |state| async move {
                                    let (mut resp, limits, progress) = state?;
                                    match tokio::time::timeout(stall, resp.chunk()).await {
                                        Ok(Ok(None)) => None,
                                        Ok(Ok(Some(p))) => {
                                            progress.touch();
                                            limits.download.after_receive(p.len() as u64).await;
                                            Some((Ok(p), Some((resp, limits, progress))))
                                        }
                                        Ok(Err(e)) => Some((Err(std::io::Error::other(e)), None)),
                                        Err(_) => Some((
                                            Err(std::io::Error::new(
                                                std::io::ErrorKind::TimedOut,
                                                format!(
                                                    "nothing arrived for {} s",
                                                    stall.as_secs().max(1)
                                                ),
                                            )),
                                            None,
                                        )),
                                    }
                                },
                            )
                            .boxed();
                            Ok(Box::new(stream.into_async_read())
                                as Box<dyn futures_util::AsyncRead + Send + Unpin>)
                        }
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

/// The transport for the routes that take no authorization (`auth="noauth"`): it never
/// sends an `Authorization` header, and the SDK sees no token.
pub(crate) struct NoAuth<'a>(pub &'a Transport);

impl HttpClient for NoAuth<'_> {
    type Request = Request;

    async fn execute(
        &self,
        request: Request,
        body: Bytes,
    ) -> Result<HttpRequestResultRaw, dropbox_sdk::Error> {
        self.0.execute(request, body).await
    }

    fn new_request(&self, url: &str) -> Request {
        Request {
            auth: Auth::None,
            ..self.0.new_request(url)
        }
    }
}

impl NoauthClient for NoAuth<'_> {}

/// The transport for one call of a content route (upload, download): the SDK builds the
/// request, but its `Dropbox-API-Arg` is replaced by ours ([`header_json`]).
pub(crate) struct WithArg<'a> {
    transport: &'a Transport,
    arg: ArgHeader,
}

impl<'a> WithArg<'a> {
    /// For a call with `arg` (serialised as the SDK serialises it).
    pub(crate) fn new(
        transport: &'a Transport,
        arg: &impl serde::Serialize,
    ) -> Result<Self, Error> {
        let json = serde_json::to_string(arg)
            .map_err(|e| Error::Unexpected(format!("cannot encode a request: {e}")))?;
        Ok(WithArg {
            transport,
            arg: ArgHeader {
                ours: header_json(&json),
                sdks: sdk_header_json(&json),
            },
        })
    }
}

impl HttpClient for WithArg<'_> {
    type Request = Request;

    async fn execute(
        &self,
        request: Request,
        body: Bytes,
    ) -> Result<HttpRequestResultRaw, dropbox_sdk::Error> {
        self.transport.execute(request, body).await
    }

    fn new_request(&self, url: &str) -> Request {
        Request {
            arg: Some(self.arg.clone()),
            ..self.transport.new_request(url)
        }
    }

    async fn update_token(&self, old_token: Arc<String>) -> Result<bool, dropbox_sdk::Error> {
        self.transport.update_token(old_token).await
    }

    fn token(&self) -> Option<Arc<String>> {
        self.transport.token()
    }
}

impl UserAuthClient for WithArg<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_json_passes() {
        assert!(is_json(
            br#"{"entries": [], "cursor": "c", "has_more": false}"#
        ));
        assert!(is_json(b"null"));
        assert!(!is_json(br#"{"entries": [{"path_display": "/a"#));
        assert!(!is_json(b"<html>captive portal</html>"));
    }

    /// An answer larger than the limit is refused, never buffered whole: one that says its
    /// size up front at once, one sent in chunks as soon as it passes the limit.
    #[tokio::test]
    async fn an_answer_past_the_size_limit_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for listed in [true, false] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req).await;
                let piece = vec![b' '; 64 * 1024];
                let total: usize = 8 << 20;
                let head = if listed {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n"
                    )
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_string()
                };
                if s.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                for _ in 0..total / piece.len() {
                    let ok = if listed {
                        s.write_all(&piece).await
                    } else {
                        let mut c = format!("{:x}\r\n", piece.len()).into_bytes();
                        c.extend_from_slice(&piece);
                        c.extend_from_slice(b"\r\n");
                        s.write_all(&c).await
                    };
                    if ok.is_err() {
                        break;
                    }
                }
                if !listed {
                    let _ = s.write_all(b"0\r\n\r\n").await;
                }
            }
        });
        let client = http_client(
            &Endpoints::single(&format!("http://{addr}")).unwrap(),
            false,
        )
        .unwrap();
        for what in ["listed", "chunked"] {
            let resp = client.get(format!("http://{addr}/")).send().await.unwrap();
            match read_all(resp, Duration::from_secs(10), 1 << 20).await {
                Err(ReadFail::Broken(m)) => assert!(m.contains("larger than 1 MB"), "{what}: {m}"),
                Err(ReadFail::Stalled) => panic!("{what}: stalled"),
                Ok(b) => panic!("{what}: {} bytes read whole", b.len()),
            }
        }
    }

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
