//! Reading a request: its body (paced by the bandwidth cap, an over-limit body read to its
//! end before it is refused) and its argument (the JSON body of an RPC route, or
//! `Dropbox-API-Arg` / the `arg` URL parameter of a content route), checked as Dropbox does.

use super::link::throttle;
use super::stop::Stop;
use crate::routes::{self, MAX_PAYLOAD, RouteInfo, Style};
use crate::state::Emulator;
use crate::wire::ApiError;
use bytes::Bytes;
use dropbox_sdk::files;
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::sync::atomic::Ordering;

/// Read the request body, up to what the route's style allows. An over-limit body is read
/// to its end and refused; a broken one drops the connection.
pub(super) async fn body(
    emu: &Emulator,
    info: RouteInfo,
    route: &str,
    incoming: Incoming,
) -> Result<Bytes, Stop> {
    let limit = if info.style == Style::Upload {
        MAX_PAYLOAD + 1
    } else {
        16 * 1024 * 1024
    };
    match read_body(emu, incoming, limit, info.style == Style::Upload).await {
        Ok(b) => Ok(b),
        Err(BodyProblem::TooLarge) => Err(Stop::answer(match info.style {
            Style::Upload => upload_too_large(route).into_response(),
            _ => ApiError::BadInput(format!(
                "Error in call to API function \"{route}\": request body is too large"
            ))
            .into_response(),
        })),
        Err(BodyProblem::Broken) => Err(Stop::Drop),
    }
}

/// The route's argument, checked and normalised: the JSON body of an RPC route (`null` when
/// the body is empty), the `Dropbox-API-Arg` header or the `arg` URL parameter of a content
/// route. The `Content-Type` is checked first, as Dropbox does.
pub(super) fn argument(
    emu: &Emulator,
    info: RouteInfo,
    route: &str,
    headers: &HeaderMap,
    query: &str,
    body: &Bytes,
) -> Result<Bytes, Stop> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    match info.style {
        Style::Rpc => {
            let ok = body.is_empty()
                || content_type.starts_with("application/json")
                || content_type.starts_with("text/plain; charset=dropbox-cors-hack");
            if !ok {
                return Err(ApiError::BadInput(format!(
                    "Error in call to API function \"{route}\": Bad HTTP \"Content-Type\" header: \"{content_type}\".  Expecting one of \"application/json\", \"application/json; charset=utf-8\", \"text/plain; charset=dropbox-cors-hack\"."
                ))
                .into());
            }
            let trimmed = body.iter().filter(|b| !b.is_ascii_whitespace()).count();
            if trimmed == 0 {
                return Ok(Bytes::from_static(b"null"));
            }
            normalized(body).ok_or_else(|| {
                ApiError::BadInput(format!("Error in call to API function \"{route}\": request body: could not decode input as JSON")).into()
            })
        }
        Style::Upload | Style::Download => {
            if info.style == Style::Upload
                && !content_type.is_empty()
                && !content_type.starts_with("application/octet-stream")
                && !content_type.starts_with("text/plain; charset=dropbox-cors-hack")
            {
                return Err(ApiError::BadInput(format!(
                    "Error in call to API function \"{route}\": Bad HTTP \"Content-Type\" header: \"{content_type}\".  Expecting one of \"application/octet-stream\", \"text/plain; charset=dropbox-cors-hack\"."
                ))
                .into());
            }
            let header = headers
                .get("Dropbox-API-Arg")
                .map(|v| v.as_bytes().to_vec());
            let from_header = header.is_some();
            let raw = header.or_else(|| {
                crate::oauth::form(query)
                    .remove("arg")
                    .map(String::into_bytes)
            });
            let Some(raw) = raw else {
                return Err(ApiError::BadInput(format!("Error in call to API function \"{route}\": Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".")).into());
            };
            // An HTTP header carries ASCII: JSON in it escapes everything else, characters
            // above U+FFFF as surrogate pairs (Dropbox's HTTP documentation, "Formats").
            // The URL parameter `arg` is percent-encoded UTF-8 and may hold any character.
            let not_json = || -> Stop {
                ApiError::BadInput(format!("Error in call to API function \"{route}\": HTTP header \"Dropbox-API-Arg\": could not decode input as JSON")).into()
            };
            if from_header && !raw.iter().all(|b| (0x20..0x7f).contains(b) || *b == b'\t') {
                return Err(not_json());
            }
            let arg = normalized(&raw).ok_or_else(not_json)?;
            if info.style == Style::Upload {
                emu.stats
                    .bytes_in
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
            }
            Ok(arg)
        }
    }
}

/// The answer to an upload whose body is over [`MAX_PAYLOAD`]: the route's own
/// `payload_too_large`.
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

/// Read and discard a request body (up to [`MAX_PAYLOAD`] + [`DRAIN_CAP`] bytes).
pub(super) async fn drain(mut body: Incoming) {
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
