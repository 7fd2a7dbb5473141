//! The control socket: a Unix domain socket (mode 0600, in a 0700 folder) carrying JSON
//! lines. A request is a [`Command`] with an id: `{"id": 1, "cmd": "status"}`; the answer is
//! `{"id": 1, "ok": ...}` or `{"id": 1, "error": {"code": ..., "message": ...}}`. After
//! `subscribe`, events follow as `{"event": ...}` until the connection closes.
//!
//! Only the user who runs the daemon may talk to it: besides the file mode, the peer's uid
//! is checked on every connection.

use crate::daemon::Daemon;
use crate::dto::{Command, EventDto};
use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Serialize, Deserialize)]
struct Request {
    id: u64,
    #[serde(flatten)]
    cmd: Command,
}

#[derive(Serialize, Deserialize)]
struct Response {
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

#[derive(Serialize, Deserialize)]
struct Pushed {
    event: EventDto,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> ApiError {
    ApiError::new(ErrorCode::Io, format!("{what} {}: {e}", path.display()))
}

/// Bind the control socket at `path`: its folder is made private (0700), a stale socket of a
/// dead daemon is replaced, and a live daemon is refused.
pub async fn bind(path: &Path) -> Result<UnixListener, ApiError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err("cannot create", dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io_err("cannot protect", dir, e))?;
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ApiError::new(
                ErrorCode::AlreadyExists,
                format!(
                    "a nuvosync daemon is already running ({}) — stop it with `nuvosync stop`",
                    path.display()
                ),
            ));
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|e| io_err("cannot listen on", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err("cannot protect", path, e))?;
    Ok(listener)
}

/// Serve `daemon` on `listener` until the daemon shuts down. Each connection is one of the
/// daemon's tasks and ends when it shuts down (a command in flight is dropped, as at exit),
/// so [`Daemon::shutdown`] waits for them.
pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>) {
    let stop = daemon.stopping();
    let me = rustix::process::getuid();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                match stream.peer_cred() {
                    Ok(c) if c.uid() == me.as_raw() => {}
                    _ => {
                        tracing::warn!("refused a control connection from another user");
                        continue;
                    }
                }
                let (d, stop) = (daemon.clone(), stop.clone());
                daemon.spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = connection(stream, d) => {}
                    }
                });
            }
        }
    }
}

async fn connection(stream: UnixStream, daemon: Arc<Daemon>) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let (id, cmd) = match serde_json::from_str::<Request>(&line) {
            Ok(req) => (req.id, req.cmd),
            Err(e) => {
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64())
                    .unwrap_or(0);
                let resp = Response {
                    id,
                    ok: None,
                    error: Some(ApiError::new(
                        ErrorCode::InvalidArgument,
                        format!("not a command: {e}"),
                    )),
                };
                if write(&mut w, &resp).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if cmd == Command::Subscribe {
            let mut rx = daemon.subscribe();
            if write(
                &mut w,
                &Response {
                    id,
                    ok: Some(serde_json::Value::Null),
                    error: None,
                },
            )
            .await
            .is_err()
            {
                return;
            }
            loop {
                match rx.recv().await {
                    Ok(event) => {
                        if write(&mut w, &Pushed { event }).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        }
        if cmd == Command::Stop {
            // Answer first: once the daemon is told to stop, the process may exit before
            // this task gets to write, and the caller would see a closed connection.
            let ok = Response {
                id,
                ok: Some(serde_json::Value::Null),
                error: None,
            };
            let _ = write(&mut w, &ok).await;
            let _ = daemon.handle(cmd).await;
            return;
        }
        let resp = match daemon.handle(cmd).await {
            Ok(v) => Response {
                id,
                ok: Some(v),
                error: None,
            },
            Err(e) => Response {
                id,
                ok: None,
                error: Some(e),
            },
        };
        if write(&mut w, &resp).await.is_err() {
            return;
        }
    }
}

async fn write<T: Serialize>(
    w: &mut tokio::net::unix::OwnedWriteHalf,
    v: &T,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

/// A connection to a running daemon.
pub struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    w: tokio::net::unix::OwnedWriteHalf,
    next: u64,
}

impl Client {
    /// Connect; without a daemon, an error that says what to run.
    pub async fn connect(path: &Path) -> Result<Client, ApiError> {
        let stream = UnixStream::connect(path).await.map_err(|_| {
            ApiError::new(ErrorCode::NoDaemon, format!("nuvosync is not running (no daemon at {}) — start it with `nuvosync daemon` (or the tray app)", path.display()))
        })?;
        let (r, w) = stream.into_split();
        Ok(Client {
            lines: BufReader::new(r).lines(),
            w,
            next: 1,
        })
    }

    /// Send a command and wait for its answer.
    pub async fn call(&mut self, cmd: Command) -> Result<serde_json::Value, ApiError> {
        let id = self.next;
        self.next += 1;
        let lost = |e: std::io::Error| {
            ApiError::new(
                ErrorCode::NoDaemon,
                format!("lost the connection to the daemon: {e}"),
            )
        };
        let mut line = serde_json::to_vec(&Request { id, cmd })
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        line.push(b'\n');
        self.w.write_all(&line).await.map_err(lost)?;
        loop {
            let Some(l) = self.lines.next_line().await.map_err(lost)? else {
                return Err(ApiError::new(
                    ErrorCode::NoDaemon,
                    "the daemon closed the connection",
                ));
            };
            let Ok(resp) = serde_json::from_str::<Response>(&l) else {
                continue;
            };
            if resp.id != id {
                continue;
            }
            return match (resp.ok, resp.error) {
                (_, Some(e)) => Err(e),
                (Some(v), None) => Ok(v),
                (None, None) => Ok(serde_json::Value::Null),
            };
        }
    }

    /// Send a command and decode its answer as the command's answer type.
    pub async fn ask<T: serde::de::DeserializeOwned>(
        &mut self,
        ask: crate::dto::Ask<T>,
    ) -> Result<T, ApiError> {
        let v = self.call(ask.command().clone()).await?;
        ask.decode(v)
    }

    /// Subscribe and return the next events as they come.
    pub async fn subscribe(mut self) -> Result<Events, ApiError> {
        self.call(Command::Subscribe).await?;
        Ok(Events { lines: self.lines })
    }
}

/// The event stream of a subscription.
pub struct Events {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
}

impl Events {
    /// The next event; `None` when the daemon went away.
    pub async fn next(&mut self) -> Option<EventDto> {
        loop {
            let l = self.lines.next_line().await.ok()??;
            if let Ok(p) = serde_json::from_str::<Pushed>(&l) {
                return Some(p.event);
            }
        }
    }
}

/// Where the daemon of these paths listens.
pub fn socket_path(paths: &crate::Paths) -> PathBuf {
    paths.socket()
}
