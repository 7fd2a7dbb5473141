//! The engine's checked file layer: every write under a pair's folder — its state folder
//! `.nuvosync` (temp files, the restore marker, the trash) as well as downloads, new folders,
//! renames, moves and deletes — goes through here, and nothing here ever follows a link.
//!
//! - **Beneath the pair, never through a link.** A [`Root`] holds a descriptor of the pair's
//!   folder, opened once per run. Every path below it is resolved relative to that descriptor
//!   by the [`Fs`] in force: on the real disk ([`RealFs`]) with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS)`, or one folder at a time with `O_NOFOLLOW` where the kernel lacks
//!   it — never by plain paths. A link planted in the folder (`.nuvosync/tmp ->
//!   ../../elsewhere` in a cloned repository) or swapped in during a run makes the operation
//!   fail; it never leads outside.
//! - **The state folder is checked** before a run ([`Root::check_state`]): a `.nuvosync` that
//!   is a link, not a folder, or another user's stops the pair ([`StateProblem`]).
//! - **Durable in the right order** (see `docs/decisions/0004-…`): a downloaded file's data
//!   is synced before it is renamed into place, and the folders of every rename, move, new
//!   folder and trashing are synced after it, before the index records the result
//!   ([`Fs::barrier`] marks that point).
//! - **Replacing is proven** ([`Root::proven`]): before a file is replaced or trashed its
//!   content is hashed again, as size and time can stay the same across an edit.
//! - **Trash without copies** ([`Root::to_trash`]): the desktop's trash only when moving there
//!   is a rename (same device), else the pair's own trash in `.nuvosync/trash`, pruned by age
//!   and size ([`Root::prune_trash`]). Nothing is ever copied and then deleted.
//!
//! The layer is a trait so that the simulation can put [`PowerCut`] in its place: the same
//! operations on the real disk, recording which of them are durable, and undoing the rest at
//! a simulated power cut.

mod powercut;
mod real;

pub use powercut::{Cut, PowerCut};
pub use real::{RealFs, force_walk};

use crate::index::Sig;
use crate::rules::STATE_DIR;
use crate::scan::sig_of;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sync_core::{ContentHash, ContentHasher, LocalKind, LocalNode};

/// The operations of the checked file layer. Every `rel` is a path below the folder `at`,
/// `/`-separated, with no empty, `.` or `..` component (`""` is `at` itself); nothing
/// resolves through a symbolic link, and a link as the last component is never followed.
pub trait Fs: Send + Sync + std::fmt::Debug {
    /// Open a folder by its absolute path (the pair's folder, the desktop's trash): the path
    /// to it may pass through links (the user chose it); nothing below it will.
    fn open_dir_path(&self, path: &Path) -> io::Result<Dir>;
    /// Open the folder `rel` below `at`.
    fn open_dir(&self, at: &Dir, rel: &str) -> io::Result<Dir>;
    /// What is at `rel` (a link there is described, not followed).
    fn stat(&self, at: &Dir, rel: &str) -> io::Result<Metadata>;
    /// The entries of the folder `rel`, each described as [`Fs::stat`] does.
    fn list(&self, at: &Dir, rel: &str) -> io::Result<Vec<(OsString, Metadata)>>;
    /// Make the folder `rel`: with `mode` exactly that mode, else the default (umask).
    fn mkdir(&self, at: &Dir, rel: &str, mode: Option<u32>) -> io::Result<()>;
    /// Create the file `rel`, which must not exist, for reading and writing.
    fn create(&self, at: &Dir, rel: &str, mode: u32) -> io::Result<File>;
    /// Open the file `rel` for reading (not a link).
    fn open_read(&self, at: &Dir, rel: &str) -> io::Result<File>;
    /// Open the existing regular file `rel` (not a link) for reading and writing.
    fn open_write(&self, at: &Dir, rel: &str) -> io::Result<File>;
    /// Rename `from` (below `from_dir`) to `to` (below `to_dir`); with `noreplace`, fail with
    /// `AlreadyExists` rather than replace anything. Never copies.
    fn rename(
        &self,
        from_dir: &Dir,
        from: &str,
        to_dir: &Dir,
        to: &str,
        noreplace: bool,
    ) -> io::Result<()>;
    /// Remove the file (or link) `rel` itself.
    fn remove_file(&self, at: &Dir, rel: &str) -> io::Result<()>;
    /// Remove the empty folder `rel`.
    fn remove_dir(&self, at: &Dir, rel: &str) -> io::Result<()>;
    /// Make a file's data durable.
    fn sync_file(&self, f: &File) -> io::Result<()>;
    /// Make the entries of the folder `rel` durable (creations, renames, removals in it).
    fn sync_dir(&self, at: &Dir, rel: &str) -> io::Result<()>;
    /// Called right before the index records what was done on disk: a twin that models a
    /// power cut fails it once the power is off (the real disk does nothing).
    fn barrier(&self) -> io::Result<()> {
        Ok(())
    }
}

/// An open folder.
#[derive(Clone)]
pub struct Dir {
    fd: Arc<OwnedFd>,
    path: Arc<Path>,
}

impl std::fmt::Debug for Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Dir").field(&self.path).finish()
    }
}

/// The real disk, as the engine uses it by default.
pub fn real() -> Arc<dyn Fs> {
    Arc::new(RealFs)
}

/// The absolute path of a pair-relative display path (`/a/b`). A path that is not of that
/// form — an empty, `.` or `..` component, a NUL — is refused (`InvalidInput`): it could
/// lead out of the pair's folder. (For messages and read-only looks; writes go through
/// [`Root`].)
pub fn abs(root: &Path, rel: &str) -> io::Result<PathBuf> {
    Ok(root.join(below(rel)?))
}

/// A display path (`/a/b`, or `""` for the root) as a path below the root (`a/b`), checked.
fn below(rel: &str) -> io::Result<&str> {
    if rel.is_empty() {
        return Ok("");
    }
    let inner = rel.strip_prefix('/').unwrap_or(rel);
    if !rel.starts_with('/')
        || inner
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing the path {rel:?}: it could lead out of the synced folder"),
        ));
    }
    Ok(inner)
}

/// The parent of a path below the root (`a/b` → `a`, `a` → `""`).
fn parent_rel(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The pair's folder is there. Nothing is ever created below a folder that went away (an
/// unmounted drive, a folder moved or deleted): brought back with a few new files in it, it
/// would look as if everything else had been deleted.
pub fn root_present(root: &Path) -> io::Result<()> {
    match std::fs::metadata(root) {
        Ok(md) if md.is_dir() => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the synced folder {} is gone (unmounted, moved or deleted?)",
                root.display()
            ),
        )),
    }
}

/// The user the engine runs as.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// nuvosync's temp folder, below the root.
pub const TMP: &str = ".nuvosync/tmp";

/// Staged downloads that an interrupted attempt left are named `part-…` and kept this long,
/// so that the next attempt goes on where it stopped (a `Range` request) instead of
/// fetching the whole file again.
pub const PARTIAL_KEEP: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The name prefix of staged downloads (see [`PARTIAL_KEEP`]).
const PARTIAL_PREFIX: &str = "part-";
/// The pair's own trash, below the root.
pub const TRASH: &str = ".nuvosync/trash";

/// Why a pair's state folder cannot be used (the pair stops, saying so).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProblem {
    /// The entry at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for StateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path.display(), self.problem)
    }
}

/// A failure of [`Root::check_state`].
#[derive(Debug)]
pub enum StateError {
    /// The state folder is not nuvosync's to write in.
    Unsafe(StateProblem),
    /// The disk failed.
    Io(io::Error),
}

impl From<io::Error> for StateError {
    fn from(e: io::Error) -> Self {
        StateError::Io(e)
    }
}

/// Whether a file is still the version the engine knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// Same kind, inode, size and time, and the same content.
    Same,
    /// Its size, time, inode or kind changed (or it is gone): look at it again.
    Changed,
    /// Size, time and inode are the same but the content is not: an edit that kept them.
    Edited {
        /// The content's hash now.
        hash: ContentHash,
        /// Its signature now.
        sig: Sig,
    },
}

/// A temporary file in the pair's temp folder.
#[derive(Debug)]
pub struct Temp {
    /// Its path below the root.
    rel: String,
    /// The open file.
    pub file: File,
}

/// An entry found by [`Root::walk`].
#[derive(Debug)]
pub struct Walked {
    /// Its display path (lossy where a name is not UTF-8).
    pub rel: String,
    /// What it is (a link is described, not followed).
    pub md: Metadata,
    /// Its name is UTF-8 (else it is never synced, and no operation can reach it by `rel`).
    pub utf8: bool,
}

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

/// The pair's folder, opened: every operation below it goes through the [`Fs`] in force.
#[derive(Clone, Debug)]
pub struct Root {
    fs: Arc<dyn Fs>,
    dir: Dir,
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
        if self.dir.id()? != (now.dev(), now.ino()) {
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
    fn explain(&self, rel: &str, e: io::Error) -> io::Error {
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

    fn mkdirs(&self, r: &str, mode: Option<u32>) -> io::Result<()> {
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

    fn rename_rel(&self, a: &str, b: &str, noreplace: bool) -> io::Result<()> {
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

    fn sync_parents(&self, a: &str, b: &str) -> io::Result<()> {
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

    // ------------------------------------------------------------ the state folder

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
            if md.uid() != me {
                return Err(problem(
                    rel,
                    format!(
                        "belongs to another user (uid {}, this is uid {me})",
                        md.uid()
                    ),
                ));
            }
            Ok(())
        };
        match self.fs.stat(&self.dir, STATE_DIR) {
            Ok(md) => {
                owned(STATE_DIR, &md, true)?;
                if md.permissions().mode() & 0o077 != 0 {
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
    fn state_dir(&self, rel: &str) -> io::Result<()> {
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
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
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
                use std::os::unix::fs::MetadataExt;
                if md.uid() != rustix::process::geteuid().as_raw() {
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

    // ------------------------------------------------------------ the trash

    /// Move `rel` to the trash: the desktop's (`os`) when that is a rename on the same
    /// device, else `<root>/.nuvosync/trash/<stamp>/<rel>`. Never copied, never deleted
    /// outright; durable when it returns.
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
            match self.to_os_trash(r, os) {
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
    fn to_os_trash(&self, r: &str, os: &OsTrash) -> io::Result<()> {
        use std::io::Write;
        let name = r.rsplit('/').next().unwrap_or(r);
        let original = self.path().join(r);
        let when = nuvosync_dropbox::client::timestamp(crate::pair::now());
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
            let at = parse_stamp(&name).unwrap_or_else(|| md.mtime());
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

/// The signature matches the node (kind, inode, size, time).
pub fn sig_matches(sig: &Sig, node: &LocalNode) -> bool {
    match &node.kind {
        LocalKind::Folder => sig.folder && sig.inode == node.inode,
        LocalKind::File { size, mtime_ns, .. } => {
            !sig.folder && sig.inode == node.inode && sig.size == *size && sig.mtime_ns == *mtime_ns
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

/// A trash batch's time from its folder name (`2026-11-27T10.00.00Z`).
fn parse_stamp(name: &str) -> Option<i64> {
    crate::exec::parse_ts(&name.replace('.', ":"))
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

#[cfg(test)]
mod tests;
