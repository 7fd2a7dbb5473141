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
//! [`faults`] lets tests and the simulation make the scanner's own calls fail (stat, list,
//! read) under a folder, as a broken disk or share would.

use crate::index::{Sig, Sigs};
use crate::pair::lock;
use crate::rules::Rules;
use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use sync_core::path::{NameProblem, check_os_name, is_within, key};
use sync_core::{ContentHash, ContentHasher, Key, LocalKind, LocalNode};

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
    /// Files hashed.
    pub hashed: u64,
    /// Bytes hashed.
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
}

/// A file or folder after hashing: its path, the ctime to store (`None`: racy), and its
/// node or why there is none.
type Hashed = (String, Option<i64>, Result<LocalNode, String>);

/// A walked entry before hashing.
struct Seen {
    rel: String,
    sig: Sig,
}

/// Modification time in ns.
pub fn mtime_ns(md: &std::fs::Metadata) -> i64 {
    md.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.mtime_nsec())
}

/// Status-change time in ns (set by the kernel on every write, rename, chmod; never by a user).
pub fn ctime_ns(md: &std::fs::Metadata) -> i64 {
    md.ctime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.ctime_nsec())
}

/// The signature of a file-system entry.
pub fn sig_of(md: &std::fs::Metadata) -> Sig {
    // A folder is the same folder while its inode is: its size and times change with its
    // entries, which are looked at one by one (and the index keeps neither for a folder).
    let folder = md.is_dir();
    Sig {
        folder,
        inode: md.ino(),
        size: if folder { 0 } else { md.len() },
        mtime_ns: if folder { 0 } else { mtime_ns(md) },
        ctime_ns: if folder { 0 } else { ctime_ns(md) },
    }
}

/// Hash a file, checking it did not change while being read (its whole signature, ctime
/// included, is the same after the last byte). `None` if it changed — or if what is there
/// now is not the regular file that was seen (it is opened without following a link, and
/// without waiting on a pipe swapped in).
pub fn hash_file(path: &Path, expect: &Sig) -> std::io::Result<Option<ContentHash>> {
    use std::os::unix::fs::OpenOptionsExt;
    faults::check(path, faults::Op::Read)?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let h = if expect.size >= READ_AHEAD_FROM {
        hash_read_ahead(&mut f)?
    } else {
        hash_reading(&mut f)?
    };
    let after = sig_of(&f.metadata()?);
    if after != *expect || h.len() != expect.size {
        return Ok(None);
    }
    Ok(Some(h.finish()))
}

/// Reads of this size stay in the core's L2 cache between the copy and the hash.
const READ_BUF: usize = 256 * 1024;

/// Files from this size on are read by a second thread while the first one hashes.
const READ_AHEAD_FROM: u64 = 8 * 1024 * 1024;

fn hash_reading(f: &mut std::fs::File) -> std::io::Result<ContentHasher> {
    use std::io::Read;
    let mut h = ContentHasher::new();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h);
        }
        h.update(&buf[..n]);
    }
}

/// Hash while a second thread reads ahead: copying a file out of the page cache costs about
/// a quarter of what SHA-256 does, and overlapping the two leaves the hash as the only
/// limit. Four buffers go round between the threads.
fn hash_read_ahead(f: &mut std::fs::File) -> std::io::Result<ContentHasher> {
    use std::io::Read;
    use std::sync::mpsc::sync_channel;
    const BUFFERS: usize = 4;
    let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(vec![0u8; READ_BUF]);
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> std::io::Result<()> {
            while let Ok(mut buf) = empty_rx.recv() {
                let n = f.read(&mut buf)?;
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        });
        let mut h = ContentHasher::new();
        while let Ok((buf, n)) = full_rx.recv() {
            h.update(&buf[..n]);
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        reader
            .join()
            .map_err(|_| std::io::Error::other("the read-ahead thread panicked"))??;
        Ok(h)
    })
}

impl Scanner<'_> {
    /// Scan `scopes` (relative display paths; empty = the whole folder) against `prev`, the
    /// signatures the index holds for those scopes. `reuse` answers "is there a stored hash
    /// for this key with this signature" (a case-only rename need not be hashed again).
    pub fn scan(
        &self,
        scopes: &[String],
        prev: &Sigs,
        reuse: &(dyn Fn(&str, &Sig) -> Option<ContentHash> + Sync),
    ) -> Result<ScanResult, ScanError> {
        self.scan_loading(scopes, &|| prev.clone(), reuse)
    }

    /// [`scan`](Self::scan), with the previous signatures loaded by `load_prev` on a thread
    /// of its own while the folder is walked (the two take about as long on a large tree).
    pub fn scan_loading(
        &self,
        scopes: &[String],
        load_prev: &(dyn Fn() -> Sigs + Sync),
        reuse: &(dyn Fn(&str, &Sig) -> Option<ContentHash> + Sync),
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
        let seen: Mutex<Vec<Seen>> = Mutex::new(Vec::new());
        let issues: Mutex<Vec<ScanIssue>> = Mutex::new(Vec::new());
        let unreadable: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let prev_owned = std::thread::scope(|s| {
            let loading = s.spawn(load_prev);
            for scope in &scopes {
                self.walk(scope, &seen, &issues, &unreadable);
            }
            loading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        let prev = &prev_owned;
        // Before any file is hashed: timestamps from here on are racy (see `RACY`).
        let racy_from = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
            .saturating_sub(RACY.as_nanos() as i64);
        let seen = seen.into_inner().unwrap_or_default();
        let mut issues = issues.into_inner().unwrap_or_default();
        let unreadable = unreadable.into_inner().unwrap_or_default();

        // Gone: known before, inside a scope, not seen now, not inside an unreadable folder,
        // and not where a link or special file now stands (a folder moved to another disk
        // and linked back, a link swapped in behind our back: what was synced there is held,
        // not taken for deleted; the entry is reported as not synced).
        let standing: Vec<&str> = issues
            .iter()
            .filter(|i| matches!(i.code, "symlink" | "special_file"))
            .map(|i| i.path.as_str())
            .collect();
        // What needs a hash (or is a new/changed folder); and whether every known entry was
        // seen again (each is seen once), so that nothing can be gone.
        let mut still_there = 0usize;
        let mut candidates: Vec<&Seen> = seen
            .iter()
            .filter(|s| match prev.get(&s.rel) {
                Some(p) => {
                    still_there += 1;
                    *p != s.sig
                }
                None => true,
            })
            .collect();
        let gone: Vec<String> = if still_there == prev.len() {
            Vec::new()
        } else {
            let seen_paths: HashSet<&str> = seen.iter().map(|s| s.rel.as_str()).collect();
            let (in_scope, in_unreadable) = (PathSet::new(&scopes), PathSet::new(&unreadable));
            let in_standing = PathSet::new(&standing);
            prev.keys()
                .filter(|p| in_scope.holds(p))
                .filter(|p| !seen_paths.contains(p.as_str()))
                .filter(|p| !in_unreadable.holds(p))
                .filter(|p| !in_standing.holds(p))
                .filter(|p| !self.rules.skips_path(p))
                .cloned()
                .collect()
        };
        candidates.sort_by(|a, b| a.rel.cmp(&b.rel));
        let queue: Mutex<std::vec::IntoIter<&Seen>> = Mutex::new(candidates.clone().into_iter());
        let results: Mutex<Vec<Hashed>> = Mutex::new(Vec::new());
        // A stored hash can only be reused for a key the index has a row for (a case-only
        // rename); the keys of `prev` tell which, without asking the index for every new file.
        let prev_keys: std::sync::OnceLock<std::collections::HashSet<Key>> =
            std::sync::OnceLock::new();
        let known = |k: &Key| {
            prev_keys
                .get_or_init(|| prev.keys().map(|p| key(p)).collect())
                .contains(k)
        };
        let hashed = std::sync::atomic::AtomicU64::new(0);
        let hashed_bytes = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|sc| {
            for _ in 0..self.threads.max(1) {
                sc.spawn(|| {
                    while let Some(s) = queue.lock().ok().and_then(|mut q| q.next()) {
                        let node = if s.sig.folder {
                            Ok(LocalNode {
                                path: s.rel.clone(),
                                inode: s.sig.inode,
                                kind: LocalKind::Folder,
                            })
                        } else {
                            let k = key(&s.rel);
                            let stored = if known(&k) { reuse(&k, &s.sig) } else { None };
                            let hash = match stored {
                                Some(h) => Ok(Some(h)),
                                None => {
                                    hashed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    hashed_bytes.fetch_add(
                                        s.sig.size,
                                        std::sync::atomic::Ordering::Relaxed,
                                    );
                                    hash_file(
                                        &self.root.join(s.rel.trim_start_matches('/')),
                                        &s.sig,
                                    )
                                    .map_err(|e| unreadable_message("file", &e))
                                }
                            };
                            match hash {
                                Ok(Some(hash)) => Ok(LocalNode {
                                    path: s.rel.clone(),
                                    inode: s.sig.inode,
                                    kind: LocalKind::File {
                                        size: s.sig.size,
                                        mtime_ns: s.sig.mtime_ns,
                                        hash,
                                    },
                                }),
                                Ok(None) => Err("unstable".to_string()),
                                Err(e) => Err(e),
                            }
                        };
                        let trusted = s.sig.ctime_ns < racy_from && s.sig.mtime_ns < racy_from;
                        if let Ok(mut r) = results.lock() {
                            r.push((s.rel.clone(), trusted.then_some(s.sig.ctime_ns), node));
                        }
                    }
                });
            }
        });
        let mut out = ScanResult {
            gone,
            entries: seen.len() as u64,
            hashed: hashed.into_inner(),
            hashed_bytes: hashed_bytes.into_inner(),
            ..ScanResult::default()
        };
        let mut found: Vec<Found> = Vec::new();
        for (rel, ctime_ns, r) in results.into_inner().unwrap_or_default() {
            match r {
                Ok(node) => found.push(Found {
                    key: key(&rel),
                    node,
                    ctime_ns,
                }),
                Err(e) if e == "unstable" => out.unstable.push(rel),
                Err(message) => {
                    // What the index holds for it stays (it was seen, so it is not gone).
                    out.unreadable.push(rel.clone());
                    issues.push(ScanIssue {
                        message,
                        path: rel,
                        code: "unreadable",
                    })
                }
            }
        }
        found.sort_by(|a, b| a.node.path.cmp(&b.node.path));
        if seen.len() > 10_000 {
            // Freeing a few hundred thousand strings takes a while: not on the way to syncing.
            std::thread::spawn(move || drop((seen, prev_owned)));
        }
        out.found = found;
        out.issues = issues;
        out.unreadable.extend(unreadable);
        out.unreadable.sort();
        out.unreadable.dedup();
        out.scopes = scopes;
        Ok(out)
    }

    /// Scopes as they may be walked: a scope below an entry that is no longer a real folder
    /// (a link now, a file, or gone) becomes that entry — its subtree is what changed, and a
    /// path through a link would lead out of the pair's folder. Entries that cannot be looked
    /// at are left as they are (the walk reports them).
    fn cut_at_links(&self, scopes: &[String]) -> Vec<String> {
        let mut real_dirs: HashSet<&str> = HashSet::new();
        let mut out = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let mut cut = scope.as_str();
            let mut at = 0;
            // Every ancestor below the root, outermost first.
            while let Some(i) = scope[at + 1..].find('/').map(|i| i + at + 1) {
                let ancestor = &scope[..i];
                at = i;
                if real_dirs.contains(ancestor) {
                    continue;
                }
                let path = self.root.join(ancestor.trim_start_matches('/'));
                match faults::check(&path, faults::Op::Stat)
                    .and_then(|_| std::fs::symlink_metadata(&path))
                {
                    Ok(md) if md.is_dir() => {
                        real_dirs.insert(ancestor);
                    }
                    Ok(_) => {
                        cut = ancestor;
                        break;
                    }
                    Err(e) if gone(&e) => {
                        cut = ancestor;
                        break;
                    }
                    // Cannot tell: walking the scope reports it as unreadable.
                    Err(_) => break,
                }
            }
            out.push(cut.to_string());
        }
        out
    }

    fn walk(
        &self,
        scope: &str,
        seen: &Mutex<Vec<Seen>>,
        issues: &Mutex<Vec<ScanIssue>>,
        unreadable: &Mutex<Vec<String>>,
    ) {
        let start = self.root.join(scope.trim_start_matches('/'));
        let md = match faults::check(&start, faults::Op::Stat)
            .and_then(|_| std::fs::symlink_metadata(&start))
        {
            Ok(md) => md,
            Err(e) if gone(&e) => return, // reported through `gone`
            Err(e) => {
                if let Ok(mut u) = unreadable.lock() {
                    u.push(scope.to_string());
                }
                if let Ok(mut v) = issues.lock() {
                    v.push(ScanIssue {
                        path: scope.to_string(),
                        code: "unreadable",
                        message: unreadable_message("entry", &e),
                    });
                }
                return;
            }
        };
        if !scope.is_empty() {
            let name = start.file_name().unwrap_or_default().to_os_string();
            if let Some(s) = self.classify(scope.to_string(), &name, &md, issues) {
                let folder = s.sig.folder;
                if let Ok(mut v) = seen.lock() {
                    v.push(s);
                }
                if !folder {
                    return;
                }
            } else {
                return;
            }
        }
        // Folders wait in a shared stack; each thread lists one, stats its entries relative
        // to the open folder (no walk down the whole path per file), and queues the folders
        // it finds.
        let queue = WalkQueue {
            state: Mutex::new((vec![(start, scope.to_string())], 0)),
            ready: std::sync::Condvar::new(),
        };
        std::thread::scope(|sc| {
            for _ in 0..self.threads.max(2) {
                sc.spawn(|| {
                    // Each thread gathers what it sees and hands it over once, when it ends.
                    let mut mine = Gathered {
                        items: Vec::new(),
                        into: seen,
                    };
                    while let Some((dir, rel)) = queue.next() {
                        let mut listing = Listing {
                            queue: &queue,
                            subdirs: Vec::new(),
                        };
                        self.list(
                            &dir,
                            &rel,
                            &mut mine.items,
                            &mut listing.subdirs,
                            issues,
                            unreadable,
                        );
                    }
                });
            }
        });
    }

    /// One folder of the walk: its synced entries go to `items`, its subfolders to `subdirs`.
    fn list(
        &self,
        dir: &Path,
        rel: &str,
        items: &mut Vec<Seen>,
        subdirs: &mut Vec<(PathBuf, String)>,
        issues: &Mutex<Vec<ScanIssue>>,
        unreadable: &Mutex<Vec<String>>,
    ) {
        let report = |path: &str, message: String| {
            if let Ok(mut u) = unreadable.lock() {
                u.push(path.to_string());
            }
            if let Ok(mut v) = issues.lock() {
                v.push(ScanIssue {
                    path: path.to_string(),
                    code: "unreadable",
                    message,
                });
            }
        };
        let entries =
            match faults::check(dir, faults::Op::List).and_then(|_| std::fs::read_dir(dir)) {
                Ok(rd) => rd,
                Err(err) if gone(&err) => return, // went away since its parent was listed
                Err(err) => {
                    report(rel, unreadable_message("folder", &err));
                    return;
                }
            };
        // Entries that could be named but not looked at (a folder with read but no execute
        // permission gives `EACCES` for every one; a network share, `EIO` or `ESTALE`).
        let mut failed: Vec<(String, std::io::Error)> = Vec::new();
        let mut listed = 0usize;
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    // The listing broke off: what it did not reach is unknown, not gone.
                    report(rel, unreadable_message("folder", &err));
                    return;
                }
            };
            let name = entry.file_name();
            let mut child = String::with_capacity(rel.len() + 1 + name.len());
            child.push_str(rel);
            child.push('/');
            child.push_str(&name.to_string_lossy());
            // desktop.ini & co go on to `classify`, which reports them as not synced.
            if self.rules.skips_path(&child) && !self.rules.refused_name_only(&child) {
                continue;
            }
            listed += 1;
            // Not following links; relative to the open folder.
            let md = match faults::check_entry(&entry).and_then(|_| entry.metadata()) {
                Ok(md) => md,
                Err(e) if gone(&e) => continue, // vanished meanwhile
                Err(e) => {
                    failed.push((child, e));
                    continue;
                }
            };
            if let Some(s) = self.classify(child, &name, &md, issues) {
                if s.sig.folder {
                    subdirs.push((entry.path(), s.rel.clone()));
                }
                items.push(s);
            }
        }
        if failed.len() == listed && listed > 1 {
            // Nothing in it could be looked at: one issue for the folder, not one per entry.
            let (_, err) = &failed[0];
            report(rel, unreadable_message("folder's entries", err));
        } else {
            for (child, err) in failed {
                report(&child, unreadable_message("entry", &err));
            }
        }
    }

    /// Decide whether an entry is synced; report it if not. `rel` is its relative path
    /// (lossy where a name is not UTF-8), `name` its real name on disk.
    fn classify(
        &self,
        rel: String,
        name: &std::ffi::OsStr,
        md: &std::fs::Metadata,
        issues: &Mutex<Vec<ScanIssue>>,
    ) -> Option<Seen> {
        let report = |code: &'static str, message: String| {
            if let Ok(mut v) = issues.lock() {
                v.push(ScanIssue {
                    path: rel.clone(),
                    code,
                    message,
                });
            }
        };
        let name = match check_os_name(name) {
            Ok(n) => n,
            // desktop.ini & co: not an error, but the user should know it stays here.
            Err(p @ NameProblem::Disallowed) => {
                report("not_synced", p.to_string());
                return None;
            }
            Err(p) => {
                report("bad_name", p.to_string());
                return None;
            }
        };
        if self.rules.ignores_name(name) {
            return None;
        }
        let ft = md.file_type();
        if ft.is_symlink() {
            report("symlink", "symbolic links are not synced (Dropbox cannot store them); the link stays local only".into());
            return None;
        }
        if ft.is_fifo() || ft.is_socket() || ft.is_block_device() || ft.is_char_device() {
            report(
                "special_file",
                "special files (pipes, sockets, devices) are not synced; it stays local only"
                    .into(),
            );
            return None;
        }
        if !(ft.is_file() || ft.is_dir()) {
            return None;
        }
        Some(Seen {
            rel,
            sig: sig_of(md),
        })
    }
}

/// The scopes that are not inside another one, each once: a folder and a file in it (a
/// burst of file events) must not walk the file twice, or it would clash with itself.
///
/// Sorted component by component, a folder comes right before everything inside it (plain
/// string order would put "/a b" between "/a" and "/a/x"), so one look at the last scope kept
/// is enough: O(n log n) for a burst of n paths.
fn outermost(scopes: &[String]) -> Vec<String> {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable_by(|a, b| a.split('/').cmp(b.split('/')));
    sorted.dedup();
    let mut out: Vec<String> = Vec::with_capacity(sorted.len());
    for s in sorted {
        if out.last().is_some_and(|o| is_within(s, o)) {
            continue;
        }
        out.push(s.to_string());
    }
    out
}

/// Folders (or files) to test paths against: is a path one of them or inside one? One
/// hash lookup per component of the path, so that n known paths are matched against the n
/// paths of a burst in O(n × depth), not n².
struct PathSet<'a> {
    all: bool,
    set: HashSet<&'a str>,
}

impl<'a> PathSet<'a> {
    fn new<S: AsRef<str>>(paths: &'a [S]) -> Self {
        PathSet {
            all: paths.iter().any(|p| p.as_ref().is_empty()),
            set: paths.iter().map(AsRef::as_ref).collect(),
        }
    }

    /// `path` is within one of the set (as [`is_within`] says).
    fn holds(&self, path: &str) -> bool {
        if self.all {
            return true;
        }
        if self.set.is_empty() {
            return false;
        }
        path.match_indices('/')
            .map(|(i, _)| &path[..i])
            .filter(|a| !a.is_empty())
            .chain(std::iter::once(path))
            .any(|a| self.set.contains(a))
    }
}

/// An error that means the entry is not there (rather than that it could not be looked at).
fn gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// What an `unreadable` issue says: what failed, and what to do about it.
fn unreadable_message(what: &str, e: &std::io::Error) -> String {
    let todo = if e.kind() == std::io::ErrorKind::PermissionDenied {
        "check its permissions (nuvosync needs to read files and to list and enter folders: `chmod u+rwX`)"
    } else {
        "the disk or network share reported an error; check the drive or the connection to the share"
    };
    format!(
        "cannot look at this {what} ({e}) — {todo}. Until it can be read, it is kept as it was: nothing here is deleted on Dropbox and nothing here is synced"
    )
}

/// Local read faults for tests and the simulation: a hook registered for a folder decides,
/// before each of the scanner's own calls under it — the `lstat` of an entry, the listing of
/// a folder, the opening of a file to hash it — whether that call fails, and with which
/// error (`EACCES`, `EIO`, `ESTALE`, ...), as a broken disk or network share would. Costs one
/// atomic load per call when no hook is registered.
pub mod faults {
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, RwLock};

    /// The call about to be made.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Op {
        /// `lstat` of an entry.
        Stat,
        /// Listing a folder.
        List,
        /// Opening a file to read it.
        Read,
    }

    /// Decides whether a call on a path fails.
    pub type Hook = Arc<dyn Fn(&Path, Op) -> Option<io::Error> + Send + Sync>;

    static ON: AtomicBool = AtomicBool::new(false);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static HOOKS: RwLock<Vec<(u64, PathBuf, Hook)>> = RwLock::new(Vec::new());

    /// Registered until dropped.
    #[must_use = "the hook is removed when this is dropped"]
    pub struct Injected(u64);

    impl Drop for Injected {
        fn drop(&mut self) {
            let mut hooks = HOOKS.write().unwrap_or_else(|p| p.into_inner());
            hooks.retain(|(id, _, _)| *id != self.0);
            ON.store(!hooks.is_empty(), Ordering::SeqCst);
        }
    }

    /// Ask `hook` before every scanner call on a path below `under` (paths as the scanner
    /// forms them: the pair's folder joined with the relative path).
    pub fn inject(under: &Path, hook: Hook) -> Injected {
        let id = NEXT.fetch_add(1, Ordering::SeqCst);
        let mut hooks = HOOKS.write().unwrap_or_else(|p| p.into_inner());
        hooks.push((id, under.to_path_buf(), hook));
        ON.store(true, Ordering::SeqCst);
        Injected(id)
    }

    /// Fail the call if a hook says so.
    pub(crate) fn check(path: &Path, op: Op) -> io::Result<()> {
        if !ON.load(Ordering::Relaxed) {
            return Ok(());
        }
        let hooks = HOOKS.read().unwrap_or_else(|p| p.into_inner());
        for (_, under, hook) in hooks.iter() {
            if path.starts_with(under) {
                if let Some(e) = hook(path, op) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// [`check`] for the `lstat` of a listed entry (its path is only formed when a hook is on).
    pub(crate) fn check_entry(entry: &std::fs::DirEntry) -> io::Result<()> {
        if !ON.load(Ordering::Relaxed) {
            return Ok(());
        }
        check(&entry.path(), Op::Stat)
    }
}

/// The folders still to list, and how many threads are listing one now.
struct WalkQueue {
    state: Mutex<(Vec<(PathBuf, String)>, usize)>,
    ready: std::sync::Condvar,
}

impl WalkQueue {
    /// The next folder to list; `None` once the stack is empty and no thread is listing.
    fn next(&self) -> Option<(PathBuf, String)> {
        let mut st = lock(&self.state);
        loop {
            if let Some(d) = st.0.pop() {
                st.1 += 1;
                return Some(d);
            }
            if st.1 == 0 {
                return None;
            }
            st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A folder was listed; `found` are its subfolders.
    fn done(&self, found: Vec<(PathBuf, String)>) {
        let mut st = lock(&self.state);
        st.1 -= 1;
        let wake = !found.is_empty() || st.1 == 0;
        st.0.extend(found);
        drop(st);
        if wake {
            self.ready.notify_all();
        }
    }
}

/// A folder being listed: handed back to the queue when done — also if listing it
/// panicked, so that the other threads do not wait for it forever.
struct Listing<'a> {
    queue: &'a WalkQueue,
    subdirs: Vec<(PathBuf, String)>,
}

impl Drop for Listing<'_> {
    fn drop(&mut self) {
        self.queue.done(std::mem::take(&mut self.subdirs));
    }
}

/// Entries one walker thread saw, added to the shared list when the thread is done.
struct Gathered<'a> {
    items: Vec<Seen>,
    into: &'a Mutex<Vec<Seen>>,
}

impl Drop for Gathered<'_> {
    fn drop(&mut self) {
        if let Ok(mut v) = self.into.lock() {
            v.append(&mut self.items);
        }
    }
}

/// Split found nodes into those that own their key and those that clash with another local
/// name that maps to the same Dropbox path. `owner_hint(key)` names the path that should keep
/// a key (the one already synced, else the one already indexed); `exists(path)` tells
/// whether an indexed path is still on disk.
pub fn resolve_clashes(
    found: Vec<Found>,
    owner_hint: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&str) -> bool,
) -> (Vec<Found>, Vec<LocalNode>) {
    // Grouped by key after a sort (a map of small vectors costs ~450 bytes a file).
    let mut found = found;
    found.sort_by(|a, b| a.key.cmp(&b.key));
    let mut owners = Vec::with_capacity(found.len());
    let mut clashes = Vec::new();
    let mut rest = found.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|n| n.key == group[0].key) {
            group.push(next);
        }
        let k = group[0].key.clone();
        let hint = owner_hint(&k);
        // The indexed owner of this key is still on disk under another name: every new one clashes.
        if let Some(h) = &hint {
            if !group.iter().any(|f| &f.node.path == h) && exists(h) {
                clashes.extend(group.into_iter().map(|f| f.node));
                continue;
            }
        }
        group.sort_by(|a, b| {
            let ah = hint.as_deref() == Some(a.node.path.as_str());
            let bh = hint.as_deref() == Some(b.node.path.as_str());
            bh.cmp(&ah).then_with(|| a.node.path.cmp(&b.node.path))
        });
        // The same entry seen twice is one file, never a clash with itself.
        group.dedup_by(|a, b| a.node.path == b.node.path);
        let mut it = group.into_iter();
        if let Some(first) = it.next() {
            owners.push(first);
        }
        clashes.extend(it.map(|f| f.node));
    }
    owners.sort_by(|a, b| a.key.cmp(&b.key));
    (owners, clashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_of_reading_give_the_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        // Around the read-ahead threshold, Dropbox's 4 MiB blocks and the read buffer.
        for size in [
            0,
            1,
            READ_BUF - 1,
            READ_BUF + 1,
            sync_core::BLOCK_SIZE,
            READ_AHEAD_FROM as usize - 1,
            READ_AHEAD_FROM as usize,
            READ_AHEAD_FROM as usize + sync_core::BLOCK_SIZE + 12_345,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 + i / 4099) as u8).collect();
            let p = dir.path().join(format!("f{size}"));
            std::fs::write(&p, &data).unwrap();
            let want = ContentHash::of(&data);
            let mut f = std::fs::File::open(&p).unwrap();
            assert_eq!(hash_reading(&mut f).unwrap().finish(), want, "size {size}");
            let mut f = std::fs::File::open(&p).unwrap();
            assert_eq!(
                hash_read_ahead(&mut f).unwrap().finish(),
                want,
                "size {size}"
            );
            let sig = sig_of(&std::fs::metadata(&p).unwrap());
            assert_eq!(hash_file(&p, &sig).unwrap(), Some(want), "size {size}");
        }
    }

    fn rules() -> Rules {
        Rules::new(&[])
    }

    fn scan(root: &Path, prev: &Sigs) -> ScanResult {
        let r = rules();
        Scanner {
            root,
            rules: &r,
            threads: 2,
        }
        .scan(&[], prev, &|_, _| None)
        .unwrap()
    }

    #[test]
    fn a_folder_and_a_file_in_it_scan_the_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bulk")).unwrap();
        std::fs::create_dir_all(root.join("bulk x")).unwrap();
        for name in ["bulk/f1.txt", "bulk/f2.txt", "bulk x/g.txt"] {
            std::fs::write(root.join(name), name).unwrap();
        }
        let r = rules();
        let scopes: Vec<String> = ["/bulk/f1.txt", "/bulk", "/bulk x/g.txt", "/bulk/f1.txt"]
            .map(String::from)
            .to_vec();
        let got = Scanner {
            root,
            rules: &r,
            threads: 2,
        }
        .scan(&scopes, &Sigs::default(), &|_, _| None)
        .unwrap();
        let mut paths: Vec<_> = got.found.iter().map(|f| f.node.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            ["/bulk", "/bulk x/g.txt", "/bulk/f1.txt", "/bulk/f2.txt"]
        );
        assert!(got.clashes.is_empty(), "{:?}", got.clashes);
        assert_eq!(
            outermost(&["/a/x".into(), "/a b".into(), "/a".into(), "/a".into()]),
            ["/a", "/a b"]
        );
    }

    #[test]
    fn finds_files_and_skips_what_cannot_sync() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/x.txt"), b"hello").unwrap();
        std::fs::write(root.join("desktop.ini"), b"").unwrap();
        std::fs::write(root.join("~$lock.docx"), b"").unwrap();
        std::fs::write(root.join("trailing "), b"").unwrap();
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        std::fs::create_dir_all(root.join(".nuvosync")).unwrap();
        std::fs::write(root.join(".nuvosync/marker"), b"").unwrap();
        let r = scan(root, &Sigs::default());
        let paths: Vec<_> = r.found.iter().map(|f| f.node.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/a/b", "/a/b/x.txt"]);
        assert_eq!(r.found[2].node.hash(), Some(ContentHash::of(b"hello")));
        let mut codes: Vec<_> = r.issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        codes.sort();
        assert_eq!(
            codes,
            [
                ("/desktop.ini", "not_synced"),
                ("/link", "symlink"),
                ("/trailing ", "bad_name")
            ]
        );
    }

    #[test]
    fn names_are_judged_as_they_are_on_disk() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A real U+FFFD is a valid name; a byte that is not UTF-8 is not.
        std::fs::write(root.join("replacement \u{FFFD}.txt"), b"ok").unwrap();
        std::fs::write(
            root.join(std::ffi::OsStr::from_bytes(b"latin1 \xe9.txt")),
            b"no",
        )
        .unwrap();
        let r = scan(root, &Sigs::default());
        let paths: Vec<_> = r.found.iter().map(|f| f.node.path.as_str()).collect();
        assert_eq!(paths, ["/replacement \u{FFFD}.txt"]);
        assert_eq!(r.issues.len(), 1);
        assert_eq!(r.issues[0].code, "bad_name");
        assert!(r.issues[0].message.contains("UTF-8"));
    }

    #[test]
    fn unchanged_files_are_not_hashed_again_and_gone_ones_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("keep"), b"k").unwrap();
        std::fs::write(root.join("gone"), b"g").unwrap();
        let first = scan(root, &Sigs::default());
        let prev: Sigs = first
            .found
            .iter()
            .map(|f| {
                (
                    f.node.path.clone(),
                    sig_of(
                        &std::fs::symlink_metadata(root.join(f.node.path.trim_start_matches('/')))
                            .unwrap(),
                    ),
                )
            })
            .collect();
        std::fs::remove_file(root.join("gone")).unwrap();
        let second = scan(root, &prev);
        assert!(second.found.is_empty());
        assert_eq!(second.hashed, 0);
        assert_eq!(second.gone, ["/gone"]);
    }

    #[test]
    fn merging_scopes_takes_n_log_n() {
        // Disjoint paths (nothing inside another): every one is kept, the worst case of a
        // comparison against every kept scope.
        let paths =
            |n: usize| -> Vec<String> { (0..n).map(|i| format!("/d{}/f{i}", i % 997)).collect() };
        let time = |p: &[String]| {
            (0..2)
                .map(|_| {
                    let t = std::time::Instant::now();
                    assert_eq!(outermost(p).len(), p.len());
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let (small, large) = (paths(10_000), paths(100_000));
        let (ts, tl) = (time(&small), time(&large));
        let ratio = tl.as_secs_f64() / ts.as_secs_f64().max(1e-9);
        // n log n: about 12.5 times for ten times the paths; n²: 100.
        assert!(ratio < 35.0, "10k: {ts:?}, 100k: {tl:?} ({ratio:.1}×)");
        // Nesting is still seen through names that sort between a folder and its contents.
        let mut nested = vec!["/a".to_string(), "/a b".into(), "/a-c/x".into()];
        nested.extend((0..1000).map(|i| format!("/a/{i}")));
        assert_eq!(outermost(&nested), ["/a", "/a b", "/a-c/x"]);
    }

    #[test]
    fn a_burst_of_deleted_files_is_found_gone_in_linear_time() {
        // n files deleted at once: the watcher hands over n paths, the index knows n
        // signatures within them, and every one must be found gone. Matching each known path
        // against every scope would take n² comparisons.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in 0..97 {
            std::fs::create_dir_all(root.join(format!("d{d}"))).unwrap();
        }
        let r = rules();
        let time = |n: usize| {
            let paths: Vec<String> = (0..n).map(|i| format!("/d{}/f{i}", i % 97)).collect();
            let prev: Sigs = paths
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let sig = Sig {
                        folder: false,
                        inode: i as u64 + 1,
                        size: 1,
                        mtime_ns: 1,
                        ctime_ns: 1,
                    };
                    (p.clone(), sig)
                })
                .collect();
            let t = std::time::Instant::now();
            let got = Scanner {
                root,
                rules: &r,
                threads: 2,
            }
            .scan(&paths, &prev, &|_, _| None)
            .unwrap();
            let took = t.elapsed();
            assert_eq!(got.gone.len(), n);
            took
        };
        // The set says what `is_within` against each says.
        let scopes: Vec<String> = ["/a", "/b/c", "/d e/f"].map(String::from).to_vec();
        let set = PathSet::new(&scopes);
        for p in [
            "/a", "/a/x", "/ab", "/b", "/b/c/d/e", "/b/cd", "/d e/f/g", "/d", "",
        ] {
            let want = scopes.iter().any(|s| is_within(p, s));
            assert_eq!(set.holds(p), want, "{p:?}");
        }
        assert!(PathSet::new(&[String::new()]).holds("/anything"));
        assert!(!PathSet::new::<String>(&[]).holds("/anything"));
        let (ts, tl) = (time(10_000), time(100_000));
        let ratio = tl.as_secs_f64() / ts.as_secs_f64().max(1e-9);
        // Linear: about 10 times for ten times the paths (more where the larger sets leave
        // the CPU caches, on a busy host); n²: 100.
        assert!(ratio < 40.0, "10k: {ts:?}, 100k: {tl:?} ({ratio:.1}×)");
    }

    #[test]
    fn clashing_names_keep_the_synced_one() {
        let n = |p: &str| Found {
            key: key(p),
            node: LocalNode {
                path: p.into(),
                inode: 1,
                kind: LocalKind::Folder,
            },
            ctime_ns: None,
        };
        let (owners, clashes) = resolve_clashes(
            vec![n("/A.txt"), n("/a.txt")],
            &|_| Some("/a.txt".into()),
            &|_| true,
        );
        assert_eq!(owners[0].node.path, "/a.txt");
        assert_eq!(clashes[0].path, "/A.txt");
        // The indexed owner still exists under its name: the newcomer clashes.
        let (owners, clashes) =
            resolve_clashes(vec![n("/README")], &|_| Some("/readme".into()), &|_| true);
        assert!(owners.is_empty());
        assert_eq!(clashes[0].path, "/README");
        // A case-only rename: the old name is gone, the new one takes the key.
        let (owners, _) =
            resolve_clashes(vec![n("/README")], &|_| Some("/readme".into()), &|_| false);
        assert_eq!(owners[0].node.path, "/README");
    }
}
