//! The local scanner: a parallel `lstat` walk of the pair's folder (or part of it) that
//! hashes only files whose signature — size, mtime, ctime, inode — changed since the last
//! scan. The ctime is there because size and mtime can stay the same across an edit (coarse
//! FAT/SMB timestamps, tools that put the mtime back, `touch -r`); the kernel sets the ctime
//! on every change, and nobody can set it back.
//!
//! It never follows symlinks and never records what it cannot sync (symlinks, FIFOs,
//! sockets, devices, names Dropbox refuses, non-UTF-8 names): those become [`ScanIssue`]s —
//! `not_synced` for the names Dropbox never syncs (`desktop.ini` & co, which is no error),
//! and a code saying what is wrong for the rest. A scope below a folder that is now a link
//! (or a file) is walked from that link, so nothing outside the pair's folder is ever seen.
//!
//! **Unknown is never "gone".** Only `NotFound` (or a parent that is no longer a folder)
//! means an entry was deleted. Any other error — a folder that can be listed but not entered
//! (`chmod 644`), `EACCES`, `EIO` or `ESTALE` from a network file system, a listing that breaks
//! off — keeps the previous state of that entry and everything below it
//! ([`ScanResult::unreadable`]) and raises an `unreadable` issue saying what to do; the pair
//! plans nothing there until it can be read again. Nor is a link or special file standing
//! where a synced file or folder was a delete of what was synced there: that is held too,
//! and the entry reported as not synced. A file that changes while it is hashed is left for
//! the next scan.
//!
//! `faults` (the `testing` feature) lets tests and the simulation make the scanner's own
//! calls fail (stat, list, read) under a folder, as a broken disk or share would.
//!
//! - `hash`: hashing a file against its signature; `walk`: the parallel walk and what each
//!   entry is; `paths`: scopes, path sets and clashing names.

#[cfg(any(test, feature = "testing"))]
pub mod faults;
mod hash;
mod paths;
#[cfg(test)]
mod tests;
mod walk;

pub use crate::localfs::sig_of;
#[cfg(feature = "testing")]
pub use crate::localfs::{ctime_ns, mtime_ns};
pub use hash::hash_file;
pub(crate) use paths::PathSet;
pub use paths::resolve_clashes;

use crate::index::{Sig, Sigs};
use crate::rules::Rules;
use crate::sync_lock::lock;
use paths::outermost;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use sync_core::path::key;
use sync_core::{ContentHash, Key, LocalKind, LocalNode};
pub(crate) use walk::gone;
use walk::unreadable_message;

/// Without the `testing` feature no fault is ever injected: the scanner's checks are empty.
#[cfg(not(any(test, feature = "testing")))]
mod faults {
    /// The call about to be made.
    #[derive(Clone, Copy)]
    pub(crate) enum Op {
        Stat,
        List,
        Read,
    }

    /// Never fails.
    #[inline(always)]
    pub(crate) fn check(_: &std::path::Path, _: Op) -> std::io::Result<()> {
        Ok(())
    }

    /// Never fails.
    #[inline(always)]
    pub(crate) fn check_entry(_: &std::fs::DirEntry) -> std::io::Result<()> {
        Ok(())
    }
}

/// A local node found new or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its key.
    pub key: Key,
    /// The node.
    pub node: LocalNode,
    /// Its status-change time (ns) when it was hashed, kept in the index with the hash; `None`
    /// when the file changed too recently for its timestamps to tell a later edit apart
    /// ([`RACY`]): the next scan then hashes it again.
    pub ctime_ns: Option<i64>,
}

/// A file whose mtime or ctime is less than this before the scan began (or after it) is
/// "racy", as git calls it: an edit in the same tick of a coarse clock — 2 s on FAT, a few
/// milliseconds elsewhere — would leave its signature as it is. Its hash is stored without
/// a ctime, so the next scan reads it again instead of trusting the signature.
pub const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// Something the scanner skipped, to be shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanIssue {
    /// Relative display path (lossy for non-UTF-8 names).
    pub path: String,
    /// Machine code.
    pub code: &'static str,
    /// What and what to do.
    pub message: String,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// New or changed nodes.
    pub found: Vec<Found>,
    /// Display paths that were known and are gone.
    pub gone: Vec<String>,
    /// Nodes whose name clashes with another on Dropbox (case or Unicode form only).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // read by the tests
    pub clashes: Vec<LocalNode>,
    /// Skipped entries.
    pub issues: Vec<ScanIssue>,
    /// Files still being written (left for the next scan).
    pub unstable: Vec<String>,
    /// Entries (and everything below them) that could not be looked at: their previous state
    /// is kept, not taken for deleted.
    pub unreadable: Vec<String>,
    /// The scopes walked, after merging and cutting at links (`""`: the whole folder).
    pub scopes: Vec<String>,
    /// Entries examined.
    pub entries: u64,
    /// Entries the walk held until it ended: those it saw before the index's signatures were
    /// loaded (after that, the unchanged ones are only counted and the others made into nodes
    /// at once).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // read by the tests
    pub held: u64,
    /// Files hashed.
    pub hashed: u64,
    /// Nodes handed to the stage of [`Scanner::scan_staging`] instead of kept in `found`.
    pub staged: u64,
    /// Bytes hashed.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // read by the tests
    pub hashed_bytes: u64,
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The pair's folder is missing or not a folder (unmounted, moved, deleted).
    #[error(
        "the local folder {0} is missing or not a folder — if it is on a drive that is not mounted, mount it; sync is paused until it is back"
    )]
    MissingRoot(PathBuf),
}

/// Scan settings.
pub struct Scanner<'a> {
    /// The pair's folder.
    pub root: &'a Path,
    /// Ignore and exclusion rules.
    pub rules: &'a Rules,
    /// Hashing threads.
    pub threads: usize,
    /// Told of each folder the walk is about to list (a running pair watches it for events
    /// then: after the watch is in place and before the listing, so nothing made in it is
    /// missed). Called from the walk's threads at once.
    pub watch: Option<&'a dyn WatchDirs>,
}

/// What the index holds for the scopes a scan walks.
pub trait Previous: Sync {
    /// Their signatures (loaded on a thread of its own while the folder is walked).
    fn sigs(&self) -> Sigs;
    /// Their paths, each handed to `each`. Read only when some known paths were not seen
    /// again (to say which are gone) or many paths are new (to know the keys in use).
    fn paths(&self, each: &mut dyn FnMut(&str));
}

/// A previous state given as a list (tests; a comparison with nothing).
impl Previous for &[(String, Sig)] {
    fn sigs(&self) -> Sigs {
        self.iter().map(|(p, s)| (p, *s)).collect()
    }

    fn paths(&self, each: &mut dyn FnMut(&str)) {
        for (p, _) in *self {
            each(p);
        }
    }
}

/// What wants to know each folder a scan lists, just before it lists it.
pub trait WatchDirs: Sync {
    /// `rel` (relative display path; `""`: the pair's folder) at `dir` is about to be listed.
    fn watch(&self, rel: &str, dir: &Path);
}

/// A walked entry before hashing.
struct Seen {
    rel: String,
    sig: Sig,
}

/// The signatures the index holds for the scopes, once loaded, and which of their rows the
/// walk has seen again. With them the walk keeps only what differs: on a restart of a
/// million unchanged files it holds next to nothing, where a list of every entry walked
/// took 150 MB (a path and a signature each) on top of the signatures.
struct Known {
    sigs: Sigs,
    seen: Vec<AtomicU64>,
}

/// How a walked entry compares with what the index holds for its path.
enum Compared {
    Unchanged,
    Changed,
    New,
}

impl Known {
    fn new(sigs: Sigs) -> Known {
        let seen = (0..sigs.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Known { sigs, seen }
    }

    /// Compare `s` with its row, and mark the row seen.
    fn compare(&self, s: &Seen) -> Compared {
        match self.sigs.position(&s.rel) {
            Some(i) => {
                self.seen[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
                if self.sigs.has_at(i, &s.sig) {
                    Compared::Unchanged
                } else {
                    Compared::Changed
                }
            }
            None => Compared::New,
        }
    }

    /// Every known path was seen again (each path is one row: nothing can be gone).
    fn all_seen(&self) -> bool {
        let seen: usize = self
            .seen
            .iter()
            .map(|w| w.load(Ordering::Relaxed).count_ones() as usize)
            .sum();
        seen == self.sigs.len()
    }

    /// Whether `path` is known and was not seen (nor asked about before: it is marked now).
    fn first_unseen(&self, path: &str) -> bool {
        self.sigs.position(path).is_some_and(|i| {
            let bit = 1 << (i % 64);
            self.seen[i / 64].fetch_or(bit, Ordering::Relaxed) & bit == 0
        })
    }
}

/// How many walked entries may wait for the index's signatures. The walk and the loading of
/// the signatures overlap; past this many entries the walk waits for them. Unbounded, a restart
/// of 1,000,000 files held some 600,000 entries (75 MB, half its peak) because the signatures
/// took about as long to load as the folder to walk; at this bound they take 8 MB.
const WAITING_AT_MOST: u64 = if cfg!(test) { 256 } else { 1 << 16 };

/// Where the walk's threads put what they see: compared at once with the known signatures
/// once they are loaded (the unchanged are only counted, the others handed to `at_once`, which
/// makes them into nodes on the walk's thread), kept for later before that (at most
/// [`WAITING_AT_MOST`]: then the walk waits for them); and what they could not sync or look at.
struct Sink<'a> {
    known: &'a OnceLock<Known>,
    kept: Mutex<Vec<Seen>>,
    /// What a new (`true`) or changed entry seen after the signatures were in is handed to.
    at_once: &'a (dyn Fn(&Known, Seen, bool) + Sync),
    entries: AtomicU64,
    /// Entries taken before the signatures were loaded.
    early: AtomicU64,
    /// Wakes the threads waiting for `known` once it is set.
    loaded: Mutex<()>,
    ready: std::sync::Condvar,
    issues: Mutex<Vec<ScanIssue>>,
    unreadable: Mutex<Vec<String>>,
}

impl Sink<'_> {
    /// Take a walked entry: into `mine` (the thread's own list) while the signatures are not in;
    /// after that, to `at_once` unless it is known unchanged.
    fn take(&self, s: Seen, mine: &mut Vec<Seen>) {
        self.entries.fetch_add(1, Ordering::Relaxed);
        let known = match self.known.get() {
            Some(k) => Some(k),
            None if self.early.fetch_add(1, Ordering::Relaxed) < WAITING_AT_MOST => None,
            // Enough wait already: this thread waits for the signatures (they are always set,
            // also when loading them fails or panics: see `Loading`).
            None => self.wait_for_known(),
        };
        match known {
            Some(k) => match k.compare(&s) {
                Compared::Unchanged => {}
                Compared::Changed => (self.at_once)(k, s, false),
                Compared::New => (self.at_once)(k, s, true),
            },
            None => mine.push(s),
        }
    }

    fn wait_for_known(&self) -> Option<&Known> {
        let _set = self
            .ready
            .wait_while(lock(&self.loaded), |_| self.known.get().is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.known.get()
    }
}

/// The walked entries still to hash, taken from the end (in reverse path order: the files of
/// a folder are still read one after another). Every `GIVE_BACK_EVERY` entries taken, the list
/// is shrunk to what is left, so that its memory is given back while the nodes made of its
/// entries are built: on a first sync of 1,000,000 files the list is 64 MB.
struct Left {
    items: Vec<Seen>,
    taken: usize,
}

/// Where a staging scan hands the nodes it found (see [`Scanner::scan_staging`]).
pub type StageFn<'a> = dyn Fn(Vec<Found>) + Sync + 'a;

/// How many found nodes a staging scan holds, by default, before it hands them to its stage
/// (1 MB of nodes, their paths and keys; see [`Scanner::scan_staging`]).
pub const STAGE_EVERY: usize = 1 << 13;

/// See [`Left`]: 1 MB of entries.
const GIVE_BACK_EVERY: usize = 1 << 14;

impl Left {
    fn next(&mut self) -> Option<Seen> {
        let s = self.items.pop()?;
        self.taken += 1;
        if self.taken % GIVE_BACK_EVERY == 0 {
            self.items.shrink_to_fit();
        }
        Some(s)
    }
}

/// Ends the loading of the signatures, however it ends: sets them to none if it did not set
/// them (it panicked; the panic is raised again once the walk is over), and wakes the walk's
/// threads that wait for them.
struct Loading<'a, 'b>(&'a Sink<'b>);

impl Drop for Loading<'_, '_> {
    fn drop(&mut self) {
        let _ = self.0.known.set(Known::new(Sigs::default()));
        // Taken after `known` is set: a thread that found it unset is waiting by now.
        drop(lock(&self.0.loaded));
        self.0.ready.notify_all();
    }
}

impl Scanner<'_> {
    /// Scan `scopes` (relative display paths; empty = the whole folder) against `prev`, the
    /// paths and signatures known for those scopes. `reuse` answers "is there a stored hash
    /// for this key with this signature" (a case-only rename need not be hashed again).
    pub fn scan(
        &self,
        scopes: &[String],
        prev: &[(String, Sig)],
        reuse: &(dyn Fn(&str, &Sig) -> Option<ContentHash> + Sync),
    ) -> Result<ScanResult, ScanError> {
        self.scan_loading(scopes, &prev, reuse)
    }

    /// [`scan`](Self::scan) against what the index holds: its signatures are loaded on a
    /// thread of their own while the folder is walked (the two take about as long on a large
    /// tree).
    pub fn scan_loading(
        &self,
        scopes: &[String],
        prev: &dyn Previous,
        reuse: &(dyn Fn(&str, &Sig) -> Option<ContentHash> + Sync),
    ) -> Result<ScanResult, ScanError> {
        self.scan_inner(scopes, prev, reuse, None)
    }

    /// [`scan_loading`](Self::scan_loading) that hands the nodes it finds to `stage`, in lists
    /// of `every` (at least one), once it has found that many (a first sync, a folder moved
    /// in): then all of them go there, in no particular order, none to [`ScanResult::found`],
    /// and [`ScanResult::staged`] counts them. A scan that finds fewer keeps them in `found`,
    /// as `scan_loading` does.
    pub fn scan_staging(
        &self,
        scopes: &[String],
        prev: &dyn Previous,
        reuse: &(dyn Fn(&str, &Sig) -> Option<ContentHash> + Sync),
        stage: &StageFn<'_>,
        every: usize,
    ) -> Result<ScanResult, ScanError> {
        self.scan_inner(scopes, prev, reuse, Some((stage, every.max(1))))
    }

    fn scan_inner(
        &self,
        scopes: &[String],
        prev: &dyn Previous,
        reuse: &(dyn Fn(&str, &Sig) -> Option<ContentHash> + Sync),
        stage: Option<(&StageFn<'_>, usize)>,
    ) -> Result<ScanResult, ScanError> {
        let root_md = faults::check(self.root, faults::Op::Stat)
            .and_then(|_| std::fs::metadata(self.root))
            .map_err(|_| ScanError::MissingRoot(self.root.to_path_buf()))?;
        if !root_md.is_dir() {
            return Err(ScanError::MissingRoot(self.root.to_path_buf()));
        }
        let whole = scopes.is_empty() || scopes.iter().any(|s| s.is_empty());
        let scopes: Vec<String> = if whole {
            vec![String::new()]
        } else {
            outermost(&self.cut_at_links(scopes))
        };
        let known: OnceLock<Known> = OnceLock::new();
        // Before any file is hashed: timestamps from here on are racy (see `RACY`).
        let racy_from = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
            .saturating_sub(RACY.as_nanos() as i64);
        let every = stage.map_or(usize::MAX, |(_, every)| every);
        let results: Mutex<Vec<Found>> = Mutex::new(Vec::new());
        let staged = AtomicU64::new(0);
        let failed: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
        let new_paths = AtomicU64::new(0);
        // A stored hash can only be reused for a path that is not in `prev` but whose key the
        // index has a row for (a case-only rename): for a path in `prev` the stored row is
        // that path's own, whose signature differs. Whether the key has a row is asked of the
        // index one file at a time; past a few new paths, the keys of `prev` tell, made once (a
        // million keys take a second and 100 MB: not for a handful of new files).
        let prev_keys: OnceLock<std::collections::HashSet<Key>> = OnceLock::new();
        let known_keys = || {
            let mut keys = std::collections::HashSet::new();
            prev.paths(&mut |p| {
                keys.insert(key(p));
            });
            keys
        };
        let may_reuse = |known: &Known, rel: &str, k: &Key| {
            let many_new = new_paths.load(Ordering::Relaxed) > 64.max(known.sigs.len() as u64 / 16);
            !known.sigs.contains(rel)
                && (!many_new || prev_keys.get_or_init(known_keys).contains(k))
        };
        let hashed = AtomicU64::new(0);
        let hashed_bytes = AtomicU64::new(0);
        // A new or changed entry made into its node (a file hashed, unless the index has its
        // hash), kept in `results` — or handed to the stage, `every` at a time — or in
        // `failed` when it could not be read or changed while it was.
        let make = |known: &Known, s: Seen| {
            let k = key(&s.rel);
            let kind = if s.sig.folder {
                Ok(LocalKind::Folder)
            } else {
                let stored = if may_reuse(known, &s.rel, &k) {
                    reuse(&k, &s.sig)
                } else {
                    None
                };
                let hash = match stored {
                    Some(h) => Ok(Some(h)),
                    None => {
                        hashed.fetch_add(1, Ordering::Relaxed);
                        hashed_bytes.fetch_add(s.sig.size, Ordering::Relaxed);
                        hash_file(&self.root.join(s.rel.trim_start_matches('/')), &s.sig)
                            .map_err(|e| unreadable_message("file", &e))
                    }
                };
                match hash {
                    Ok(Some(hash)) => Ok(LocalKind::File {
                        size: s.sig.size,
                        mtime_ns: s.sig.mtime_ns,
                        hash,
                    }),
                    Ok(None) => Err("unstable".to_string()),
                    Err(e) => Err(e),
                }
            };
            let trusted = s.sig.ctime_ns < racy_from && s.sig.mtime_ns < racy_from;
            match kind {
                Ok(kind) => {
                    let found = Found {
                        key: k,
                        node: LocalNode {
                            path: s.rel,
                            inode: s.sig.inode,
                            kind,
                        },
                        ctime_ns: trusted.then_some(s.sig.ctime_ns),
                    };
                    let full = results.lock().ok().and_then(|mut r| {
                        r.push(found);
                        (r.len() >= every).then(|| std::mem::take(&mut *r))
                    });
                    if let (Some(nodes), Some((stage, _))) = (full, stage) {
                        staged.fetch_add(nodes.len() as u64, Ordering::Relaxed);
                        stage(nodes);
                    }
                }
                Err(why) => {
                    if let Ok(mut f) = failed.lock() {
                        f.push((s.rel, why));
                    }
                }
            }
        };
        // Once the signatures are in, the walk's threads make what differs into nodes as they
        // list it: a first sync holds no list of every entry walked.
        let at_once = |known: &Known, s: Seen, new: bool| {
            if new {
                new_paths.fetch_add(1, Ordering::Relaxed);
            }
            make(known, s)
        };
        let sink = Sink {
            known: &known,
            kept: Mutex::new(Vec::new()),
            at_once: &at_once,
            entries: AtomicU64::new(0),
            early: AtomicU64::new(0),
            loaded: Mutex::new(()),
            ready: std::sync::Condvar::new(),
            issues: Mutex::new(Vec::new()),
            unreadable: Mutex::new(Vec::new()),
        };
        std::thread::scope(|s| {
            let loading = s.spawn(|| {
                let _unblock = Loading(&sink);
                let _ = known.set(Known::new(prev.sigs()));
            });
            for scope in &scopes {
                self.walk(scope, &sink);
            }
            loading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        let Sink {
            kept,
            entries,
            issues,
            unreadable,
            ..
        } = sink;
        let known_now = known.get_or_init(|| Known::new(Sigs::default()));
        let entries = entries.into_inner();
        let mut issues = issues.into_inner().unwrap_or_default();
        let unreadable = unreadable.into_inner().unwrap_or_default();

        // What the walk kept before the signatures were in: compared now, the unchanged drop
        // out and every known path seen is marked.
        let kept = kept.into_inner().unwrap_or_default();
        let held = kept.len() as u64;
        let mut candidates: Vec<Seen> = kept
            .into_iter()
            .filter(|s| match known_now.compare(s) {
                Compared::Unchanged => false,
                Compared::Changed => true,
                Compared::New => {
                    new_paths.fetch_add(1, Ordering::Relaxed);
                    true
                }
            })
            .collect();
        // Gone: known before, inside a scope, not seen now, not inside an unreadable folder,
        // and not where a link or special file now stands (a folder moved to another disk
        // and linked back, a link swapped in behind our back: what was synced there is held,
        // not taken for deleted; the entry is reported as not synced).
        let standing: Vec<&str> = issues
            .iter()
            .filter(|i| matches!(i.code, "symlink" | "special_file"))
            .map(|i| i.path.as_str())
            .collect();
        let mut gone: Vec<String> = Vec::new();
        if !known_now.all_seen() {
            let (in_scope, in_unreadable) = (PathSet::new(&scopes), PathSet::new(&unreadable));
            let in_standing = PathSet::new(&standing);
            prev.paths(&mut |p| {
                if known_now.first_unseen(p)
                    && in_scope.holds(p)
                    && !in_unreadable.holds(p)
                    && !in_standing.holds(p)
                    && !self.rules.skips_path(p)
                {
                    gone.push(p.to_string());
                }
            });
        }
        // In path order (files of a folder read one after another), by several threads.
        candidates.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
        let queue: Mutex<Left> = Mutex::new(Left {
            items: candidates,
            taken: 0,
        });
        std::thread::scope(|sc| {
            for _ in 0..self.threads.max(1) {
                sc.spawn(|| {
                    while let Some(s) = queue.lock().ok().and_then(|mut q| q.next()) {
                        make(known_now, s);
                    }
                });
            }
        });
        drop(queue);
        let mut out = ScanResult {
            gone,
            entries,
            held,
            hashed: hashed.into_inner(),
            hashed_bytes: hashed_bytes.into_inner(),
            ..ScanResult::default()
        };
        // What the index had is done with: freed before the nodes are sorted. Freeing a few
        // hundred thousand entries takes a while: not on the way to syncing.
        let known = known
            .into_inner()
            .unwrap_or_else(|| Known::new(Sigs::default()));
        if known.sigs.len() > 10_000 {
            std::thread::spawn(move || drop(known));
        } else {
            drop(known);
        }
        for (rel, why) in failed.into_inner().unwrap_or_default() {
            if why == "unstable" {
                out.unstable.push(rel);
            } else {
                // What the index holds for it stays (it was seen, so it is not gone).
                out.unreadable.push(rel.clone());
                issues.push(ScanIssue {
                    message: why,
                    path: rel,
                    code: "unreadable",
                });
            }
        }
        let mut found = results.into_inner().unwrap_or_default();
        match stage {
            // Some went to the stage: the rest go too.
            Some((stage, _)) if staged.load(Ordering::Relaxed) > 0 => {
                out.staged = staged.into_inner() + found.len() as u64;
                if !found.is_empty() {
                    stage(found);
                }
            }
            _ => {
                found.sort_unstable_by(|a, b| a.node.path.cmp(&b.node.path));
                out.found = found;
            }
        }
        out.issues = issues;
        out.unreadable.extend(unreadable);
        out.unreadable.sort();
        out.unreadable.dedup();
        out.scopes = scopes;
        Ok(out)
    }
}
