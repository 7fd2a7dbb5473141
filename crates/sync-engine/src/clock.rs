//! The engine's wall clock (which tests may shift).

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + clock_shift()
}

/// What `shift_clock` added (nothing without the `testing` feature).
#[cfg(feature = "testing")]
fn clock_shift() -> i64 {
    CLOCK_SHIFT.load(std::sync::atomic::Ordering::Relaxed)
}
#[cfg(not(feature = "testing"))]
fn clock_shift() -> i64 {
    0
}

/// Seconds added to the wall clock as the engine reads it (see [`shift_clock`]).
#[cfg(feature = "testing")]
static CLOCK_SHIFT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Make the engine's wall clock jump by `secs` (either way), as a machine's clock does when
/// it is set, resumes from sleep or is corrected by NTP — for tests of what the engine does
/// with times it stored (upload sessions, conflict dates). Returns the total shift. Deadlines
/// and token lifetimes use the monotonic clock and do not move. (Feature `testing`.)
#[cfg(feature = "testing")]
pub fn shift_clock(secs: i64) -> i64 {
    CLOCK_SHIFT.fetch_add(secs, std::sync::atomic::Ordering::Relaxed) + secs
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    nuvosync_dropbox::client::timestamp(now())[..10].to_string()
}
