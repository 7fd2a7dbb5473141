//! How the engine's linear-time tests time their work: the best of a few runs, and the ratio
//! between ten times the items and the items.

use std::time::Duration;

/// The shortest of `runs` runs of `f`, each of which times itself (a run of a few
/// milliseconds is at the mercy of the host).
pub(crate) fn best_of(runs: usize, f: impl FnMut() -> Duration) -> Duration {
    std::iter::repeat_with(f)
        .take(runs)
        .min()
        .unwrap_or_default()
}

/// Ten times the items (`large`) took less than `limit` times as long as the items (`small`):
/// linear work takes about 10 times, n² work 100.
pub(crate) fn assert_scales(small: Duration, large: Duration, limit: f64) {
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
    assert!(
        ratio < limit,
        "10k: {small:?}, 100k: {large:?} ({ratio:.1}×)"
    );
}
