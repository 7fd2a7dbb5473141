//! Local faults of the seeded runs, drawn from a stream of their own (so that a seed's edits,
//! server faults and crashes stay what they were):
//!
//! - **unreadable**: `EACCES` or `EIO` on the `lstat`, listing or read of a file or folder,
//!   for a few calls of one step (transient) or until the disturbance ends (persistent) — in
//!   the scanner's own calls ([`sync_engine::scan::faults`]) and in the file layer's
//!   ([`FaultFs`]);
//! - **coarse timestamps**: a file edited in place keeping its size and modification time,
//!   as on a file system with 2-second times or after a tool that puts the time back;
//! - **links swapped in** between the scan and the execution of a step: a file or folder of
//!   the pair, `.nuvosync` or its temp folder replaced by a link to a folder outside the
//!   pair (what it replaced is put back after the step).
//!
//! Checked on top of the seeded runs' own checks: nothing outside the pair's folder (the
//! sentinel files the links point to) is ever written or deleted, and a file that could not
//! be read here is never deleted on Dropbox.

use super::*;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::sync::Mutex;
use sync_engine::localfs::{Dir, Fs};
use sync_engine::scan::faults::{self, Op};

/// One fault in force.
#[derive(Clone, Debug)]
struct Rule {
    machine: usize,
    path: PathBuf,
    ops: Vec<Op>,
    errno: i32,
    /// Calls still to fail (transient), or `None` (until the disturbance ends).
    left: Option<u64>,
}

/// A link planned for one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SwapKind {
    File,
    Folder,
    StateFolder,
    TempFolder,
}

#[derive(Debug)]
struct PlannedSwap {
    kind: SwapKind,
    path: PathBuf,
    /// Before this many of the step's doing calls (create, rename, open, remove ...).
    at: u64,
}

/// A link that was swapped in: where, and where what it replaced waits.
#[derive(Debug)]
pub(crate) struct Swapped {
    pub(crate) kind: SwapKind,
    path: PathBuf,
    held: Option<PathBuf>,
}

/// The local faults of one seed.
pub(crate) struct Local {
    pub(crate) rng: SmallRng,
    rules: Arc<Mutex<Vec<Rule>>>,
    /// Outside every pair: `outside/` (the sentinels links point to) and `hold/` (what a link
    /// displaced, during its step).
    scratch: tempfile::TempDir,
    held: u64,
    _hook: faults::Injected,
}

const SENTINELS: &[(&str, &[u8])] = &[
    ("sentinel.txt", b"outside the pair: never written"),
    ("sub/deeper.txt", b"outside the pair: nor this"),
    ("a.txt", b"outside the pair: a name the pair uses too"),
];

impl Local {
    pub(crate) fn new(seed: u64, world: &Path) -> Local {
        let scratch = tempfile::tempdir().unwrap();
        for (rel, data) in SENTINELS {
            let p = scratch.path().join("outside").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        std::fs::create_dir_all(scratch.path().join("hold")).unwrap();
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let r = rules.clone();
        let hook = faults::inject(
            world,
            Arc::new(move |path: &Path, op: Op| fail(&r, path, op)),
        );
        Local {
            rng: SmallRng::seed_from_u64(seed ^ 0x4c4f_4341_4c46_4c54),
            rules,
            scratch,
            held: 0,
            _hook: hook,
        }
    }

    pub(crate) fn outside(&self) -> PathBuf {
        self.scratch.path().join("outside")
    }

    /// The sentinels outside the pair are exactly as planted.
    pub(crate) fn outside_intact(&self) -> Result<(), String> {
        let mut found = vec![];
        let mut stack = vec![self.outside()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(|e| e.to_string())?.flatten() {
                let ft = e.file_type().unwrap();
                let rel = e
                    .path()
                    .strip_prefix(self.outside())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if ft.is_dir() {
                    stack.push(e.path());
                } else {
                    let data = std::fs::read(e.path()).unwrap_or_default();
                    found.push((rel, ContentHash::of(&data)));
                }
            }
        }
        found.sort();
        let mut want: Vec<(String, ContentHash)> = SENTINELS
            .iter()
            .map(|(r, d)| (r.to_string(), ContentHash::of(d)))
            .collect();
        want.sort();
        if found != want {
            return Err(format!(
                "outside the pair's folder something was written or deleted: {found:?}"
            ));
        }
        Ok(())
    }

    /// The files on `root` (machine `m`) that a fault in force makes unreadable, as Dropbox
    /// keys with their paths.
    fn unreadable(&self, m: usize, root: &Path) -> Vec<(String, PathBuf)> {
        let rules = self.rules.lock().unwrap();
        let mut out = vec![];
        for r in rules.iter().filter(|r| r.machine == m) {
            let Ok(md) = std::fs::symlink_metadata(&r.path) else {
                continue;
            };
            let files: Vec<PathBuf> = if md.is_dir() {
                files_under(&r.path)
                    .into_iter()
                    .filter(|(_, d)| !d)
                    .map(|(p, _)| p)
                    .collect()
            } else if md.is_file() {
                vec![r.path.clone()]
            } else {
                vec![]
            };
            for p in files {
                let rel = format!("/{}", p.strip_prefix(root).unwrap().to_string_lossy());
                out.push((sync_core::path::key(&rel), p));
            }
        }
        out
    }
}

/// Whether a call fails, and how.
fn fail(rules: &Mutex<Vec<Rule>>, path: &Path, op: Op) -> Option<io::Error> {
    let mut rules = rules.lock().unwrap();
    for r in rules.iter_mut() {
        if r.path == path && r.ops.contains(&op) {
            match &mut r.left {
                Some(0) => continue,
                Some(n) => *n -= 1,
                None => {}
            }
            return Some(io::Error::from_raw_os_error(r.errno));
        }
    }
    None
}

/// The file layer of a step with local faults: the layer in force (the real disk or the
/// power-cut twin) with the unreadable paths failing, and a link swapped in before the Nth
/// call that does something.
#[derive(Debug)]
pub(crate) struct FaultFs {
    inner: Arc<dyn Fs>,
    rules: Arc<Mutex<Vec<Rule>>>,
    swap: Mutex<Option<PlannedSwap>>,
    outside: PathBuf,
    hold: PathBuf,
    doing: AtomicU64,
    pub(crate) swapped: Mutex<Option<Swapped>>,
}

impl FaultFs {
    /// Whether the link swapped in stood for the state folder or its temp folder.
    pub(crate) fn state_swapped(&self) -> bool {
        self.swapped
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|s| matches!(s.kind, SwapKind::StateFolder | SwapKind::TempFolder))
    }

    fn check(&self, at: &Dir, rel: &str, op: Op) -> io::Result<()> {
        let path = if rel.is_empty() {
            at.path().to_path_buf()
        } else {
            at.path().join(rel)
        };
        match fail(&self.rules, &path, op) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A call that does something: the planned link goes in first when its turn has come.
    fn doing(&self) {
        let n = self.doing.fetch_add(1, Ordering::SeqCst);
        let mut plan = self.swap.lock().unwrap();
        if plan.as_ref().is_none_or(|p| p.at > n) {
            return;
        }
        let p = plan.take().unwrap();
        let held = if std::fs::symlink_metadata(&p.path).is_ok() {
            let to = self.hold.join(n.to_string());
            if std::fs::rename(&p.path, &to).is_err() {
                return;
            }
            Some(to)
        } else {
            None
        };
        let target = match p.kind {
            SwapKind::File => self.outside.join("sentinel.txt"),
            _ => self.outside.clone(),
        };
        if std::os::unix::fs::symlink(&target, &p.path).is_ok() || held.is_some() {
            *self.swapped.lock().unwrap() = Some(Swapped {
                kind: p.kind,
                path: p.path,
                held,
            });
        }
    }
}

impl Fs for FaultFs {
    fn open_dir_path(&self, path: &Path) -> io::Result<Dir> {
        self.inner.open_dir_path(path)
    }
    fn open_dir(&self, at: &Dir, rel: &str) -> io::Result<Dir> {
        self.inner.open_dir(at, rel)
    }
    fn stat(&self, at: &Dir, rel: &str) -> io::Result<Metadata> {
        self.check(at, rel, Op::Stat)?;
        self.inner.stat(at, rel)
    }
    fn list(&self, at: &Dir, rel: &str) -> io::Result<Vec<(OsString, Metadata)>> {
        self.check(at, rel, Op::List)?;
        self.inner.list(at, rel)
    }
    fn mkdir(&self, at: &Dir, rel: &str, mode: Option<u32>) -> io::Result<()> {
        self.doing();
        self.inner.mkdir(at, rel, mode)
    }
    fn create(&self, at: &Dir, rel: &str, mode: u32) -> io::Result<File> {
        self.doing();
        self.inner.create(at, rel, mode)
    }
    fn open_read(&self, at: &Dir, rel: &str) -> io::Result<File> {
        self.doing();
        self.check(at, rel, Op::Read)?;
        self.inner.open_read(at, rel)
    }
    fn open_write(&self, at: &Dir, rel: &str) -> io::Result<File> {
        self.doing();
        self.inner.open_write(at, rel)
    }
    fn rename(
        &self,
        from_dir: &Dir,
        from: &str,
        to_dir: &Dir,
        to: &str,
        noreplace: bool,
    ) -> io::Result<()> {
        self.doing();
        self.inner.rename(from_dir, from, to_dir, to, noreplace)
    }
    fn remove_file(&self, at: &Dir, rel: &str) -> io::Result<()> {
        self.doing();
        self.inner.remove_file(at, rel)
    }
    fn remove_dir(&self, at: &Dir, rel: &str) -> io::Result<()> {
        self.doing();
        self.inner.remove_dir(at, rel)
    }
    fn sync_file(&self, f: &File) -> io::Result<()> {
        self.inner.sync_file(f)
    }
    fn sync_dir(&self, at: &Dir, rel: &str) -> io::Result<()> {
        self.inner.sync_dir(at, rel)
    }
    fn barrier(&self) -> io::Result<()> {
        self.inner.barrier()
    }
}

/// What a step's local faults were, to check and undo after it.
pub(crate) struct StepFaults {
    pub(crate) fs: Arc<FaultFs>,
    /// Files unreadable here during the step (Dropbox key, path), and Dropbox before it.
    unreadable: Vec<(String, PathBuf)>,
    remote_before: BTreeMap<String, Option<ContentHash>>,
}

impl Sim {
    /// The local faults of machine `m`'s next step over the file layer `inner`: maybe a path
    /// made unreadable (for a few calls, or until the disturbance ends), maybe a link to be
    /// swapped in (`links`: not in a step that loses power, whose twin undoes what it saw).
    pub(crate) fn local_faults_plan(
        &mut self,
        m: usize,
        inner: Arc<dyn Fs>,
        faults: bool,
        links: bool,
    ) -> StepFaults {
        let root = self.machines[m].root.clone();
        let entries = files_under(&root);
        if faults && !entries.is_empty() && self.local.rng.random_bool(0.6) {
            let (path, dir) = entries[self.local.rng.random_range(0..entries.len())].clone();
            let ops = match (dir, self.local.rng.random_range(0..3)) {
                (true, 0) => vec![Op::List],
                (true, 1) => vec![Op::Stat],
                (true, _) => vec![Op::List, Op::Stat],
                (false, 0) => vec![Op::Read],
                (false, 1) => vec![Op::Stat],
                (false, _) => vec![Op::Stat, Op::Read],
            };
            let eio = self.local.rng.random_bool(0.5);
            let left = self
                .local
                .rng
                .random_bool(0.5)
                .then(|| self.local.rng.random_range(1..4));
            if eio {
                STATS.local_eio.fetch_add(1, Ordering::Relaxed);
            } else {
                STATS.local_eacces.fetch_add(1, Ordering::Relaxed);
            }
            STATS.local_faults.fetch_add(1, Ordering::Relaxed);
            self.note(format!(
                "{} {} on {:?} of {} ({})",
                self.machines[m].name,
                if eio { "EIO" } else { "EACCES" },
                ops,
                path.display(),
                match left {
                    Some(n) => format!("the next {n} calls of this step"),
                    None => "until the disturbance ends".into(),
                }
            ));
            self.local.rules.lock().unwrap().push(Rule {
                machine: m,
                path,
                ops,
                errno: if eio { libc::EIO } else { libc::EACCES },
                left,
            });
        }
        let mut swap = None;
        if faults && links && self.local.rng.random_bool(0.4) {
            let kind = [
                SwapKind::File,
                SwapKind::Folder,
                SwapKind::StateFolder,
                SwapKind::TempFolder,
            ][self.local.rng.random_range(0..4)];
            let want_dir = kind == SwapKind::Folder;
            let pick: Vec<&PathBuf> = entries
                .iter()
                .filter(|(_, d)| *d == want_dir)
                .map(|(p, _)| p)
                .collect();
            let path = match kind {
                SwapKind::StateFolder => Some(root.join(".nuvosync")),
                SwapKind::TempFolder => Some(root.join(".nuvosync/tmp")),
                _ if pick.is_empty() => None,
                _ => Some(pick[self.local.rng.random_range(0..pick.len())].clone()),
            };
            let at = self.local.rng.random_range(0..4);
            if let Some(path) = path {
                self.note(format!(
                    "{} link to outside planned for {} before call {at}",
                    self.machines[m].name,
                    path.display()
                ));
                swap = Some(PlannedSwap { kind, path, at });
            }
        }
        self.local.held += 1;
        let hold = self
            .local
            .scratch
            .path()
            .join("hold")
            .join(self.local.held.to_string());
        std::fs::create_dir_all(&hold).unwrap();
        let unreadable = self.local.unreadable(m, &root);
        let remote_before = if unreadable.is_empty() {
            BTreeMap::new()
        } else {
            folded(&self.w.remote_tree())
        };
        StepFaults {
            fs: Arc::new(FaultFs {
                inner,
                rules: self.local.rules.clone(),
                swap: Mutex::new(swap),
                outside: self.local.outside(),
                hold,
                doing: AtomicU64::new(0),
                swapped: Mutex::new(None),
            }),
            unreadable,
            remote_before,
        }
    }

    /// After machine `m`'s step: no file that could not be read here went from Dropbox;
    /// the link swapped in (if any) is taken out again and what it replaced put back; the
    /// step's transient faults end.
    pub(crate) fn local_faults_after(&mut self, m: usize, f: StepFaults) {
        if !f.unreadable.is_empty() {
            let after = folded(&self.w.remote_tree());
            for (key, path) in &f.unreadable {
                let was = matches!(f.remote_before.get(key), Some(Some(_)));
                if was && !after.contains_key(key) && path.is_file() {
                    self.fail(format!(
                        "{} deleted {key} on Dropbox while it could not be read here",
                        self.machines[m].name
                    ));
                }
            }
        }
        self.local
            .rules
            .lock()
            .unwrap()
            .retain(|r| r.machine != m || r.left.is_none());
        let swapped = f.fs.swapped.lock().unwrap().take();
        if let Some(s) = swapped {
            STATS.local_link_swaps.fetch_add(1, Ordering::Relaxed);
            STATS.local_faults.fetch_add(1, Ordering::Relaxed);
            self.note(format!(
                "{} link swapped in for {} ({:?})",
                self.machines[m].name,
                s.path.display(),
                s.kind
            ));
            self.undo_swap(m, s);
        }
        self.remove_links_outside(m);
    }

    fn undo_swap(&mut self, m: usize, s: Swapped) {
        if std::fs::symlink_metadata(&s.path).is_ok_and(|md| md.is_symlink()) {
            std::fs::remove_file(&s.path).unwrap();
        }
        let Some(held) = s.held else {
            return;
        };
        let free = std::fs::symlink_metadata(&s.path).is_err();
        let parent = s.path.parent().unwrap();
        if free && parent.is_dir() {
            std::fs::rename(&held, &s.path).unwrap();
            return;
        }
        if matches!(s.kind, SwapKind::StateFolder | SwapKind::TempFolder) {
            self.fail(format!(
                "{} was made again while a link stood in its place",
                s.path.display()
            ));
        }
        // Its place was taken (a download landed there): it comes back beside it.
        let root = self.machines[m].root.clone();
        let dir = if parent.is_dir() {
            parent.to_path_buf()
        } else {
            root
        };
        let name = s.path.file_name().unwrap().to_string_lossy().to_string();
        let to = (1..)
            .map(|i| dir.join(format!("{name} (restored {i})")))
            .find(|p| std::fs::symlink_metadata(p).is_err())
            .unwrap();
        std::fs::rename(&held, &to).unwrap();
        self.note(format!("  put back as {}", to.display()));
    }

    /// The user removes any link to outside the engine left in the folder (moved aside as
    /// a conflicted copy, or into the trash).
    fn remove_links_outside(&mut self, m: usize) {
        let outside = self.local.outside();
        let mut stack = vec![self.machines[m].root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(e.path());
                } else if ft.is_symlink()
                    && std::fs::read_link(e.path()).is_ok_and(|t| t.starts_with(&outside))
                {
                    let _ = std::fs::remove_file(e.path());
                    self.note(format!("  link {} removed", e.path().display()));
                }
            }
        }
    }

    /// The disturbance ends: every fault is lifted (the user fixed the permissions, the
    /// share came back).
    pub(crate) fn local_faults_end(&mut self) {
        self.local.rules.lock().unwrap().clear();
    }

    /// A file of machine `m` edited in place keeping its size and modification time.
    pub(crate) fn coarse_edit(&mut self, m: usize) {
        let root = self.machines[m].root.clone();
        let files: Vec<PathBuf> = files_under(&root)
            .into_iter()
            .filter(|(_, d)| !d)
            .map(|(p, _)| p)
            .collect();
        if files.is_empty() {
            return;
        }
        let p = files[self.local.rng.random_range(0..files.len())].clone();
        let Ok(old) = std::fs::read(&p) else { return };
        let Ok(md) = std::fs::metadata(&p) else {
            return;
        };
        if old.len() < 48 {
            return;
        }
        self.counter += 1;
        let mut data =
            format!("seed {} version {} (in place)\n", self.seed, self.counter).into_bytes();
        data.resize(old.len(), b'.');
        data.truncate(old.len());
        let x: u8 = self.local.rng.random();
        let last = data.len() - 1;
        data[last] = x | 1;
        if data == old {
            return;
        }
        use std::io::Write;
        let written = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|mut f| {
                f.write_all(&data)?;
                // Two-second times (FAT, some SMB servers), or a tool that puts it back.
                f.set_modified(md.modified()?)
            });
        if written.is_ok() {
            self.retired.insert(ContentHash::of(&old));
            self.record(&data);
            STATS.local_coarse_times.fetch_add(1, Ordering::Relaxed);
            STATS.local_faults.fetch_add(1, Ordering::Relaxed);
        }
        self.note(format!(
            "{} edit in place, same size and time: {} (version {})",
            self.machines[m].name,
            p.display(),
            self.counter
        ));
    }
}
