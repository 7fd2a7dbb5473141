//! Exponential back-off: how long to wait before the next try of something that failed.

use rand::Rng;
use std::time::Duration;

/// Exponential back-off, optionally with jitter.
///
/// Try `n` (0-based) waits at most its ceiling, `base · 2ⁿ` and never more than `cap`.
/// Without jitter it waits exactly the ceiling. With [`Jitter::Full`] it waits a uniformly
/// random time up to the ceiling ("full jitter": clients that failed together spread out),
/// but at least half of `base`, so that a retry never goes out at once.
///
/// ```
/// use nuvosync_dropbox::Backoff;
/// use std::time::Duration;
///
/// let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// assert_eq!(b.delay(0), Duration::from_secs(1));
/// assert_eq!(b.delay(3), Duration::from_secs(8));
/// assert_eq!(b.delay(10), Duration::from_secs(60));
/// let jittered = b.full_jitter().delay(3);
/// assert!(jittered >= Duration::from_millis(500) && jittered <= Duration::from_secs(8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first try (try 0).
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    /// How the wait is drawn under the ceiling.
    pub jitter: Jitter,
}

/// How a [`Backoff`] draws a wait under its ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// No jitter: the wait is the ceiling.
    None,
    /// Uniformly random between half of `base` and the ceiling.
    Full,
}

impl Backoff {
    /// Doubling from `base` up to `cap`, without jitter.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            jitter: Jitter::None,
        }
    }

    /// The same schedule with full jitter.
    pub const fn full_jitter(self) -> Self {
        Backoff {
            jitter: Jitter::Full,
            ..self
        }
    }

    /// The longest wait before try `n`: `base · 2ⁿ` (the exponent at most 16), at most `cap`.
    pub fn ceiling(&self, n: u32) -> Duration {
        self.base.saturating_mul(1u32 << n.min(16)).min(self.cap)
    }

    /// The wait before try `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self.ceiling(n);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => {
                let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
                Duration::from_millis(ms.max(self.base.as_millis() as u64 / 2))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_jitter_the_wait_doubles_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(200), Duration::from_millis(3200));
        let waits: Vec<u64> = (0..8).map(|n| b.delay(n).as_millis() as u64).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 3200, 3200, 3200]);
        // Past the largest exponent the ceiling neither overflows nor shrinks.
        let wide = Backoff::new(Duration::from_secs(1), Duration::MAX);
        assert_eq!(wide.delay(40), Duration::from_secs(1 << 16));
    }

    #[test]
    fn the_schedules_written_out_by_hand_are_this_one() {
        for n in 0..40u32 {
            let secs = |base: u64, cap: u64| {
                Backoff::new(Duration::from_secs(base), Duration::from_secs(cap))
            };
            assert_eq!(
                secs(1, 60).delay(n),
                Duration::from_secs((1u64 << n.min(6)).min(60))
            );
            assert_eq!(
                secs(1, 30).delay(n),
                Duration::from_secs((1u64 << n.min(5)).min(30))
            );
            let ms = Backoff::new(Duration::from_millis(200), Duration::from_millis(3200));
            assert_eq!(ms.delay(n), Duration::from_millis(200 * (1 << n.min(4))));
        }
    }

    #[test]
    fn full_jitter_stays_between_half_the_base_and_the_ceiling() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).full_jitter();
        for n in 0..20 {
            let d = b.delay(n);
            assert!(d >= Duration::from_millis(50), "{n}: {d:?}");
            assert!(
                d <= b.ceiling(n).max(Duration::from_millis(50)),
                "{n}: {d:?}"
            );
        }
        let spread: std::collections::BTreeSet<Duration> = (0..50).map(|_| b.delay(6)).collect();
        assert!(spread.len() > 1, "the waits are drawn, not fixed");
    }
}
