//! Requests as the SDK builds them: how each authenticates, and the `Dropbox-API-Arg` header
//! escaped as JSON in a header must be; the transports for `noauth` routes and for one
//! content-route call.

use super::Transport;
use crate::error::Error;
use bytes::Bytes;
use dropbox_sdk::async_client_trait::{
    HttpClient, HttpRequest, HttpRequestResultRaw, NoauthClient, UserAuthClient,
};
use std::sync::Arc;

/// How a request authenticates. Dropbox takes each route's kind from the API spec
/// (`auth=` in the `.stone` files) and refuses a request for a `noauth` route that carries
/// an `Authorization` header with HTTP 400 ("Your request includes an Authorization header,
/// but this function does not use it." — dropbox-sdk-rust#15, dropbox-sdk-java#35).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Auth {
    /// `Authorization: Bearer <access token>` (`auth="user"`, the default).
    User,
    /// No `Authorization` header (`auth="noauth"`: `files/list_folder/longpoll`).
    None,
}

/// A request being built by the SDK.
pub struct Request {
    pub(super) url: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) auth: Auth,
    /// `Dropbox-API-Arg` as we escape it (see [`header_json`]), sent instead of the SDK's.
    pub(super) arg: Option<ArgHeader>,
}

/// A content route's argument: our escaping, and the SDK's for the same JSON (to check that
/// what the SDK is sending is indeed this argument).
#[derive(Clone)]
pub(super) struct ArgHeader {
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
