//! `nuvosync debug ...`: measurements for the benchmarks (not needed for syncing).
//!
//! - `debug hash FILE...` — Dropbox content hashes of files, hashed in parallel across files;
//!   prints one JSON line with bytes, seconds and MB/s.
//! - `debug statwalk DIR` — a bare parallel `lstat` walk of a tree (the floor for a restart
//!   scan); prints entries and seconds.

use crate::args::DebugCommand;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Run a debug command.
pub fn run(cmd: &DebugCommand) -> i32 {
    match cmd {
        DebugCommand::Hash { files, threads } => {
            let threads = threads
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(2)
                })
                .max(1);
            let queue = Mutex::new(files.iter());
            let bytes = AtomicU64::new(0);
            let start = std::time::Instant::now();
            let failed = AtomicU64::new(0);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        while let Some(f) = queue.lock().next() {
                            let Ok(md) = std::fs::symlink_metadata(f) else {
                                failed.fetch_add(1, Ordering::Relaxed);
                                continue;
                            };
                            match sync_engine::engine::hash_file(f) {
                                Ok(Some(_)) => {
                                    bytes.fetch_add(md.len(), Ordering::Relaxed);
                                }
                                _ => {
                                    failed.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    });
                }
            });
            let secs = start.elapsed().as_secs_f64();
            let b = bytes.load(Ordering::Relaxed);
            println!(
                "{}",
                serde_json::json!({"files": files.len(), "failed": failed.load(Ordering::Relaxed), "threads": threads, "bytes": b, "secs": secs, "mb_per_s": b as f64 / 1e6 / secs.max(1e-9)})
            );
            0
        }
        DebugCommand::Statwalk { dir } => {
            let start = std::time::Instant::now();
            let entries = AtomicU64::new(0);
            ignore::WalkBuilder::new(dir)
                .hidden(false)
                .parents(false)
                .ignore(false)
                .git_ignore(false)
                .git_global(false)
                .git_exclude(false)
                .threads(
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(2)
                        .max(2),
                )
                .build_parallel()
                .run(|| {
                    Box::new(|e| {
                        if let Ok(e) = e {
                            if e.path().symlink_metadata().is_ok() {
                                entries.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        ignore::WalkState::Continue
                    })
                });
            println!(
                "{}",
                serde_json::json!({"entries": entries.load(Ordering::Relaxed), "secs": start.elapsed().as_secs_f64()})
            );
            0
        }
    }
}
