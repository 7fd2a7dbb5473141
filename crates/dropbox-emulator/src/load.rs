//! The per-account load model, on by default as on Dropbox: a limit on requests in flight
//! at once and a request rate (a token bucket) per account. A request over either is
//! answered 429 `too_many_requests` with `Retry-After` and the body of `auth.stone`'s
//! `RateLimitError` (`{"reason": {".tag": "too_many_requests"}, "retry_after": N}`), the
//! answer the official SDKs turn into `RateLimitError` and retry after `retry_after`
//! seconds (dropbox-sdk-python `dropbox.py`, `max_retries_on_rate_limit`).
//!
//! Dropbox does not publish its limits; the defaults ([`LoadModel::default`]) are generous
//! enough for a client that keeps its concurrency modest (Maestral runs 6 transfers,
//! rclone 4 transfers + 8 checkers) and tight enough that a client firing hundreds of
//! requests at once is pushed back, as users of the real service report.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The limits, per account. Zero turns a limit off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadModel {
    /// Requests of one account being served at once.
    pub max_in_flight: u32,
    /// Requests per second one account may make, sustained (0 = no rate limit).
    pub rate_per_sec: f64,
    /// Requests one account may make in a burst above the rate.
    pub burst: u32,
}

impl Default for LoadModel {
    fn default() -> Self {
        LoadModel {
            max_in_flight: 100,
            rate_per_sec: 1000.0,
            burst: 2000,
        }
    }
}

impl LoadModel {
    /// No limits (for fault tests that want only their own faults).
    pub fn off() -> Self {
        LoadModel {
            max_in_flight: 0,
            rate_per_sec: 0.0,
            burst: 0,
        }
    }
}

/// One account's state.
#[derive(Default)]
struct AccountLoad {
    in_flight: AtomicU32,
    /// Tokens left and when they were counted.
    bucket: Mutex<Option<(f64, Instant)>>,
}

/// The model's state for every account.
#[derive(Default)]
pub struct Load {
    accounts: Mutex<HashMap<String, Arc<AccountLoad>>>,
}

/// A request admitted: its slot is given back when this is dropped.
pub struct Admitted(Option<Arc<AccountLoad>>);

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Load {
    /// Admit one request of `account` under `model`, or say how many seconds to wait.
    pub fn admit(&self, model: &LoadModel, account: &str) -> Result<Admitted, u64> {
        if model.max_in_flight == 0 && model.rate_per_sec <= 0.0 {
            return Ok(Admitted(None));
        }
        let a = self
            .accounts
            .lock()
            .entry(account.to_string())
            .or_default()
            .clone();
        if model.rate_per_sec > 0.0 {
            let now = Instant::now();
            let cap = f64::from(model.burst.max(1));
            let mut bucket = a.bucket.lock();
            let (tokens, at) = bucket.unwrap_or((cap, now));
            let tokens =
                (tokens + now.duration_since(at).as_secs_f64() * model.rate_per_sec).min(cap);
            if tokens < 1.0 {
                *bucket = Some((tokens, now));
                // Retry-After is whole seconds (as Dropbox sends it), at least 1.
                let secs = Duration::from_secs_f64((1.0 - tokens) / model.rate_per_sec);
                return Err(secs.as_secs_f64().ceil().max(1.0) as u64);
            }
            *bucket = Some((tokens - 1.0, now));
        }
        if model.max_in_flight > 0 {
            let n = a.in_flight.fetch_add(1, Ordering::AcqRel);
            if n >= model.max_in_flight {
                a.in_flight.fetch_sub(1, Ordering::AcqRel);
                return Err(1);
            }
            return Ok(Admitted(Some(a)));
        }
        Ok(Admitted(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_and_rate_limits_refuse_with_a_wait() {
        let load = Load::default();
        let model = LoadModel {
            max_in_flight: 2,
            rate_per_sec: 0.0,
            burst: 0,
        };
        let a = load.admit(&model, "a").ok().unwrap();
        let _b = load.admit(&model, "a").ok().unwrap();
        assert_eq!(load.admit(&model, "a").err(), Some(1));
        assert!(
            load.admit(&model, "other").is_ok(),
            "limits are per account"
        );
        drop(a);
        assert!(
            load.admit(&model, "a").is_ok(),
            "a finished request frees its slot"
        );

        let model = LoadModel {
            max_in_flight: 0,
            rate_per_sec: 0.5,
            burst: 3,
        };
        for _ in 0..3 {
            assert!(load.admit(&model, "r").is_ok());
        }
        assert_eq!(load.admit(&model, "r").err(), Some(2), "one token per 2 s");
    }
}
