//! The HTTP(S) front: one listener for the api, content and notify routes, `/oauth2/*` and
//! `/admin/*`. The first byte of a connection decides TLS or plain HTTP, and a plain
//! `CONNECT` is answered by serving the tunnel ourselves — so a client whose hosts are fixed
//! to `*.dropboxapi.com` (rclone) reaches the emulator through `HTTPS_PROXY`.
//!
//! Faults are applied here, around the routes: latency, bandwidth, 5xx, 429 of both kinds,
//! route-level write contention, dropped connections, slow longpoll, the namespace lock, and
//! corrupted answers ([`crate::faults::Corruption`]).
//!
//! This file accepts connections and serves them (plain HTTP/1.1, TLS with HTTP/2 by ALPN,
//! `CONNECT` tunnels) and sends each request where it goes; `api.rs` serves an API route
//! step by step, `auth.rs` checks credentials, `request.rs` reads bodies and arguments,
//! `respond.rs` makes (and spoils) the answers, `link.rs` paces bytes on the shared link,
//! and `longpoll.rs` waits for changes.

mod api;
mod auth;
mod link;
mod longpoll;
mod request;
mod respond;
mod stop;

use crate::state::Emulator;
use crate::wire::{self, Body, full};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
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
            let basic = auth::basic_auth(req.headers());
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
    api::api(emu, route.to_string(), req, query).await
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

#[cfg(test)]
mod tests;
