//! The file watcher of a running pair: one watch per folder the pair syncs, so that
//! nuvosync's own folder, excluded folders and ignored ones are not watched at all (their
//! events cost watches and wake-ups, and a build folder's churn could overflow the kernel's
//! queue).
//!
//! The scans place the watches: each folder a scan walks is watched just before it is
//! listed ([`WatchDirs`]), by the walk's own threads. So the first scan after a start watches
//! the whole folder in the time of its walk — there is no second walk for the watcher — and
//! a folder that appears later is watched by the scan its event sets off, before that scan
//! lists it: nothing made in it is missed. Every full scan places them all again (a watch
//! already in place costs one system call), which also picks up what the watcher lost.
//!
//! A thread reads the kernel's reports and hands the changed paths to the pair's loop
//! ([`Triggers`]); an overflow of the kernel's queue is a full rescan. Past the system's
//! watch limit the folders that could not be watched are noted (each with all below it) and
//! the loop rescans them on their own.

use super::triggers::Triggers;
use crate::pair::lock;
use crate::platform::dir_events::{self, DirEvent, Stopper, Watcher};
use crate::scan::WatchDirs;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A pair's watcher; dropping it stops the thread that reads the events.
pub(super) struct Watch {
    pub(super) shared: Arc<Watched>,
    stopper: Stopper,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// The watches, shared by the scans (which add them) and the reader (which maps events to
/// paths).
pub(super) struct Watched {
    events: Watcher,
    root: PathBuf,
    /// At most this many watches (`RunOptions::max_watches`).
    max: Option<usize>,
    table: Mutex<Table>,
    /// Why file events are not seen: the pair's folder cannot be watched, or events can no
    /// longer be read (the reader ended).
    trouble: Mutex<Option<String>>,
}

#[derive(Default)]
struct Table {
    /// Each watched folder's watch (relative display paths; `""`: the pair's folder).
    by_path: BTreeMap<Arc<str>, i32>,
    /// Each watch's folder.
    by_watch: HashMap<i32, Arc<str>>,
    /// The folders that could not be watched for the watch limit, each with all below it.
    unwatched: BTreeSet<String>,
    /// Entries written since the table was last copied (see [`Watch::compact`]).
    added: usize,
}

impl Watch {
    /// Start reading events for `root`; nothing is watched until a scan walks it.
    pub(super) fn start(
        root: &Path,
        triggers: Arc<Triggers>,
        max: Option<usize>,
    ) -> Result<Watch, String> {
        let (events, stopper) = Watcher::open().map_err(|e| {
            format!(
                "cannot watch {} for file events ({e}); changes are found by periodic rescans",
                root.display()
            )
        })?;
        let shared = Arc::new(Watched {
            events,
            root: root.to_path_buf(),
            max,
            table: Mutex::new(Table::default()),
            trouble: Mutex::new(None),
        });
        let s = shared.clone();
        let reader = std::thread::Builder::new()
            .name("nuvosync-watch".into())
            .spawn(move || s.read_events(&triggers))
            .map_err(|e| format!("cannot watch for file events: {e}"))?;
        Ok(Watch {
            shared,
            stopper,
            reader: Some(reader),
        })
    }

    /// How many folders are watched.
    pub(super) fn watched(&self) -> usize {
        lock(&self.shared.table).by_path.len()
    }

    /// Why file events are not seen, if they are not.
    pub(super) fn trouble(&self) -> Option<String> {
        lock(&self.shared.trouble).clone()
    }

    /// How many folders (each with all below it) could not be watched for the limit.
    pub(super) fn unwatched(&self) -> usize {
        lock(&self.shared.table).unwatched.len()
    }

    /// Copy the table into new memory and free the old. The scans' threads write its entries
    /// between the many short-lived ones of a walk, and each of them then holds on to a page
    /// of freed memory that the allocator cannot give back to the system; copied while the pair
    /// is idle, they sit together.
    pub(super) fn compact(&self) {
        let mut t = lock(&self.shared.table);
        if std::mem::take(&mut t.added) == 0 {
            return; // nothing new since the last copy
        }
        let mut by_path = BTreeMap::new();
        let mut by_watch = HashMap::with_capacity(t.by_watch.len());
        for (p, wd) in &t.by_path {
            let p: Arc<str> = Arc::from(&**p);
            by_watch.insert(*wd, p.clone());
            by_path.insert(p, *wd);
        }
        let old = (
            std::mem::replace(&mut t.by_path, by_path),
            std::mem::replace(&mut t.by_watch, by_watch),
        );
        drop(t);
        drop(old);
    }

    /// The folders the limit left unwatched, to be scanned (and so watched) again: they are
    /// tried again then (the limit may have been raised).
    pub(super) fn take_unwatched(&self) -> BTreeSet<String> {
        std::mem::take(&mut lock(&self.shared.table).unwatched)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl WatchDirs for Watched {
    fn watch(&self, rel: &str, dir: &Path) {
        // One at a time: the limit is kept exactly, and an event is never read for a watch
        // whose folder is not written down yet.
        let mut t = lock(&self.table);
        if t.below_unwatched(rel) {
            return; // its rescans cover it
        }
        let over = self
            .max
            .is_some_and(|m| t.by_path.len() >= m && !t.by_path.contains_key(rel));
        let added = if over {
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        } else {
            self.events.add(dir)
        };
        match added {
            Ok(wd) => {
                if rel.is_empty() {
                    *lock(&self.trouble) = None;
                }
                t.put(rel, wd, &self.events)
            }
            Err(e) if over || dir_events::is_watch_limit(&e) => {
                // Nothing below it can be watched either: its rescans cover it all.
                t.unwatched.insert(rel.to_string());
            }
            // The pair's folder itself (a file system without file events): said in status.
            Err(e) if rel.is_empty() && !crate::scan::gone(&e) => {
                *lock(&self.trouble) = Some(format!(
                    "cannot watch {} for file events ({e}); changes are found by periodic rescans",
                    self.root.display()
                ));
            }
            // Gone or unreadable: the scan reports it.
            Err(_) => {}
        }
    }
}

impl Table {
    /// `rel` or a folder above it could not be watched.
    fn below_unwatched(&self, rel: &str) -> bool {
        if self.unwatched.is_empty() {
            return false;
        }
        let mut at = rel.len();
        loop {
            if self.unwatched.contains(&rel[..at]) {
                return true;
            }
            match rel[..at].rfind('/') {
                Some(i) => at = i,
                None => return false,
            }
        }
    }

    /// `rel` is watched by `wd`.
    fn put(&mut self, rel: &str, wd: i32, events: &Watcher) {
        match self.by_watch.get(&wd) {
            Some(p) if **p == *rel => return,
            // The folder was moved here: its watch followed it.
            Some(p) => {
                let p = p.clone();
                self.by_path.remove(&p);
            }
            None => {}
        }
        if let Some(old) = self.by_path.get(rel).copied() {
            // Another folder stands where the watched one was.
            self.by_watch.remove(&old);
            events.remove(old);
        }
        let p: Arc<str> = rel.into();
        self.by_path.insert(p.clone(), wd);
        self.by_watch.insert(wd, p);
        self.unwatched.remove(rel);
        self.added += 1;
    }

    /// The watch `wd` ended (its folder was deleted).
    fn dropped(&mut self, wd: i32) {
        if let Some(p) = self.by_watch.remove(&wd) {
            if self.by_path.get(&p) == Some(&wd) {
                self.by_path.remove(&p);
            }
        }
    }

    /// The folder `rel` was moved away: its watches and those below it go (if it went to
    /// another place in the pair, the scan of that place watches it there again).
    fn moved_away(&mut self, rel: &str, events: &Watcher) {
        let below: Vec<Arc<str>> = self
            .by_path
            .range::<str, _>((std::ops::Bound::Included(rel), std::ops::Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(rel))
            .filter(|p| p.len() == rel.len() || p.as_bytes()[rel.len()] == b'/')
            .cloned()
            .collect();
        for p in below {
            if let Some(wd) = self.by_path.remove(&p) {
                self.by_watch.remove(&wd);
                events.remove(wd);
            }
        }
    }
}

impl Watched {
    /// The reader's loop: until the watcher is dropped, or events cannot be read.
    fn read_events(&self, triggers: &Triggers) {
        let mut buf = Vec::new();
        let mut got: Vec<(i32, Option<OsString>, bool)> = Vec::new();
        loop {
            let mut overflow = false;
            let mut ended: Vec<i32> = Vec::new();
            let read = self.events.read(&mut buf, &mut |e| match e {
                DirEvent::Overflow => overflow = true,
                DirEvent::Dropped(wd) => ended.push(wd),
                DirEvent::Changed {
                    watch,
                    name,
                    dir_moved_away,
                } => got.push((watch, name.map(OsString::from), dir_moved_away)),
            });
            match read {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(root = %self.root.display(), "file events cannot be read: {e}");
                    *lock(&self.trouble) = Some(format!(
                        "file events cannot be read ({e}); changes are found by periodic rescans"
                    ));
                    triggers.full();
                    return;
                }
            }
            let mut paths = Vec::with_capacity(got.len());
            {
                let mut t = lock(&self.table);
                for (wd, name, moved_away) in got.drain(..) {
                    let Some(dir) = t.by_watch.get(&wd) else {
                        continue; // a watch already removed
                    };
                    let path = match name {
                        Some(n) => format!("{dir}/{}", n.to_string_lossy()),
                        None => dir.to_string(),
                    };
                    if moved_away {
                        t.moved_away(&path, &self.events);
                    }
                    paths.push(path);
                }
                for wd in ended {
                    t.dropped(wd);
                }
            }
            if overflow {
                // The kernel's queue overflowed: changes were not reported one by one.
                tracing::info!("the file event queue overflowed; rescanning the whole folder");
                triggers.full();
            } else if !paths.is_empty() {
                triggers.changed(paths);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(paths: &[(&str, i32)]) -> Table {
        let mut t = Table::default();
        for (p, wd) in paths {
            let p: Arc<str> = (*p).into();
            t.by_path.insert(p.clone(), *wd);
            t.by_watch.insert(*wd, p);
        }
        t
    }

    #[test]
    fn a_folder_moved_away_takes_its_watches_and_only_its_own() {
        let (w, _stop) = Watcher::open().unwrap();
        let mut t = table(&[("", 1), ("/a", 2), ("/a/b", 3), ("/a b", 4), ("/a-c", 5), ("/ab", 6)]);
        t.moved_away("/a", &w);
        let left: Vec<&str> = t.by_path.keys().map(|p| &**p).collect();
        assert_eq!(left, ["", "/a b", "/a-c", "/ab"]);
        assert_eq!(t.by_watch.len(), 4);
        // A watch that ended; a folder moved (its watch followed it); another folder where a
        // watched one stood.
        t.dropped(4);
        t.put("/new", 5, &w);
        t.put("/ab", 9, &w);
        let now: Vec<(&str, i32)> = t.by_path.iter().map(|(p, w)| (&**p, *w)).collect();
        assert_eq!(now, [("", 1), ("/ab", 9), ("/new", 5)]);
        assert_eq!(t.by_watch.len(), 3);
    }

    /// Watches placed through the scan's hook report their events as paths of the pair,
    /// before and after the table is copied anew; the limit is kept exactly.
    #[test]
    fn events_arrive_as_paths_and_survive_a_compaction() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["a/b", "c"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let triggers = Arc::new(Triggers::default());
        let w = Watch::start(dir.path(), triggers.clone(), Some(3)).unwrap();
        for rel in ["", "/a", "/a/b", "/c"] {
            w.shared.watch(rel, &dir.path().join(rel.trim_start_matches('/')));
        }
        assert_eq!((w.watched(), w.unwatched()), (3, 1), "the limit of 3 is kept");
        let wait_for = |want: &str| {
            let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                if triggers.take().paths.contains(want) {
                    return;
                }
                assert!(std::time::Instant::now() < end, "no event for {want}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        std::fs::write(dir.path().join("a/b/one.txt"), b"1").unwrap();
        wait_for("/a/b/one.txt");
        w.compact();
        assert_eq!(w.watched(), 3);
        std::fs::write(dir.path().join("a/b/two.txt"), b"2").unwrap();
        wait_for("/a/b/two.txt");
        assert_eq!(w.take_unwatched().into_iter().collect::<Vec<_>>(), ["/c"]);
        drop(w); // stops the reader
    }

    #[test]
    fn below_an_unwatched_folder_nothing_is_tried() {
        let mut t = Table::default();
        t.unwatched.insert("/x".into());
        assert!(t.below_unwatched("/x"));
        assert!(t.below_unwatched("/x/y/z"));
        assert!(!t.below_unwatched("/xy"));
        assert!(!t.below_unwatched(""));
        t.unwatched.insert(String::new());
        assert!(t.below_unwatched("/anything"));
    }
}
