//! One sync pair: a local folder and `/<Org>/<Space>/<Instance>` in the app folder.
//!
//! [`Pair`] observes both sides into the index (scanner, remote feed), plans with the pure
//! planner over the keys whose observations changed, checks the guards, and carries the plan
//! out (`crate::exec`), round after round until the three trees agree. Every completed
//! operation is recorded in one index transaction, so it can stop at any moment.
//!
//! What a pair syncs and its knobs ([`PairSpec`], [`Tuning`], [`Retention`], [`DeleteGuard`]:
//! `crate::settings`), why it stops or pauses and what a run did ([`SyncError`], [`Report`]:
//! `crate::outcome`) and the engine's wall clock ([`now`]: `crate::clock`) live below the
//! executor, which uses them too; they are re-exported here.
//!
//! - `guards`: the folder, generation, account and mass-delete checks;
//! - `observe`: the scanner and the remote feed into the index;
//! - `round`: plan, execute, converge.

mod guards;
mod observe;
mod round;

#[cfg(feature = "testing")]
pub use crate::clock::shift_clock;
pub use crate::clock::{now, today};
pub use crate::outcome::{Counters, PauseReason, Report, SyncError};
pub use crate::settings::{DeleteGuard, PairSpec, Retention, Tuning, hostname};
pub use guards::DELETE_WINDOW;
pub(crate) use guards::DeleteWindow;

use crate::events::Events;
use crate::index::Index;
use crate::remote::{Remote, RemoteRoot};
use crate::rules::Rules;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use sync_core::{Key, LocalNode};

/// One pair.
pub struct Pair {
    /// What it syncs.
    pub spec: PairSpec,
    /// Knobs.
    pub tuning: Tuning,
    pub(crate) index: Mutex<Index>,
    /// A read-only connection to the index for front ends, opened on first use
    /// ([`Pair::with_reader`]).
    reader: Mutex<Option<Index>>,
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
    /// What watches the folders the scans list, while a runner runs the pair with file events.
    pub(crate) watch: Mutex<Option<Arc<dyn crate::scan::WatchDirs + Send>>>,
}
pub(crate) use crate::sync_lock::{blocking, lock};

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
            reader: Mutex::new(None),
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
            watch: Mutex::new(None),
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

    /// Run `f` with a read-only view of the index: the last committed state, read without
    /// waiting for a round (which holds the index for seconds on a big tree). What front
    /// ends ask while a pair syncs (status, conflicts, history) reads through this. Should
    /// the view not open, `f` reads through the pair's own connection (and waits its turn).
    pub fn with_reader<T>(&self, f: impl FnOnce(&Index) -> T) -> T {
        let mut reader = lock(&self.reader);
        if reader.is_none() {
            match Index::open_reader(&self.spec.index_path) {
                Ok(ix) => *reader = Some(ix),
                Err(e) => {
                    tracing::warn!(pair = %self.spec.name, "{e}; reading through the pair's own connection");
                    drop(reader);
                    return f(&lock(&self.index));
                }
            }
        }
        f(reader.as_ref().expect("opened above"))
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

    /// The local copies of exported documents (`crate::export`), never synced as files.
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
        self.stage.in_flight()
    }

    /// The rules in force.
    pub fn rules(&self) -> Rules {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The pair's parts, lent to the executor, the transfer stage and the exported copies.
    pub(crate) fn ctx(&self) -> crate::exec::Ctx<'_> {
        crate::exec::Ctx {
            name: &self.spec.name,
            local_root: &self.spec.local_root,
            index: &self.index,
            remote: &self.remote,
            root: &self.root,
            tuning: &self.tuning,
            events: &self.events,
            counters: &self.counters,
            failures: &self.failures,
            transfer_slots: &self.transfer_slots,
            large_uploads: &self.large_uploads,
            commit_lock: &self.commit_lock,
            host: self,
        }
    }
}

impl crate::exec::Host for Pair {
    fn files(&self) -> Result<Arc<crate::localfs::Root>, SyncError> {
        Pair::files(self)
    }

    fn os_trash(&self) -> Option<crate::localfs::OsTrash> {
        Pair::os_trash(self)
    }

    fn rules(&self) -> Rules {
        Pair::rules(self)
    }

    fn set_exported(&self, keys: &[Key]) {
        Pair::set_exported(self, keys)
    }

    fn bump_generation(&self) -> Result<(), SyncError> {
        Pair::bump_generation(self)
    }

    fn scan<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> futures_util::future::BoxFuture<'a, Result<bool, SyncError>> {
        Box::pin(Pair::scan(self, scopes))
    }

    fn hand_off(&self, op: sync_core::Op) -> Option<sync_core::Op> {
        self.stage.take(&self.tuning, op)
    }
}

impl crate::stage::Owner for Pair {
    fn ctx(&self) -> crate::exec::Ctx<'_> {
        Pair::ctx(self)
    }

    fn stage(&self) -> &crate::stage::Stage {
        &self.stage
    }
}
