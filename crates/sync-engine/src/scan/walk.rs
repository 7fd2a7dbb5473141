//! The walk: scopes cut at links, folders listed by several threads from one queue, and
//! each entry classified (synced, not synced, unreadable, gone).

use super::faults;
use super::{ScanIssue, Scanner, Seen, Sink};
use crate::localfs::sig_of;
use crate::sync_lock::lock;
use std::collections::HashSet;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use sync_core::path::{NameProblem, check_os_name};

impl Scanner<'_> {
    /// Scopes as they may be walked: a scope below an entry that is no longer a real folder
    /// (a link now, a file, or gone) becomes that entry — its subtree is what changed, and a
    /// path through a link would lead out of the pair's folder. Entries that cannot be looked
    /// at are left as they are (the walk reports them).
    pub(super) fn cut_at_links(&self, scopes: &[String]) -> Vec<String> {
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

    pub(super) fn walk(
        &self,
        scope: &str,
        sink: &Sink<'_>,
    ) {
        let (issues, unreadable) = (&sink.issues, &sink.unreadable);
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
                let mut one = Vec::new();
                sink.take(s, &mut one);
                if let Ok(mut v) = sink.kept.lock() {
                    v.append(&mut one);
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
                        into: &sink.kept,
                    };
                    while let Some((dir, rel)) = queue.next() {
                        let mut listing = Listing {
                            queue: &queue,
                            subdirs: Vec::new(),
                        };
                        self.list(
                            &dir,
                            &rel,
                            sink,
                            &mut mine.items,
                            &mut listing.subdirs,
                        );
                    }
                });
            }
        });
    }

    /// One folder of the walk: its synced entries go to `sink` (what it keeps, to `items`),
    /// its subfolders to `subdirs`.
    fn list(
        &self,
        dir: &Path,
        rel: &str,
        sink: &Sink<'_>,
        items: &mut Vec<Seen>,
        subdirs: &mut Vec<(PathBuf, String)>,
    ) {
        let (issues, unreadable) = (&sink.issues, &sink.unreadable);
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
        if let Some(w) = self.watch {
            w.watch(rel, dir);
        }
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
                sink.take(s, items);
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

/// An error that means the entry is not there (rather than that it could not be looked at).
pub(crate) fn gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// What an `unreadable` issue says: what failed, and what to do about it.
pub(super) fn unreadable_message(what: &str, e: &std::io::Error) -> String {
    let todo = if e.kind() == std::io::ErrorKind::PermissionDenied {
        "check its permissions (nuvosync needs to read files and to list and enter folders: `chmod u+rwX`)"
    } else {
        "the disk or network share reported an error; check the drive or the connection to the share"
    };
    format!(
        "cannot look at this {what} ({e}) — {todo}. Until it can be read, it is kept as it was: nothing here is deleted on Dropbox and nothing here is synced"
    )
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
