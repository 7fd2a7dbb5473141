//! The executor: carries out a plan with bounded concurrency and records every completed
//! operation in the index.
//!
//! Safety rules it keeps:
//! - before reading a file for upload, and before replacing, deleting, moving or setting
//!   aside anything local, it checks the entry still matches what was observed; if not, the
//!   operation is dropped and the path rescanned (the next plan sees the new state);
//! - uploads are strict (`add` or `update(rev)`): a remote change that raced ours is a
//!   conflict, never an overwrite;
//! - downloads go to a temp file outside the synced folders, are cut off at their listed
//!   size and checked against `content_hash`, made durable, and renamed into place
//!   atomically (never over an unexpected file); a file they replace keeps its mode;
//! - a file is replaced or trashed only once its content is proven to be the version the
//!   engine knows ([`crate::localfs::Root::proven`]): an edit that kept size and time is
//!   recorded and becomes a conflict (both kept) instead;
//! - local deletes go to the trash; what the pair does not sync (excluded folders, ignored
//!   names, links) in a folder deleted on Dropbox stays where it is;
//! - every local change goes through the checked file layer ([`crate::localfs`]): nothing
//!   is read or written outside the pair's folder, nor through a symbolic link in it; an
//!   entry the scanner never syncs (a link, a pipe) where a Dropbox item should land
//!   *blocks* that item, with an issue saying so, rather than being rescanned forever;
//! - what is done is durable on disk before the index records it;
//! - many small files are committed with `upload_session/finish_batch_v2`, one commit at a
//!   time per account; large files use upload sessions whose progress is stored, so a
//!   restart resumes where Dropbox says it stopped.
//!
//! The operations live by kind: `run` (running a plan and recording it), `upload`,
//! `download` (and new folders), `deletes`, `moves` (and set-aside copies).

mod ctx;
mod deletes;
mod download;
mod moves;
mod run;
mod upload;

pub(crate) use ctx::{Ctx, Host, Turn};
pub use run::execute;
pub(crate) use run::{run_turned, settle};

use crate::clock::now;
use crate::events::Event;
use crate::localfs::{Proof, Root};
use crate::outcome::{PauseReason, SyncError};
use crate::sync_lock::lock;
use nuvosync_dropbox::{Entry, Error as DbxError};
use std::sync::Arc;
use sync_core::{LocalKind, LocalNode, Outcome, RemoteNode, Trees, effects};

/// What a round of execution did.
#[derive(Debug, Default)]
pub struct Executed {
    /// Some operation completed (the folder's state moved on).
    pub changed: bool,
    /// Big transfers handed to the pair's transfer stage (see [`crate::stage`]).
    pub handed_off: usize,
    /// A failure that stops the run (credentials, network).
    pub fatal: Option<SyncError>,
}

/// Why an operation did not complete.
pub(crate) enum Fail {
    /// What it planned on is no longer so (local path to rescan, if any). Not counted.
    Stale(Option<String>),
    /// It failed; `counts` toward giving up on the key.
    Failed {
        code: &'static str,
        message: String,
        counts: bool,
    },
    /// Stop the whole run.
    Fatal(SyncError),
}

fn from_dbx(e: DbxError) -> Fail {
    if e.is_auth() || e.is_offline() {
        return Fail::Fatal(SyncError::Remote(e));
    }
    match e {
        DbxError::NotFound | DbxError::Conflict(_) | DbxError::NotFile | DbxError::NotFolder => {
            Fail::Stale(None)
        }
        DbxError::TooManyWriteOperations
        | DbxError::RateLimited { .. }
        | DbxError::Server(_)
        | DbxError::ContentHashMismatch => Fail::Failed {
            code: e.code(),
            message: e.to_string(),
            counts: true,
        },
        other => Fail::Failed {
            code: other.code(),
            message: other.to_string(),
            counts: true,
        },
    }
}

fn io_fail(what: &str, e: std::io::Error) -> Fail {
    use std::io::ErrorKind as K;
    let too_long = e.raw_os_error() == Some(rustix::io::Errno::NAMETOOLONG.raw_os_error());
    let (code, hint) = match e.kind() {
        K::PermissionDenied => (
            "permission_denied",
            " — check the permissions of the file and its folder; it stays as it was",
        ),
        K::StorageFull => (
            "disk_full",
            " — free some disk space; the file stays as it was",
        ),
        K::ReadOnlyFilesystem => (
            "read_only",
            " — the folder is on a read-only file system (mounted read-only?); make it writable and sync catches up",
        ),
        _ if too_long => (
            "path_too_long",
            " — the path is too long for this computer; shorten the names of the folders on Dropbox to sync it",
        ),
        _ => ("io", ""),
    };
    Fail::Failed {
        code,
        message: format!("{what}: {e}{hint}"),
        counts: true,
    }
}

/// The pair's folder, to read or write at `rel` below it: the folder is still there (else
/// the whole pair pauses), and every folder on the way to `rel` is a real folder (else the
/// operation is blocked, saying which is not). The file layer refuses links by itself; this
/// check names them.
fn place(cx: &Ctx<'_>, rel: &str) -> Result<Arc<Root>, Fail> {
    let root = cx.host.files().map_err(Fail::Fatal)?;
    if root.present().is_err() {
        // Not this file's fault — the whole pair pauses until its folder is back.
        return Err(Fail::Fatal(SyncError::Paused(PauseReason::MissingRoot {
            path: cx.local_root.to_path_buf(),
        })));
    }
    root.check_parents(rel).map_err(|e| Fail::Failed {
        code: "blocked",
        message: e.to_string(),
        counts: true,
    })?;
    Ok(root)
}

/// Something is at `rel` where the plan expected nothing. An entry the scanner records
/// (a file, a folder) is news: rescan and plan again. One it never records (a symbolic link,
/// a pipe, a socket, a device) would be news forever: it blocks the operation, and says so.
fn occupied(root: &Root, rel: &str) -> Fail {
    use std::os::unix::fs::FileTypeExt;
    let Ok(md) = root.stat(rel) else {
        return Fail::Stale(Some(rel.to_string()));
    };
    let ft = md.file_type();
    let what = if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() || ft.is_socket() || ft.is_block_device() || ft.is_char_device() {
        "a special file (pipe, socket or device)"
    } else {
        return Fail::Stale(Some(rel.to_string()));
    };
    Fail::Failed {
        code: "blocked",
        message: format!(
            "{what} here has the name of an item on Dropbox; it is left alone, so the Dropbox item cannot be synced here — rename or remove it"
        ),
        counts: true,
    }
}

/// The state folder cannot be written in (a link or another user's folder was put in its
/// place during the run): the pair stops and says why.
fn state_unsafe(cx: &Ctx<'_>, e: &std::io::Error) -> Option<Fail> {
    let root = cx.host.files().ok()?;
    match root.check_state() {
        Err(crate::localfs::StateError::Unsafe(p)) => Some(Fail::Fatal(SyncError::Paused(
            PauseReason::UnsafeStateFolder {
                path: p.path,
                problem: p.problem,
            },
        ))),
        _ => {
            tracing::debug!("state folder write failed: {e}");
            None
        }
    }
}

/// The file at `rel` is about to be replaced or trashed: prove it is still `local`, by
/// content. An edit that kept size, time and inode is recorded (the index gets its real
/// hash, so the next plan sees a local change — a conflict, both kept) and nothing is
/// replaced.
fn prove(cx: &Ctx<'_>, root: &Root, key: &str, rel: &str, local: &LocalNode) -> Result<(), Fail> {
    match root
        .proven(rel, local)
        .map_err(|e| io_fail("cannot read the file to check it", e))?
    {
        Proof::Same => Ok(()),
        Proof::Changed => Err(Fail::Stale(Some(rel.to_string()))),
        Proof::Edited { hash, sig } => {
            tracing::warn!(path = %rel, "an edit that kept the file's size and time: it is kept and synced, not replaced");
            let node = LocalNode {
                path: local.path.clone(),
                inode: sig.inode,
                kind: LocalKind::File {
                    size: sig.size,
                    mtime_ns: sig.mtime_ns,
                    hash,
                },
            };
            let mut ix = lock(cx.index);
            ix.batch()
                .and_then(|mut b| {
                    b.put_local(key, &node)?;
                    b.commit()
                })
                .map_err(|e| Fail::Fatal(e.into()))?;
            let _ = ix.set_issue(
                rel,
                "edited_in_place",
                "this file was changed without a change of its size or time (a tool that keeps them, or a file system with coarse times); the change is kept and synced — where Dropbox has a newer version too, both are kept",
                now(),
            );
            Err(Fail::Stale(None))
        }
    }
}

pub(crate) struct Done {
    outcome: Option<Outcome>,
    action: &'static str,
    path: String,
    size: Option<u64>,
    rescan: Vec<String>,
}

impl Done {
    fn new(outcome: Outcome, action: &'static str, path: &str, size: Option<u64>) -> Self {
        Done {
            outcome: Some(outcome),
            action,
            path: path.to_string(),
            size,
            rescan: vec![],
        }
    }
}

/// The node of an entry Dropbox answered with (`Stale` if it is not in the pair's folder).
pub(super) fn remote_node(cx: &Ctx<'_>, e: Entry) -> Result<RemoteNode, Fail> {
    match cx.root.node(&e) {
        Ok(Some((_, n))) => Ok(n),
        Ok(None) => Err(Fail::Stale(None)),
        Err(bad) => Err(bad_remote(bad)),
    }
}

/// Dropbox answered with a path that cannot be in the pair's folder: nothing is written for
/// it, and the operation is tried again (a garbled answer) or left (an odd name).
pub(super) fn bad_remote(bad: crate::remote::BadRemotePath) -> Fail {
    tracing::warn!("{bad}");
    Fail::Failed {
        code: bad.code(),
        message: bad.to_string(),
        counts: true,
    }
}

pub(super) fn file_size(l: &LocalNode) -> u64 {
    match l.kind {
        LocalKind::File { size, .. } => size,
        LocalKind::Folder => 0,
    }
}

/// Write completed operations into the index, in one transaction.
pub(super) fn record(cx: &Ctx<'_>, done: &[Done]) -> Result<(), SyncError> {
    if done.is_empty() {
        return Ok(());
    }
    // What is recorded below was made durable on disk by the operations themselves; a
    // power-cut twin of the file layer stops here once the power is off.
    cx.tuning.fs.barrier().map_err(|source| SyncError::Io {
        what: "recording what was done".into(),
        source,
    })?;
    let mut ix = lock(cx.index);
    let t = now();
    let mut b = ix.batch()?;
    for d in done {
        let Some(o) = &d.outcome else { continue };
        // Each outcome is applied to the trees as the previous ones left them.
        let mut trees = Trees::default();
        match o {
            Outcome::RemoteMoved { from, to, .. } | Outcome::LocalMoved { from, to, .. } => {
                b.load_subtree(from, &mut trees)?;
                b.load_subtree(to, &mut trees)?;
            }
            Outcome::SetAside { key, to, .. } => {
                b.load_subtree(key, &mut trees)?;
                b.load_subtree(to, &mut trees)?;
            }
            Outcome::RemoteDeleted { key }
            | Outcome::LocalDeleted { key }
            | Outcome::Forgotten { key } => b.load_subtree(key, &mut trees)?,
            Outcome::Uploaded { key, .. }
            | Outcome::Downloaded { key, .. }
            | Outcome::Agreed { key } => {
                b.load_keys(&std::iter::once(key.clone()).collect(), &mut trees)?;
            }
        }
        let edits = effects(&trees, o);
        b.edits(&edits)?;
        if !d.action.is_empty() {
            b.history(t, d.action, &d.path, d.size)?;
        }
        if !d.path.is_empty() {
            b.clear_issue(&d.path)?;
        }
    }
    b.commit()?;
    drop(ix);
    for d in done {
        if !d.action.is_empty() {
            cx.events.send(Event::Synced {
                pair: cx.name.to_string(),
                path: d.path.clone(),
                action: d.action.to_string(),
            });
        }
    }
    Ok(())
}

/// A transfer slot for a file of `size` bytes: none needed for a small file.
pub(super) async fn slot<'a>(cx: &Ctx<'a>, size: u64) -> Option<tokio::sync::SemaphorePermit<'a>> {
    if size <= cx.tuning.small_file {
        return None;
    }
    cx.transfer_slots.acquire().await.ok()
}
