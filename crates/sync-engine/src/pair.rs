//! One sync pair: a local folder and `/<Org>/<Space>/<Instance>` in the app folder.
//!
//! [`Pair`] observes both sides into the index (scanner, remote feed), plans with the pure
//! planner over the keys whose observations changed, checks the guards, and carries the plan
//! out ([`crate::exec`]), round after round until the three trees agree. Every completed
//! operation is recorded in one index transaction, so it can stop at any moment.

use crate::events::{Event, Events, PairState};
use crate::index::{Index, IndexError, Issue, Sig};
use crate::marker::{self, Marker, Verdict};
use crate::remote::{Remote, RemoteRoot};
use crate::rules::Rules;
use crate::scan::{ScanError, Scanner, resolve_clashes};
use nuvosync_dropbox::Error as DbxError;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use sync_core::path::{is_within, key};
use sync_core::{Key, LocalNode, Plan, Settings, Trees};
use thiserror::Error;

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
    /// setting, off by default, shared by every pair given it; see [`crate::export`]).
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

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this computer".into())
}

/// Why sync stopped and waits for the user.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// The local folder is missing (unmounted?).
    MissingRoot {
        /// The folder.
        path: PathBuf,
    },
    /// A plan would delete much of one side.
    MassDelete {
        /// `local` or `remote`.
        side: String,
        /// Files that would be deleted.
        count: u64,
        /// Files there now.
        total: u64,
    },
    /// The folder holds an older state than nuvosync last synced: a snapshot was restored.
    RestoreDetected {
        /// Marker generation found, if any.
        found: Option<u64>,
        /// Generation expected.
        expected: u64,
    },
    /// Dropbox lists nothing where the index knows files.
    EmptyRemote {
        /// Files the index knows.
        known: u64,
    },
    /// nuvosync's state folder in the pair's folder (or what it keeps there) is a symbolic
    /// link, not a folder, or another user's: nothing is written through it.
    UnsafeStateFolder {
        /// The entry at fault.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The folder was synced before (its marker says so) but its index is gone: without it
    /// a restored snapshot cannot be told from the current state.
    IndexMissing {
        /// The marker's generation.
        found: u64,
    },
    /// The index was built with another Dropbox account than the one linked now.
    AccountChanged {
        /// The account the pair was synced with (its email, or id).
        synced_with: String,
        /// The account linked now.
        linked: String,
    },
    /// The pair's folder on Dropbox is not where the pair syncs it any more: moved (renamed on
    /// the web), deleted, or replaced by another folder of the same name. Nothing is synced,
    /// so it is never made again at the old place and nothing here is deleted.
    RemoteFolderGone {
        /// The pair's folder on Dropbox (in the app folder).
        path: String,
        /// Where it is now, if Dropbox still has it (in the app folder).
        moved_to: Option<String>,
        /// Another folder now sits at `path`.
        replaced: bool,
    },
    /// The user paused.
    User,
}

impl PauseReason {
    /// What happened and what to do, for a user of `sync --once` (`one_shot`: there is no
    /// running engine to resume; the next run is told to go ahead) or of the daemon and app.
    pub fn describe(&self, one_shot: bool) -> String {
        let confirm = if one_shot {
            "`nuvosync sync --once --confirm-deletes`"
        } else {
            "`nuvosync resume --confirm-deletes` (or confirm in the app)"
        };
        match self {
            PauseReason::MissingRoot { path } => format!(
                "the local folder {} is missing or empty — if it is on a drive or network share, mount it; nothing is deleted while it is so (to start this folder afresh, remove the pair and add it again)",
                path.display()
            ),
            PauseReason::MassDelete { side, count, total } => {
                let here = if side == "local" {
                    "this computer"
                } else {
                    "Dropbox"
                };
                format!(
                    "this sync would delete {count} of {total} files on {here} — if that is intended, run {confirm}; otherwise restore the missing files (the threshold is the setting mass-delete-percent / mass-delete-min-files)"
                )
            }
            PauseReason::RestoreDetected { .. } => "the local folder holds an older state than nuvosync last synced (a snapshot was restored?) — run `nuvosync restore --plan` to see what would change and `nuvosync restore --apply` to make the restored files the authority, or `nuvosync restore --continue` if this was not a restore".to_string(),
            PauseReason::EmptyRemote { known } => format!(
                "Dropbox shows the folder empty but {known} files were synced — check the folder on dropbox.com; if it was emptied on purpose, run {confirm}"
            ),
            PauseReason::UnsafeStateFolder { path, problem } => format!(
                "nuvosync's state folder {} {problem} — nuvosync never writes through links or into another user's folder, so this pair is stopped. If you did not set it up so on purpose, remove it (`rm {}` removes a link, not what it points to) and sync again; nuvosync then makes a new one and, as its restore marker was in it, asks once whether the folder was restored from a snapshot (`nuvosync restore --continue --yes` if not)",
                path.display(),
                path.display()
            ),
            PauseReason::IndexMissing { found } => format!(
                "this folder was synced before (its marker is at generation {found}) but its sync index is gone — without it nuvosync cannot tell a restored snapshot from the current state, so it stops rather than guess. If you have the index file, put it back; otherwise run `nuvosync restore --plan` to see how the folder differs from Dropbox, then `nuvosync restore --continue --yes` to sync it afresh (where both sides differ, both versions are kept) or `nuvosync restore --apply` if the folder was restored from a snapshot"
            ),
            PauseReason::AccountChanged { synced_with, linked } => format!(
                "this folder was synced with the Dropbox account {synced_with}, but {linked} is linked now — nothing is synced, so the two accounts are never mixed. Link {synced_with} again (`nuvosync unlink`, then `nuvosync link`), or, to sync this folder with {linked} from now on, remove the pair and add it again (`nuvosync pair remove`, `nuvosync pair add`: both sides are kept, and where they differ both versions are)"
            ),
            PauseReason::RemoteFolderGone {
                path,
                moved_to,
                replaced,
            } => {
                let app = nuvosync_dropbox::APP_FOLDER;
                let what = match (moved_to, replaced) {
                    (Some(to), false) => format!(
                        "the Dropbox folder {path} this pair syncs was moved to {to} (Apps/{app} on dropbox.com)"
                    ),
                    (Some(to), true) => format!(
                        "the folder at {path} on Dropbox is not the one this pair synced: that one was moved to {to} (Apps/{app} on dropbox.com) and another folder was made in its place"
                    ),
                    (None, false) => format!(
                        "the Dropbox folder {path} this pair syncs was deleted or moved out of Apps/{app}"
                    ),
                    (None, true) => format!(
                        "the folder at {path} on Dropbox is not the one this pair synced: that one was deleted or moved out of Apps/{app}, and another folder was made in its place"
                    ),
                };
                let back = match (moved_to, replaced) {
                    (Some(to), false) => format!("move {to} back to {path} on dropbox.com"),
                    (Some(to), true) => format!(
                        "move the new {path} aside and {to} back to {path} on dropbox.com"
                    ),
                    (None, _) => format!(
                        "restore it at {path} on dropbox.com (Deleted files), or move it back there"
                    ),
                };
                format!(
                    "{what} — nothing is synced, so the old folder is not made again and nothing here is deleted. To go on, {back} and sync runs again; or, to sync this folder with the Dropbox folder where it is now, remove the pair and add it again with that path (`nuvosync pair remove`, `nuvosync pair add`: both sides are kept, and where they differ both versions are)"
                )
            }
            PauseReason::User => "paused — run `nuvosync resume` to continue".to_string(),
        }
    }
}

impl std::fmt::Display for PauseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(false))
    }
}

/// A sync run failed or stopped.
#[derive(Debug, Error)]
pub enum SyncError {
    /// A guard paused the pair.
    #[error("{0}")]
    Paused(PauseReason),
    /// Dropbox failed (after retries).
    #[error("{0}")]
    Remote(#[from] DbxError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Local IO failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Rounds kept producing work.
    #[error(
        "sync did not settle after {0} rounds — something keeps changing the files; see `nuvosync status`"
    )]
    NoProgress(usize),
    /// A request that cannot be done as asked; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
}

impl From<ScanError> for SyncError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::MissingRoot(path) => SyncError::Paused(PauseReason::MissingRoot { path }),
        }
    }
}

/// What a sync run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// Files uploaded.
    pub uploaded: u64,
    /// Files downloaded.
    pub downloaded: u64,
    /// Deleted on Dropbox.
    pub deleted_remote: u64,
    /// Deleted locally (to the trash).
    pub deleted_local: u64,
    /// Moves and renames.
    pub moved: u64,
    /// Folders created.
    pub folders: u64,
    /// Conflicts (both versions kept).
    pub conflicts: u64,
    /// Planning rounds.
    pub rounds: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Files that could not be synced, with why.
    pub failed: Vec<Issue>,
    /// Everything currently wrong with single files.
    pub issues: Vec<Issue>,
}

/// Counters shared with the executor.
#[derive(Default, Debug)]
pub struct Counters {
    /// See [`Report`].
    pub uploaded: AtomicU64,
    /// See [`Report`].
    pub downloaded: AtomicU64,
    /// See [`Report`].
    pub deleted_remote: AtomicU64,
    /// See [`Report`].
    pub deleted_local: AtomicU64,
    /// See [`Report`].
    pub moved: AtomicU64,
    /// See [`Report`].
    pub folders: AtomicU64,
    /// See [`Report`].
    pub conflicts: AtomicU64,
    /// See [`Report`].
    pub bytes: AtomicU64,
}

impl Counters {
    /// Start counting from zero.
    pub fn reset(&self) {
        for c in [
            &self.uploaded,
            &self.downloaded,
            &self.deleted_remote,
            &self.deleted_local,
            &self.moved,
            &self.folders,
            &self.conflicts,
            &self.bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// One pair.
pub struct Pair {
    /// What it syncs.
    pub spec: PairSpec,
    /// Knobs.
    pub tuning: Tuning,
    pub(crate) index: Mutex<Index>,
    pub(crate) remote: Arc<dyn Remote>,
    pub(crate) root: RemoteRoot,
    pub(crate) rules: RwLock<Rules>,
    /// nuvosync's own folders (state, configuration, logs): never synced where they are
    /// inside the pair's folder. The index's folder is always one.
    private: RwLock<Vec<PathBuf>>,
    pub(crate) clashes: Mutex<Vec<LocalNode>>,
    pub(crate) failures: Mutex<HashMap<Key, u32>>,
    /// One commit at a time per account (shared by the pairs of an account).
    pub(crate) commit_lock: Arc<tokio::sync::Mutex<()>>,
    /// Events for front ends.
    pub events: Events,
    pub(crate) counters: Counters,
    /// Deletions beyond the guard were confirmed for the next run.
    pub(crate) deletes_confirmed: AtomicBool,
    pub(crate) pair_id: Mutex<Option<String>>,
    pub(crate) unstable: Mutex<Vec<String>>,
    /// Large uploads hold a chunk in memory each: only a few at a time.
    pub(crate) large_uploads: tokio::sync::Semaphore,
    /// Transfers of files above `Tuning::small_file`: `Tuning::transfers` at a time.
    pub(crate) transfer_slots: tokio::sync::Semaphore,
    /// Scans made since the pair was opened (idle must mean idle: see [`Pair::scans`]).
    scans: AtomicU64,
    /// Deletions of the last minutes: (when, local side, files).
    /// Keyed by (local side, key): a delete planned again in a later round (it did not go
    /// through, or came back) counts once, not once per round.
    pub(crate) recent_deletes: Mutex<DeleteWindow>,
    /// The pair's folder, opened through the file layer (once per run, in [`Pair::begin`]).
    files: Mutex<Option<Arc<crate::localfs::Root>>>,
    /// The desktop's trash, opened on first use (`None`: there is none, or it is off).
    os_trash: std::sync::OnceLock<Option<crate::localfs::OsTrash>>,
    /// When the trash and the history were last pruned.
    pruned: Mutex<Option<std::time::Instant>>,
    /// The linked account was found to be the index's (once per opening: see
    /// [`Pair::check_account`]).
    account_checked: AtomicBool,
    /// Big transfers in flight across rounds while a runner runs the pair.
    pub(crate) stage: crate::stage::Stage,
}

/// Deletions within this window count together for the mass-delete guard.
pub const DELETE_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);

/// Run blocking work without stalling other tasks of a multi-threaded runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

pub(crate) use crate::sync_lock::lock;

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
    CLOCK_SHIFT.load(Ordering::Relaxed)
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
    CLOCK_SHIFT.fetch_add(secs, Ordering::Relaxed) + secs
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    nuvosync_dropbox::client::timestamp(now())[..10].to_string()
}

impl Pair {
    /// Open a pair (its index is created on first use).
    pub fn open(
        spec: PairSpec,
        tuning: Tuning,
        remote: Arc<dyn Remote>,
        commit_lock: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Pair, SyncError> {
        Self::open_with_events(spec, tuning, remote, commit_lock, Events::default())
    }

    /// Open a pair that reports into a shared event channel.
    pub fn open_with_events(
        spec: PairSpec,
        tuning: Tuning,
        remote: Arc<dyn Remote>,
        commit_lock: Arc<tokio::sync::Mutex<()>>,
        events: Events,
    ) -> Result<Pair, SyncError> {
        let index = Index::open(&spec.index_path)?;
        let private: Vec<PathBuf> = spec
            .index_path
            .parent()
            .map(Path::to_path_buf)
            .into_iter()
            .collect();
        let (rules, problems) = Rules::load(&spec.local_root, &spec.excluded);
        let rules = rules
            .with_private(&crate::rules::private_keys(&spec.local_root, &private))
            .with_exported(&crate::export::copy_keys(&index));
        for p in problems {
            tracing::warn!(pair = %spec.name, "{p}");
        }
        let pair_id = index.meta("pair_id")?;
        let transfers = tuning.transfers.max(1);
        Ok(Pair {
            root: RemoteRoot::new(&spec.remote_root),
            spec,
            tuning,
            index: Mutex::new(index),
            remote,
            rules: RwLock::new(rules),
            private: RwLock::new(private),
            clashes: Mutex::new(vec![]),
            failures: Mutex::new(HashMap::new()),
            commit_lock,
            events,
            counters: Counters::default(),
            deletes_confirmed: AtomicBool::new(false),
            pair_id: Mutex::new(pair_id),
            unstable: Mutex::new(vec![]),
            large_uploads: tokio::sync::Semaphore::new(2),
            transfer_slots: tokio::sync::Semaphore::new(transfers),
            scans: AtomicU64::new(0),
            recent_deletes: Mutex::new(std::collections::HashMap::new()),
            files: Mutex::new(None),
            os_trash: std::sync::OnceLock::new(),
            pruned: Mutex::new(None),
            account_checked: AtomicBool::new(false),
            stage: crate::stage::Stage::default(),
        })
    }

    /// The local folder.
    pub fn root(&self) -> &Path {
        &self.spec.local_root
    }

    /// The pair's folder as the checked file layer sees it: opened (and its state folder
    /// checked) at the start of each run, or now if no run began yet.
    pub fn files(&self) -> Result<Arc<crate::localfs::Root>, SyncError> {
        if let Some(r) = lock(&self.files).as_ref() {
            return Ok(r.clone());
        }
        self.open_files()
    }

    /// Open the pair's folder through the file layer and check its state folder.
    fn open_files(&self) -> Result<Arc<crate::localfs::Root>, SyncError> {
        let root =
            crate::localfs::Root::open(self.tuning.fs.clone(), self.root()).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    SyncError::Paused(PauseReason::MissingRoot {
                        path: self.root().to_path_buf(),
                    })
                } else {
                    SyncError::Io {
                        what: format!("opening the synced folder {}", self.root().display()),
                        source: e,
                    }
                }
            })?;
        match root.check_state() {
            Ok(()) => {}
            Err(crate::localfs::StateError::Unsafe(p)) => {
                return Err(SyncError::Paused(PauseReason::UnsafeStateFolder {
                    path: p.path,
                    problem: p.problem,
                }));
            }
            Err(crate::localfs::StateError::Io(source)) => {
                return Err(SyncError::Io {
                    what: "checking nuvosync's state folder in the synced folder".into(),
                    source,
                });
            }
        }
        let root = Arc::new(root);
        *lock(&self.files) = Some(root.clone());
        Ok(root)
    }

    /// The desktop's trash, if deletes go there.
    pub(crate) fn os_trash(&self) -> Option<crate::localfs::OsTrash> {
        if !self.tuning.os_trash {
            return None;
        }
        self.os_trash
            .get_or_init(|| crate::localfs::OsTrash::home(&self.tuning.fs))
            .clone()
    }

    /// The Dropbox root.
    pub fn remote_root(&self) -> &RemoteRoot {
        &self.root
    }

    /// The Dropbox client.
    pub fn remote(&self) -> &Arc<dyn Remote> {
        &self.remote
    }

    /// Run `f` with the index.
    pub fn with_index<T>(&self, f: impl FnOnce(&mut Index) -> T) -> T {
        f(&mut lock(&self.index))
    }

    /// Approve deletions beyond the mass-delete guard (and an empty Dropbox listing) once.
    pub fn confirm_deletes(&self) {
        self.deletes_confirmed.store(true, Ordering::SeqCst);
    }

    /// Reload `.nuvosyncignore` and the exclusions.
    pub fn reload_rules(&self, excluded: &[String]) {
        let (rules, problems) = Rules::load(&self.spec.local_root, excluded);
        for p in problems {
            tracing::warn!(pair = %self.spec.name, "{p}");
        }
        let private = self
            .private
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let keys = crate::rules::private_keys(&self.spec.local_root, &private);
        if !keys.is_empty() {
            tracing::info!(pair = %self.spec.name, folders = ?keys, "nuvosync's own folders are inside this pair's folder: they are never synced");
        }
        let exported = self.rules().exported().to_vec();
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) =
            rules.with_private(&keys).with_exported(&exported);
    }

    /// The local copies of exported documents ([`crate::export`]), never synced as files.
    pub(crate) fn set_exported(&self, keys: &[Key]) {
        let mut r = self.rules.write().unwrap_or_else(|p| p.into_inner());
        *r = r.clone().with_exported(keys);
    }

    /// nuvosync's own folders — its state (index, links, logs), configuration, runtime files:
    /// never synced where they are inside the pair's folder (compared by real path). The
    /// folder of the pair's index is always one of them.
    pub fn set_private_folders(&self, dirs: &[PathBuf]) {
        {
            let mut p = self.private.write().unwrap_or_else(|p| p.into_inner());
            let index_dir = self.spec.index_path.parent().map(Path::to_path_buf);
            *p = dirs.iter().cloned().chain(index_dir).collect();
        }
        let excluded: Vec<String> = self.rules().excluded().to_vec();
        self.reload_rules(&excluded);
    }

    /// Big transfers in flight (their keys), while a runner runs the pair.
    pub fn transfers_in_flight(&self) -> BTreeSet<Key> {
        crate::stage::in_flight(self)
    }

    /// The rules in force.
    pub fn rules(&self) -> Rules {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    // ------------------------------------------------------------ guards

    /// Check that the local folder is there and is the state nuvosync last synced; open it
    /// through the file layer for this run (its state folder checked).
    pub fn check_folder(&self) -> Result<(), SyncError> {
        let root = self.root();
        // Gone, or an empty folder where synced files and nuvosync's marker were — not even
        // `.nuvosync` in it: the mount point of a drive that is not mounted, far more likely
        // than a restore (which the marker check would report, and whose fix would take the
        // empty folder for the truth).
        let empty = std::fs::read_dir(root).map(|mut d| d.next().is_none());
        let gone = match empty {
            Err(_) => true,
            Ok(true) => {
                let ix = lock(&self.index);
                ix.meta("generation")?.is_some() && ix.count("local")? > 0
            }
            Ok(false) => false,
        };
        if gone {
            return Err(SyncError::Paused(PauseReason::MissingRoot {
                path: root.to_path_buf(),
            }));
        }
        let files = self.open_files()?;
        let (expected, pending) = {
            let ix = lock(&self.index);
            (
                ix.meta("generation")?.and_then(|g| g.parse().ok()),
                ix.meta("pending_generation")?.and_then(|g| g.parse().ok()),
            )
        };
        let found = marker::read_at(&files).map_err(|source| SyncError::Io {
            what: format!(
                "reading the pair's marker {}",
                marker::marker_path(root).display()
            ),
            source,
        })?;
        let pair_id = lock(&self.pair_id).clone();
        match marker::verdict(found.as_ref(), pair_id.as_deref(), expected, pending) {
            Verdict::Fresh => Ok(()),
            Verdict::Consistent => {
                // A bump interrupted by a crash: complete it (the marker has the pending
                // generation) or forget it (the marker kept the old one).
                if let (Some(p), Some(m)) = (pending, &found) {
                    self.settle_generation((m.generation == p).then_some(p))?;
                }
                Ok(())
            }
            Verdict::IndexBehind { found, expected } => {
                tracing::warn!(pair = %self.spec.name, found, expected, "the index is older than the folder's marker (restored from a backup?): it takes the marker's generation; the folder is not a restored snapshot");
                self.settle_generation(Some(found))?;
                Ok(())
            }
            Verdict::Restored { found, expected } => {
                Err(SyncError::Paused(PauseReason::RestoreDetected {
                    found,
                    expected,
                }))
            }
            Verdict::IndexMissing { found } => {
                Err(SyncError::Paused(PauseReason::IndexMissing { found }))
            }
        }
    }

    /// The file layer's barrier before the index records what the disk holds (a power-cut
    /// twin stops the engine here once the power is off; the real disk passes).
    pub(crate) fn barrier(&self) -> Result<(), SyncError> {
        self.tuning.fs.barrier().map_err(|source| SyncError::Io {
            what: "recording the folder's state".into(),
            source,
        })
    }

    /// Drop the pending generation, making `generation` the current one if given — one
    /// transaction.
    fn settle_generation(&self, generation: Option<u64>) -> Result<(), SyncError> {
        self.tuning.fs.barrier().map_err(|source| SyncError::Io {
            what: "recording the pair's generation".into(),
            source,
        })?;
        let mut ix = lock(&self.index);
        let mut b = ix.batch()?;
        if let Some(g) = generation {
            b.set_meta("generation", &g.to_string())?;
        }
        b.del_meta("pending_generation")?;
        b.commit()?;
        Ok(())
    }

    /// Record that the folder's state moved on: marker and index generation + 1, in the
    /// order that survives a power cut at any point (see [`crate::marker`]).
    pub(crate) fn bump_generation(&self) -> Result<(), SyncError> {
        let fs_err = |what: &str| {
            let what = what.to_string();
            move |source| SyncError::Io { what, source }
        };
        let files = self.files()?;
        let (pair_id, next) = {
            let mut ix = lock(&self.index);
            let current: u64 = ix
                .meta("generation")?
                .and_then(|g| g.parse().ok())
                .unwrap_or(0);
            let mut id = lock(&self.pair_id);
            let fresh = id.is_none().then(|| {
                format!(
                    "{:016x}{:016x}",
                    rand::random::<u64>(),
                    rand::random::<u64>()
                )
            });
            let next = current + 1;
            // 1. The index: the pending generation (and a new pair's id), durably.
            self.tuning
                .fs
                .barrier()
                .map_err(fs_err("recording the pair's generation"))?;
            let mut b = ix.batch()?;
            if let Some(f) = &fresh {
                b.set_meta("pair_id", f)?;
            }
            b.set_meta("pending_generation", &next.to_string())?;
            b.commit()?;
            if let Some(f) = fresh {
                *id = Some(f);
            }
            (id.clone().unwrap_or_default(), next)
        };
        // 2. The marker, durably.
        marker::write(
            &files,
            &Marker {
                pair_id,
                generation: next,
            },
        )
        .map_err(fs_err("writing the pair marker"))?;
        // 3. The index: the new generation, the pending one dropped — one transaction.
        self.settle_generation(Some(next))
    }

    /// The index belongs to one Dropbox account: the first time it meets one, it keeps its
    /// id; after that, a pair opened with another account linked stops here (a cursor, ids and
    /// revisions of one account mean nothing in another, and syncing would merge the two).
    /// Asked once per opening of the pair.
    pub async fn check_account(&self) -> Result<(), SyncError> {
        if self.account_checked.load(Ordering::SeqCst) {
            return Ok(());
        }
        let linked = self.remote.account().await?;
        let stored = {
            let ix = lock(&self.index);
            (ix.meta("account_id")?, ix.meta("account_email")?)
        };
        match stored {
            (Some(id), _) if id == linked.account_id => {}
            (Some(id), email) => {
                let name = |email: Option<String>, id: &str| match email {
                    Some(e) if !e.is_empty() => e,
                    _ => id.to_string(),
                };
                return Err(SyncError::Paused(PauseReason::AccountChanged {
                    synced_with: name(email, &id),
                    linked: name(Some(linked.email.clone()), &linked.account_id),
                }));
            }
            (None, _) => {
                // A new index (or one from before accounts were kept): it is this account's.
                let mut ix = lock(&self.index);
                let mut b = ix.batch()?;
                b.set_meta("account_id", &linked.account_id)?;
                b.set_meta("account_email", &linked.email)?;
                b.commit()?;
            }
        }
        self.account_checked.store(true, Ordering::SeqCst);
        Ok(())
    }

    // ------------------------------------------------------------ observing

    /// Scan the local folder (or some paths in it) into the index. Returns whether anything changed.
    pub async fn scan(&self, scopes: &[String]) -> Result<bool, SyncError> {
        blocking(|| self.scan_now(scopes))
    }

    /// Scan the whole folder (or `scopes`) and, at the same time, fetch Dropbox's changes:
    /// the walk is disk-bound and the listing waits on the network, so they overlap. Returns
    /// whether each found anything.
    pub async fn observe(
        &self,
        scopes: &[String],
    ) -> (Result<bool, SyncError>, Result<bool, SyncError>) {
        match tokio::runtime::Handle::try_current() {
            // The walk runs on a thread of its own while this one drives the listing (a
            // `join!` of the two would not overlap: the walk blocks the task it runs in).
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| {
                    std::thread::scope(|s| {
                        let walk = s.spawn(|| self.scan_now(scopes));
                        let pulled = h.block_on(self.pull());
                        let scanned = walk
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                        (scanned, pulled)
                    })
                })
            }
            _ => (self.scan(scopes).await, self.pull().await),
        }
    }

    fn scan_now(&self, scopes: &[String]) -> Result<bool, SyncError> {
        self.scans.fetch_add(1, Ordering::Relaxed);
        let root = self.spec.local_root.clone();
        let rules = self.rules();
        let threads = self.tuning.hash_threads;
        // Only the index rows inside the scopes (a scan after a file event looks at a few
        // paths), loaded while the folder is walked.
        let failed: Mutex<Option<SyncError>> = Mutex::new(None);
        let load_prev = || -> crate::index::Sigs {
            let keys: Vec<Key> = if scopes.is_empty() {
                vec![String::new()]
            } else {
                scopes.iter().map(|s| key(s)).collect()
            };
            match lock(&self.index).local_sigs_within(&keys) {
                Ok(prev) => prev,
                Err(e) => {
                    *lock(&failed) = Some(e.into());
                    Default::default()
                }
            }
        };
        let result = {
            let index = &self.index;
            // Only a file whose whole signature, ctime included, is the one stored.
            let reuse = |k: &str, sig: &Sig| -> Option<sync_core::ContentHash> {
                lock(index).stored_hash(k, sig).ok().flatten()
            };
            Scanner {
                root: &root,
                rules: &rules,
                threads,
            }
            .scan_loading(scopes, &load_prev, &reuse)?
        };
        if let Some(e) = lock(&failed).take() {
            return Err(e);
        }
        let whole = scopes.is_empty();
        let mut ix = lock(&self.index);
        let (owners, clashes) = {
            let hint = |k: &str| -> Option<String> {
                ix.synced(k)
                    .ok()
                    .flatten()
                    .map(|s| s.path)
                    .or_else(|| ix.local(k).ok().flatten().map(|l| l.path))
            };
            // Something that cannot be looked at is there as far as anyone can tell.
            let exists = |p: &str| {
                crate::localfs::abs(&root, p).is_ok_and(|p| {
                    !matches!(std::fs::symlink_metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
                }) && !result.gone.iter().any(|g| g == p)
            };
            resolve_clashes(result.found, &hint, &exists)
        };
        let owner_keys: BTreeSet<&str> = owners.iter().map(|f| f.key.as_str()).collect();
        let changed = !owners.is_empty() || !result.gone.is_empty();
        self.barrier()?;
        let mut b = ix.batch()?;
        for g in &result.gone {
            let k = key(g);
            if !owner_keys.contains(k.as_str()) {
                b.delete_local_subtree(&k)?;
            }
        }
        for f in &owners {
            b.put_local_scanned(&f.key, &f.node, f.ctime_ns)?;
        }
        b.commit()?;
        // What the scan reports is reported afresh: everywhere after a whole scan, within its
        // scopes after a partial one (so a folder readable again is planned again at once).
        const SCAN_CODES: &[&str] = &[
            "bad_name",
            "not_synced",
            "symlink",
            "special_file",
            "unreadable",
            "clash",
        ];
        if whole {
            ix.clear_issues_with_codes(SCAN_CODES)?;
        } else {
            ix.clear_issues_within(SCAN_CODES, &result.scopes)?;
        }
        if !result.unreadable.is_empty() {
            tracing::warn!(pair = %self.spec.name, paths = ?result.unreadable, "cannot look at some entries: they are kept as they were, and nothing is planned there until they can be read");
        }
        let t = now();
        for i in &result.issues {
            // "A link blocks a Dropbox file" says more than "a link is not synced".
            if ix.issue(&i.path)?.is_some_and(|old| old.code == "blocked") {
                continue;
            }
            ix.set_issue(&i.path, i.code, &i.message, t)?;
        }
        for c in &clashes {
            // The same rule as the planner's: names equal but for case clash on case; else on form.
            let k = key(&c.path);
            let owner = match owners.iter().find(|o| o.key == k) {
                Some(o) => Some(o.node.path.clone()),
                None => ix.local(&k)?.map(|l| l.path),
            };
            let unicode = owner.is_some_and(|o| o.to_lowercase() != c.path.to_lowercase());
            let message = if unicode {
                "another file here has the same name except for how its accents are encoded (Unicode normalisation), which Dropbox cannot keep apart; it is renamed with \"(unicode conflict)\""
            } else {
                "another file here has the same name except for upper/lower case, which Dropbox cannot keep apart; it is renamed with \"(case conflict)\""
            };
            ix.set_issue(&c.path, "clash", message, t)?;
        }
        drop(ix);
        let mut cl = lock(&self.clashes);
        if whole {
            *cl = clashes;
        } else {
            cl.retain(|c| !scopes.iter().any(|s| is_within(&key(&c.path), &key(s))));
            cl.extend(clashes);
        }
        drop(cl);
        if !result.unstable.is_empty() {
            tracing::debug!(pair = %self.spec.name, files = result.unstable.len(), "files still being written; they are picked up when they settle");
        }
        *lock(&self.unstable) = result.unstable;
        tracing::debug!(pair = %self.spec.name, entries = result.entries, hashed = result.hashed, "scanned");
        Ok(changed)
    }

    /// How many scans (whole or partial) the pair has made since it was opened.
    pub fn scans(&self) -> u64 {
        self.scans.load(Ordering::Relaxed)
    }

    /// Files that were being written during the last scan (to look at again shortly).
    pub fn unstable(&self) -> Vec<String> {
        lock(&self.unstable).clone()
    }

    /// Fetch remote changes into the index. Returns whether anything changed.
    pub async fn pull(&self) -> Result<bool, SyncError> {
        self.check_account().await?;
        let cursor = lock(&self.index).meta("cursor")?;
        match cursor {
            Some(c) => match self.pull_from(c).await {
                Err(SyncError::Remote(DbxError::CursorReset)) => {
                    tracing::info!(pair = %self.spec.name, "Dropbox reset the change cursor; listing the folder again");
                    lock(&self.index).del_meta("cursor")?;
                    self.full_listing().await
                }
                // The listed folder itself was deleted or moved: Dropbox answers `continue`
                // with a path error (https://developers.dropbox.com/detecting-changes-guide).
                // A full listing tells whether it is back (same id) or stops the pair.
                Err(SyncError::Remote(DbxError::NotFound)) if !self.root.path.is_empty() => {
                    tracing::warn!(pair = %self.spec.name, "the pair's folder on Dropbox is gone from where it was");
                    lock(&self.index).del_meta("cursor")?;
                    self.full_listing().await
                }
                other => other,
            },
            None => self.full_listing().await,
        }
    }

    async fn pull_from(&self, mut cursor: String) -> Result<bool, SyncError> {
        let mut changed = false;
        loop {
            let page = self.remote.list_continue(&cursor).await?;
            changed |= !page.entries.is_empty();
            self.apply_page(&page.entries, &page.cursor, None)?;
            cursor = page.cursor;
            if !page.has_more {
                return Ok(changed);
            }
        }
    }

    /// The pair's folder on Dropbox is not the one the index knows (`stored`, its id): where
    /// it went, if Dropbox still has it, makes the pause.
    async fn remote_folder_gone(&self, stored: Option<&str>, replaced: bool) -> SyncError {
        let moved_to = match stored {
            // Dropbox's ids read `id:…`, which is also how a path argument names one.
            Some(id) => match self.remote.get_metadata(id).await {
                Ok(Some(e)) if !matches!(e, nuvosync_dropbox::Entry::Deleted { .. }) => {
                    Some(e.path_display().to_string())
                }
                Ok(_) => None,
                Err(e) => return e.into(),
            },
            None => None,
        };
        tracing::warn!(pair = %self.spec.name, ?moved_to, replaced, "the pair's folder on Dropbox moved away");
        SyncError::Paused(PauseReason::RemoteFolderGone {
            path: self.root.path.clone(),
            moved_to,
            replaced,
        })
    }

    async fn full_listing(&self) -> Result<bool, SyncError> {
        // The pair's folder is known by its id once listed: a folder that went away (moved,
        // deleted) is never made again at the old place for a pair that synced, and another
        // folder made there is not taken for it (split brain: two folders, each half synced).
        let (stored_root, synced_before) = {
            let ix = lock(&self.index);
            (ix.meta("root_id")?, ix.count("synced")? > 0)
        };
        let first = match self.remote.list_folder(&self.root.path).await {
            Ok(p) => p,
            Err(DbxError::NotFound)
                if !self.root.path.is_empty() && (stored_root.is_some() || synced_before) =>
            {
                return Err(self.remote_folder_gone(stored_root.as_deref(), false).await);
            }
            Err(DbxError::NotFound) => {
                // A new pair: make its folder on Dropbox.
                if let Err(e) = self.remote.create_folder(&self.root.path).await {
                    if !matches!(e, DbxError::Conflict(_)) {
                        return Err(e.into());
                    }
                }
                self.remote.list_folder(&self.root.path).await?
            }
            Err(e) => return Err(e.into()),
        };
        // A recursive listing of a folder other than the app folder leads with the folder.
        let listed_root = if self.root.path.is_empty() {
            None
        } else {
            let lead = first.entries.iter().find_map(|e| match e {
                nuvosync_dropbox::Entry::Folder(d)
                    if matches!(self.root.relative(&d.path_display), Ok(Some(ref r)) if r.is_empty()) =>
                {
                    Some(d.id.clone())
                }
                _ => None,
            });
            match lead {
                Some(id) => Some(id),
                None => match self.remote.get_metadata(&self.root.path).await? {
                    Some(nuvosync_dropbox::Entry::Folder(d)) => Some(d.id),
                    _ => None,
                },
            }
        };
        if let (Some(stored), Some(listed)) = (&stored_root, &listed_root) {
            if stored != listed {
                return Err(self.remote_folder_gone(Some(stored), true).await);
            }
        }
        let known_before = lock(&self.index).count("synced")?;
        // A full listing reports every odd name on Dropbox again.
        lock(&self.index).clear_issues_with_codes(&["bad_remote_name", "not_downloadable"])?;
        let mut seen: BTreeSet<Key> = BTreeSet::new();
        let mut page = first;
        let mut entries = 0usize;
        loop {
            entries += page
                .entries
                .iter()
                .filter(|e| matches!(self.root.node(e), Ok(Some(_))))
                .count();
            // The cursor is stored only once the whole listing is in, so an interrupted listing
            // starts over rather than leaving rows unseen.
            self.apply_page(&page.entries, &page.cursor, Some(&mut seen))?;
            if !page.has_more {
                break;
            }
            page = self.remote.list_continue(&page.cursor).await?;
        }
        if entries == 0 && known_before > 0 && !self.deletes_confirmed.load(Ordering::SeqCst) {
            lock(&self.index).del_meta("cursor")?;
            return Err(SyncError::Paused(PauseReason::EmptyRemote {
                known: known_before,
            }));
        }
        // Rows not seen in a full listing are gone.
        crate::export::forget_unseen(self, &seen)?;
        let mut ix = lock(&self.index);
        let stale: Vec<Key> = ix
            .remote_keys()?
            .into_iter()
            .filter(|k| !seen.contains(k))
            .collect();
        let mut b = ix.batch()?;
        for k in &stale {
            b.delete_remote_subtree(k)?;
        }
        b.set_meta("cursor", &page.cursor)?;
        if let (None, Some(id)) = (&stored_root, &listed_root) {
            b.set_meta("root_id", id)?;
        }
        b.commit()?;
        Ok(true)
    }

    fn apply_page(
        &self,
        entries: &[nuvosync_dropbox::Entry],
        cursor: &str,
        mut seen: Option<&mut BTreeSet<Key>>,
    ) -> Result<(), SyncError> {
        // A path that could lead out of the folder means the answer is garbled: none of the
        // page is applied and its cursor is not stored, so it is fetched again.
        // So is an entry outside the folder: a listing of a folder holds only what is in it.
        let mut placed = Vec::with_capacity(entries.len());
        for e in entries {
            let bad = match self.root.relative(e.path_display()) {
                Err(bad) if bad.is_garbled() => Some(bad),
                Ok(None) => Some(crate::remote::BadRemotePath::Escapes {
                    path: e.path_display().to_string(),
                    problem: "it is not in the folder listed",
                }),
                _ => None,
            };
            if let Some(bad) = bad {
                tracing::warn!(pair = %self.spec.name, "{bad}");
                return Err(SyncError::Remote(bad.into()));
            }
            placed.push((e, self.root.node(e)));
        }
        crate::export::note_entries(self, entries, seen.as_deref_mut())?;
        let mut odd_names = vec![];
        let mut gone = vec![];
        let mut ix = lock(&self.index);
        let placed = recase_parents(placed, &ix)?;
        let mut b = ix.batch()?;
        for (e, node) in placed {
            match (e, node) {
                (nuvosync_dropbox::Entry::Deleted { path_display, .. }, _) => {
                    match self.root.relative(path_display) {
                        Ok(Some(rel)) => {
                            b.delete_remote_subtree(&key(&rel))?;
                            gone.push(key(&rel));
                        }
                        Err(bad) => odd_names.push((bad, false)),
                        Ok(None) => {}
                    }
                }
                (_, Ok(Some((k, node)))) => {
                    b.put_remote(&k, &node)?;
                    if let Some(s) = seen.as_deref_mut() {
                        s.insert(k);
                    }
                }
                (_, Ok(None)) => {}
                (_, Err(bad)) => odd_names.push((bad, true)),
            }
        }
        if seen.is_none() {
            b.set_meta("cursor", cursor)?;
        }
        b.commit()?;
        // What went from Dropbox no longer stays there: its status entry goes too.
        if !gone.is_empty() {
            for issue in ix.issues()? {
                let k = key(&issue.path);
                if issue.code == "not_downloadable" && gone.iter().any(|g| is_within(&k, g)) {
                    ix.clear_issue(&issue.path)?;
                }
            }
        }
        // A name Dropbox should not have, or a file it cannot download: that entry stays
        // there, reported once; the rest syncs.
        for (bad, present) in odd_names {
            if present {
                ix.set_issue(bad.path(), bad.code(), &bad.to_string(), now())?;
            } else {
                ix.clear_issue(bad.path())?;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ planning

    /// Load the trees for the dirty keys (and move partners) and plan.
    pub fn plan(&self) -> Result<(Trees, Plan, Vec<Key>), SyncError> {
        let rules = self.rules();
        let given_up: BTreeSet<Key> = lock(&self.failures)
            .iter()
            .filter(|(_, n)| **n >= self.tuning.max_failures)
            .map(|(k, _)| k.clone())
            .collect();
        let mut ix = lock(&self.index);
        // What is already the same on both sides needs no plan (nor the trees in memory).
        self.barrier()?;
        ix.agree_where_equal(&|p| !rules.skips_path(p))?;
        let dirty = ix.dirty()?;
        // What the scanner could not look at is unknown, not deleted nor unchanged: nothing is
        // planned there (no delete on Dropbox, no download over it) until it can be read. The
        // keys stay dirty and are planned once the issue is gone.
        let unreadable: Vec<Key> = ix
            .issue_paths("unreadable")?
            .iter()
            .map(|p| key(p))
            .collect();
        // Nor where a big transfer is in flight (at, above or below it): its observations
        // stay dirty and are planned once it ended (see `crate::stage`).
        let held = |k: &str| {
            given_up.iter().any(|g| is_within(k, g))
                || unreadable.iter().any(|u| is_within(k, u))
                || self.stage.holds(k)
        };
        let mut keys: BTreeSet<Key> = dirty.iter().filter(|k| !held(k)).cloned().collect();
        let mut trees = Trees::default();
        ix.load_keys(&keys, &mut trees)?;
        // Move partners: where a new local inode or remote id was synced before.
        let mut extra = ix.synced_by_inodes_or_ids(
            trees
                .local
                .iter()
                .filter(|(k, _)| !trees.synced.contains_key(*k))
                .map(|(_, l)| l.inode),
            trees
                .remote
                .iter()
                .filter(|(k, _)| !trees.synced.contains_key(*k))
                .map(|(_, r)| r.id.as_str()),
        )?;
        extra.retain(|k| !keys.contains(k) && !held(k));
        ix.load_keys(&extra, &mut trees)?;
        keys.extend(extra);
        drop(ix);
        // What the rules skip is not planned on either side.
        trees.local.retain(|_, n| !rules.skips_path(&n.path));
        trees.remote.retain(|_, n| !rules.skips_path(&n.path));
        trees.synced.retain(|_, n| !rules.skips_path(&n.path));
        trees.clashes = lock(&self.clashes)
            .iter()
            .filter(|c| !rules.skips_path(&c.path))
            .cloned()
            .collect();
        let settings = Settings {
            host: self.tuning.host.clone(),
            date: today(),
            // nuvosync's own folders are as untouchable as excluded ones.
            excluded: rules
                .excluded()
                .iter()
                .chain(rules.private())
                .cloned()
                .collect(),
        };
        let plan = sync_core::plan(&trees, &settings);
        Ok((trees, plan, keys.into_iter().collect()))
    }

    /// The mass-delete guard: files a plan deletes on each side, plus what was deleted in the
    /// last [`DELETE_WINDOW`] (so a mass delete arriving in pieces still counts as one),
    /// against what is there.
    pub fn check_deletes(&self, plan: &Plan) -> Result<(), SyncError> {
        let mut window = lock(&self.recent_deletes);
        let cutoff = std::time::Instant::now() - DELETE_WINDOW;
        window.retain(|_, (t, _)| *t >= cutoff);
        let deletes = plan.ops.iter().any(|op| {
            matches!(
                op,
                sync_core::Op::DeleteLocal { .. } | sync_core::Op::DeleteRemote { .. }
            )
        });
        // A confirmation approves the deletions the user was shown — the next plan that has
        // any — not whatever else is deleted later while this run goes on (a co-author's
        // deletions arriving meanwhile are counted afresh).
        if deletes && self.deletes_confirmed.swap(false, Ordering::SeqCst) {
            window.clear();
            return Ok(());
        }
        let ix = lock(&self.index);
        // The synced files a delete takes away (a folder without any counts none).
        let count_files = |k: &str| -> Result<u64, SyncError> {
            let mut t = Trees::default();
            ix.load_subtree(k, &mut t)?;
            Ok(t.synced.values().filter(|s| !s.is_folder()).count() as u64)
        };
        let (total, _) = ix.synced_totals()?;
        let mut planned: Vec<(bool, String, u64)> = vec![];
        for op in &plan.ops {
            match op {
                sync_core::Op::DeleteLocal { key, .. } => {
                    planned.push((true, key.clone(), count_files(key)?))
                }
                sync_core::Op::DeleteRemote { key, .. } => {
                    planned.push((false, key.clone(), count_files(key)?))
                }
                _ => {}
            }
        }
        drop(ix);
        for (side, is_local) in [("local", true), ("remote", false)] {
            let n: u64 = planned
                .iter()
                .filter(|(l, _, _)| *l == is_local)
                .map(|(_, _, n)| n)
                .sum();
            if n == 0 {
                continue;
            }
            let earlier = earlier_deletes(&window, &planned, is_local);
            let burst = n + earlier;
            // Against what was there before the burst began.
            let base = total + earlier;
            if self.tuning.delete_guard.trips(burst, base) {
                return Err(SyncError::Paused(PauseReason::MassDelete {
                    side: side.into(),
                    count: burst,
                    total: base,
                }));
            }
        }
        let now = std::time::Instant::now();
        for (l, k, n) in planned {
            window.insert((l, k), (now, n));
        }
        Ok(())
    }

    // ------------------------------------------------------------ the loop

    /// Get ready for a run: the folder must be there (and not a restored snapshot); leftovers
    /// of interrupted downloads go; counters and failures start afresh.
    pub fn begin(&self) -> Result<(), SyncError> {
        self.check_folder()?;
        let files = self.files()?;
        files.clean_temp();
        self.prune();
        // Operations blocked last time are tried again; they say so again if still blocked.
        lock(&self.index).clear_issues_with_codes(&["blocked"])?;
        lock(&self.failures).clear();
        self.counters.reset();
        Ok(())
    }

    /// Keep the pair's trash and its activity history within their limits (at most once an
    /// hour; a failure is logged, never stops a run).
    fn prune(&self) {
        {
            let mut last = lock(&self.pruned);
            if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(3600)) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        self.prune_now();
    }

    /// Prune the pair's trash and its history now (see [`Retention`]).
    pub fn prune_now(&self) {
        let t = now();
        let day = 86_400i64;
        let (trash_days, trash_mb, history_days, history_entries) = self.tuning.retention.get();
        if let Ok(files) = self.files() {
            match files.prune_trash(
                t,
                i64::from(trash_days) * day,
                trash_mb.saturating_mul(1 << 20),
            ) {
                Ok((0, _)) => {}
                Ok((n, bytes)) => {
                    tracing::info!(pair = %self.spec.name, batches = n, bytes, "old deletions removed from the pair's trash")
                }
                Err(e) => {
                    tracing::warn!(pair = %self.spec.name, "cannot prune the pair's trash: {e}")
                }
            }
        }
        let before = t - i64::from(history_days) * day;
        let mut ix = lock(&self.index);
        if let Err(e) = ix
            .prune_history(before)
            .and_then(|_| ix.cap_history(history_entries))
        {
            tracing::warn!(pair = %self.spec.name, "cannot prune the history: {e}");
        }
    }

    /// Plan and execute until nothing is left. With `settle` (one-shot runs, called right
    /// after a full scan), a full rescan and a pull at the end make sure nothing changed
    /// while operations ran; the rescan is skipped when nothing ran since the last one, so
    /// a run with nothing to do walks the folder once. Otherwise the watcher and the
    /// longpoll report later changes. Returns the number of rounds.
    pub async fn converge(&self, settle: bool) -> Result<u64, SyncError> {
        // Exported copies of documents gone from Dropbox go first, so that a folder deleted
        // there with a document in it is not kept here for the copy alone.
        crate::export::sync_exports(self).await?;
        let mut rounds = 0u64;
        let mut quiet = 0;
        let mut executed_since_scan = false;
        loop {
            rounds += 1;
            if rounds > 500 {
                return Err(SyncError::NoProgress(rounds as usize));
            }
            let (_, plan, considered) = self.plan()?;
            if plan.is_empty() {
                lock(&self.index).clear_dirty(&considered)?;
                quiet += 1;
                let unstable = self.unstable();
                if !unstable.is_empty() && quiet <= 10 {
                    // Files were being written: give them a moment, then look again.
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    self.scan(&unstable).await?;
                    continue;
                }
                if rounds == 1 {
                    // Nothing to do on what the caller has just observed on both sides.
                    break;
                }
                let local = if settle && std::mem::take(&mut executed_since_scan) {
                    self.scan(&[]).await?
                } else {
                    false
                };
                let remote = self.pull().await?;
                if (!local && !remote) || quiet > 3 {
                    let (_, again, considered) = self.plan()?;
                    if again.is_empty() {
                        lock(&self.index).clear_dirty(&considered)?;
                        break;
                    }
                }
                continue;
            }
            quiet = 0;
            #[cfg(feature = "testing")]
            if std::env::var_os("NUVOSYNC_TRACE_PLANS").is_some() {
                eprintln!("[{}] round {rounds}: {:?}", self.spec.name, plan.ops);
            }
            tracing::debug!(pair = %self.spec.name, round = rounds, ops = plan.ops.len(), "executing a plan");
            self.check_deletes(&plan)?;
            let executed = crate::exec::execute(self, plan).await;
            executed_since_scan = true;
            if executed.changed {
                self.bump_generation()?;
            }
            if let Some(e) = executed.fatal {
                return Err(e);
            }
            self.pull().await?;
        }
        self.deletes_confirmed.store(false, Ordering::SeqCst);
        crate::export::sync_exports(self).await?;
        if lock(&self.index).meta("generation")?.is_none() {
            self.bump_generation()?;
        }
        Ok(rounds)
    }

    /// Converge once: observe both sides, then plan and execute until nothing is left.
    pub async fn sync_once(&self) -> Result<Report, SyncError> {
        let r = self.sync_once_open().await;
        self.release_files();
        r
    }

    async fn sync_once_open(&self) -> Result<Report, SyncError> {
        self.begin()?;
        // Before the walk and the listing overlap (where the run cannot be cut off).
        self.check_account().await?;
        self.events.send(Event::State {
            pair: self.spec.name.clone(),
            state: PairState::Syncing,
        });
        let (scanned, pulled) = self.observe(&[]).await;
        scanned?;
        pulled?;
        let rounds = self.converge(true).await?;
        let report = self.report(rounds)?;
        self.events.send(Event::State {
            pair: self.spec.name.clone(),
            state: PairState::UpToDate,
        });
        Ok(report)
    }

    /// Let go of the pair's folder between runs (the next run opens and checks it again): an
    /// open folder keeps the drive it is on from being unmounted.
    pub fn release_files(&self) {
        *lock(&self.files) = None;
    }

    /// What the current run did so far.
    pub fn report(&self, rounds: u64) -> Result<Report, SyncError> {
        let c = &self.counters;
        let ix = lock(&self.index);
        let issues = ix.issues()?;
        let given_up: BTreeSet<Key> = lock(&self.failures)
            .iter()
            .filter(|(_, n)| **n >= self.tuning.max_failures)
            .map(|(k, _)| k.clone())
            .collect();
        let failed = issues
            .iter()
            .filter(|i| given_up.contains(&key(&i.path)))
            .cloned()
            .collect();
        Ok(Report {
            uploaded: c.uploaded.load(Ordering::Relaxed),
            downloaded: c.downloaded.load(Ordering::Relaxed),
            deleted_remote: c.deleted_remote.load(Ordering::Relaxed),
            deleted_local: c.deleted_local.load(Ordering::Relaxed),
            moved: c.moved.load(Ordering::Relaxed),
            folders: c.folders.load(Ordering::Relaxed),
            conflicts: c.conflicts.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            rounds,
            failed,
            issues,
        })
    }

    /// Record a failure of an operation on `key`; after `max_failures` the key is left alone
    /// for this run and the issue stays in status.
    pub(crate) fn note_failure(
        &self,
        key: &str,
        path: &str,
        code: &str,
        message: &str,
        counts: bool,
    ) {
        if counts {
            let mut f = lock(&self.failures);
            *f.entry(key.to_string()).or_insert(0) += 1;
        }
        let _ = lock(&self.index).set_issue(path, code, message, now());
        self.events.send(Event::FileError {
            pair: self.spec.name.clone(),
            path: path.to_string(),
            message: message.to_string(),
        });
    }
}

/// A placed page entry: the entry, and the node it describes (or why it has none).
type Placed<'a> = (
    &'a nuvosync_dropbox::Entry,
    Result<Option<(String, sync_core::RemoteNode)>, crate::remote::BadRemotePath>,
);

/// Give each node of a page its parents' names as Dropbox last sent them for the parents
/// themselves. Only the last component of `path_display` is reliably cased ("the casing of
/// the parent folders may not be correct", files.stone `Metadata.path_display`): a folder
/// `Docs` may list its children as `/docs/a.txt` or `/DOCS/b.txt`, and a local folder made
/// from such a parent component would be a second folder on a case-sensitive disk. A parent's
/// name comes from its own entry in the page, else from the index, else (unknown) as sent.
fn recase_parents<'a>(placed: Vec<Placed<'a>>, ix: &Index) -> Result<Vec<Placed<'a>>, SyncError> {
    let last = |p: &str| p.rsplit('/').next().unwrap_or("").to_string();
    let mut names: HashMap<Key, String> = placed
        .iter()
        .filter_map(|(_, n)| match n {
            Ok(Some((k, node))) => Some((k.clone(), last(&node.path))),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(placed.len());
    for (e, n) in placed {
        let n = match n {
            Ok(Some((k, mut node))) => {
                let comps: Vec<&str> = node.path.trim_start_matches('/').split('/').collect();
                let mut path = String::new();
                for (i, comp) in comps.iter().enumerate() {
                    path.push('/');
                    if i + 1 == comps.len() {
                        path.push_str(comp);
                        break;
                    }
                    let pk = key(&format!("{path}{comp}"));
                    let name = match names.get(&pk) {
                        Some(n) => n.clone(),
                        None => {
                            let known = ix.remote(&pk)?.map(|r| last(&r.path));
                            let n = known.unwrap_or_else(|| comp.to_string());
                            names.insert(pk, n.clone());
                            n
                        }
                    };
                    path.push_str(&name);
                }
                node.path = path;
                Ok(Some((k, node)))
            }
            other => other,
        };
        out.push((e, n));
    }
    Ok(out)
}

/// What the guard's window holds: (local side, key) → (when, files deleted).
type DeleteWindow = HashMap<(bool, String), (std::time::Instant, u64)>;

/// Files deleted on one side earlier in this burst, each key once (not the ones planned
/// again now). One lookup per entry: a burst of deletes arriving in rounds of thousands must
/// not compare every earlier delete with every new one.
fn earlier_deletes(window: &DeleteWindow, planned: &[(bool, String, u64)], is_local: bool) -> u64 {
    let now: std::collections::HashSet<(bool, &str)> =
        planned.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
    window
        .iter()
        .filter(|((l, k), _)| *l == is_local && !now.contains(&(*l, k.as_str())))
        .map(|(_, (_, n))| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::{DeleteGuard, earlier_deletes};

    #[test]
    fn earlier_deletes_of_a_burst_are_counted_in_linear_time() {
        // A burst of n deletes: half already in the window from earlier rounds, the other
        // half (and a few of the earlier ones again) planned now.
        let time = |n: usize| {
            let t0 = std::time::Instant::now();
            let window: super::DeleteWindow = (0..n / 2)
                .map(|i| ((true, format!("/d{}/f{i}", i % 97)), (t0, 1)))
                .collect();
            let planned: Vec<(bool, String, u64)> = (n / 2 - 10..n)
                .map(|i| (true, format!("/d{}/f{i}", i % 97), 1))
                .collect();
            // The best of three: a run of a few milliseconds is at the mercy of the host.
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let local = earlier_deletes(&window, &planned, true);
                    let remote = earlier_deletes(&window, &planned, false);
                    let took = t.elapsed();
                    assert_eq!((local, remote), ((n / 2 - 10) as u64, 0));
                    took
                })
                .min()
                .unwrap()
        };
        let (ts, tl) = (time(10_000), time(100_000));
        let ratio = tl.as_secs_f64() / ts.as_secs_f64().max(1e-9);
        // Linear: about 10 times for ten times the deletes (up to 30 here, where the larger
        // sets leave the CPU caches); n²: 100.
        assert!(ratio < 50.0, "10k: {ts:?}, 100k: {tl:?} ({ratio:.1}×)");
    }

    #[test]
    fn the_delete_guard_needs_both_the_share_and_the_count() {
        let g = DeleteGuard::default();
        assert!(!g.trips(50, 60), "50 files is the floor, not above it");
        assert!(g.trips(51, 60));
        assert!(!g.trips(51, 102), "exactly half is not more than half");
        assert!(g.trips(52, 102));
        g.set(90, 10);
        assert!(!g.trips(80, 100));
        assert!(g.trips(91, 100));
        assert!(
            !g.trips(10, 10),
            "10 files is not more than the floor of 10"
        );
        g.set(100, 0);
        assert!(!g.trips(99, 100));
        assert!(
            g.trips(100, 100),
            "at 100 % only deleting everything pauses"
        );
        g.set(250, 0);
        assert_eq!(g.get(), (100, 0), "a share above 100 % is 100 %");
    }
}
