//! The HTTP(S) front: one listener for the api, content and notify routes, `/oauth2/*` and
//! `/admin/*`. The first byte of a connection decides TLS or plain HTTP, and a plain
//! `CONNECT` is answered by serving the tunnel ourselves — so a client whose hosts are fixed
//! to `*.dropboxapi.com` (rclone) reaches the emulator through `HTTPS_PROXY`.
//!
//! Faults are applied here, around the routes: latency, bandwidth, 5xx, 429 of both kinds,
//! route-level write contention, dropped connections, slow longpoll, the namespace lock, and
//! corrupted answers ([`crate::faults::Corruption`]).

use crate::cursor::Cursor;
use crate::faults::Corrupt;
use crate::routes::{self, Auth, Call, MAX_PAYLOAD, NOAUTH_WITH_HEADER, Reply, Style};
use crate::state::{Access, Emulator};
use crate::wire::{self, ApiError, Body, RateReason, Scope, full};
use bytes::Bytes;
use dropbox_sdk::files;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;

/// Serve the emulator on `listener` until `shutdown` completes. With `tls`, connections that
/// open with a TLS handshake are served over TLS; others as plain HTTP.
pub async fn serve(
    listener: TcpListener,
    emu: Arc<Emulator>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let emu = emu.clone();
                let tls = tls.clone();
                tasks.spawn(async move { connection(stream, peer, emu, tls).await });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.abort_all();
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    emu: Arc<Emulator>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let mut first = [0u8; 1];
    let is_tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
    match (is_tls, tls) {
        (true, Some(cfg)) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
            if let Ok(s) = acceptor.accept(stream).await {
                let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                if h2 {
                    http2(TokioIo::new(s), peer, emu, Some(cfg)).await;
                } else {
                    http(TokioIo::new(s), peer, emu, Some(cfg)).await;
                }
            }
        }
        (_, tls) => http(TokioIo::new(stream), peer, emu, tls).await,
    }
}

fn http<I>(
    io: I,
    peer: SocketAddr,
    emu: Arc<Emulator>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Pin<Box<dyn Future<Output = ()> + Send>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    Box::pin(async move {
        let svc = service_fn(move |req| answer(emu.clone(), req, peer, tls.clone()));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.keep_alive(true).max_buf_size(256 * 1024);
        let _ = builder.serve_connection(io, svc).with_upgrades().await;
    })
}

/// Serve an HTTP/2 connection (ALPN `h2` on the TLS listener). The same service as
/// [`http`]; a `CONNECT` is itself HTTP/1.1, the TLS inside its tunnel negotiates again.
async fn http2<I>(
    io: I,
    peer: SocketAddr,
    emu: Arc<Emulator>,
    tls: Option<Arc<rustls::ServerConfig>>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| answer(emu.clone(), req, peer, tls.clone()));
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    // Dropbox's front allows many streams per connection; the load model, not the
    // connection, limits what runs at once.
    builder
        .max_concurrent_streams(1000)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(16 << 20);
    let _ = builder.serve_connection(io, svc).await;
}

/// The `Date` header from the emulator's clock (`POST /admin/clock` moves it), so that a
/// client can be shown a server whose clock differs from its own, as `nuvosync doctor` checks.
/// One request over either protocol: dispatched, and dated by the emulator's clock.
async fn answer(
    emu: Arc<Emulator>,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Response<Body>, Dropped> {
    let mut answer = dispatch(emu.clone(), req, peer, tls).await;
    if let Ok(resp) = &mut answer {
        date_header(&emu, resp);
    }
    answer
}

fn date_header(emu: &Emulator, resp: &mut Response<Body>) {
    let now = std::time::UNIX_EPOCH + Duration::from_secs(emu.now().max(0) as u64);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        resp.headers_mut().insert(http::header::DATE, v);
    }
}

/// A dropped connection (fault injection): returning this error makes hyper close it.
#[derive(Debug)]
pub struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for Dropped {}

async fn dispatch(
    emu: Arc<Emulator>,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Response<Body>, Dropped> {
    emu.stats.requests.fetch_add(1, Ordering::Relaxed);
    if req.version() == http::Version::HTTP_2 {
        emu.stats.http2_requests.fetch_add(1, Ordering::Relaxed);
    }
    if req.method() == Method::CONNECT {
        return Ok(tunnel(emu, req, peer, tls));
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if let Some(rest) = path.strip_prefix("/admin/") {
        let rest = rest.to_string();
        return Ok(crate::admin::handle(&emu, req, peer, &rest).await);
    }
    match path.as_str() {
        "/oauth2/authorize" => {
            if req.method() == Method::GET {
                return Ok(crate::oauth::authorize_page(&emu, &query));
            }
            let body = small_body(req).await;
            return Ok(crate::oauth::authorize_decision(&emu, &body));
        }
        "/oauth2/token" | "/1/oauth2/token" => {
            let basic = basic_auth(req.headers());
            let body = small_body(req).await;
            let mut body = body;
            if body.is_empty() {
                body = query; // some clients send the form as a query string
            }
            return Ok(crate::oauth::token(&emu, &body, basic));
        }
        "/" => {
            return Ok(wire::text_response(
                StatusCode::OK,
                "dropbox-emulator\n".into(),
            ));
        }
        _ => {}
    }
    let Some(route) = path.strip_prefix("/2/") else {
        return Ok(wire::text_response(
            StatusCode::NOT_FOUND,
            format!("Unknown endpoint {path}"),
        ));
    };
    api(emu, route.to_string(), req, query).await
}

async fn small_body(req: Request<Incoming>) -> String {
    match http_body_util::Limited::new(req.into_body(), 64 * 1024)
        .collect()
        .await
    {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    }
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (a, b) = s.split_once(':')?;
    Some((a.to_string(), b.to_string()))
}

/// Answer `CONNECT host:port` and serve the tunnel as if it were a direct connection.
fn tunnel(
    emu: Arc<Emulator>,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Response<Body> {
    if !peer.ip().is_loopback() {
        return wire::text_response(
            StatusCode::FORBIDDEN,
            "CONNECT is only served on loopback\n".into(),
        );
    }
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        match tls {
            Some(cfg) => {
                if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg.clone())
                    .accept(io)
                    .await
                {
                    // Inside the tunnel ALPN decides too (Go's client, rclone's, offers h2).
                    if s.get_ref().1.alpn_protocol() == Some(b"h2") {
                        http2(TokioIo::new(s), peer, emu, Some(cfg)).await;
                    } else {
                        http(TokioIo::new(s), peer, emu, Some(cfg)).await;
                    }
                }
            }
            None => http(TokioIo::new(io), peer, emu, None).await,
        }
    });
    Response::new(full(Bytes::new()))
}

fn bearer(headers: &HeaderMap, query: &str) -> Option<String> {
    let from_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let from_query = || crate::oauth::form(query).remove("authorization");
    let v = from_header.or_else(from_query)?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// Wait for the shared link to carry `n` bytes (bandwidth cap); returns at once without a cap.
async fn throttle(emu: &Emulator, n: usize) {
    if let Some(at) = reserve(emu, n) {
        tokio::time::sleep_until(at).await;
    }
}

/// Reserve `n` bytes on the shared link; `Some(instant)` to wait until, `None` if no cap.
fn reserve(emu: &Emulator, n: usize) -> Option<tokio::time::Instant> {
    let bw = emu.faults.read().bandwidth_bytes_per_sec;
    if bw == 0 {
        return None;
    }
    let now = tokio::time::Instant::now();
    let mut free = emu.link_free_at.lock();
    let start = free.map_or(now, |f| f.max(now));
    let done = start + Duration::from_secs_f64(n as f64 / bw as f64);
    *free = Some(done);
    Some(done)
}

/// Serve one API route. Whatever the answer, the request body is read to its end first
/// (see [`drain`]), so that a client still sending gets to read an early error — a 401, a
/// 429, a 5xx — instead of a reset connection.
async fn api(
    emu: Arc<Emulator>,
    route: String,
    req: Request<Incoming>,
    query: String,
) -> Result<Response<Body>, Dropped> {
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let answer = api_inner(emu, route, parts, &mut body, query).await;
    if let (Some(rest), Ok(_)) = (body, &answer) {
        drain(rest).await;
    }
    answer
}

/// Read and discard a request body (up to [`MAX_PAYLOAD`] + [`DRAIN_CAP`] bytes).
async fn drain(mut body: Incoming) {
    let mut seen = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen > MAX_PAYLOAD + DRAIN_CAP {
                return;
            }
        }
    }
}

async fn api_inner(
    emu: Arc<Emulator>,
    route: String,
    parts: http::request::Parts,
    body: &mut Option<Incoming>,
    query: String,
) -> Result<Response<Body>, Dropped> {
    let Some(info) = routes::route_info(&route) else {
        return Ok(ApiError::unknown_route(&route).into_response());
    };
    emu.stats.count_route(&route);
    let method_ok = parts.method == Method::POST
        || (info.style == Style::Download && parts.method == Method::GET);
    if !method_ok {
        return Ok(wire::text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {} not allowed for \"{route}\"", parts.method),
        ));
    }

    // ---- faults before the request is read
    let faults = emu.faults.read().clone();
    let latency = faults.latency_ms + emu.rng.lock().upto(faults.latency_jitter_ms);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (reset, server_error, rate_limited, contended, contended_409) = {
        let mut rng = emu.rng.lock();
        (
            rng.chance(faults.p_reset),
            rng.chance(faults.p_server_error),
            rng.chance(faults.p_rate_limit),
            info.write && rng.chance(faults.p_write_contention),
            info.write && rng.chance(faults.p_write_contention_409),
        )
    };
    let injected = |e: ApiError| {
        emu.stats.faults.fetch_add(1, Ordering::Relaxed);
        Ok(e.into_response())
    };
    if server_error {
        let code = if emu.rng.lock().chance(0.5) { 503 } else { 500 };
        return injected(ApiError::Server(code));
    }
    if rate_limited {
        return injected(ApiError::RateLimit {
            reason: RateReason::TooManyRequests,
            retry_after: faults.retry_after_secs,
            text: faults.rate_limit_text_body,
        });
    }
    if contended {
        return injected(ApiError::RateLimit {
            reason: RateReason::TooManyWriteOperations,
            retry_after: faults.retry_after_secs,
            text: faults.rate_limit_text_body,
        });
    }
    if contended_409 {
        if let Some(e) = route_contention(&route) {
            return injected(e);
        }
    }

    // ---- auth
    let mut call = Call {
        route: route.clone(),
        arg: Bytes::from_static(b"null"),
        body: Bytes::new(),
        account: None,
        scope: Scope::full(),
        token: None,
        range: None,
    };
    if info.auth == Auth::NoAuth && parts.headers.contains_key(http::header::AUTHORIZATION) {
        // files.stone: `auth="noauth"` (longpoll, the only such route: the cursor alone names
        // the account); the answer as Dropbox gives it (dropbox-sdk-rust#15).
        return Ok(ApiError::BadInput(format!(
            "Error in call to API function \"{route}\": {NOAUTH_WITH_HEADER}"
        ))
        .into_response());
    }
    if info.auth == Auth::App {
        // check.stone `auth="app"`: HTTP Basic with a registered app's key and secret.
        let Some((key, secret)) = basic_auth(&parts.headers) else {
            return Ok(ApiError::BadInput(format!(
                "Error in call to API function \"{route}\": Must provide HTTP header \"Authorization\" with HTTP Basic app key and secret."
            ))
            .into_response());
        };
        let known = crate::oauth::app(&emu, &key)
            .is_some_and(|app| app.secret.as_deref() == Some(secret.as_str()));
        if !known {
            return Ok(ApiError::Auth("invalid_access_token").into_response());
        }
    }
    if matches!(info.auth, Auth::User | Auth::AppOrUser) {
        let Some(token) = bearer(&parts.headers, &query) else {
            return Ok(ApiError::BadInput(format!(
                "Error in call to API function \"{route}\": Must provide HTTP header \"Authorization\" or URL parameter \"authorization\"."
            ))
            .into_response());
        };
        let grant = emu.tokens.lock().access.get(&token).cloned();
        let Some(grant) = grant else {
            return Ok(ApiError::Auth("invalid_access_token").into_response());
        };
        if grant.expires_at.is_some_and(|t| t <= emu.now()) {
            return Ok(ApiError::Auth("expired_access_token").into_response());
        }
        if let Some(refused) = crate::oauth::missing_scope(&grant, &route) {
            return Ok(refused);
        }
        let Some(account) = emu.account(&grant.account) else {
            return Ok(ApiError::Auth("invalid_access_token").into_response());
        };
        call.scope = match &grant.access {
            Access::AppFolder(name) => {
                ensure_app_folder(&emu, &account, name);
                Scope::app_folder(name)
            }
            Access::Full => Scope::full(),
        }
        .with_casing(emu.config.parent_casing_seed);
        if let Some(root) = parts.headers.get("Dropbox-API-Path-Root") {
            if let Err(e) = check_path_root(root, &account) {
                return Ok(e.into_response());
            }
        }
        call.account = Some(account);
        call.token = Some(token);
    }
    // ---- the per-account load model (held until the answer is made)
    let _admitted = match &call.account {
        Some(account) => match emu.load.admit(&emu.config.load, &account.name) {
            Ok(a) => Some(a),
            Err(retry_after) => {
                emu.stats.load_refused.fetch_add(1, Ordering::Relaxed);
                return Ok(ApiError::RateLimit {
                    reason: RateReason::TooManyRequests,
                    retry_after,
                    text: false,
                }
                .into_response());
            }
        },
        None => None,
    };

    // ---- content type and body
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let limit = if info.style == Style::Upload {
        MAX_PAYLOAD + 1
    } else {
        16 * 1024 * 1024
    };
    let Some(incoming) = body.take() else {
        return Err(Dropped);
    };
    let body = match read_body(&emu, incoming, limit, info.style == Style::Upload).await {
        Ok(b) => b,
        Err(BodyProblem::TooLarge) => {
            return Ok(match info.style {
                Style::Upload => upload_too_large(&route).into_response(),
                _ => ApiError::BadInput(format!(
                    "Error in call to API function \"{route}\": request body is too large"
                ))
                .into_response(),
            });
        }
        Err(BodyProblem::Broken) => return Err(Dropped),
    };
    match info.style {
        Style::Rpc => {
            let ok = body.is_empty()
                || content_type.starts_with("application/json")
                || content_type.starts_with("text/plain; charset=dropbox-cors-hack");
            if !ok {
                return Ok(ApiError::BadInput(format!(
                    "Error in call to API function \"{route}\": Bad HTTP \"Content-Type\" header: \"{content_type}\".  Expecting one of \"application/json\", \"application/json; charset=utf-8\", \"text/plain; charset=dropbox-cors-hack\"."
                ))
                .into_response());
            }
            let trimmed = body.iter().filter(|b| !b.is_ascii_whitespace()).count();
            if trimmed > 0 {
                match normalized(&body) {
                    Some(arg) => call.arg = arg,
                    None => return Ok(ApiError::BadInput(format!("Error in call to API function \"{route}\": request body: could not decode input as JSON")).into_response()),
                }
            }
        }
        Style::Upload | Style::Download => {
            if info.style == Style::Upload
                && !content_type.is_empty()
                && !content_type.starts_with("application/octet-stream")
                && !content_type.starts_with("text/plain; charset=dropbox-cors-hack")
            {
                return Ok(ApiError::BadInput(format!(
                    "Error in call to API function \"{route}\": Bad HTTP \"Content-Type\" header: \"{content_type}\".  Expecting one of \"application/octet-stream\", \"text/plain; charset=dropbox-cors-hack\"."
                ))
                .into_response());
            }
            let header = parts
                .headers
                .get("Dropbox-API-Arg")
                .map(|v| v.as_bytes().to_vec());
            let from_header = header.is_some();
            let raw = header.or_else(|| {
                crate::oauth::form(&query)
                    .remove("arg")
                    .map(String::into_bytes)
            });
            let Some(raw) = raw else {
                return Ok(ApiError::BadInput(format!("Error in call to API function \"{route}\": Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".")).into_response());
            };
            // An HTTP header carries ASCII: JSON in it escapes everything else, characters
            // above U+FFFF as surrogate pairs (Dropbox's HTTP documentation, "Formats").
            // The URL parameter `arg` is percent-encoded UTF-8 and may hold any character.
            if from_header && !raw.iter().all(|b| (0x20..0x7f).contains(b) || *b == b'\t') {
                return Ok(ApiError::BadInput(format!("Error in call to API function \"{route}\": HTTP header \"Dropbox-API-Arg\": could not decode input as JSON")).into_response());
            }
            match normalized(&raw) {
                Some(arg) => call.arg = arg,
                None => return Ok(ApiError::BadInput(format!("Error in call to API function \"{route}\": HTTP header \"Dropbox-API-Arg\": could not decode input as JSON")).into_response()),
            }
            if info.style == Style::Upload {
                emu.stats
                    .bytes_in
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
            }
        }
    }
    call.body = body;
    call.range = parts
        .headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let if_none_match = parts
        .headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    if route == "files/list_folder/longpoll" {
        return Ok(longpoll(&emu, &call)
            .await
            .unwrap_or_else(ApiError::into_response));
    }

    // ---- the namespace write lock
    let _guard = match (&call.account, info.write && faults.write_lock_ms > 0) {
        (Some(account), true) => match account.write_lock.clone().try_lock_owned() {
            Ok(g) => Some(g),
            Err(_) => return injected(routes::contention()),
        },
        _ => None,
    };
    let emu2 = emu.clone();
    let (call, result) = tokio::task::spawn_blocking(move || {
        let r = routes::handle(&emu2, &call);
        (call, r)
    })
    .await
    .map_err(|_| Dropped)?;
    if faults.write_lock_ms > 0 && _guard.is_some() {
        tokio::time::sleep(Duration::from_millis(faults.write_lock_ms)).await;
    }
    let mut reply = match result {
        Ok(r) => r,
        Err(e) => return Ok(e.into_response()),
    };
    // ---- corruption of the answer (the work is done either way)
    let corrupt = {
        let (download, has_paths) = match &mut reply {
            Reply::Json(v) => (false, crate::faults::has_entry_paths(v)),
            Reply::Download { meta, .. } => (true, crate::faults::has_entry_paths(meta)),
        };
        emu.faults
            .write()
            .take_corruption(&route, download, has_paths)
    };
    if corrupt.is_some() {
        emu.stats.faults.fetch_add(1, Ordering::Relaxed);
    }
    let corrupt = match corrupt {
        Some(Corrupt::Stall) => {
            let ms = match faults.stall_ms {
                0 => 60_000,
                n => n,
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        other => other,
    };
    match reply {
        Reply::Json(v) => {
            if reset {
                emu.stats.faults.fetch_add(1, Ordering::Relaxed);
                return Err(Dropped); // the work is done; the answer is lost
            }
            Ok(match corrupt {
                None => wire::json_response(StatusCode::OK, &v),
                Some(kind) => corrupted_json(&emu, kind, v),
            })
        }
        Reply::Download { meta, data, rev } => Ok(download_response(
            &emu,
            &call,
            meta,
            data,
            rev,
            if_none_match,
            reset,
            corrupt,
        )),
    }
}

/// A JSON answer spoiled as `kind` says (see [`Corrupt`]).
fn corrupted_json(emu: &Arc<Emulator>, kind: Corrupt, mut v: serde_json::Value) -> Response<Body> {
    let pick = |n: u64| emu.rng.lock().upto(n);
    match kind {
        // Held back before the answer is made (see `api_inner`).
        Corrupt::Stall => wire::json_response(StatusCode::OK, &v),
        Corrupt::DotDotPath | Corrupt::AbsolutePath | Corrupt::OutsidePath => {
            crate::faults::corrupt_entry_path(&mut v, kind, pick);
            wire::json_response(StatusCode::OK, &v)
        }
        Corrupt::MalformedJson | Corrupt::TruncatedBody | Corrupt::ContentHashMismatch => {
            let bytes = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
            let len = bytes.len();
            // Somewhere strictly inside, so what is sent is never whole.
            let cut = 1 + pick(len.saturating_sub(2) as u64) as usize;
            let body = if kind == Corrupt::TruncatedBody {
                http_body_util::BodyExt::boxed(Streamed::new(emu, bytes, Some(cut.min(len))))
            } else {
                full(bytes.slice(..cut.min(len)))
            };
            let mut r = Response::new(body);
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if kind == Corrupt::TruncatedBody {
                r.headers_mut()
                    .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
            }
            r
        }
    }
}

/// The route-level (409) form of write contention, where the route has one.
fn route_contention(route: &str) -> Option<ApiError> {
    let w = files::WriteError::TooManyWriteOperations;
    Some(match route {
        "files/upload" => ApiError::route(files::UploadError::Path(files::UploadWriteFailed::new(
            w,
            String::new(),
        ))),
        "files/upload_session/finish" => {
            ApiError::route(files::UploadSessionFinishError::TooManyWriteOperations)
        }
        "files/delete_v2" => ApiError::route(files::DeleteError::TooManyWriteOperations),
        "files/create_folder_v2" => ApiError::route(files::CreateFolderError::Path(w)),
        "files/move_v2" | "files/copy_v2" => ApiError::route(files::RelocationError::To(w)),
        "files/restore" => ApiError::route(files::RestoreError::PathWrite(w)),
        _ => return None,
    })
}

fn upload_too_large(route: &str) -> ApiError {
    match route {
        "files/upload" => ApiError::route(files::UploadError::PayloadTooLarge),
        "files/upload_session/start" => {
            ApiError::route(files::UploadSessionStartError::PayloadTooLarge)
        }
        "files/upload_session/finish" => {
            ApiError::route(files::UploadSessionFinishError::PayloadTooLarge)
        }
        "files/upload_session/append_batch" => {
            ApiError::route(files::UploadSessionAppendBatchError::PayloadTooLarge)
        }
        _ => ApiError::route(files::UploadSessionAppendError::PayloadTooLarge),
    }
}

fn ensure_app_folder(emu: &Emulator, account: &crate::state::Account, name: &str) {
    let path = format!("/apps/{}", crate::store::lower(name));
    if account.ns.lock().get(&path).is_some() {
        return;
    }
    emu.mutate(account, |r| {
        if r.ns.get(&path).is_none() {
            let _ = r.create_folder(&format!("/Apps/{name}"), false);
        }
    });
}

fn check_path_root(raw: &HeaderValue, account: &crate::state::Account) -> Result<(), ApiError> {
    let v: serde_json::Value = serde_json::from_slice(raw.as_bytes())
        .map_err(|_| ApiError::BadInput("Error in call to API function: HTTP header \"Dropbox-API-Path-Root\": could not decode input as JSON".into()))?;
    let ns =
        match v.get(".tag").and_then(|t| t.as_str()) {
            Some("home") => return Ok(()),
            Some("root") => v.get("root"),
            Some("namespace_id") => v.get("namespace_id"),
            _ => return Err(ApiError::BadInput(
                "Error in call to API function: HTTP header \"Dropbox-API-Path-Root\": unknown tag"
                    .into(),
            )),
        };
    if ns.and_then(|n| n.as_str()) == Some(account.namespace_id.as_str()) {
        return Ok(());
    }
    // common.stone PathRoot: `root` naming another namespace than the user's root is
    // `invalid_root` (with the user's current root info); `namespace_id` naming a namespace
    // the user cannot access is `no_permission`.
    if v.get(".tag").and_then(|t| t.as_str()) == Some("namespace_id") {
        return Err(ApiError::PathRoot(
            serde_json::json!({".tag": "no_permission"}),
        ));
    }
    Err(ApiError::PathRoot(serde_json::json!({
        ".tag": "invalid_root",
        "invalid_root": {".tag": "user", "root_namespace_id": account.namespace_id, "home_namespace_id": account.namespace_id}
    })))
}

/// Parse, normalise and re-encode a JSON argument; `None` if it is not JSON.
fn normalized(raw: &[u8]) -> Option<Bytes> {
    let mut v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    routes::normalize_arg(&mut v);
    serde_json::to_vec(&v).ok().map(Bytes::from)
}

enum BodyProblem {
    TooLarge,
    Broken,
}

/// How much of an over-limit body is read and thrown away so that the client, still
/// sending, gets to read the error; past this the connection is dropped.
const DRAIN_CAP: u64 = 1 << 30;

async fn read_body(
    emu: &Emulator,
    mut body: Incoming,
    limit: u64,
    throttled: bool,
) -> Result<Bytes, BodyProblem> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyProblem::Broken)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() as u64 + data.len() as u64 > limit {
                // Answering before the body is read makes the client's send fail (the
                // unread data turns the close into a reset), so it would never see the
                // error: drain the rest first.
                let mut drained = buf.len() as u64 + data.len() as u64;
                drop(buf);
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|_| BodyProblem::Broken)?;
                    if let Ok(data) = frame.into_data() {
                        drained += data.len() as u64;
                        if drained > limit + DRAIN_CAP {
                            return Err(BodyProblem::Broken);
                        }
                    }
                }
                return Err(BodyProblem::TooLarge);
            }
            if throttled {
                throttle(emu, data.len()).await;
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// How long a longpoll with `timeout` seconds waits when nothing changes: the timeout plus
/// Dropbox's random jitter, "plus up to 90 seconds of random jitter added to avoid the
/// thundering herd problem" (files.stone `ListFolderLongpollArg.timeout`), seeded.
fn longpoll_wait(emu: &Emulator, faults: &crate::faults::Faults, timeout: u64) -> Duration {
    let max = faults
        .longpoll_jitter_ms
        .unwrap_or(crate::faults::LONGPOLL_JITTER_MS);
    Duration::from_secs(timeout) + Duration::from_millis(emu.rng.lock().upto(max))
}

async fn longpoll(emu: &Emulator, call: &Call) -> Result<Response<Body>, ApiError> {
    let arg: files::ListFolderLongpollArg = serde_json::from_slice(&call.arg)
        .map_err(|e| ApiError::bad_arg(&call.route, "request body", e))?;
    if !(30..=480).contains(&arg.timeout) {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: timeout",
            format!("{} is not within range 30..480", arg.timeout),
        ));
    }
    let cursor = Cursor::decode(&arg.cursor)
        .ok_or_else(|| ApiError::bad_arg(&call.route, "request body: cursor", "Invalid cursor"))?;
    let account = emu
        .account(&cursor.account)
        .ok_or_else(|| ApiError::bad_arg(&call.route, "request body: cursor", "Invalid cursor"))?;
    let mut rx = account.changed.subscribe();
    let faults = emu.faults.read().clone();
    let deadline = tokio::time::Instant::now() + longpoll_wait(emu, &faults, arg.timeout);
    let changes = loop {
        if cursor.epoch != account.epoch.load(Ordering::Relaxed) {
            return Err(ApiError::route(files::ListFolderLongpollError::Reset));
        }
        if routes::cursor_behind(&account, &cursor) {
            break true;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { break false },
            _ = tokio::time::sleep_until(deadline) => break false,
        }
    };
    if changes && faults.longpoll_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.longpoll_delay_ms)).await;
    }
    let mut result = files::ListFolderLongpollResult::new(changes);
    if let Some(b) = faults.longpoll_backoff_secs {
        result = result.with_backoff(b);
    }
    Ok(wire::json_response(StatusCode::OK, &result))
}

/// Parse a single `Range: bytes=...` against `len`: `Some((start, end_inclusive))`, or `Err` if unsatisfiable.
fn parse_range(range: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = range.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges: serve the whole body
    }
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 || len == 0 {
                Err(())
            } else {
                Ok((len.saturating_sub(n), len - 1))
            }
        }
        (s, "") => {
            let s: u64 = s.parse().ok()?;
            if s >= len { Err(()) } else { Ok((s, len - 1)) }
        }
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().ok()?, e.parse().ok()?);
            if s > e || s >= len {
                Err(())
            } else {
                Ok((s, e.min(len - 1)))
            }
        }
    };
    Some(r)
}

#[allow(clippy::too_many_arguments)] // one call site; the arguments are the request's parts
fn download_response(
    emu: &Arc<Emulator>,
    call: &Call,
    mut meta: serde_json::Value,
    data: Bytes,
    rev: String,
    if_none_match: Option<String>,
    reset: bool,
    corrupt: Option<Corrupt>,
) -> Response<Body> {
    let etag = format!("W/\"{rev}\"");
    let pick = |n: u64| emu.rng.lock().upto(n);
    let mut data = data;
    match corrupt {
        Some(Corrupt::ContentHashMismatch) => {
            let mut spoiled = data.to_vec();
            match spoiled.len() {
                0 => spoiled.push(b'!'),
                n => spoiled[pick(n as u64 - 1) as usize] ^= 0x5a,
            }
            data = Bytes::from(spoiled);
        }
        Some(k @ (Corrupt::DotDotPath | Corrupt::AbsolutePath | Corrupt::OutsidePath)) => {
            crate::faults::corrupt_entry_path(&mut meta, k, pick);
        }
        _ => {}
    }
    let mut meta_json = wire::header_safe_json(&serde_json::to_string(&meta).unwrap_or_default());
    if corrupt == Some(Corrupt::MalformedJson) {
        let mut cut =
            (1 + pick(meta_json.len().saturating_sub(2) as u64) as usize).min(meta_json.len());
        while !meta_json.is_char_boundary(cut) {
            cut -= 1;
        }
        meta_json.truncate(cut);
    }
    let mut status = StatusCode::OK;
    let mut slice = data.clone();
    let mut content_range = None;
    if if_none_match.as_deref() == Some(etag.as_str()) {
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r.headers_mut().insert(
            http::header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("")),
        );
        return r;
    }
    if let Some(range) = &call.range {
        match parse_range(range, data.len() as u64) {
            Some(Ok((s, e))) => {
                slice = data.slice(s as usize..=e as usize);
                status = StatusCode::PARTIAL_CONTENT;
                content_range = Some(format!("bytes {s}-{e}/{}", data.len()));
            }
            Some(Err(())) => {
                let mut r = wire::text_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "Range Not Satisfiable".into(),
                );
                r.headers_mut().insert(
                    http::header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{}", data.len()))
                        .unwrap_or(HeaderValue::from_static("")),
                );
                return r;
            }
            None => {}
        }
    }
    let abort_at = if reset {
        Some(slice.len() / 2)
    } else if corrupt == Some(Corrupt::TruncatedBody) {
        Some(pick(slice.len().saturating_sub(1) as u64) as usize)
    } else {
        None
    };
    if reset {
        emu.stats.faults.fetch_add(1, Ordering::Relaxed);
    }
    let len = slice.len();
    let body = Streamed::new(emu, slice, abort_at);
    let mut r = Response::new(http_body_util::BodyExt::boxed(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
    h.insert(
        http::header::ETAG,
        HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("")),
    );
    if let Ok(v) = HeaderValue::from_str(&meta_json) {
        h.insert("Dropbox-API-Result", v);
    }
    if let Some(cr) = content_range {
        h.insert(
            http::header::CONTENT_RANGE,
            HeaderValue::from_str(&cr).unwrap_or(HeaderValue::from_static("")),
        );
    }
    r
}

/// A download body sent in chunks, paced by the bandwidth cap, optionally cut off midway.
struct Streamed {
    data: Bytes,
    pos: usize,
    abort_at: Option<usize>,
    emu: Arc<Emulator>,
    wait: Option<(Pin<Box<tokio::time::Sleep>>, usize)>,
}

impl Streamed {
    /// A body that sends `data` (paced), stopping with an error at `abort_at`.
    fn new(emu: &Arc<Emulator>, data: Bytes, abort_at: Option<usize>) -> Self {
        // Pausing before the first byte lets the head go out first, so that a cut-off body
        // reaches the client as a body cut short rather than as no answer at all.
        let wait = abort_at.map(|_| (Box::pin(tokio::time::sleep(Duration::from_millis(5))), 0));
        Streamed {
            data,
            pos: 0,
            abort_at,
            emu: emu.clone(),
            wait,
        }
    }
}

const CHUNK: usize = 256 * 1024;

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if let Some((sleep, n)) = &mut this.wait {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let n = *n;
            this.wait = None;
            let chunk = this.data.slice(this.pos..this.pos + n);
            this.pos += n;
            this.emu
                .stats
                .bytes_out
                .fetch_add(n as u64, Ordering::Relaxed);
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(at) = this.abort_at {
            if this.pos >= at {
                return Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped by fault injection",
                ))));
            }
        }
        if this.pos >= this.data.len() {
            return Poll::Ready(None);
        }
        let mut n = CHUNK.min(this.data.len() - this.pos);
        if let Some(at) = this.abort_at {
            n = n.min(at - this.pos).max(1).min(this.data.len() - this.pos);
        }
        if let Some(until) = reserve(&this.emu, n) {
            this.wait = Some((Box::pin(tokio::time::sleep_until(until)), n));
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let chunk = this.data.slice(this.pos..this.pos + n);
        this.pos += n;
        // Counted as it goes out, so a body cut short counts what was sent.
        this.emu
            .stats
            .bytes_out
            .fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact((self.data.len() - self.pos.min(self.data.len())) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_over_limit_body_is_answered_not_reset() {
        let config = crate::Config {
            accounts: vec![("ada".into(), "tok".into())],
            ..crate::Config::default()
        };
        let server = crate::TestServer::start(config, false).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let body = vec![b' '; 20 * 1024 * 1024];
        let r = reqwest::Client::new()
            .post(format!("{}/2/files/list_folder", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the client must get an answer, not a reset");
        assert_eq!(r.status(), 400);
    }

    /// Dropbox waits up to 90 s beyond `timeout` (files.stone `ListFolderLongpollArg`): the
    /// emulator does too by default, seeded, and a test may turn it off.
    #[test]
    fn longpoll_waits_timeout_plus_dropbox_jitter() {
        let emu = |seed| {
            crate::Emulator::new(crate::Config {
                seed,
                ..crate::Config::default()
            })
            .unwrap()
        };
        let (a, b) = (emu(7), emu(7));
        let f = crate::faults::Faults::default();
        let waits: Vec<Duration> = (0..200).map(|_| longpoll_wait(&a, &f, 30)).collect();
        let again: Vec<Duration> = (0..200).map(|_| longpoll_wait(&b, &f, 30)).collect();
        assert_eq!(waits, again, "seeded");
        let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*min >= Duration::from_secs(30) && *max <= Duration::from_secs(120));
        assert!(
            *max > Duration::from_secs(90),
            "jitter spans up to 90 s: {max:?}"
        );
        let off = crate::faults::Faults {
            longpoll_jitter_ms: Some(0),
            ..f
        };
        assert_eq!(longpoll_wait(&a, &off, 30), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn longpoll_refuses_an_authorization_header_as_dropbox_does() {
        let config = crate::Config {
            accounts: vec![("ada".into(), "tok".into())],
            ..crate::Config::default()
        };
        let server = crate::TestServer::start(config, false).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let cursor: serde_json::Value = client
            .post(format!(
                "{}/2/files/list_folder/get_latest_cursor",
                server.url
            ))
            .bearer_auth("tok")
            .header("Content-Type", "application/json")
            .body(r#"{"path": ""}"#)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let body = serde_json::json!({"cursor": cursor["cursor"], "timeout": 30}).to_string();
        let with_auth = client
            .post(format!("{}/2/files/list_folder/longpoll", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(with_auth.status(), 400);
        assert!(with_auth.text().await.unwrap().contains(
            "Your request includes an Authorization header, but this function does not use it."
        ));
        // Without it, the call is taken (and answered once something changes).
        let waiting = tokio::spawn(
            client
                .post(format!("{}/2/files/list_folder/longpoll", server.url))
                .header("Content-Type", "application/json")
                .body(body)
                .send(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let up = client
            .post(format!("{}/2/files/upload", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/octet-stream")
            .header("Dropbox-API-Arg", r#"{"path": "/a.txt"}"#)
            .body(b"a".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(up.status(), 200);
        let answer = waiting.await.unwrap().unwrap();
        assert_eq!(answer.status(), 200);
        let v: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(v["changes"], true);
    }

    #[tokio::test]
    async fn a_header_argument_must_be_ascii_json() {
        let config = crate::Config {
            accounts: vec![("ada".into(), "tok".into())],
            ..crate::Config::default()
        };
        let server = crate::TestServer::start(config, false).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let upload = |arg: http::HeaderValue| {
            client
                .post(format!("{}/2/files/upload", server.url))
                .bearer_auth("tok")
                .header("Content-Type", "application/octet-stream")
                .header("Dropbox-API-Arg", arg)
                .body(b"x".to_vec())
                .send()
        };
        // Raw UTF-8 in the header, and a lone surrogate: refused.
        for bad in [
            http::HeaderValue::from_bytes("{\"path\": \"/party \u{1F389}.txt\"}".as_bytes())
                .unwrap(),
            http::HeaderValue::from_static(r#"{"path": "/lone \ud83c.txt"}"#),
        ] {
            let r = upload(bad).await.unwrap();
            assert_eq!(r.status(), 400);
            assert!(
                r.text()
                    .await
                    .unwrap()
                    .contains("could not decode input as JSON")
            );
        }
        // A surrogate pair is the character.
        let r = upload(http::HeaderValue::from_static(
            r#"{"path": "/party \ud83c\udf89.txt"}"#,
        ))
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["name"], "party \u{1F389}.txt");
        // The URL parameter `arg` is percent-encoded UTF-8: any character goes.
        let r = client
            .post(format!("{}/2/files/upload", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/octet-stream")
            .query(&[("arg", "{\"path\": \"/q \u{fc} \u{1F389}.txt\"}")])
            .body(b"y".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["name"], "q \u{fc} \u{1F389}.txt");
    }

    #[tokio::test]
    async fn an_early_refusal_of_a_large_upload_is_answered_not_reset() {
        let config = crate::Config {
            accounts: vec![("ada".into(), "tok".into())],
            ..crate::Config::default()
        };
        let server = crate::TestServer::start(config, false).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let upload = |token: &'static str| {
            client
                .post(format!("{}/2/files/upload", server.url))
                .bearer_auth(token)
                .header("Content-Type", "application/octet-stream")
                .header("Dropbox-API-Arg", r#"{"path": "/big.bin"}"#)
                .body(vec![0u8; 24 * 1024 * 1024])
                .send()
        };
        let r = upload("expired-or-unknown")
            .await
            .expect("an answer, not a reset");
        assert_eq!(r.status(), 401);
        server.emulator.faults.write().p_write_contention = 1.0;
        let r = upload("tok").await.expect("an answer, not a reset");
        assert_eq!(r.status(), 429);
    }

    #[tokio::test]
    async fn corruptions_set_through_admin_spoil_the_next_answers() {
        let config = crate::Config {
            accounts: vec![("ada".into(), "tok".into())],
            admin_token: Some("adm".into()),
            ..crate::Config::default()
        };
        let server = crate::TestServer::start(config, false).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let upload = client
            .post(format!("{}/2/files/upload", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/octet-stream")
            .header("Dropbox-API-Arg", r#"{"path": "/d/f.txt"}"#)
            .body(b"hello corruption".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(upload.status(), 200);
        let r = client
            .post(format!("{}/admin/faults", server.url))
            .bearer_auth("adm")
            .body(
                r#"{"corrupt": [
                    {"route": "files/list_folder", "kind": "malformed_json"},
                    {"route": "files/list_folder", "kind": "truncated_body"},
                    {"route": "files/list_folder", "kind": "dot_dot_path"},
                    {"route": "files/download", "kind": "content_hash_mismatch"}
                ]}"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let list = || {
            client
                .post(format!("{}/2/files/list_folder", server.url))
                .bearer_auth("tok")
                .header("Content-Type", "application/json")
                .body(r#"{"path": "/d", "recursive": true}"#)
                .send()
        };
        let body = list().await.unwrap().bytes().await.unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_err(),
            "malformed: {}",
            String::from_utf8_lossy(&body)
        );
        let r = list().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.is_err(), "the body is cut short");
        let v: serde_json::Value = list().await.unwrap().json().await.unwrap();
        let file = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e[".tag"] == "file")
            .unwrap();
        assert_eq!(
            file["path_display"],
            format!("/d/{}f.txt", "../".repeat(12))
        );
        let whole: serde_json::Value = list().await.unwrap().json().await.unwrap();
        assert_eq!(whole["entries"][1]["path_display"], "/d/f.txt", "used up");
        let dl = client
            .post(format!("{}/2/files/download", server.url))
            .bearer_auth("tok")
            .header("Dropbox-API-Arg", r#"{"path": "/d/f.txt"}"#)
            .send()
            .await
            .unwrap();
        let meta: serde_json::Value =
            serde_json::from_str(dl.headers()["Dropbox-API-Result"].to_str().unwrap()).unwrap();
        let data = dl.bytes().await.unwrap();
        assert_eq!(data.len(), 16);
        assert_ne!(&data[..], b"hello corruption");
        assert_ne!(
            meta["content_hash"].as_str().unwrap(),
            sync_core::ContentHash::of(&data).to_hex()
        );
        assert!(server.emulator.faults.read().corrupt.is_empty());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-1", 10), Some(Ok((0, 1))));
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok((5, 9))));
        assert_eq!(parse_range("bytes=-3", 10), Some(Ok((7, 9))));
        assert_eq!(parse_range("bytes=8-100", 10), Some(Ok((8, 9))));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("lines=1-2", 10), None);
    }
}
