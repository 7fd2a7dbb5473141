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
//! The layer is a trait so that the simulation can put `PowerCut` (the `testing` feature)
//! in its place: the same operations on the real disk, recording which of them are durable,
//! and undoing the rest at a simulated power cut.

#[cfg(any(test, feature = "testing"))]
mod powercut;
mod real;
mod root;
mod sig;
mod state;
mod trash;

#[cfg(any(test, feature = "testing"))]
pub use powercut::{Cut, PowerCut};
pub use real::RealFs;
#[cfg(any(test, feature = "testing"))]
pub use real::force_walk;
pub use root::Root;
pub use sig::{ctime_ns, mtime_ns, sig_matches, sig_of};
pub use trash::{OsTrash, Trashed};

use crate::index::Sig;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sync_core::ContentHash;

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
    crate::platform::user_id()
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

#[cfg(test)]
mod tests;
