//! One API route served in named steps: look the route up, roll the faults that come before
//! the request is read, authenticate, admit under the load model, read the body and the
//! argument, run the route (under the namespace lock when the faults ask for it), and answer.

use super::stop::Stop;
use super::{Dropped, auth, longpoll, request, respond};
use crate::faults::{Corrupt, Faults};
use crate::load::Admitted;
use crate::routes::{self, Call, Reply, RouteInfo, Style};
use crate::state::Emulator;
use crate::wire::{self, ApiError, Body, RateReason};
use dropbox_sdk::files;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Serve one API route. Whatever the answer, the request body is read to its end first
/// (see [`request::drain`]), so that a client still sending gets to read an early error — a
/// 401, a 429, a 5xx — instead of a reset connection.
pub(super) async fn api(
    emu: Arc<Emulator>,
    route: String,
    req: Request<Incoming>,
    query: String,
) -> Result<Response<Body>, Dropped> {
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let answer = match steps(&emu, &route, &parts, &mut body, &query).await {
        Ok(r) => Ok(r),
        Err(Stop::Answer(r)) => Ok(*r),
        Err(Stop::Drop) => Err(Dropped),
    };
    if let (Some(rest), Ok(_)) = (body, &answer) {
        request::drain(rest).await;
    }
    answer
}

/// The steps, in order; each may end the request early. `body` is taken when it is read.
async fn steps(
    emu: &Arc<Emulator>,
    route: &str,
    parts: &http::request::Parts,
    body: &mut Option<Incoming>,
    query: &str,
) -> Result<Response<Body>, Stop> {
    let info = lookup(emu, route, &parts.method)?;
    let faults = emu.faults.read().clone();
    let reset = inject_faults(emu, &faults, info, route).await?;
    let mut call = auth::authenticate(emu, info, route, &parts.headers, query)?;
    // The load model's slot is held until the answer is made.
    let _admitted = admit(emu, &call)?;
    let incoming = body.take().ok_or(Stop::Drop)?;
    let data = request::body(emu, info, route, incoming).await?;
    call.arg = request::argument(emu, info, route, &parts.headers, query, &data)?;
    call.body = data;
    call.range = header_text(&parts.headers, http::header::RANGE);
    let if_none_match = header_text(&parts.headers, http::header::IF_NONE_MATCH);
    if route == "files/list_folder/longpoll" {
        return Ok(longpoll::longpoll(emu, &call)
            .await
            .unwrap_or_else(ApiError::into_response));
    }
    // The namespace write lock, too, is held until the answer is made.
    let guard = write_lock(emu, &faults, info, &call)?;
    let (call, result) = run(emu, call).await?;
    if faults.write_lock_ms > 0 && guard.is_some() {
        tokio::time::sleep(Duration::from_millis(faults.write_lock_ms)).await;
    }
    let mut reply = result?;
    let corrupt = corruption(emu, &faults, route, &mut reply).await;
    let answer = respond::reply(emu, &call, reply, if_none_match, reset, corrupt);
    drop(guard);
    answer
}

/// The route's attributes; an unknown route or a method it does not take is refused.
fn lookup(emu: &Emulator, route: &str, method: &Method) -> Result<RouteInfo, Stop> {
    let Some(info) = routes::route_info(route) else {
        return Err(ApiError::unknown_route(route).into());
    };
    emu.stats.count_route(route);
    let method_ok =
        *method == Method::POST || (info.style == Style::Download && *method == Method::GET);
    if !method_ok {
        return Err(Stop::answer(wire::text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {method} not allowed for \"{route}\""),
        )));
    }
    Ok(info)
}

/// An injected fault's answer, counted.
fn injected(emu: &Emulator, e: ApiError) -> Stop {
    emu.stats.faults.fetch_add(1, Ordering::Relaxed);
    e.into()
}

/// The faults rolled before the request is read: the latency, then a 5xx, a 429 (too many
/// requests, or write contention) or the route's own 409 for write contention instead of
/// the route's answer. Returns whether the connection is dropped once the work is done.
async fn inject_faults(
    emu: &Emulator,
    faults: &Faults,
    info: RouteInfo,
    route: &str,
) -> Result<bool, Stop> {
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
    if server_error {
        let code = if emu.rng.lock().chance(0.5) { 503 } else { 500 };
        return Err(injected(emu, ApiError::Server(code)));
    }
    if rate_limited {
        return Err(injected(
            emu,
            ApiError::RateLimit {
                reason: RateReason::TooManyRequests,
                retry_after: faults.retry_after_secs,
                text: faults.rate_limit_text_body,
            },
        ));
    }
    if contended {
        return Err(injected(
            emu,
            ApiError::RateLimit {
                reason: RateReason::TooManyWriteOperations,
                retry_after: faults.retry_after_secs,
                text: faults.rate_limit_text_body,
            },
        ));
    }
    if contended_409 {
        if let Some(e) = route_contention(route) {
            return Err(injected(emu, e));
        }
    }
    Ok(reset)
}

/// Admit the call under the per-account load model; over it, a 429 with `Retry-After`.
fn admit(emu: &Emulator, call: &Call) -> Result<Option<Admitted>, Stop> {
    let Some(account) = &call.account else {
        return Ok(None);
    };
    match emu.load.admit(&emu.config.load, &account.name) {
        Ok(a) => Ok(Some(a)),
        Err(retry_after) => {
            emu.stats.load_refused.fetch_add(1, Ordering::Relaxed);
            Err(ApiError::RateLimit {
                reason: RateReason::TooManyRequests,
                retry_after,
                text: false,
            }
            .into())
        }
    }
}

/// A header's value as text, if it is.
fn header_text(headers: &HeaderMap, name: http::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The namespace write lock, taken for a write when the faults hold it for a while
/// ([`Faults::write_lock_ms`]); already taken, the 429 for contention.
fn write_lock(
    emu: &Emulator,
    faults: &Faults,
    info: RouteInfo,
    call: &Call,
) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>, Stop> {
    match (&call.account, info.write && faults.write_lock_ms > 0) {
        (Some(account), true) => match account.write_lock.clone().try_lock_owned() {
            Ok(g) => Ok(Some(g)),
            Err(_) => Err(injected(emu, routes::contention())),
        },
        _ => Ok(None),
    }
}

/// Run the route on a blocking thread; the call comes back with its result.
async fn run(emu: &Arc<Emulator>, call: Call) -> Result<(Call, Result<Reply, ApiError>), Stop> {
    let emu = emu.clone();
    tokio::task::spawn_blocking(move || {
        let r = routes::handle(&emu, &call);
        (call, r)
    })
    .await
    .map_err(|_| Stop::Drop)
}

/// The corruption the faults hold for this answer, if any (the work is done either way). A
/// stall is waited out here and leaves the answer whole.
async fn corruption(
    emu: &Emulator,
    faults: &Faults,
    route: &str,
    reply: &mut Reply,
) -> Option<Corrupt> {
    let corrupt = {
        let (download, has_paths) = match reply {
            Reply::Json(v) => (false, crate::faults::has_entry_paths(v)),
            Reply::Download { meta, .. } => (true, crate::faults::has_entry_paths(meta)),
        };
        emu.faults
            .write()
            .take_corruption(route, download, has_paths)
    };
    if corrupt.is_some() {
        emu.stats.faults.fetch_add(1, Ordering::Relaxed);
    }
    match corrupt {
        Some(Corrupt::Stall) => {
            let ms = match faults.stall_ms {
                0 => 60_000,
                n => n,
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        other => other,
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
