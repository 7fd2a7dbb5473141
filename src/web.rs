//! The web transport of the control API, for the UI in a plain browser (tests, headless
//! machines): the same commands as the control socket and the tray app.
//!
//! - `POST /api/command` with a `Command` as JSON → `{"ok": ...}` or `{"error": {code, message}}`
//! - `GET /api/events` → Server-Sent Events, one `EventDto` per `data:` line
//! - anything else → the built UI (`ui/dist`)
//!
//! It listens on loopback only, and every API request must carry the session token (header
//! `X-Nuvosync-Token`, or `?token=` for the event stream) printed at start.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use nuvosync_api::Daemon;
use nuvosync_api::dto::Command;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

fn full(status: StatusCode, ctype: &str, data: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(data.into()).boxed());
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert("Cache-Control", http::HeaderValue::from_static("no-store"));
    r
}

/// A Server-Sent Events body fed by a channel.
struct Sse {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for Sse {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

fn event_stream(daemon: &Daemon) -> Sse {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let mut events = daemon.subscribe();
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b": connected\n\n"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            let Ok(json) = serde_json::to_string(&e) else {
                continue;
            };
            if tx
                .send(Bytes::from(format!("data: {json}\n\n")))
                .await
                .is_err()
            {
                return; // the browser went away
            }
        }
    });
    Sse { rx }
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

async fn handle(
    daemon: Arc<Daemon>,
    dir: Arc<PathBuf>,
    token: Arc<String>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let query_token = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    let header_token = req
        .headers()
        .get("X-Nuvosync-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let authorised = header_token.as_deref() == Some(token.as_str())
        || query_token.as_deref() == Some(token.as_str());
    if path.starts_with("/api/") && !authorised {
        return Ok(full(
            StatusCode::UNAUTHORIZED,
            "text/plain",
            "missing or wrong session token\n",
        ));
    }
    match (req.method().as_str(), path.as_str()) {
        ("POST", "/api/command") => {
            let body = match http_body_util::Limited::new(req.into_body(), 1 << 20)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return Ok(full(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "text/plain",
                        "too large\n",
                    ));
                }
            };
            let reply = match serde_json::from_slice::<Command>(&body) {
                Ok(cmd) => match daemon.handle(cmd).await {
                    Ok(v) => serde_json::json!({ "ok": v }),
                    Err(e) => serde_json::json!({ "error": e }),
                },
                Err(e) => {
                    serde_json::json!({ "error": { "code": "invalid_argument", "message": format!("not a command: {e}") } })
                }
            };
            Ok(full(
                StatusCode::OK,
                "application/json",
                serde_json::to_vec(&reply).unwrap_or_default(),
            ))
        }
        ("GET", "/api/events") => {
            let mut r = Response::new(event_stream(&daemon).boxed());
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            r.headers_mut()
                .insert("Cache-Control", http::HeaderValue::from_static("no-store"));
            Ok(r)
        }
        ("GET", p) => {
            let rel = p.trim_start_matches('/');
            let rel = if rel.is_empty() { "index.html" } else { rel };
            if rel.split('/').any(|c| c == ".." || c.starts_with('.')) {
                return Ok(full(StatusCode::NOT_FOUND, "text/plain", "not found\n"));
            }
            let file = dir.join(rel);
            let file = if file.is_file() {
                file
            } else {
                dir.join("index.html")
            };
            match std::fs::read(&file) {
                Ok(data) => Ok(full(StatusCode::OK, mime(&file), data)),
                Err(_) => Ok(full(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    format!(
                        "the UI is not built ({} missing) — run `npm --prefix ui run build`\n",
                        file.display()
                    ),
                )),
            }
        }
        _ => Ok(full(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        )),
    }
}

/// Serve the UI and the API on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    daemon: Arc<Daemon>,
    dir: PathBuf,
    token: String,
) {
    let dir = Arc::new(dir);
    let token = Arc::new(token);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        if !peer.ip().is_loopback() {
            continue;
        }
        let (d, dir, token) = (daemon.clone(), dir.clone(), token.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                handle(d.clone(), dir.clone(), token.clone(), req)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}
