//! Reading answers: how long a request may stay silent ([`Progress`]), a whole JSON answer
//! read within a size limit, a download's body streamed, whether bytes are one JSON value,
//! and a longpoll's deadline.

use crate::throttle::Limits;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// When a request last moved: a piece of its body went out, or a piece of its answer came
/// in. Time-outs measure silence, not the length of a transfer: a 10 GB upload over a slow
/// link is fine as long as it keeps moving, and an answer that stops coming is given up
/// after [`super::RetryPolicy::stall`] whatever stage it is in.
///
/// A piece handed to the connection may still wait in the system's send buffer (several
/// megabytes) while a slow link drains it, with nothing to show for it here: once the last
/// piece is handed over, the silence allowed grows by the time that buffer could take at a
/// slow 64 KB/s (see [`Progress::sent_all`]).
#[derive(Clone)]
pub(super) struct Progress {
    start: std::time::Instant,
    last_ms: Arc<AtomicU64>,
    extra_ms: Arc<AtomicU64>,
}

/// The most a send buffer is taken to hold, and the slowest link it is taken to drain at.
const BUFFERED_MAX: u64 = 8 << 20;
const SLOW_LINK_BYTES_PER_SEC: u64 = 64 * 1024;

impl Progress {
    pub(super) fn new() -> Self {
        Progress {
            start: std::time::Instant::now(),
            last_ms: Arc::default(),
            extra_ms: Arc::default(),
        }
    }

    pub(super) fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The whole body (`len` bytes) is handed to the connection.
    pub(super) fn sent_all(&self, len: u64) {
        let buffered = len.min(BUFFERED_MAX);
        self.extra_ms
            .store(buffered * 1000 / SLOW_LINK_BYTES_PER_SEC, Ordering::Relaxed);
        self.touch();
    }

    /// Resolves once nothing has moved for `limit` (plus what [`Progress::sent_all`] allows).
    pub(super) async fn stalled(&self, limit: Duration) {
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
pub(super) enum ReadFail {
    Stalled,
    Broken(String),
}

/// Read a whole answer (at most `limit` bytes), giving up when a piece takes longer than
/// `stall`.
pub(super) async fn read_all(
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
pub(super) fn longpoll_deadline(body: &[u8]) -> Duration {
    let asked = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("timeout").and_then(serde_json::Value::as_u64))
        .unwrap_or(30)
        .clamp(30, 480);
    Duration::from_secs(asked + 90 + 30)
}

/// A download's body as it streams in, paced by the download limit as it is read (a slow
/// reader makes the server slow down). Each piece must arrive within `stall`; after an error
/// the stream ends (the reader has its answer).
pub(super) fn download_body(
    resp: reqwest::Response,
    limits: Arc<Limits>,
    progress: Progress,
    stall: Duration,
) -> Box<dyn futures_util::AsyncRead + Send + Unpin> {
    let stream =
        futures_util::stream::unfold(Some((resp, limits, progress)), move |state| async move {
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
                        format!("nothing arrived for {} s", stall.as_secs().max(1)),
                    )),
                    None,
                )),
            }
        })
        .boxed();
    Box::new(stream.into_async_read())
}

/// Whether `b` is one whole JSON value.
pub(super) fn is_json(b: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::Endpoints;
    use crate::transport::http_client;

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
}
