//! Bandwidth limits: one pacing clock per direction, shared by every transfer of every pair,
//! changeable while transfers run.
//!
//! Each transfer asks for time on the link before it sends a piece (uploads) or after it
//! received one (downloads): `n` bytes at `rate` bytes/s occupy `n / rate` seconds, and
//! the slots are handed out back to back. So the average rate over any stretch longer than a
//! piece stays at or under the limit, however many transfers run at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// One direction's limit.
#[derive(Debug, Default)]
pub struct Pace {
    /// Bytes per second; 0 means no limit.
    rate: AtomicU64,
    /// When the link is next free.
    free_at: Mutex<Option<Instant>>,
}

impl Pace {
    /// Change the limit (bytes per second, 0 = none); takes effect with the next piece.
    pub fn set(&self, bytes_per_sec: u64) {
        if self.rate.swap(bytes_per_sec, Ordering::SeqCst) != bytes_per_sec {
            // A new limit starts from now, not from a queue built under the old one.
            *self.free_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// The limit in bytes per second (0 = none).
    pub fn get(&self) -> u64 {
        self.rate.load(Ordering::SeqCst)
    }

    /// Book `bytes` on the link; returns (start, end) of the slot, or None without a limit.
    fn book(&self, bytes: u64) -> Option<(Instant, Instant)> {
        let rate = self.get();
        if rate == 0 || bytes == 0 {
            return None;
        }
        let took = Duration::from_secs_f64(bytes as f64 / rate as f64);
        let now = Instant::now();
        let mut free = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
        let start = free.filter(|t| *t > now).unwrap_or(now);
        let end = start + took;
        *free = Some(end);
        Some((start, end))
    }

    /// Before sending `bytes`: wait for their turn on the link.
    pub async fn before_send(&self, bytes: u64) {
        if let Some((start, _)) = self.book(bytes) {
            tokio::time::sleep_until(start).await;
        }
    }

    /// After receiving `bytes`: wait until the link would have carried them. (Reading slower
    /// makes the sender slow down: TCP's window fills.)
    pub async fn after_receive(&self, bytes: u64) {
        if let Some((_, end)) = self.book(bytes) {
            tokio::time::sleep_until(end).await;
        }
    }
}

/// Upload and download limits.
#[derive(Debug, Default)]
pub struct Limits {
    /// Uploads.
    pub upload: Pace,
    /// Downloads.
    pub download: Pace,
}

impl Limits {
    /// Set both limits (bytes per second, 0 = none).
    pub fn set(&self, upload: u64, download: u64) {
        self.upload.set(upload);
        self.download.set(download);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pieces_are_paced_back_to_back_at_the_rate() {
        let p = Pace::default();
        p.set(1000);
        let t0 = Instant::now();
        p.before_send(500).await; // first piece goes at once
        assert_eq!(Instant::now() - t0, Duration::ZERO);
        p.before_send(500).await; // waits for the first to be "on the wire"
        assert_eq!(Instant::now() - t0, Duration::from_millis(500));
        p.after_receive(2000).await; // received: wait until the link would have carried it
        assert_eq!(Instant::now() - t0, Duration::from_millis(3000));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_transfers_share_one_limit() {
        let p = std::sync::Arc::new(Pace::default());
        p.set(10_000);
        let t0 = Instant::now();
        let mut tasks = vec![];
        for _ in 0..4 {
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..5 {
                    p.after_receive(1000).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // 20 000 bytes at 10 000 B/s, whoever carried them.
        assert_eq!(Instant::now() - t0, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_means_no_wait_and_a_new_limit_starts_fresh() {
        let p = Pace::default();
        let t0 = Instant::now();
        p.after_receive(1 << 30).await;
        assert_eq!(Instant::now() - t0, Duration::ZERO);
        p.set(1);
        p.before_send(10).await;
        p.set(1000); // the 10 s booked under the old limit are forgotten
        p.after_receive(1000).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(1));
    }
}
