//! The pair's folder, opened: looking at entries, proving a file's content, new folders,
//! renames and walks, every one relative to the folder's descriptor.

use super::{Dir, Fs, Proof, Walked, below, parent_rel, root_present, sig_matches, sig_of};
use crate::index::Sig;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use sync_core::{ContentHasher, LocalKind, LocalNode};

/// The pair's folder, opened: every operation below it goes through the [`Fs`] in force.
#[derive(Clone, Debug)]
pub struct Root {
    pub(super) fs: Arc<dyn Fs>,
    pub(super) dir: Dir,
}

impl Root {
    /// Open the pair's folder (`NotFound` with a message if it is gone or not a folder).
    pub fn open(fs: Arc<dyn Fs>, path: &Path) -> io::Result<Root> {
        root_present(path)?;
        let dir = fs.open_dir_path(path)?;
        Ok(Root { fs, dir })
    }

    /// The pair's folder as it was opened.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The file layer in force.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }

    /// The open folder.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// The pair's folder is still where it was opened, and still that folder.
    pub fn present(&self) -> io::Result<()> {
        root_present(self.path())?;
        let now = std::fs::metadata(self.path())?;
        if self.dir.id()?
            != (
                crate::platform::device_id(&now),
                crate::platform::file_id(&now),
            )
        {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "the synced folder {} was replaced by another folder during the sync",
                    self.path().display()
                ),
            ));
        }
        Ok(())
    }

    /// Say which folder on the way is a link or a file when the layer refused a path (`ELOOP`
    /// or `ENOTDIR`): `NotADirectory`, naming it. Other errors are returned as they are.
    pub(super) fn explain(&self, rel: &str, e: io::Error) -> io::Error {
        let loop_or_notdir = matches!(
            e.raw_os_error(),
            Some(c) if c == rustix::io::Errno::LOOP.raw_os_error() || c == rustix::io::Errno::NOTDIR.raw_os_error()
        );
        if !loop_or_notdir {
            return e;
        }
        let mut at = String::new();
        for c in rel.split('/') {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(c);
            match self.fs.stat(&self.dir, &at) {
                Ok(md) if md.is_dir() => continue,
                Ok(md) => {
                    let what = if md.file_type().is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a folder"
                    };
                    return io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!(
                            "{} is {what}, so nothing is written below it — replace it with a folder to sync what Dropbox has there",
                            self.path().join(&at).display()
                        ),
                    );
                }
                Err(_) => break,
            }
        }
        e
    }

    /// What is at the display path `rel` (a link is described, not followed).
    pub fn stat(&self, rel: &str) -> io::Result<Metadata> {
        let r = below(rel)?;
        self.fs.stat(&self.dir, r).map_err(|e| self.explain(r, e))
    }

    /// The signature of what is at `rel` now, if anything.
    pub fn sig(&self, rel: &str) -> Option<Sig> {
        self.stat(rel).ok().map(|md| sig_of(&md))
    }

    /// Something is at `rel` (a link counts).
    pub fn exists(&self, rel: &str) -> bool {
        self.stat(rel).is_ok()
    }

    /// Does the entry at `rel` still match the observed node (same kind, inode, size, mtime)?
    pub fn matches(&self, rel: &str, node: &LocalNode) -> bool {
        self.sig(rel).is_some_and(|sig| sig_matches(&sig, node))
    }

    /// Every folder on the way from the root down to `rel` that exists is a real folder —
    /// not a link, not a file — so that what is written there lands inside the pair's
    /// folder; `NotADirectory` naming the one that is not. `rel` itself may be anything.
    pub fn check_parents(&self, rel: &str) -> io::Result<()> {
        let r = below(rel)?;
        let parent = parent_rel(r);
        if parent.is_empty() {
            return Ok(());
        }
        match self.fs.stat(&self.dir, parent) {
            Ok(md) if md.is_dir() => Ok(()),
            Ok(_) => Err(self.explain(parent, rustix::io::Errno::NOTDIR.into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Missing folders are created on the way; those above must be real.
                self.check_parents(&format!("/{parent}"))
            }
            Err(e) => Err(self.explain(parent, e)),
        }
    }

    /// Open the file at `rel` for reading (a link there is refused).
    pub fn open_read(&self, rel: &str) -> io::Result<File> {
        let r = below(rel)?;
        self.fs
            .open_read(&self.dir, r)
            .map_err(|e| self.explain(r, e))
    }

    /// Is the file at `rel` still exactly `node` — by content, not only by its signature?
    /// Size, time and inode can all stay the same across an edit (coarse timestamps, tools
    /// that restore the time); the content is hashed again, through the open file.
    pub fn proven(&self, rel: &str, node: &LocalNode) -> io::Result<Proof> {
        let LocalKind::File { hash, .. } = &node.kind else {
            return Ok(if self.matches(rel, node) {
                Proof::Same
            } else {
                Proof::Changed
            });
        };
        let mut f = match self.open_read(rel) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Proof::Changed),
            // A link, a file on the way, or no longer a regular file: not the version known.
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
                    || e.kind() == io::ErrorKind::NotADirectory
                    || e.kind() == io::ErrorKind::InvalidInput =>
            {
                return Ok(Proof::Changed);
            }
            Err(e) => return Err(e),
        };
        let before = sig_of(&f.metadata()?);
        if !sig_matches(&before, node) {
            return Ok(Proof::Changed);
        }
        let mut h = ContentHasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let after = sig_of(&f.metadata()?);
        if after != before || h.len() != before.size {
            return Ok(Proof::Changed);
        }
        let now = h.finish();
        Ok(if now == *hash {
            Proof::Same
        } else {
            Proof::Edited {
                hash: now,
                sig: after,
            }
        })
    }

    /// Make the folder `rel` and any missing folders above it; each new folder is durable
    /// (its parent synced) before anything is put in it.
    pub fn create_dir_all(&self, rel: &str) -> io::Result<()> {
        let r = below(rel)?;
        self.mkdirs(r, None).map_err(|e| self.explain(r, e))
    }

    pub(super) fn mkdirs(&self, r: &str, mode: Option<u32>) -> io::Result<()> {
        if r.is_empty() {
            return Ok(());
        }
        match self.fs.stat(&self.dir, r) {
            Ok(md) if md.is_dir() => return Ok(()),
            Ok(_) => return Err(rustix::io::Errno::NOTDIR.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let parent = parent_rel(r);
        self.mkdirs(parent, mode)?;
        match self.fs.mkdir(&self.dir, r, mode) {
            Ok(()) => self.fs.sync_dir(&self.dir, parent),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match self.fs.stat(&self.dir, r) {
                    Ok(md) if md.is_dir() => Ok(()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Create the folders above `rel` that are missing.
    pub fn ensure_parent(&self, rel: &str) -> io::Result<()> {
        let r = below(rel)?;
        self.mkdirs(parent_rel(r), None)
            .map_err(|e| self.explain(parent_rel(r), e))
    }

    /// Rename `from` to `to` (display paths); with `noreplace`, `AlreadyExists` rather than
    /// replacing anything. Durable when it returns: both folders are synced.
    pub fn rename(&self, from: &str, to: &str, noreplace: bool) -> io::Result<()> {
        let (a, b) = (below(from)?, below(to)?);
        self.rename_rel(a, b, noreplace)
    }

    pub(super) fn rename_rel(&self, a: &str, b: &str, noreplace: bool) -> io::Result<()> {
        self.fs
            .rename(&self.dir, a, &self.dir, b, noreplace)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    e
                } else {
                    let e = self.explain(a, e);
                    self.explain(b, e)
                }
            })?;
        self.sync_parents(a, b)
    }

    pub(super) fn sync_parents(&self, a: &str, b: &str) -> io::Result<()> {
        let (pa, pb) = (parent_rel(a), parent_rel(b));
        self.fs.sync_dir(&self.dir, pb)?;
        if pa != pb {
            self.fs.sync_dir(&self.dir, pa)?;
        }
        Ok(())
    }

    /// The entries of the folder `rel`.
    pub fn list(&self, rel: &str) -> io::Result<Vec<(OsString, Metadata)>> {
        let r = below(rel)?;
        self.fs.list(&self.dir, r).map_err(|e| self.explain(r, e))
    }

    /// Every entry below the folder `rel` (display paths), not following links; a folder
    /// that cannot be listed is an error (nothing below it is known).
    pub fn walk(&self, rel: &str) -> io::Result<Vec<Walked>> {
        let mut out = vec![];
        let mut stack = vec![rel.to_string()];
        while let Some(d) = stack.pop() {
            for (name, md) in self.list(&d)? {
                let (name, utf8) = match name.to_str() {
                    Some(n) => (n.to_string(), true),
                    None => (name.to_string_lossy().into_owned(), false),
                };
                let p = format!("{d}/{name}");
                if md.is_dir() && utf8 {
                    stack.push(p.clone());
                }
                out.push(Walked { rel: p, md, utf8 });
            }
        }
        Ok(out)
    }

    /// Remove the empty folder `rel` (durable).
    pub fn remove_dir(&self, rel: &str) -> io::Result<()> {
        let r = below(rel)?;
        self.fs
            .remove_dir(&self.dir, r)
            .map_err(|e| self.explain(r, e))?;
        self.fs.sync_dir(&self.dir, parent_rel(r))
    }
}
