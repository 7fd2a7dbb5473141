//! The trash: the desktop's (freedesktop.org) when moving there is a rename, else the
//! pair's own in `.nuvosync/trash`, pruned by age and size. Nothing is ever copied.

use super::{Dir, Fs, Root, TRASH, below, parent_rel};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where [`Root::to_trash`] put something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trashed {
    /// The desktop's trash.
    Os,
    /// The pair's own trash: the display path inside the pair's folder.
    Pair(String),
}

/// The desktop's trash (freedesktop.org: `$XDG_DATA_HOME/Trash`), opened.
#[derive(Clone, Debug)]
pub struct OsTrash {
    files: Dir,
    info: Dir,
}

impl OsTrash {
    /// The user's home trash, created if missing; `None` where there is no home.
    pub fn home(fs: &Arc<dyn Fs>) -> Option<OsTrash> {
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local/share"))
            })?;
        OsTrash::at(fs, &data.join("Trash")).ok()
    }

    /// A trash folder at `path` (its `files/` and `info/` created if missing, mode 0700).
    pub fn at(fs: &Arc<dyn Fs>, path: &Path) -> io::Result<OsTrash> {
        std::fs::create_dir_all(path)?;
        let top = fs.open_dir_path(path)?;
        for sub in ["files", "info"] {
            match fs.mkdir(&top, sub, Some(0o700)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(OsTrash {
            files: fs.open_dir(&top, "files")?,
            info: fs.open_dir(&top, "info")?,
        })
    }
}

impl Root {
    /// Move `rel` to the trash: the desktop's (`os`) when that is a rename on the same
    /// device, else `<root>/.nuvosync/trash/<stamp>/<rel>`. Never copied, never deleted
    /// outright; durable when it returns. `stamp` is the time of the deletion as
    /// `YYYY-MM-DDTHH.MM.SSZ` (one trash batch).
    pub fn to_trash(&self, rel: &str, stamp: &str, os: Option<&OsTrash>) -> io::Result<Trashed> {
        let r = below(rel)?;
        if r.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to trash the synced folder itself",
            ));
        }
        // What is about to be trashed is reached through real folders only.
        self.check_parents(rel)?;
        if let Some(os) = os {
            match self.to_os_trash(r, stamp, os) {
                Ok(()) => return Ok(Trashed::Os),
                Err(e) => {
                    tracing::debug!(path = %rel, "not in the desktop's trash ({e}); in the pair's own");
                }
            }
        }
        let dest = format!("{TRASH}/{stamp}/{r}");
        self.state_dir(TRASH)?;
        self.mkdirs(parent_rel(&dest), None)?;
        let mut target = dest.clone();
        let mut n = 1;
        loop {
            match self.rename_rel(r, &target, true) {
                Ok(()) => return Ok(Trashed::Pair(format!("/{target}"))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => {
                    n += 1;
                    target = format!("{dest}.{n}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// freedesktop.org trash: reserve a name with its `.trashinfo` (created exclusively),
    /// then rename the entry into `files/`. A rename across devices fails (`EXDEV`): the
    /// caller then uses the pair's trash; the desktop's trash never gets a copy.
    fn to_os_trash(&self, r: &str, stamp: &str, os: &OsTrash) -> io::Result<()> {
        use std::io::Write;
        let name = r.rsplit('/').next().unwrap_or(r);
        let original = self.path().join(r);
        // The batch's stamp is the time of the deletion; a stamp of another form (tests)
        // falls back to the wall clock.
        let when = parse_stamp(stamp).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        let when = nuvosync_dropbox::client::timestamp(when);
        let info = format!(
            "[Trash Info]\nPath={}\nDeletionDate={}\n",
            escape_trash_path(&original),
            when.trim_end_matches('Z')
        );
        for n in 1..1000 {
            let candidate = if n == 1 {
                name.to_string()
            } else {
                format!("{name}.{n}")
            };
            let info_name = format!("{candidate}.trashinfo");
            let mut f = match self.fs.create(&os.info, &info_name, 0o600) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let written = f
                .write_all(info.as_bytes())
                .and_then(|_| self.fs.sync_file(&f));
            drop(f);
            let moved = written.and_then(|_| {
                self.fs
                    .rename(&self.dir, r, &os.files, &candidate, true)
                    .and_then(|_| self.fs.sync_dir(&os.files, ""))
                    .and_then(|_| self.fs.sync_dir(&self.dir, parent_rel(r)))
            });
            match moved {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = self.fs.remove_file(&os.info, &info_name);
                    continue;
                }
                Err(e) => {
                    let _ = self.fs.remove_file(&os.info, &info_name);
                    return Err(e);
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free name in the desktop's trash",
        ))
    }

    /// Keep the pair's trash within bounds: whole batches (one folder per time of
    /// deletion) older than `max_age_secs`, then the oldest until the rest holds at most
    /// `max_bytes`, are deleted for good. Returns (batches removed, bytes freed).
    pub fn prune_trash(
        &self,
        now: i64,
        max_age_secs: i64,
        max_bytes: u64,
    ) -> io::Result<(u64, u64)> {
        let entries = match self.fs.list(&self.dir, TRASH) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(e),
        };
        let mut batches: Vec<(i64, String, u64)> = vec![];
        for (name, md) in entries {
            let Some(name) = name.to_str().map(str::to_string) else {
                continue;
            };
            if !md.is_dir() {
                continue;
            }
            let at = parse_stamp(&name)
                .unwrap_or_else(|| crate::platform::mtime_ns(&md).div_euclid(1_000_000_000));
            let rel = format!("{TRASH}/{name}");
            let size = self.tree_size(&rel)?;
            batches.push((at, rel, size));
        }
        batches.sort();
        let mut total: u64 = batches.iter().map(|b| b.2).sum();
        let (mut removed, mut freed) = (0, 0);
        for (at, rel, size) in batches {
            if now - at <= max_age_secs && total <= max_bytes {
                break;
            }
            self.remove_tree(&rel)?;
            total -= size;
            removed += 1;
            freed += size;
        }
        if removed > 0 {
            self.fs.sync_dir(&self.dir, TRASH)?;
        }
        Ok((removed, freed))
    }

    fn tree_size(&self, rel: &str) -> io::Result<u64> {
        let mut total = 0;
        let mut stack = vec![rel.to_string()];
        while let Some(d) = stack.pop() {
            for (name, md) in self.fs.list(&self.dir, &d)? {
                let p = format!("{d}/{}", name.to_string_lossy());
                if md.is_dir() {
                    stack.push(p);
                } else {
                    total += md.len();
                }
            }
        }
        Ok(total)
    }

    /// Delete a folder of the state folder and everything in it, for good (links in it are
    /// removed, never followed).
    fn remove_tree(&self, rel: &str) -> io::Result<()> {
        for (name, md) in self.fs.list(&self.dir, rel)? {
            let Some(n) = name.to_str() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a name in {rel} is not UTF-8"),
                ));
            };
            let p = format!("{rel}/{n}");
            if md.is_dir() {
                self.remove_tree(&p)?;
            } else {
                self.fs.remove_file(&self.dir, &p)?;
            }
        }
        self.fs.remove_dir(&self.dir, rel)
    }
}

/// A trash batch's time from its folder name (`2026-11-27T10.00.00Z`).
fn parse_stamp(name: &str) -> Option<i64> {
    nuvosync_dropbox::client::parse_timestamp(&name.replace('.', ":"))
}

/// An absolute path as a `.trashinfo` wants it: bytes outside the unreserved set escaped.
fn escape_trash_path(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in p.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
