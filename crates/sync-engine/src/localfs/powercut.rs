//! A twin of the file layer that models a power cut, for the simulation and crash tests.
//!
//! It is an overlay: every operation is carried out on the real disk by [`RealFs`] (so the
//! real scanner, which reads the disk, keeps working), and recorded with what it would take
//! to undo it. What a power cut keeps is modelled as a journaling file system in its
//! weakest documented mode would keep it:
//!
//! - a change to a folder's entries (a file or folder created, a rename, a removal) is
//!   durable once every folder it touched was synced after it ([`Fs::sync_dir`]); a rename
//!   touches the folder it leaves and the one it enters;
//! - a file's data is durable as of the last [`Fs::sync_file`] of it;
//! - at a cut, the pending (not durable) entry changes are kept only up to a point — a
//!   prefix, in the order they were made, of the length the caller chooses — and the rest is
//!   undone, newest first; every file the layer wrote gets back its durable data (none, if
//!   it was never synced: an empty file, the classic "zero-length file after a crash").
//!
//! The index is SQLite with `synchronous=FULL`, whose commits are durable when they return;
//! it is not modelled beyond that. The cut itself is a point in the sequence of operations
//! ([`PowerCut::arm`]): from that operation on, every operation fails — [`Fs::barrier`]
//! among them, which the engine passes right before it records anything in the index — as
//! if the process had stopped there; the caller then drops the engine and calls
//! [`PowerCut::cut`].
//!
//! The twin's own scratch folder (removed files are kept there as hard links, to be put
//! back) must be on the same file system as the folders it works in.

use super::{Dir, Fs, RealFs};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How to undo one change to a folder's entries.
#[derive(Debug)]
enum Undo {
    /// A file was created: remove it.
    Created { dir: Dir, name: String },
    /// A folder was created: remove it (if something durable is in it after all, it goes to
    /// the twin's lost+found, as fsck would put it).
    Made { dir: Dir, name: String },
    /// A rename: rename back, and put back what it replaced (kept in the scratch folder).
    Renamed {
        from_dir: Dir,
        from: String,
        to_dir: Dir,
        to: String,
        replaced: Option<Replaced>,
    },
    /// A file was removed: link it back from the scratch folder.
    Removed {
        dir: Dir,
        name: String,
        kept: String,
    },
    /// A folder was removed: make it again.
    Unmade { dir: Dir, name: String },
}

/// What a rename replaced.
#[derive(Debug)]
enum Replaced {
    /// A file, kept in the scratch folder under this name.
    File(String),
    /// An empty folder.
    Folder,
}

#[derive(Debug)]
struct Pending {
    undo: Undo,
    /// The folders (device, inode) whose sync makes it durable.
    needs: Vec<(u64, u64)>,
    synced: HashSet<(u64, u64)>,
}

impl Pending {
    fn durable(&self) -> bool {
        self.needs.iter().all(|d| self.synced.contains(d))
    }
}

/// A file the layer wrote: an open handle to it, and its durable data.
#[derive(Debug)]
struct Written {
    id: (u64, u64),
    file: File,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    ops: u64,
    cut_at: Option<u64>,
    off: bool,
    pending: Vec<Pending>,
    written: Vec<Written>,
    kept: u64,
}

/// What a cut did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cut {
    /// Operations made before the power went off.
    pub ops: u64,
    /// Pending folder changes kept.
    pub kept: usize,
    /// Pending folder changes undone.
    pub undone: usize,
    /// Files whose data went back to what was synced (or to nothing).
    pub files_reset: usize,
    /// Folders that were undone with durable entries in them (moved to the scratch
    /// folder's `lost+found`).
    pub lost_found: Vec<PathBuf>,
}

/// The power-cut twin of [`RealFs`].
#[derive(Debug)]
pub struct PowerCut {
    real: RealFs,
    scratch: PathBuf,
    scratch_dir: Dir,
    state: Mutex<State>,
    off: tokio::sync::Notify,
}

fn power_off() -> io::Error {
    io::Error::other("the power is off (simulated power cut)")
}

fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

impl PowerCut {
    /// A twin keeping what it removes in `scratch` (same file system as the pair's folder).
    pub fn new(scratch: &Path) -> io::Result<PowerCut> {
        std::fs::create_dir_all(scratch)?;
        let real = RealFs;
        let scratch_dir = real.open_dir_path(scratch)?;
        Ok(PowerCut {
            real,
            scratch: scratch.to_path_buf(),
            scratch_dir,
            state: Mutex::new(State::default()),
            off: tokio::sync::Notify::new(),
        })
    }

    /// Cut the power right before operation number `n` (counting from 0; `None`: never).
    pub fn arm(&self, n: Option<u64>) {
        self.lock().cut_at = n;
    }

    /// Operations made so far.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Whether the power went off.
    pub fn is_off(&self) -> bool {
        self.lock().off
    }

    /// Wait until the power goes off.
    pub async fn went_off(&self) {
        loop {
            let notified = self.off.notified();
            if self.is_off() {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count an operation; fail it if the power is off or goes off now.
    fn tick(&self, st: &mut State) -> io::Result<()> {
        if st.off {
            return Err(power_off());
        }
        if st.cut_at.is_some_and(|n| st.ops >= n) {
            st.off = true;
            self.off.notify_waiters();
            return Err(power_off());
        }
        st.ops += 1;
        Ok(())
    }

    fn parent(&self, at: &Dir, rel: &str) -> io::Result<(Dir, String)> {
        let (p, name) = split(rel);
        Ok((self.real.open_dir(at, p)?, name.to_string()))
    }

    /// Keep a hard link to `name` in `dir` in the scratch folder; returns its name there.
    fn keep(&self, st: &mut State, dir: &Dir, name: &str) -> io::Result<String> {
        st.kept += 1;
        let kept = format!("kept-{}", st.kept);
        rustix::fs::linkat(
            dir.fd(),
            name,
            self.scratch_dir.fd(),
            kept.as_str(),
            rustix::fs::AtFlags::empty(),
        )?;
        Ok(kept)
    }

    /// The power goes off (if it is not off already) and the disk is left as it would be
    /// found afterwards: of the pending folder changes, the first `keep` (in order) stay, the
    /// rest are undone; every file the layer wrote gets back its durable data. The twin can
    /// be used again afterwards (the power is back on, disarmed).
    pub fn cut(&self, keep: usize) -> Cut {
        let mut st = self.lock();
        st.off = true;
        self.off.notify_waiters();
        let pending: Vec<Pending> = std::mem::take(&mut st.pending)
            .into_iter()
            .filter(|p| !p.durable())
            .collect();
        let mut out = Cut {
            ops: st.ops,
            kept: keep.min(pending.len()),
            undone: pending.len().saturating_sub(keep),
            ..Cut::default()
        };
        for p in pending.into_iter().skip(keep).rev() {
            if let Err(e) = self.undo(p.undo, &mut out) {
                // The model cannot put this back: say so loudly (a test should not pass on
                // a disk state no power cut can produce).
                panic!("power-cut twin: cannot undo a pending change: {e}");
            }
        }
        for w in std::mem::take(&mut st.written) {
            let same = read_all(&w.file).is_ok_and(|now| now == w.durable);
            if !same {
                w.file
                    .set_len(0)
                    .and_then(|_| w.file.write_all_at(&w.durable, 0))
                    .unwrap_or_else(|e| panic!("power-cut twin: cannot reset a file's data: {e}"));
                out.files_reset += 1;
            }
        }
        st.off = false;
        st.cut_at = None;
        out
    }

    fn undo(&self, u: Undo, out: &mut Cut) -> io::Result<()> {
        use rustix::fs::AtFlags;
        match u {
            Undo::Created { dir, name } => {
                rustix::fs::unlinkat(dir.fd(), name.as_str(), AtFlags::empty())?;
            }
            Undo::Made { dir, name } => {
                match rustix::fs::unlinkat(dir.fd(), name.as_str(), AtFlags::REMOVEDIR) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::NOTEMPTY) | Err(rustix::io::Errno::EXIST) => {
                        let lf = self.scratch.join("lost+found");
                        std::fs::create_dir_all(&lf)?;
                        let n = std::fs::read_dir(&lf)?.count();
                        let to = lf.join(format!("{n}-{name}"));
                        rustix::fs::renameat(dir.fd(), name.as_str(), rustix::fs::CWD, &to)?;
                        out.lost_found.push(to);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Undo::Renamed {
                from_dir,
                from,
                to_dir,
                to,
                replaced,
            } => {
                crate::platform::rename_at(
                    to_dir.fd(),
                    to.as_str(),
                    from_dir.fd(),
                    from.as_str(),
                    true,
                )?;
                match replaced {
                    Some(Replaced::File(kept)) => rustix::fs::linkat(
                        self.scratch_dir.fd(),
                        kept.as_str(),
                        to_dir.fd(),
                        to.as_str(),
                        AtFlags::empty(),
                    )?,
                    Some(Replaced::Folder) => rustix::fs::mkdirat(
                        to_dir.fd(),
                        to.as_str(),
                        rustix::fs::Mode::from_raw_mode(0o755),
                    )?,
                    None => {}
                }
            }
            Undo::Removed { dir, name, kept } => {
                rustix::fs::linkat(
                    self.scratch_dir.fd(),
                    kept.as_str(),
                    dir.fd(),
                    name.as_str(),
                    AtFlags::empty(),
                )?;
            }
            Undo::Unmade { dir, name } => {
                rustix::fs::mkdirat(
                    dir.fd(),
                    name.as_str(),
                    rustix::fs::Mode::from_raw_mode(0o755),
                )?;
            }
        }
        Ok(())
    }

    fn record(st: &mut State, undo: Undo, needs: &[&Dir]) -> io::Result<()> {
        let mut ids = vec![];
        for d in needs {
            let id = d.id()?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        st.pending.push(Pending {
            undo,
            needs: ids,
            synced: HashSet::new(),
        });
        Ok(())
    }
}

fn read_all(f: &File) -> io::Result<Vec<u8>> {
    let len = f.metadata()?.len() as usize;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

fn file_id(md: &Metadata) -> (u64, u64) {
    (crate::platform::device_id(md), crate::platform::file_id(md))
}

impl Fs for PowerCut {
    fn open_dir_path(&self, path: &Path) -> io::Result<Dir> {
        if self.lock().off {
            return Err(power_off());
        }
        self.real.open_dir_path(path)
    }

    fn open_dir(&self, at: &Dir, rel: &str) -> io::Result<Dir> {
        if self.lock().off {
            return Err(power_off());
        }
        self.real.open_dir(at, rel)
    }

    fn stat(&self, at: &Dir, rel: &str) -> io::Result<Metadata> {
        if self.lock().off {
            return Err(power_off());
        }
        self.real.stat(at, rel)
    }

    fn list(&self, at: &Dir, rel: &str) -> io::Result<Vec<(OsString, Metadata)>> {
        if self.lock().off {
            return Err(power_off());
        }
        self.real.list(at, rel)
    }

    fn mkdir(&self, at: &Dir, rel: &str, mode: Option<u32>) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        let (dir, name) = self.parent(at, rel)?;
        self.real.mkdir(at, rel, mode)?;
        Self::record(
            &mut st,
            Undo::Made {
                dir: dir.clone(),
                name,
            },
            &[&dir],
        )
    }

    fn create(&self, at: &Dir, rel: &str, mode: u32) -> io::Result<File> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        let (dir, name) = self.parent(at, rel)?;
        let f = self.real.create(at, rel, mode)?;
        st.written.push(Written {
            id: file_id(&f.metadata()?),
            file: f.try_clone()?,
            durable: vec![],
        });
        Self::record(
            &mut st,
            Undo::Created {
                dir: dir.clone(),
                name,
            },
            &[&dir],
        )?;
        Ok(f)
    }

    fn open_read(&self, at: &Dir, rel: &str) -> io::Result<File> {
        if self.lock().off {
            return Err(power_off());
        }
        self.real.open_read(at, rel)
    }

    fn open_write(&self, at: &Dir, rel: &str) -> io::Result<File> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        let f = self.real.open_write(at, rel)?;
        // What it holds now may not be durable: a cut takes it back to what was synced, at
        // worst nothing (the download's content proof then refuses what is left).
        let id = file_id(&f.metadata()?);
        if !st.written.iter().any(|w| w.id == id) {
            st.written.push(Written {
                id,
                file: f.try_clone()?,
                durable: vec![],
            });
        }
        Ok(f)
    }

    fn rename(
        &self,
        from_dir: &Dir,
        from: &str,
        to_dir: &Dir,
        to: &str,
        noreplace: bool,
    ) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        let (fd, fname) = self.parent(from_dir, from)?;
        let (td, tname) = self.parent(to_dir, to)?;
        let replaced = if noreplace {
            None
        } else {
            match self.real.stat(&td, &tname) {
                Ok(md) if md.is_dir() => Some(Replaced::Folder),
                Ok(_) => Some(Replaced::File(self.keep(&mut st, &td, &tname)?)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            }
        };
        self.real.rename(from_dir, from, to_dir, to, noreplace)?;
        Self::record(
            &mut st,
            Undo::Renamed {
                from_dir: fd.clone(),
                from: fname,
                to_dir: td.clone(),
                to: tname,
                replaced,
            },
            &[&fd, &td],
        )
    }

    fn remove_file(&self, at: &Dir, rel: &str) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        let (dir, name) = self.parent(at, rel)?;
        let kept = self.keep(&mut st, &dir, &name)?;
        if let Err(e) = self.real.remove_file(at, rel) {
            let _ = rustix::fs::unlinkat(
                self.scratch_dir.fd(),
                kept.as_str(),
                rustix::fs::AtFlags::empty(),
            );
            return Err(e);
        }
        Self::record(
            &mut st,
            Undo::Removed {
                dir: dir.clone(),
                name,
                kept,
            },
            &[&dir],
        )
    }

    fn remove_dir(&self, at: &Dir, rel: &str) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        let (dir, name) = self.parent(at, rel)?;
        self.real.remove_dir(at, rel)?;
        Self::record(
            &mut st,
            Undo::Unmade {
                dir: dir.clone(),
                name,
            },
            &[&dir],
        )
    }

    fn sync_file(&self, f: &File) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        self.real.sync_file(f)?;
        let id = file_id(&f.metadata()?);
        if let Some(w) = st.written.iter_mut().find(|w| w.id == id) {
            w.durable = read_all(f).or_else(|_| read_all(&w.file))?;
        }
        Ok(())
    }

    fn sync_dir(&self, at: &Dir, rel: &str) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)?;
        self.real.sync_dir(at, rel)?;
        let id = self.real.open_dir(at, rel)?.id()?;
        for p in st.pending.iter_mut() {
            if p.needs.contains(&id) {
                p.synced.insert(id);
            }
        }
        st.pending.retain(|p| !p.durable());
        Ok(())
    }

    fn barrier(&self) -> io::Result<()> {
        let mut st = self.lock();
        self.tick(&mut st)
    }
}
