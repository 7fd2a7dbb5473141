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
        lock(&self.shared.table).len()
    }

    /// Why file events are not seen, if they are not.
    pub(super) fn trouble(&self) -> Option<String> {
        lock(&self.shared.trouble).clone()
    }

    /// How many folders (each with all below it) could not be watched for the limit.
    pub(super) fn unwatched(&self) -> usize {
        lock(&self.shared.table).unwatched.len()
    }

    /// Pack what was added to the table since it was last packed (see [`Table`]), if that is
    /// enough to be worth copying the table; called when the pair has gone idle.
    pub(super) fn compact(&self) {
        let mut t = lock(&self.shared.table);
        if t.worth_packing() {
            t.pack();
        }
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
        let mut t = lock(&self.table);
        if t.below_unwatched(rel) {
            return; // its rescans cover it
        }
        let over = self
            .max
            .is_some_and(|m| t.len() >= m && t.get(rel).is_none());
        let added = if over {
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        } else if self.max.is_some() {
            // Under a set limit, one at a time: it is kept exactly.
            self.events.add(dir)
        } else {
            // The system call (a path lookup, a few µs) outside the lock: the walk's threads
            // place 50,000 watches at 1,000,000 files. An event read for the watch before it is
            // written down is dropped, and is of no matter: the scan lists the folder after
            // this returns, and sees what the event was about.
            drop(t);
            let added = self.events.add(dir);
            t = lock(&self.table);
            added
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

/// The watched folders, both ways (folder → watch, watch → folder).
///
/// Most entries sit packed in a few large blocks ([`Packed`]): one string of all the paths,
/// their rows sorted by path, and one hash table from watch to row. What was added since the
/// last [`Table::pack`] sits in two small maps. Entries are written by the scans' walk
/// threads, between the many short-lived allocations of a walk; held one by one, each would
/// keep a page of the walk's freed memory from going back to the system. Packed, the whole
/// table is three blocks, wherever they landed.
///
/// A path is in one layer at most, and so is a watch.
#[derive(Default)]
struct Table {
    packed: Packed,
    /// Folder → watch, added since the last pack (relative display paths; `""`: the pair's
    /// folder).
    fresh_by_path: BTreeMap<Arc<str>, i32>,
    /// Watch → folder, added since the last pack.
    fresh_by_watch: HashMap<i32, Arc<str>>,
    /// The folders that could not be watched for the watch limit, each with all below it.
    unwatched: BTreeSet<String>,
}

/// Folders and their watches in three blocks. A removed entry keeps its row (its watch
/// becomes [`GONE`]) until the next pack.
#[derive(Default)]
struct Packed {
    text: String,
    /// Sorted by path (removed rows too).
    rows: Vec<Row>,
    /// Each live watch's row.
    by_watch: HashMap<i32, u32>,
}

#[derive(Clone, Copy)]
struct Row {
    start: usize,
    len: u32,
    watch: i32,
}

/// Entries added or removed since the last pack that make a new pack worth its copying.
const PACK_AFTER: usize = 64;

/// The watch of a removed row (inotify's watch descriptors are never negative).
const GONE: i32 = -1;

impl Packed {
    fn path(&self, r: Row) -> &str {
        &self.text[r.start..r.start + r.len as usize]
    }

    /// The row of `rel` (removed or not).
    fn find(&self, rel: &str) -> Option<usize> {
        self.rows.binary_search_by(|r| self.path(*r).cmp(rel)).ok()
    }

    fn get(&self, rel: &str) -> Option<i32> {
        self.find(rel)
            .map(|i| self.rows[i].watch)
            .filter(|w| *w != GONE)
    }

    fn folder_of(&self, watch: i32) -> Option<&str> {
        let i = *self.by_watch.get(&watch)?;
        Some(self.path(self.rows[i as usize]))
    }

    fn remove_row(&mut self, i: usize) -> i32 {
        let w = std::mem::replace(&mut self.rows[i].watch, GONE);
        if w != GONE {
            self.by_watch.remove(&w);
        }
        w
    }

    fn live(&self) -> usize {
        self.by_watch.len()
    }

    /// The live rows at `rel` and below it.
    fn below(&self, rel: &str) -> Vec<usize> {
        let from = self.rows.partition_point(|r| self.path(*r) < rel);
        (from..self.rows.len())
            .take_while(|i| self.path(self.rows[*i]).starts_with(rel))
            .filter(|i| {
                let r = self.rows[*i];
                r.watch != GONE && is_at_or_below(self.path(r), rel)
            })
            .collect()
    }
}

/// `p` is `rel` or a path below it.
fn is_at_or_below(p: &str, rel: &str) -> bool {
    p.starts_with(rel) && (p.len() == rel.len() || p.as_bytes()[rel.len()] == b'/')
}

impl Table {
    /// How many folders are watched.
    fn len(&self) -> usize {
        self.packed.live() + self.fresh_by_path.len()
    }

    /// The watch of folder `rel`.
    fn get(&self, rel: &str) -> Option<i32> {
        self.fresh_by_path
            .get(rel)
            .copied()
            .or_else(|| self.packed.get(rel))
    }

    /// The folder `watch` watches.
    fn folder_of(&self, watch: i32) -> Option<&str> {
        match self.fresh_by_watch.get(&watch) {
            Some(p) => Some(p),
            None => self.packed.folder_of(watch),
        }
    }

    /// Forget `rel`'s watch; the watch it had.
    fn remove_folder(&mut self, rel: &str) -> Option<i32> {
        if let Some(w) = self.fresh_by_path.remove(rel) {
            self.fresh_by_watch.remove(&w);
            return Some(w);
        }
        let i = self.packed.find(rel)?;
        Some(self.packed.remove_row(i)).filter(|w| *w != GONE)
    }

    /// Forget `watch`; whether it was known.
    fn remove_watch(&mut self, watch: i32) -> bool {
        if let Some(p) = self.fresh_by_watch.remove(&watch) {
            self.fresh_by_path.remove(&p);
            return true;
        }
        match self.packed.by_watch.get(&watch) {
            Some(&i) => {
                self.packed.remove_row(i as usize);
                true
            }
            None => false,
        }
    }

    /// Enough was added or removed since the last pack to pack again: a few entries
    /// outside the blocks hold little, and a pack copies every entry.
    fn worth_packing(&self) -> bool {
        let changed = self.fresh_by_path.len() + (self.packed.rows.len() - self.packed.live());
        changed >= PACK_AFTER.max(self.len() / 64)
    }

    /// Move every entry into one new [`Packed`], in path order; the old blocks and the small
    /// maps are freed.
    fn pack(&mut self) {
        let old = std::mem::take(&mut self.packed);
        let fresh = std::mem::take(&mut self.fresh_by_path);
        self.fresh_by_watch = HashMap::new();
        let live = old.rows.iter().filter(|r| r.watch != GONE);
        let bytes = live.clone().map(|r| r.len as usize).sum::<usize>()
            + fresh.keys().map(|p| p.len()).sum::<usize>();
        let n = old.live() + fresh.len();
        let mut new = Packed {
            text: String::with_capacity(bytes),
            rows: Vec::with_capacity(n),
            by_watch: HashMap::with_capacity(n),
        };
        let mut push = |path: &str, watch: i32| {
            new.by_watch.insert(watch, new.rows.len() as u32);
            new.rows.push(Row {
                start: new.text.len(),
                len: path.len() as u32,
                watch,
            });
            new.text.push_str(path);
        };
        let mut a = live.map(|r| (old.path(*r), r.watch)).peekable();
        let mut b = fresh.iter().map(|(p, w)| (&**p, *w)).peekable();
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 < y.0 => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            let (p, w) = next.expect("peeked");
            push(p, w);
        }
        self.packed = new;
    }

    /// Every watched folder and its watch, in path order (for tests).
    #[cfg(test)]
    fn entries(&self) -> Vec<(String, i32)> {
        let mut all: Vec<(String, i32)> = self
            .packed
            .rows
            .iter()
            .filter(|r| r.watch != GONE)
            .map(|r| (self.packed.path(*r).to_string(), r.watch))
            .chain(self.fresh_by_path.iter().map(|(p, w)| (p.to_string(), *w)))
            .collect();
        all.sort();
        all
    }

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
        match self.folder_of(wd) {
            Some(p) if p == rel => return,
            // The folder was moved here: its watch followed it.
            Some(_) => {
                self.remove_watch(wd);
            }
            None => {}
        }
        if let Some(old) = self.remove_folder(rel) {
            // Another folder stands where the watched one was.
            events.remove(old);
        }
        let p: Arc<str> = rel.into();
        self.fresh_by_path.insert(p.clone(), wd);
        self.fresh_by_watch.insert(wd, p);
        self.unwatched.remove(rel);
    }

    /// The watch `wd` ended (its folder was deleted).
    fn dropped(&mut self, wd: i32) {
        self.remove_watch(wd);
    }

    /// The folder `rel` was moved away: its watches and those below it go (if it went to
    /// another place in the pair, the scan of that place watches it there again).
    fn moved_away(&mut self, rel: &str, events: &Watcher) {
        let fresh: Vec<Arc<str>> = self
            .fresh_by_path
            .range::<str, _>((std::ops::Bound::Included(rel), std::ops::Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(rel))
            .filter(|p| is_at_or_below(p, rel))
            .cloned()
            .collect();
        for p in fresh {
            if let Some(wd) = self.remove_folder(&p) {
                events.remove(wd);
            }
        }
        for i in self.packed.below(rel) {
            events.remove(self.packed.remove_row(i));
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
                    let Some(dir) = t.folder_of(wd) else {
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

    fn table(paths: &[(&str, i32)], w: &Watcher) -> Table {
        let mut t = Table::default();
        for (p, wd) in paths {
            t.put(p, *wd, w);
        }
        t
    }

    fn paths(t: &Table) -> Vec<String> {
        t.entries().into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn a_folder_moved_away_takes_its_watches_and_only_its_own() {
        let (w, _stop) = Watcher::open().unwrap();
        let all = [("", 1), ("/a", 2), ("/a/b", 3), ("/a b", 4), ("/a-c", 5), ("/ab", 6)];
        // Packed, unpacked, and half of each.
        for packed in [0, all.len(), 3] {
            let mut t = table(&all[..packed], &w);
            t.pack();
            for (p, wd) in &all[packed..] {
                t.put(p, *wd, &w);
            }
            t.moved_away("/a", &w);
            assert_eq!(paths(&t), ["", "/a b", "/a-c", "/ab"], "{packed} packed");
            assert_eq!(t.len(), 4);
            // A watch that ended; a folder moved (its watch followed it); another folder
            // where a watched one stood.
            t.dropped(4);
            t.put("/new", 5, &w);
            t.put("/ab", 9, &w);
            let want = [("".to_string(), 1), ("/ab".into(), 9), ("/new".into(), 5)];
            assert_eq!(t.entries(), want, "{packed} packed");
            t.pack();
            assert_eq!(t.entries(), want, "{packed} packed, then packed again");
            assert_eq!((t.folder_of(9), t.folder_of(6), t.get("/new")), (Some("/ab"), None, Some(5)));
        }
    }

    /// Random puts, drops and moves, with packs between them, agree with two plain maps.
    #[test]
    fn the_packed_table_agrees_with_plain_maps() {
        let (w, _stop) = Watcher::open().unwrap();
        let names = ["", "/a", "/a/b", "/a/b/c", "/a b", "/a-c", "/ab", "/b", "/b/a", "/c"];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut t = Table::default();
        let mut by_path: BTreeMap<String, i32> = BTreeMap::new();
        let mut by_watch: HashMap<i32, String> = HashMap::new();
        for step in 0..20_000 {
            let rel = names[next(names.len())];
            let wd = next(16) as i32;
            match next(10) {
                0..=5 => {
                    t.put(rel, wd, &w);
                    if by_watch.get(&wd).map(|p| &**p) != Some(rel) {
                        if let Some(p) = by_watch.remove(&wd) {
                            by_path.remove(&p);
                        }
                        if let Some(old) = by_path.remove(rel) {
                            by_watch.remove(&old);
                        }
                        by_path.insert(rel.into(), wd);
                        by_watch.insert(wd, rel.into());
                    }
                }
                6 => {
                    t.dropped(wd);
                    if let Some(p) = by_watch.remove(&wd) {
                        by_path.remove(&p);
                    }
                }
                7 => {
                    t.moved_away(rel, &w);
                    by_path.retain(|p, wd| {
                        let keep = !is_at_or_below(p, rel);
                        if !keep {
                            by_watch.remove(wd);
                        }
                        keep
                    });
                }
                8 => t.pack(),
                _ => {
                    if t.worth_packing() {
                        t.pack();
                    }
                }
            }
            let want: Vec<(String, i32)> = by_path.iter().map(|(p, w)| (p.clone(), *w)).collect();
            assert_eq!(t.entries(), want, "step {step}");
            assert_eq!(t.len(), want.len(), "step {step}");
            for n in names {
                assert_eq!(t.get(n), by_path.get(n).copied(), "step {step}: {n}");
            }
            for wd in 0..16 {
                assert_eq!(t.folder_of(wd), by_watch.get(&wd).map(|p| &**p), "step {step}: {wd}");
            }
        }
    }

    /// What a scan of many folders adds is packed into three blocks once the pair is idle,
    /// and a handful of later changes is not worth a pack.
    #[test]
    fn many_new_entries_are_packed_and_a_few_are_not() {
        let (w, _stop) = Watcher::open().unwrap();
        let mut t = Table::default();
        for i in 0..10_000 {
            t.put(&format!("/d{i:05}"), i, &w);
        }
        assert!(t.worth_packing());
        t.pack();
        assert!(t.fresh_by_path.is_empty() && t.fresh_by_watch.is_empty());
        assert_eq!((t.len(), t.packed.rows.len()), (10_000, 10_000));
        t.put("/new", 20_000, &w);
        t.dropped(3);
        assert!(!t.worth_packing(), "two changes among 10,000 entries");
        t.moved_away("/d01", &w); // /d01000 ..= /d01999 stay: not below /d01
        assert_eq!(t.len(), 10_000);
        t.moved_away("/d01000", &w);
        assert_eq!((t.len(), t.get("/d01000"), t.get("/d01001")), (9_999, None, Some(1001)));
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
        lock(&w.shared.table).pack();
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
