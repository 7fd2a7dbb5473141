//! Adaptive concurrency for one account's requests (additive increase, multiplicative
//! decrease). Dropbox limits each account's requests and answers the excess with 429
//! `too_many_requests` and `Retry-After` (`auth.stone`, `RateLimitError`). On such an
//! answer every request of the transport waits out the `Retry-After` together — no request
//! retries on its own, so there is no retry storm — and the number allowed in flight is
//! halved; each window of successes as long as the limit grows it by one, up to the maximum.
//! It starts at [`START`] and doubles per window until the first 429 (TCP's slow start), so a
//! first burst does not run into the server's limit with hundreds of requests at once.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The most requests in flight at once unless [`Aimd::new`] is told otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 96;

/// Requests allowed in flight at first.
pub const START: u32 = 8;

struct State {
    limit: u32,
    in_flight: u32,
    successes: u32,
    paused_until: Option<Instant>,
    last_decrease: Option<Instant>,
}

/// The limiter (shared by all requests of a transport).
pub struct Aimd {
    max: u32,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    /// 429 `too_many_requests` answers seen.
    pub rate_limited: AtomicU64,
    /// The lowest limit reached so far.
    pub lowest: AtomicU64,
}

impl std::fmt::Debug for Aimd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aimd")
            .field("limit", &self.limit())
            .finish()
    }
}

impl Default for Aimd {
    fn default() -> Self {
        Aimd::new(DEFAULT_MAX_IN_FLIGHT)
    }
}

/// A request's place; given back on drop.
pub struct Permit<'a>(&'a Aimd);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.state.lock().in_flight -= 1;
        self.0.wake.notify_waiters();
    }
}

impl Aimd {
    /// A limiter allowing at most `max` (at least 1) requests in flight.
    pub fn new(max: u32) -> Self {
        let max = max.max(1);
        Aimd {
            max,
            state: Mutex::new(State {
                limit: START.min(max),
                in_flight: 0,
                successes: 0,
                paused_until: None,
                last_decrease: None,
            }),
            wake: tokio::sync::Notify::new(),
            rate_limited: AtomicU64::new(0),
            lowest: AtomicU64::new(u64::from(max)),
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> u32 {
        self.state.lock().limit
    }

    /// Wait for a place (and for any `Retry-After` pause to end).
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let pause = {
                let mut s = self.state.lock();
                match s.paused_until {
                    Some(t) if t > Instant::now() => Some(t),
                    _ => {
                        if s.in_flight < s.limit {
                            s.in_flight += 1;
                            return Permit(self);
                        }
                        None
                    }
                }
            };
            match pause {
                Some(t) => tokio::time::sleep_until(t).await,
                None => woken.await,
            }
        }
    }

    /// A request succeeded (was not refused for load).
    pub fn success(&self) {
        let mut s = self.state.lock();
        s.successes += 1;
        if s.successes >= s.limit && s.limit < self.max {
            s.limit = if s.last_decrease.is_none() {
                (s.limit * 2).min(self.max)
            } else {
                s.limit + 1
            };
            s.successes = 0;
            drop(s);
            self.wake.notify_waiters();
        }
    }

    /// A 429 `too_many_requests` asking to wait `retry_after`: everyone pauses that long,
    /// and the limit halves (once per pause: the other answers of the same burst are the
    /// same signal).
    pub fn rate_limited(&self, retry_after: Duration) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let until = now + retry_after;
        let mut s = self.state.lock();
        s.paused_until = Some(s.paused_until.map_or(until, |t| t.max(until)));
        let fresh = s.last_decrease.is_none_or(|t| now >= t);
        if fresh {
            s.limit = (s.limit / 2).max(1);
            s.successes = 0;
            s.last_decrease = Some(until);
            self.lowest.fetch_min(u64::from(s.limit), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn halves_on_a_429_pauses_everyone_and_grows_back() {
        let a = Aimd::new(8);
        assert_eq!(a.limit(), 8);
        let p = a.acquire().await;
        a.rate_limited(Duration::from_secs(1));
        a.rate_limited(Duration::from_secs(1));
        assert_eq!(a.limit(), 4, "one halving per pause");
        drop(p);
        let t0 = Instant::now();
        let _p = a.acquire().await;
        assert!(
            t0.elapsed() >= Duration::from_secs(1),
            "waits out Retry-After"
        );
        for _ in 0..4 {
            a.success();
        }
        assert_eq!(a.limit(), 5);
        for _ in 0..100 {
            a.success();
        }
        assert_eq!(a.limit(), 8, "up to the maximum, no further");
    }
}
