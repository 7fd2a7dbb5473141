//! The shared link: the bandwidth cap every upload body and download body is paced by, and
//! the download body sent in chunks (and cut off midway when a fault says so).

use crate::state::Emulator;
use bytes::Bytes;
use hyper::body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

/// Wait for the shared link to carry `n` bytes (bandwidth cap); returns at once without a cap.
pub(super) async fn throttle(emu: &Emulator, n: usize) {
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

/// A download body sent in chunks, paced by the bandwidth cap, optionally cut off midway.
pub(super) struct Streamed {
    data: Bytes,
    pos: usize,
    abort_at: Option<usize>,
    emu: Arc<Emulator>,
    wait: Option<(Pin<Box<tokio::time::Sleep>>, usize)>,
}

impl Streamed {
    /// A body that sends `data` (paced), stopping with an error at `abort_at`.
    pub(super) fn new(emu: &Arc<Emulator>, data: Bytes, abort_at: Option<usize>) -> Self {
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
