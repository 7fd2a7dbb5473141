//! The state folder `.nuvosync` of a pair: checked before a run, its small files written
//! durably, and the temp files that downloads land in.

use super::{Dir, TRASH, below};
use super::{PARTIAL_KEEP, PARTIAL_PREFIX, Root, StateError, StateProblem, TMP, Temp, euid};
use crate::rules::STATE_DIR;
use std::fs::Metadata;
use std::io::{self, Read};

impl Root {
    /// Check the state folder before a run, creating it (mode 0700) if missing: it must be
    /// a real folder of the user the engine runs as, and what nuvosync keeps in it (`tmp`,
    /// `trash`, the marker) real folders and files of that user. A folder of the user's
    /// that others can read is closed to them (0700).
    pub fn check_state(&self) -> Result<(), StateError> {
        let me = euid();
        let problem = |rel: &str, problem: String| {
            StateError::Unsafe(StateProblem {
                path: self.path().join(rel),
                problem,
            })
        };
        let owned = |rel: &str, md: &Metadata, dir: bool| -> Result<(), StateError> {
            let ft = md.file_type();
            if ft.is_symlink() {
                let to = std::fs::read_link(self.path().join(rel))
                    .map(|t| format!(" (to {})", t.display()))
                    .unwrap_or_default();
                return Err(problem(rel, format!("is a symbolic link{to}")));
            }
            if dir && !ft.is_dir() {
                return Err(problem(rel, "is not a folder".into()));
            }
            if !dir && !ft.is_file() {
                return Err(problem(rel, "is not a regular file".into()));
            }
            if crate::platform::owner(md) != me {
                return Err(problem(
                    rel,
                    format!(
                        "belongs to another user (uid {}, this is uid {me})",
                        crate::platform::owner(md)
                    ),
                ));
            }
            Ok(())
        };
        match self.fs.stat(&self.dir, STATE_DIR) {
            Ok(md) => {
                owned(STATE_DIR, &md, true)?;
                if crate::platform::mode(&md) & 0o077 != 0 {
                    let d = self.fs.open_dir(&self.dir, STATE_DIR)?;
                    // Through the folder's own descriptor: no path, no link to follow.
                    set_dir_mode(&d, 0o700)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.fs.mkdir(&self.dir, STATE_DIR, Some(0o700))?;
                self.fs.sync_dir(&self.dir, "")?;
            }
            Err(e) => return Err(e.into()),
        }
        for (rel, dir) in [
            (TMP, true),
            (TRASH, true),
            (".nuvosync/marker.json", false),
            (".nuvosync/marker.json.tmp", false),
        ] {
            match self.fs.stat(&self.dir, rel) {
                Ok(md) => owned(rel, &md, dir)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The state folder, or one of its folders, exists (created 0700 and durable if not).
    pub(super) fn state_dir(&self, rel: &str) -> io::Result<()> {
        self.mkdirs(rel, Some(0o700))
    }

    /// Read a file of the state folder (`.nuvosync/<name>`), not through a link.
    pub fn read_state(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut f = self
            .fs
            .open_read(&self.dir, &format!("{STATE_DIR}/{name}"))?;
        let mut out = vec![];
        f.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Replace a file of the state folder, durably: a new file (mode 0600) is written and
    /// synced, renamed over the old one, and the folder synced. After a power cut the file
    /// is whole — the old version or the new one, never a mix or an empty file.
    pub fn write_state(&self, name: &str, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        self.state_dir(STATE_DIR)?;
        let tmp = format!("{STATE_DIR}/{name}.tmp");
        match self.fs.remove_file(&self.dir, &tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut f = self.fs.create(&self.dir, &tmp, 0o600)?;
        crate::platform::set_mode(&f, 0o600)?;
        f.write_all(data)?;
        self.fs.sync_file(&f)?;
        drop(f);
        self.fs.rename(
            &self.dir,
            &tmp,
            &self.dir,
            &format!("{STATE_DIR}/{name}"),
            false,
        )?;
        self.fs.sync_dir(&self.dir, STATE_DIR)
    }

    /// Remove a file of the state folder (`NotFound` is fine).
    pub fn remove_state(&self, name: &str) -> io::Result<()> {
        match self
            .fs
            .remove_file(&self.dir, &format!("{STATE_DIR}/{name}"))
        {
            Ok(()) => self.fs.sync_dir(&self.dir, STATE_DIR),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A new temporary file in the pair's temp folder (mode as a new file gets: the umask
    /// applies; the folder itself is closed to others).
    pub fn temp_file(&self) -> io::Result<Temp> {
        self.state_dir(TMP)?;
        loop {
            let n: u64 = rand::random();
            let rel = format!("{TMP}/dl-{n:016x}.part");
            match self.fs.create(&self.dir, &rel, 0o666) {
                Ok(file) => return Ok(Temp { rel, file }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The staged download `name` (a stable name for one version of one file), created
    /// empty or, when an interrupted download left it, opened as it is: with its length, so
    /// the download can go on from there. Owned by the user and private; never through a link.
    pub fn partial_temp(&self, name: &str) -> io::Result<(Temp, u64)> {
        self.state_dir(TMP)?;
        let rel = format!("{TMP}/{PARTIAL_PREFIX}{name}.part");
        match self.fs.create(&self.dir, &rel, 0o600) {
            Ok(file) => Ok((Temp { rel, file }, 0)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let file = self.fs.open_write(&self.dir, &rel)?;
                let md = file.metadata()?;
                if crate::platform::owner(&md) != euid() {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "a staged download is not yours",
                    ));
                }
                Ok((Temp { rel, file }, md.len()))
            }
            Err(e) => Err(e),
        }
    }

    /// Put a finished temp file at `rel`: its data made durable, renamed into place
    /// (replacing what is there only with `replace`; `AlreadyExists` otherwise), and both
    /// folders made durable.
    pub fn place_temp(&self, temp: &Temp, rel: &str, replace: bool) -> io::Result<()> {
        let to = below(rel)?;
        self.fs.sync_file(&temp.file)?;
        self.rename_rel(&temp.rel, to, !replace)
    }

    /// Remove a temp file that is not needed.
    pub fn remove_temp(&self, temp: Temp) {
        let _ = self.fs.remove_file(&self.dir, &temp.rel);
    }

    /// Remove leftovers of interrupted transfers: the files in the temp folder (never
    /// through a link: a `tmp` that is not a real folder is left alone) — except staged
    /// downloads younger than [`PARTIAL_KEEP`], which the next attempt goes on with.
    pub fn clean_temp(&self) {
        let Ok(entries) = self.fs.list(&self.dir, TMP) else {
            return;
        };
        for (name, md) in entries {
            if md.file_type().is_file() {
                if let Some(n) = name.to_str() {
                    let young = md
                        .modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age < PARTIAL_KEEP);
                    if n.starts_with(PARTIAL_PREFIX) && young {
                        continue;
                    }
                    let _ = self.fs.remove_file(&self.dir, &format!("{TMP}/{n}"));
                }
            }
        }
    }
}

/// Set a folder's mode through its descriptor (no path, no link followed).
fn set_dir_mode(d: &Dir, mode: u32) -> io::Result<()> {
    // An O_PATH descriptor cannot change modes; "." below it opens the folder itself.
    let fd = rustix::fs::openat(
        d.fd(),
        ".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(mode))?;
    Ok(())
}
