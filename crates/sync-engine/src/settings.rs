//! What a pair syncs and the knobs it runs with.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a pair syncs.
#[derive(Clone, Debug)]
pub struct PairSpec {
    /// Name (unique among pairs).
    pub name: String,
    /// The local folder.
    pub local_root: PathBuf,
    /// The Dropbox folder (`/Org/Space/Instance`, relative to the app folder).
    pub remote_root: String,
    /// Excluded folders (relative display paths).
    pub excluded: Vec<String>,
    /// The index database file.
    pub index_path: PathBuf,
}

/// Knobs of the engine.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// This machine's name (conflicted copies).
    pub host: String,
    /// Concurrent transfers of files larger than `small_file`.
    pub transfers: usize,
    /// Concurrent transfers of files up to `small_file` bytes. Such a transfer costs one
    /// round trip and almost no bandwidth, so its rate is set by latency: many in flight
    /// keep a first sync of many small files limited by the server, not by round trips.
    pub small_transfers: usize,
    /// Files up to this size count as small (see `small_transfers`).
    pub small_file: u64,
    /// Threads hashing during scans.
    pub hash_threads: usize,
    /// A scan that finds more nodes than this stages them in the index's temporary database
    /// instead of holding them until it ends (see `Scanner::scan_staging`).
    pub stage_every: usize,
    /// Chunk size of upload sessions.
    pub chunk_size: usize,
    /// Files up to this size go in one request.
    pub single_request_limit: usize,
    /// With at least this many small uploads in a round, commit them with `finish_batch`.
    pub batch_threshold: usize,
    /// Mass-delete guard thresholds, shared by every pair given them (a user setting).
    pub delete_guard: std::sync::Arc<DeleteGuard>,
    /// Use the OS trash for local deletes (else `<root>/.nuvosync/trash`).
    pub os_trash: bool,
    /// Give up a key for this run after this many failures.
    pub max_failures: u32,
    /// Bandwidth limits, shared by every client given them (see `Client::set_limits`).
    pub limits: std::sync::Arc<nuvosync_dropbox::throttle::Limits>,
    /// The checked file layer every local change goes through (the real disk; a twin that
    /// models power cuts in the simulation).
    pub fs: std::sync::Arc<dyn crate::localfs::Fs>,
    /// How long the pair's own trash and its activity history are kept (a user setting,
    /// shared by every pair given it).
    pub retention: std::sync::Arc<Retention>,
    /// Export the files Dropbox cannot download (Paper docs) as read-only copies (a user
    /// setting, off by default, shared by every pair given it; see `crate::export`).
    pub export_documents: std::sync::Arc<AtomicBool>,
}

impl Default for Tuning {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        // Knobs for tests and tuning: chunk size of upload sessions, and concurrent transfers.
        let env = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|v| *v > 0)
        };
        Tuning {
            host: hostname(),
            transfers: env("NUVOSYNC_TRANSFERS").unwrap_or(32),
            small_transfers: env("NUVOSYNC_SMALL_TRANSFERS").unwrap_or(128),
            small_file: 256 * 1024,
            hash_threads: cores.max(2),
            stage_every: crate::scan::STAGE_EVERY,
            chunk_size: env("NUVOSYNC_CHUNK_SIZE").unwrap_or(16 * 1024 * 1024),
            single_request_limit: env("NUVOSYNC_CHUNK_SIZE").unwrap_or(8 * 1024 * 1024),
            batch_threshold: 4,
            delete_guard: std::sync::Arc::default(),
            os_trash: std::env::var_os("NUVOSYNC_NO_OS_TRASH").is_none(),
            max_failures: 3,
            limits: std::sync::Arc::default(),
            fs: crate::localfs::real(),
            retention: std::sync::Arc::default(),
            export_documents: std::sync::Arc::default(),
        }
    }
}

/// What the pair keeps of what it deleted (its own trash, `.nuvosync/trash`: files deleted
/// here because they were deleted on Dropbox, when the desktop's trash cannot take them) and
/// of what it did (the activity history). Older and bigger is dropped, the oldest first.
/// Changing it applies at the next pruning of every pair sharing it (at most hourly).
#[derive(Debug)]
pub struct Retention {
    trash_days: std::sync::atomic::AtomicU32,
    trash_mb: AtomicU64,
    history_days: std::sync::atomic::AtomicU32,
    history_entries: AtomicU64,
}

impl Retention {
    /// Deleted files stay in the pair's trash this many days by default…
    pub const DEFAULT_TRASH_DAYS: u32 = 30;
    /// …and the pair's trash holds at most this many MiB by default.
    pub const DEFAULT_TRASH_MB: u64 = 2048;
    /// The activity history goes back this many days by default…
    pub const DEFAULT_HISTORY_DAYS: u32 = 90;
    /// …and holds at most this many entries by default.
    pub const DEFAULT_HISTORY_ENTRIES: u64 = 100_000;

    /// Set the limits (0 days keeps nothing older than now; 0 MiB or entries keeps nothing).
    pub fn set(&self, trash_days: u32, trash_mb: u64, history_days: u32, history_entries: u64) {
        self.trash_days.store(trash_days, Ordering::SeqCst);
        self.trash_mb.store(trash_mb, Ordering::SeqCst);
        self.history_days.store(history_days, Ordering::SeqCst);
        self.history_entries
            .store(history_entries, Ordering::SeqCst);
    }

    /// (trash days, trash MiB, history days, history entries) now.
    pub fn get(&self) -> (u32, u64, u32, u64) {
        (
            self.trash_days.load(Ordering::SeqCst),
            self.trash_mb.load(Ordering::SeqCst),
            self.history_days.load(Ordering::SeqCst),
            self.history_entries.load(Ordering::SeqCst),
        )
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            trash_days: Self::DEFAULT_TRASH_DAYS.into(),
            trash_mb: Self::DEFAULT_TRASH_MB.into(),
            history_days: Self::DEFAULT_HISTORY_DAYS.into(),
            history_entries: Self::DEFAULT_HISTORY_ENTRIES.into(),
        }
    }
}

/// When the mass-delete guard pauses a pair: a burst of deletions on one side that is more
/// than `percent` % of the files synced there *and* more than `min_files` files (so small
/// folders are not nagged). Changing it applies to the next plan of every pair sharing it.
#[derive(Debug)]
pub struct DeleteGuard {
    percent: std::sync::atomic::AtomicU32,
    min_files: AtomicU64,
}

impl DeleteGuard {
    /// The default: half of a side (as rclone bisync's `--max-delete`), and more than 50 files.
    pub const DEFAULT_PERCENT: u32 = 50;
    /// See [`DeleteGuard::DEFAULT_PERCENT`].
    pub const DEFAULT_MIN_FILES: u64 = 50;

    /// Set both thresholds (`percent` is clamped to 0..=100; 100 pauses only when everything
    /// on a side would go; 0 pauses whenever more than `min_files` would go).
    pub fn set(&self, percent: u32, min_files: u64) {
        self.percent.store(percent.min(100), Ordering::SeqCst);
        self.min_files.store(min_files, Ordering::SeqCst);
    }

    /// (percent, min_files) now.
    pub fn get(&self) -> (u32, u64) {
        (
            self.percent.load(Ordering::SeqCst),
            self.min_files.load(Ordering::SeqCst),
        )
    }

    /// Would deleting `count` of `total` files pause?
    pub fn trips(&self, count: u64, total: u64) -> bool {
        let (percent, min_files) = self.get();
        count > min_files
            && if percent >= 100 {
                count >= total
            } else {
                count * 100 > u64::from(percent) * total
            }
    }
}

impl Default for DeleteGuard {
    fn default() -> Self {
        DeleteGuard {
            percent: Self::DEFAULT_PERCENT.into(),
            min_files: Self::DEFAULT_MIN_FILES.into(),
        }
    }
}

/// This machine's host name (see [`crate::platform::host_name`]).
pub use crate::platform::host_name as hostname;
