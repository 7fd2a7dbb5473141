//! Making the answer: a JSON body or a download (with `Range`, `ETag` and
//! `Dropbox-API-Result`), spoiled when a fault says so ([`Corrupt`]).

use super::link::Streamed;
use super::stop::Stop;
use crate::faults::Corrupt;
use crate::routes::{Call, Reply};
use crate::state::Emulator;
use crate::wire::{self, Body, full};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The answer to a route's reply. With `reset` the connection is dropped instead (a JSON
/// answer is lost; a download is cut off midway); `corrupt` spoils the answer.
pub(super) fn reply(
    emu: &Arc<Emulator>,
    call: &Call,
    reply: Reply,
    if_none_match: Option<String>,
    reset: bool,
    corrupt: Option<Corrupt>,
) -> Result<Response<Body>, Stop> {
    match reply {
        Reply::Json(v) => {
            if reset {
                emu.stats.faults.fetch_add(1, Ordering::Relaxed);
                return Err(Stop::Drop); // the work is done; the answer is lost
            }
            Ok(match corrupt {
                None => wire::json_response(StatusCode::OK, &v),
                Some(kind) => corrupted_json(emu, kind, v),
            })
        }
        Reply::Download { meta, data, rev } => Ok(download_response(
            emu,
            call,
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
        // Held back before the answer is made (see `api::corruption`).
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

#[cfg(test)]
mod tests {
    use super::*;

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
