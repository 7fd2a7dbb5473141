//! The counts of a shard, for the run's one-screen summary.

use super::*;

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) seeds: AtomicU64,
    pub(crate) steps: AtomicU64,
    pub(crate) crashes: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) clock_jumps: AtomicU64,
    pub(crate) faults: AtomicU64,
    pub(crate) versions: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) power_cuts: AtomicU64,
    pub(crate) local_faults: AtomicU64,
    pub(crate) local_eacces: AtomicU64,
    pub(crate) local_eio: AtomicU64,
    pub(crate) local_coarse_times: AtomicU64,
    pub(crate) local_link_swaps: AtomicU64,
}

pub(crate) static STATS: Stats = Stats {
    seeds: AtomicU64::new(0),
    steps: AtomicU64::new(0),
    crashes: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    clock_jumps: AtomicU64::new(0),
    faults: AtomicU64::new(0),
    versions: AtomicU64::new(0),
    lost: AtomicU64::new(0),
    power_cuts: AtomicU64::new(0),
    local_faults: AtomicU64::new(0),
    local_eacces: AtomicU64::new(0),
    local_eio: AtomicU64::new(0),
    local_coarse_times: AtomicU64::new(0),
    local_link_swaps: AtomicU64::new(0),
};

/// The shard this test process runs (each shard is a test of its own).
pub(crate) static SHARD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// This shard's counts, for the run's one-screen summary (printed by `cargo xtask test`); a
/// shard that fails writes them before it stops.
pub(crate) fn write_summary() {
    let n = SHARD.load(Ordering::Relaxed);
    let summary = serde_json::json!({
        "seeds": STATS.seeds.load(Ordering::Relaxed),
        "steps": STATS.steps.load(Ordering::Relaxed),
        "crashes": STATS.crashes.load(Ordering::Relaxed),
        "dropped_mid_flight": STATS.dropped.load(Ordering::Relaxed),
        "clock_jumps": STATS.clock_jumps.load(Ordering::Relaxed),
        "faults": STATS.faults.load(Ordering::Relaxed),
        "versions": STATS.versions.load(Ordering::Relaxed),
        "lost": STATS.lost.load(Ordering::Relaxed),
        "power_cuts": STATS.power_cuts.load(Ordering::Relaxed),
        "local_faults": STATS.local_faults.load(Ordering::Relaxed),
        "local_eacces": STATS.local_eacces.load(Ordering::Relaxed),
        "local_eio": STATS.local_eio.load(Ordering::Relaxed),
        "local_coarse_times": STATS.local_coarse_times.load(Ordering::Relaxed),
        "local_link_swaps": STATS.local_link_swaps.load(Ordering::Relaxed),
    });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("summary");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join(format!("simulation-{n}.json")),
        summary.to_string(),
    );
    eprintln!(
        "simulation shard {n}: {} seeds, {} engine steps, {} crashes ({} dropped mid-flight), {} clock jumps, {} server faults, {} local faults ({} power cuts, {} EACCES, {} EIO, {} edits keeping size and time, {} links swapped in), {} versions written, {} lost",
        STATS.seeds.load(Ordering::Relaxed),
        STATS.steps.load(Ordering::Relaxed),
        STATS.crashes.load(Ordering::Relaxed),
        STATS.dropped.load(Ordering::Relaxed),
        STATS.clock_jumps.load(Ordering::Relaxed),
        STATS.faults.load(Ordering::Relaxed),
        STATS.local_faults.load(Ordering::Relaxed),
        STATS.power_cuts.load(Ordering::Relaxed),
        STATS.local_eacces.load(Ordering::Relaxed),
        STATS.local_eio.load(Ordering::Relaxed),
        STATS.local_coarse_times.load(Ordering::Relaxed),
        STATS.local_link_swaps.load(Ordering::Relaxed),
        STATS.versions.load(Ordering::Relaxed),
        STATS.lost.load(Ordering::Relaxed)
    );
}
