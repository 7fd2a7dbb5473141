//! Wire shapes: metadata in the official `dropbox-sdk` types, Dropbox timestamps, the
//! app-folder scope, and the exact error responses Dropbox sends.

use crate::store::{Node, NodeKind, lower};
use bytes::Bytes;
use dropbox_sdk::files;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Serialize;

/// The body type of every response.
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// How Dropbox writes a time: `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
const TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC, whole seconds); times outside
/// the years 0 to 9999 are said as the nearest one inside them.
pub fn timestamp(secs: i64) -> String {
    use time::macros::datetime;
    let first = datetime!(0000-01-01 0:00 UTC).unix_timestamp();
    let last = datetime!(9999-12-31 23:59:59 UTC).unix_timestamp();
    time::OffsetDateTime::from_unix_timestamp(secs.clamp(first, last))
        .ok()
        .and_then(|t| t.format(TIMESTAMP).ok())
        .unwrap_or_default()
}

/// Parse a Dropbox timestamp back to seconds since the epoch: exactly
/// `YYYY-MM-DDTHH:MM:SSZ`, every field digits and in range (no sign, no fraction, no offset).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    // The library takes a sign before the year; Dropbox does not.
    if s.len() != 20 || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let t = time::PrimitiveDateTime::parse(s, TIMESTAMP).ok()?;
    Some(t.assume_utc().unix_timestamp())
}

/// What a token sees as its root: the whole account, or an app folder inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Full display path of the root (`""` or `/Apps/nuvolos.cloud`).
    pub root: String,
    /// The seed that picks which entries show their parents as a request spelled them
    /// ([`shown_display`]); every call over HTTP has one (`Config::parent_casing_seed`).
    pub casing: Option<u64>,
}

impl Scope {
    /// The whole Dropbox.
    pub fn full() -> Self {
        Scope {
            root: String::new(),
            casing: None,
        }
    }

    /// `/Apps/<name>`.
    pub fn app_folder(name: &str) -> Self {
        Scope {
            root: format!("/Apps/{name}"),
            casing: None,
        }
    }

    /// The same scope, its entries' parents cased as `seed` picks ([`shown_display`]).
    pub fn with_casing(self, seed: u64) -> Self {
        Scope {
            casing: Some(seed),
            ..self
        }
    }

    /// Lower-cased root.
    pub fn root_lower(&self) -> String {
        lower(&self.root)
    }

    /// A full display path for an API path in this scope (`""` is the root).
    pub fn full_path(&self, api_path: &str) -> String {
        format!("{}{}", self.root, api_path)
    }

    /// The API path of a full display path: its components below the root.
    pub fn api_path(&self, full: &str) -> String {
        let skip = self.root.matches('/').count();
        let mut out = String::with_capacity(full.len());
        for comp in full.split('/').skip(1 + skip) {
            out.push('/');
            out.push_str(comp);
        }
        out
    }
}

/// The API path a node is shown at. Its last component is always the node's own name; its
/// parents, for a node whose [`Node::written`] spells them otherwise, are that spelling in
/// three of four nodes (picked by the scope's seed and the node's id), the stored casing in
/// the rest. Dropbox: `path_display` "at least the last path component will have the correct
/// casing" (files.stone `Metadata.path_display`); `path_lower` is exact.
pub fn shown_display(node: &Node, scope: &Scope) -> String {
    let full = match (&node.written, scope.casing) {
        (Some(w), Some(seed))
            if lower(crate::store::parent(w)) == lower(crate::store::parent(&node.display))
                && stale_pick(seed, &node.id) =>
        {
            format!(
                "{}/{}",
                crate::store::parent(w),
                crate::store::name(&node.display)
            )
        }
        _ => node.display.clone(),
    };
    scope.api_path(&full)
}

/// Three in four (seed, id) pairs show the written parents.
fn stale_pick(seed: u64, id: &str) -> bool {
    // FNV-1a over the id, then a splitmix64 round with the seed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z % 4 != 0
}

/// Metadata of a file node as the untagged `FileMetadata`.
pub fn file_metadata(node: &Node, scope: &Scope) -> Option<files::FileMetadata> {
    let NodeKind::File(f) = &node.kind else {
        return None;
    };
    let display = shown_display(node, scope);
    let m = files::FileMetadata::new(
        crate::store::name(&display).to_string(),
        node.id.clone(),
        timestamp(f.client_modified),
        timestamp(f.server_modified),
        f.rev.clone(),
        f.size,
    )
    .with_path_lower(lower(&scope.api_path(&node.display)))
    .with_path_display(display);
    Some(match &f.export {
        // A Paper doc (or another cloud document): no content_hash, not downloadable, and
        // the formats it exports to (files.stone FileMetadata: is_downloadable, export_info).
        Some(x) => {
            let mut info = files::ExportInfo::default();
            if let Some((first, _, _)) = x.formats.first() {
                info = info.with_export_as(first.clone());
            }
            m.with_is_downloadable(false).with_export_info(
                info.with_export_options(x.formats.iter().map(|(f, _, _)| f.clone()).collect()),
            )
        }
        None => m
            .with_content_hash(f.hash.to_hex())
            .with_is_downloadable(true),
    })
}

/// Metadata of a folder node as the untagged `FolderMetadata`.
pub fn folder_metadata(node: &Node, scope: &Scope) -> files::FolderMetadata {
    let display = shown_display(node, scope);
    files::FolderMetadata::new(crate::store::name(&display).to_string(), node.id.clone())
        .with_path_lower(lower(&scope.api_path(&node.display)))
        .with_path_display(display)
}

/// Tagged metadata of a node.
pub fn metadata(node: &Node, scope: &Scope) -> files::Metadata {
    match file_metadata(node, scope) {
        Some(f) => files::Metadata::File(f),
        None => files::Metadata::Folder(folder_metadata(node, scope)),
    }
}

/// Tagged metadata of a deleted path.
pub fn deleted_metadata(full_display: &str, scope: &Scope) -> files::Metadata {
    let display = scope.api_path(full_display);
    files::Metadata::Deleted(
        files::DeletedMetadata::new(crate::store::name(&display).to_string())
            .with_path_lower(lower(&display))
            .with_path_display(display),
    )
}

/// Make JSON safe for an HTTP header: escape 0x7F and everything non-ASCII as `\uXXXX`.
pub fn header_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Why a 429 was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateReason {
    /// Per-token rate limit.
    TooManyRequests,
    /// Namespace lock contention.
    TooManyWriteOperations,
}

/// An error response, in the form Dropbox sends it.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with a plain-text explanation (malformed input).
    BadInput(String),
    /// 401 with a JSON `AuthError` tag.
    Auth(&'static str),
    /// 409 with the route's error union.
    Route(serde_json::Value),
    /// 422 for a bad `Dropbox-API-Path-Root`.
    PathRoot(serde_json::Value),
    /// 429.
    RateLimit {
        /// Why.
        reason: RateReason,
        /// Seconds to wait.
        retry_after: u64,
        /// Plain-text body instead of JSON.
        text: bool,
    },
    /// 5xx.
    Server(u16),
    /// An unknown route under `/2/`: 400 with plain text, as Dropbox answers it.
    UnknownRoute(String),
}

impl ApiError {
    /// A 409 from any serialisable route error union.
    pub fn route(err: impl Serialize) -> Self {
        ApiError::Route(serde_json::to_value(err).unwrap_or(serde_json::Value::Null))
    }

    /// A call to a route Dropbox does not have: HTTP 400, `Error in call to API function
    /// "files/x": Unknown API function: /2/files/x` — the text Dropbox answered for a route it
    /// did not know (orgzly-android#1011, through the Java SDK's `BadRequestException`, which
    /// it makes of a 400 only).
    pub fn unknown_route(route: &str) -> Self {
        ApiError::UnknownRoute(format!(
            "Error in call to API function \"{route}\": Unknown API function: /2/{route}"
        ))
    }

    /// The 400 Dropbox sends when an argument does not decode.
    pub fn bad_arg(route: &str, what: &str, err: impl std::fmt::Display) -> Self {
        ApiError::BadInput(format!(
            "Error in call to API function \"{route}\": {what}: {err}"
        ))
    }

    /// The HTTP response for this error.
    pub fn into_response(self) -> Response<Body> {
        match self {
            ApiError::BadInput(msg) => text_response(StatusCode::BAD_REQUEST, msg),
            ApiError::UnknownRoute(msg) => text_response(StatusCode::BAD_REQUEST, msg),
            ApiError::Auth(tag) => json_response(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"error_summary": format!("{tag}/"), "error": {".tag": tag}}),
            ),
            ApiError::Route(err) => json_response(
                StatusCode::CONFLICT,
                &serde_json::json!({"error_summary": error_summary(&err), "error": err}),
            ),
            ApiError::PathRoot(err) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &serde_json::json!({"error_summary": error_summary(&err), "error": err}),
            ),
            ApiError::RateLimit {
                reason,
                retry_after,
                text,
            } => {
                let tag = match reason {
                    RateReason::TooManyRequests => "too_many_requests",
                    RateReason::TooManyWriteOperations => "too_many_write_operations",
                };
                let mut resp = if text {
                    text_response(StatusCode::TOO_MANY_REQUESTS, tag.to_string())
                } else {
                    // Dropbox omits retry_after for lock contention.
                    let error = match reason {
                        RateReason::TooManyRequests => {
                            serde_json::json!({"reason": {".tag": tag}, "retry_after": retry_after})
                        }
                        RateReason::TooManyWriteOperations => {
                            serde_json::json!({"reason": {".tag": tag}})
                        }
                    };
                    json_response(
                        StatusCode::TOO_MANY_REQUESTS,
                        &serde_json::json!({"error_summary": format!("{tag}/"), "error": error}),
                    )
                };
                resp.headers_mut()
                    .insert("Retry-After", HeaderValue::from(retry_after));
                resp
            }
            ApiError::Server(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                text_response(status, "Internal Server Error".into())
            }
        }
    }
}

/// `tag/subtag/.../` from an error union value, the way Dropbox writes `error_summary`.
pub fn error_summary(err: &serde_json::Value) -> String {
    let mut out = String::new();
    let mut cur = err;
    while let Some(tag) = cur.get(".tag").and_then(|t| t.as_str()) {
        out.push_str(tag);
        out.push('/');
        // The nested value is under the tag's own key, or (for a struct member such as
        // UploadWriteFailed) in the first field that is itself a union.
        let next = cur.get(tag).filter(|v| v.is_object()).or_else(|| {
            cur.as_object()?
                .iter()
                .find(|(k, v)| k.as_str() != ".tag" && v.get(".tag").is_some())
                .map(|(_, v)| v)
        });
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    if out.is_empty() {
        "other/..".into()
    } else {
        format!("{out}..")
    }
}

/// A response with exactly `Content-Type: application/json`.
pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A plain-text response.
pub fn text_response(status: StatusCode, msg: String) -> Response<Body> {
    let mut resp = Response::new(full(msg));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_431_445_838), "2015-05-12T15:50:38Z");
        for t in [0, 951_782_400, 1_709_164_800, 4_102_444_799] {
            assert_eq!(parse_timestamp(&timestamp(t)), Some(t));
        }
        assert_eq!(parse_timestamp("2015-05-12 15:50:38"), None);
        for bad in [
            "2015-02-29T00:00:00Z",
            "2015-13-01T00:00:00Z",
            "2015-05-12T24:00:00Z",
            "2015-05-12T15:60:00Z",
            "2015-05-12T15:50:60Z",
            "+015-05-12T15:50:38Z",
            "2015-05-12T15:50:38+",
            "2015-5-12T15:50:38Z ",
            "2015-05-12T15:50:38.5Z",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(parse_timestamp("2000-02-29T00:00:00Z"), Some(951_782_400));
    }

    #[test]
    fn scope_translates_paths() {
        let s = Scope::app_folder("nuvolos.cloud");
        assert_eq!(s.full_path("/a/B"), "/Apps/nuvolos.cloud/a/B");
        assert_eq!(s.api_path("/apps/Nuvolos.cloud/a/B"), "/a/B");
        assert_eq!(Scope::full().api_path("/x"), "/x");
    }

    #[test]
    fn summaries_follow_the_tag_chain() {
        let v = serde_json::json!({".tag": "path", "path": {".tag": "not_found"}});
        assert_eq!(error_summary(&v), "path/not_found/..");
        let v = serde_json::json!({".tag": "path", "reason": {".tag": "conflict", "conflict": {".tag": "file"}}, "upload_session_id": "x"});
        assert_eq!(error_summary(&v), "path/conflict/file/..");
        let v = serde_json::json!({".tag": "incorrect_offset", "correct_offset": 5});
        assert_eq!(error_summary(&v), "incorrect_offset/..");
    }

    #[test]
    fn header_json_escapes_non_ascii() {
        assert_eq!(
            header_safe_json("{\"a\":\"ü\u{7f}😀\"}"),
            "{\"a\":\"\\u00fc\\u007f\\ud83d\\ude00\"}"
        );
    }
}
