//! Injected faults and conditions: latency, bandwidth, errors, resets, slow longpoll.
//!
//! Every random decision is drawn from one seeded generator in request order, so a run
//! with the same seed and the same request sequence injects the same faults. The settings
//! can be changed at run time through the admin endpoint.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Fault and condition settings. All probabilities are per request, between 0 and 1.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every request before it is handled (milliseconds).
    pub latency_ms: u64,
    /// Extra random latency, uniform in `0..=latency_jitter_ms`.
    pub latency_jitter_ms: u64,
    /// Cap on upload and download throughput in bytes per second, shared by all requests (0 = none).
    pub bandwidth_bytes_per_sec: u64,
    /// Probability of a 500/503 response instead of handling the request.
    pub p_server_error: f64,
    /// Probability of a 429 `too_many_requests`.
    pub p_rate_limit: f64,
    /// Probability that a write is refused with a 429 `too_many_write_operations`.
    pub p_write_contention: f64,
    /// Probability that a write is refused with the route-level (409) `too_many_write_operations`
    /// — also drawn per entry inside batch commits.
    pub p_write_contention_409: f64,
    /// Probability that the connection is dropped (before the response, or mid-body on downloads).
    pub p_reset: f64,
    /// Seconds sent in `Retry-After` (and `retry_after` for `too_many_requests`).
    pub retry_after_secs: u64,
    /// Send 429 bodies as plain text instead of JSON.
    pub rate_limit_text_body: bool,
    /// Longpoll answers are delayed this long after a change (milliseconds).
    pub longpoll_delay_ms: u64,
    /// When set, longpoll responses carry `backoff` of this many seconds.
    pub longpoll_backoff_secs: Option<u64>,
    /// Each write commit holds the account's namespace lock this long (milliseconds); a write
    /// arriving while it is held fails with `too_many_write_operations`, as on Dropbox.
    pub write_lock_ms: u64,
}

/// The seeded source of fault decisions.
pub struct FaultRng {
    rng: SmallRng,
}

impl FaultRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        FaultRng {
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// True with probability `p`. Draws nothing when `p` is zero, so enabling a fault does
    /// not shift the other decisions of an otherwise fault-free run.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }

    /// A uniform value in `0..=max`.
    pub fn upto(&mut self, max: u64) -> u64 {
        if max == 0 {
            0
        } else {
            self.rng.random_range(0..=max)
        }
    }

    /// Random bytes (for ids and tokens).
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng.fill(&mut out[..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions() {
        let draw = |seed| {
            let mut r = FaultRng::new(seed);
            (0..100).map(|_| r.chance(0.3)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let mut r = FaultRng::new(1);
        assert!(!(0..1000).any(|_| r.chance(0.0)));
    }

    #[test]
    fn settings_parse_partially_and_reject_unknown_keys() {
        let f: Faults = serde_json::from_str(r#"{"latency_ms": 20}"#).unwrap();
        assert_eq!(f.latency_ms, 20);
        assert_eq!(f.p_server_error, 0.0);
        assert!(serde_json::from_str::<Faults>(r#"{"latency": 20}"#).is_err());
    }
}
