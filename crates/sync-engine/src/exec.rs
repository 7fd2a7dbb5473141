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

use crate::events::Event;
use crate::index::StoredSession;
use crate::localfs::{Proof, Root};
use crate::pair::{Pair, PauseReason, SyncError, lock, now};
use crate::scan::sig_of;
use crate::stage::Turn;
use bytes::Bytes;
use futures_util::{AsyncReadExt, StreamExt};
use nuvosync_dropbox::{Commit, Entry, Error as DbxError, FileEntry, WriteMode};
use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use sync_core::path::{key, name, parent};
use sync_core::{
    ContentHash, ContentHasher, Key, LocalKind, LocalNode, Op, Outcome, Plan, RemoteNode, Trees,
    effects,
};

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
fn place(pair: &Pair, rel: &str) -> Result<Arc<Root>, Fail> {
    let root = pair.files().map_err(Fail::Fatal)?;
    if root.present().is_err() {
        // Not this file's fault — the whole pair pauses until its folder is back.
        return Err(Fail::Fatal(SyncError::Paused(PauseReason::MissingRoot {
            path: pair.root().to_path_buf(),
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
fn state_unsafe(pair: &Pair, e: &std::io::Error) -> Option<Fail> {
    let root = pair.files().ok()?;
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
fn prove(pair: &Pair, root: &Root, key: &str, rel: &str, local: &LocalNode) -> Result<(), Fail> {
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
            let mut ix = lock(&pair.index);
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

/// Carry out a plan. Big transfers go to the pair's transfer stage when a runner runs it
/// (they end in a later round's time); everything else is done when this returns.
pub async fn execute(pair: &Pair, plan: Plan) -> Executed {
    let mut handed_off = 0;
    let mut bookkeeping = vec![];
    let mut small = vec![];
    let mut rest = vec![];
    for op in plan.ops {
        match &op {
            Op::Agree { .. } | Op::Forget { .. } => bookkeeping.push(op),
            Op::Upload { local, .. }
                if file_size(local) <= pair.tuning.single_request_limit as u64 =>
            {
                small.push(op)
            }
            Op::Upload { .. } | Op::Download { .. } => match pair.stage.take(pair, op) {
                Some(op) => rest.push(op),
                None => handed_off += 1,
            },
            _ => rest.push(op),
        }
    }
    let mut results: Vec<(Key, String, Result<Done, Fail>)> = vec![];
    for op in bookkeeping {
        let k = op.key().to_string();
        let o = match op {
            Op::Agree { key } => Outcome::Agreed { key },
            Op::Forget { key } => Outcome::Forgotten { key },
            _ => continue,
        };
        results.push((
            k.clone(),
            k,
            Ok(Done {
                outcome: Some(o),
                action: "",
                path: String::new(),
                size: None,
                rescan: vec![],
            }),
        ));
    }
    let batch = small.len() >= pair.tuning.batch_threshold;
    // Small transfers are latency-bound: many run at once. Larger ones also take one of
    // `transfers` slots (see `slot`), so bandwidth and memory stay bounded.
    let width = pair
        .tuning
        .small_transfers
        .max(pair.tuning.transfers)
        .max(1);
    let uploads = async {
        if batch {
            upload_batch(pair, small, width).await
        } else {
            futures_util::stream::iter(small)
                .map(|op| run(pair, op))
                .buffer_unordered(width)
                .collect::<Vec<_>>()
                .await
        }
    };
    let others = futures_util::stream::iter(rest)
        .map(|op| run(pair, op))
        .buffer_unordered(width)
        .collect::<Vec<_>>();
    // One transfer at a time means one: the small uploads, then the rest.
    let (uploads, others) = if width == 1 {
        let u = uploads.await;
        (u, others.await)
    } else {
        tokio::join!(uploads, others)
    };
    results.extend(uploads);
    results.extend(others);
    let mut out = settle(pair, results, false).await;
    out.handed_off = handed_off;
    out
}

/// Take in the results of operations: record what completed (one index transaction), mark
/// what was stale for planning again and rescan its paths, note failures. With `bump`, a
/// completed operation also moves the pair's generation on (a round's caller does that once
/// per plan instead).
pub(crate) async fn settle(
    pair: &Pair,
    results: Vec<(Key, String, Result<Done, Fail>)>,
    bump: bool,
) -> Executed {
    let mut out = Executed::default();
    let mut rescan: BTreeSet<String> = BTreeSet::new();
    let mut done = vec![];
    for (k, path, r) in results {
        match r {
            Ok(d) => {
                rescan.extend(d.rescan.iter().cloned());
                if d.outcome.is_some() {
                    out.changed = true;
                }
                done.push(d);
            }
            Err(Fail::Stale(p)) => {
                if let Some(p) = p {
                    rescan.insert(p);
                }
                let _ = lock(&pair.index).batch().and_then(|mut b| {
                    b.mark(&k)?;
                    b.commit()
                });
            }
            Err(Fail::Failed {
                code,
                message,
                counts,
            }) => pair.note_failure(&k, &path, code, &message, counts),
            Err(Fail::Fatal(e)) => {
                if out.fatal.is_none() {
                    out.fatal = Some(e);
                }
            }
        }
    }
    if let Err(e) = record(pair, &done) {
        out.fatal.get_or_insert(e);
    } else if bump && out.changed {
        if let Err(e) = pair.bump_generation() {
            out.fatal.get_or_insert(e);
        }
    }
    if !rescan.is_empty() {
        let scopes: Vec<String> = rescan.into_iter().collect();
        if let Err(e) = pair.scan(&scopes).await {
            out.fatal.get_or_insert(e);
        }
    }
    out
}

fn file_size(l: &LocalNode) -> u64 {
    match l.kind {
        LocalKind::File { size, .. } => size,
        LocalKind::Folder => 0,
    }
}

/// Write completed operations into the index, in one transaction.
fn record(pair: &Pair, done: &[Done]) -> Result<(), SyncError> {
    if done.is_empty() {
        return Ok(());
    }
    // What is recorded below was made durable on disk by the operations themselves; a
    // power-cut twin of the file layer stops here once the power is off.
    pair.tuning.fs.barrier().map_err(|source| SyncError::Io {
        what: "recording what was done".into(),
        source,
    })?;
    let mut ix = lock(&pair.index);
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
            pair.events.send(Event::Synced {
                pair: pair.spec.name.clone(),
                path: d.path.clone(),
                action: d.action.to_string(),
            });
        }
    }
    Ok(())
}

/// A transfer slot for a file of `size` bytes: none needed for a small file.
async fn slot(pair: &Pair, size: u64) -> Option<tokio::sync::SemaphorePermit<'_>> {
    if size <= pair.tuning.small_file {
        return None;
    }
    pair.transfer_slots.acquire().await.ok()
}

async fn run(pair: &Pair, op: Op) -> (Key, String, Result<Done, Fail>) {
    run_turned(pair, op, None).await
}

/// Run one operation. A big transfer of the transfer stage passes its `turn`: taken before
/// its last checks and its commit, and held by the caller until the result is recorded.
pub(crate) async fn run_turned(
    pair: &Pair,
    op: Op,
    turn: Option<&Turn>,
) -> (Key, String, Result<Done, Fail>) {
    let k = op.key().to_string();
    let _slot = match &op {
        Op::Upload { local, .. } => slot(pair, file_size(local)).await,
        Op::Download { remote, .. } => match remote.kind {
            sync_core::RemoteKind::File { size, .. } => slot(pair, size).await,
            sync_core::RemoteKind::Folder => None,
        },
        _ => None,
    };
    let path = match &op {
        Op::Upload { local, .. }
        | Op::CreateRemoteFolder { local, .. }
        | Op::DeleteLocal { local, .. }
        | Op::SetAside { local, .. }
        | Op::RenameClash { local, .. } => local.path.clone(),
        Op::Download { remote, .. }
        | Op::CreateLocalFolder { remote, .. }
        | Op::DeleteRemote { remote, .. } => remote.path.clone(),
        Op::MoveLocal { to_path, .. } | Op::MoveRemote { to_path, .. } => to_path.clone(),
        Op::Agree { key } | Op::Forget { key } => key.clone(),
    };
    let r = match op {
        Op::Upload { key, local, base } => upload(pair, key, local, base, turn).await,
        Op::Download {
            key,
            remote,
            replace,
        } => download(pair, key, remote, replace, turn).await,
        Op::CreateRemoteFolder { key, local } => create_remote_folder(pair, key, local).await,
        Op::CreateLocalFolder { key, remote } => create_local_folder(pair, key, remote),
        Op::DeleteRemote { key, remote } => delete_remote(pair, key, remote).await,
        Op::DeleteLocal { key, local } => delete_local(pair, key, local),
        Op::MoveRemote {
            from,
            to,
            from_path,
            to_path,
        } => move_remote(pair, from, to, from_path, to_path).await,
        Op::MoveLocal {
            from,
            to,
            from_path,
            to_path,
        } => move_local(pair, from, to, from_path, to_path),
        Op::SetAside {
            key,
            local,
            to_path,
        } => set_aside(pair, key, local, to_path),
        Op::RenameClash {
            local,
            to_path,
            reason,
        } => rename_clash(pair, local, to_path, reason),
        Op::Agree { key } => Ok(Done::new(Outcome::Agreed { key }, "", "", None)),
        Op::Forget { key } => Ok(Done::new(Outcome::Forgotten { key }, "", "", None)),
    };
    (k, path, r)
}

// ------------------------------------------------------------------ uploads

/// Read a file whose content the plan expects, checking it did not change.
fn read_checked(pair: &Pair, local: &LocalNode) -> Result<Bytes, Fail> {
    let root = place(pair, &local.path)?;
    let mut f = open_checked(&root, local)?;
    let mut buf = Vec::with_capacity(file_size(local) as usize);
    f.read_to_end(&mut buf)
        .map_err(|e| io_fail("cannot read the file", e))?;
    if !root.matches(&local.path, local) || Some(ContentHash::of(&buf)) != local.hash() {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    Ok(Bytes::from(buf))
}

/// Open a file to upload: never through a link, and still the file that was observed.
fn open_checked(root: &Root, local: &LocalNode) -> Result<std::fs::File, Fail> {
    let f = match root.open_read(&local.path) {
        Ok(f) => f,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::NotADirectory
                || e.kind() == std::io::ErrorKind::InvalidInput
                || e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) =>
        {
            return Err(Fail::Stale(Some(local.path.clone())));
        }
        Err(e) => return Err(io_fail("cannot read the file", e)),
    };
    let md = f
        .metadata()
        .map_err(|e| io_fail("cannot read the file", e))?;
    if !crate::localfs::sig_matches(&sig_of(&md), local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    Ok(f)
}

fn commit_for(pair: &Pair, local: &LocalNode, base: Option<String>) -> Commit {
    let mtime = match local.kind {
        LocalKind::File { mtime_ns, .. } => Some(mtime_ns.div_euclid(1_000_000_000)),
        LocalKind::Folder => None,
    };
    Commit {
        path: pair.root.dropbox_path(&local.path),
        mode: base.map_or(WriteMode::Add, WriteMode::Update),
        autorename: false,
        strict_conflict: true,
        client_modified: mtime.filter(|m| *m > 0),
    }
}

/// The node of an entry Dropbox answered with (`Stale` if it is not in the pair's folder).
fn remote_node(pair: &Pair, e: Entry) -> Result<RemoteNode, Fail> {
    match pair.root.node(&e) {
        Ok(Some((_, n))) => Ok(n),
        Ok(None) => Err(Fail::Stale(None)),
        Err(bad) => Err(bad_remote(bad)),
    }
}

/// Dropbox answered with a path that cannot be in the pair's folder: nothing is written for
/// it, and the operation is tried again (a garbled answer) or left (an odd name).
fn bad_remote(bad: crate::remote::BadRemotePath) -> Fail {
    tracing::warn!("{bad}");
    Fail::Failed {
        code: bad.code(),
        message: bad.to_string(),
        counts: true,
    }
}

/// A strict upload was refused as a conflict: if Dropbox already has exactly our content
/// (a retried commit, or the same edit on both sides), that is success; otherwise record
/// Dropbox's current state so the next plan sees the conflict.
async fn after_conflict(pair: &Pair, key: &str, local: &LocalNode) -> Result<Done, Fail> {
    let dbx_path = pair.root.dropbox_path(&local.path);
    let meta = pair
        .remote
        .get_metadata(&dbx_path)
        .await
        .map_err(from_dbx)?;
    if let Some(Entry::File(fe)) = &meta {
        if Some(fe.content_hash) == local.hash() {
            let remote = remote_node(pair, Entry::File(fe.clone()))?;
            pair.counters.uploaded.fetch_add(1, Ordering::Relaxed);
            return Ok(Done::new(
                Outcome::Uploaded {
                    key: key.to_string(),
                    local: local.clone(),
                    remote,
                },
                "uploaded",
                &local.path,
                Some(fe.size),
            ));
        }
    }
    let placed = match &meta {
        Some(e) => pair.root.node(e).map_err(bad_remote)?,
        None => None,
    };
    let mut ix = lock(&pair.index);
    let mut b = ix.batch().map_err(|e| Fail::Fatal(e.into()))?;
    match placed {
        Some((k, node)) => b.put_remote(&k, &node),
        None => b.delete_remote_subtree(key),
    }
    .and_then(|_| b.commit())
    .map_err(|e| Fail::Fatal(e.into()))?;
    Err(Fail::Stale(None))
}

fn uploaded(pair: &Pair, key: String, local: LocalNode, fe: FileEntry) -> Result<Done, Fail> {
    let size = fe.size;
    let remote = remote_node(pair, Entry::File(fe))?;
    pair.counters.uploaded.fetch_add(1, Ordering::Relaxed);
    pair.counters.bytes.fetch_add(size, Ordering::Relaxed);
    let path = local.path.clone();
    Ok(Done::new(
        Outcome::Uploaded { key, local, remote },
        "uploaded",
        &path,
        Some(size),
    ))
}

async fn upload(
    pair: &Pair,
    key: String,
    local: LocalNode,
    base: Option<String>,
    turn: Option<&Turn>,
) -> Result<Done, Fail> {
    if file_size(&local) > pair.tuning.single_request_limit as u64 {
        let _permit = pair
            .large_uploads
            .acquire()
            .await
            .map_err(|_| Fail::Stale(None))?;
        return upload_session(pair, key, local, base, turn).await;
    }
    let data = crate::pair::blocking(|| read_checked(pair, &local))?;
    let commit = commit_for(pair, &local, base);
    match pair.remote.upload(&commit, data).await {
        Ok(fe) => uploaded(pair, key, local, fe),
        Err(DbxError::Conflict(_)) => after_conflict(pair, &key, &local).await,
        Err(e) => Err(from_dbx(e)),
    }
}

/// Hash the first `upto` bytes of a file.
fn hash_prefix(f: &mut std::fs::File, upto: u64) -> std::io::Result<ContentHasher> {
    let mut h = ContentHasher::new();
    f.seek(SeekFrom::Start(0))?;
    let mut left = upto;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = f.read(&mut buf[..(left.min(1 << 20)) as usize])?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(h)
}

fn read_chunk(f: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    buf.truncate(got);
    Ok(buf)
}

async fn upload_session(
    pair: &Pair,
    key: String,
    local: LocalNode,
    base: Option<String>,
    turn: Option<&Turn>,
) -> Result<Done, Fail> {
    let root = place(pair, &local.path)?;
    let size = file_size(&local);
    let LocalKind::File { mtime_ns, .. } = local.kind else {
        return Err(Fail::Stale(None));
    };
    let mut f = open_checked(&root, &local)?;
    let chunk = pair.tuning.chunk_size.max(1);
    let stored = lock(&pair.index)
        .session(&key)
        .map_err(|e| Fail::Fatal(e.into()))?;
    let fresh = stored.filter(|s| {
        s.size == size
            && s.mtime_ns == mtime_ns
            && s.inode == local.inode
            // Dropbox keeps a session 7 days; one from "the future" (the clock was set back)
            // is of unknown age.
            && (0..6 * 24 * 3600).contains(&(now() - s.created))
    });
    let (mut session, mut offset, mut hasher, created) = match fresh {
        Some(s) => {
            tracing::info!(path = %local.path, offset = s.offset, "resuming an upload session");
            let h =
                hash_prefix(&mut f, s.offset).map_err(|e| io_fail("cannot read the file", e))?;
            (s.session_id, s.offset, h, s.created)
        }
        None => {
            let first = read_chunk(&mut f, 0, chunk.min(size as usize))
                .map_err(|e| io_fail("cannot read the file", e))?;
            let mut h = ContentHasher::new();
            h.update(&first);
            let len = first.len() as u64;
            let id = pair
                .remote
                .session_start(Bytes::from(first), false)
                .await
                .map_err(from_dbx)?;
            (id, len, h, now())
        }
    };
    let save = |session: &str, offset: u64| {
        lock(&pair.index)
            .save_session(
                &key,
                &StoredSession {
                    session_id: session.to_string(),
                    offset,
                    size,
                    mtime_ns,
                    inode: local.inode,
                    created,
                },
            )
            .map_err(|e| Fail::Fatal(e.into()))
    };
    save(&session, offset)?;
    let mut restarted = false;
    while offset < size {
        let data = read_chunk(&mut f, offset, chunk.min((size - offset) as usize))
            .map_err(|e| io_fail("cannot read the file", e))?;
        if data.is_empty() {
            return Err(Fail::Stale(Some(local.path.clone()))); // shrank while uploading
        }
        match pair
            .remote
            .session_append(&session, offset, Bytes::from(data.clone()), false)
            .await
        {
            Ok(()) => {
                hasher.update(&data);
                offset += data.len() as u64;
                save(&session, offset)?;
                // An edit since the upload began: what is sent is no longer the file. Stop
                // now (the next round plans the new content) rather than at the end.
                if !root.matches(&local.path, &local) {
                    let _ = lock(&pair.index).drop_session(&key);
                    return Err(Fail::Stale(Some(local.path.clone())));
                }
                pair.events.send(Event::Progress {
                    pair: pair.spec.name.clone(),
                    path: local.path.clone(),
                    direction: "upload".into(),
                    done: offset,
                    total: size,
                });
            }
            Err(DbxError::IncorrectOffset { correct_offset }) => {
                // An append landed but its answer was lost (or we resumed): continue where Dropbox is.
                tracing::debug!(offset, correct_offset, "upload session offset corrected");
                offset = correct_offset.min(size);
                hasher =
                    hash_prefix(&mut f, offset).map_err(|e| io_fail("cannot read the file", e))?;
                save(&session, offset)?;
            }
            Err(DbxError::SessionNotFound) if !restarted => {
                restarted = true;
                let first = read_chunk(&mut f, 0, chunk.min(size as usize))
                    .map_err(|e| io_fail("cannot read the file", e))?;
                hasher = ContentHasher::new();
                hasher.update(&first);
                offset = first.len() as u64;
                session = pair
                    .remote
                    .session_start(Bytes::from(first), false)
                    .await
                    .map_err(from_dbx)?;
                save(&session, offset)?;
            }
            Err(e) => return Err(from_dbx(e)),
        }
    }
    // The commit and its record take the turn (see `crate::stage`).
    if let Some(t) = turn {
        t.take().await;
    }
    // Commit only the exact content that was planned.
    if !root.matches(&local.path, &local) || Some(hasher.finish()) != local.hash() {
        let _ = lock(&pair.index).drop_session(&key);
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let commit = commit_for(pair, &local, base);
    let result = pair
        .remote
        .session_finish(&session, offset, &commit, Bytes::new())
        .await;
    let _ = lock(&pair.index).drop_session(&key);
    match result {
        Ok(fe) => uploaded(pair, key, local, fe),
        // A finish whose answer was lost consumed the session: see whether it landed.
        Err(DbxError::Conflict(_)) | Err(DbxError::SessionNotFound) => {
            after_conflict(pair, &key, &local).await
        }
        Err(e) => Err(from_dbx(e)),
    }
}

/// An upload sent as a closed session: (key, local node, base rev, session id and length).
type Staged = (Key, LocalNode, Option<String>, Result<(String, u64), Fail>);

/// Many small files: each is sent as a closed session, then committed together.
async fn upload_batch(
    pair: &Pair,
    ops: Vec<Op>,
    width: usize,
) -> Vec<(Key, String, Result<Done, Fail>)> {
    // Sending and committing overlap: every 1,000 files sent are committed while the next
    // ones are still being sent.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Staged>();
    let send = futures_util::stream::iter(ops)
        .filter_map(|op| async move {
            match op {
                Op::Upload { key, local, base } => Some((key, local, base)),
                _ => None,
            }
        })
        .map(|(key, local, base)| async move {
            let staged = async {
                let _slot = slot(pair, file_size(&local)).await;
                let data = crate::pair::blocking(|| read_checked(pair, &local))?;
                let len = data.len() as u64;
                let id = pair
                    .remote
                    .session_start(data, true)
                    .await
                    .map_err(from_dbx)?;
                Ok((id, len))
            }
            .await;
            (key, local, base, staged)
        })
        .buffer_unordered(width)
        .for_each(move |staged| {
            let _ = tx.send(staged);
            async {}
        });
    let commit = async {
        let mut out = vec![];
        let mut ready = vec![];
        while let Some((key, local, base, s)) = rx.recv().await {
            match s {
                Ok((id, len)) => ready.push((key, local, base, id, len)),
                Err(f) => out.push((key, local.path.clone(), Err(f))),
            }
            if ready.len() == FINISH_BATCH_MAX {
                finish_batch(pair, std::mem::take(&mut ready), &mut out).await;
            }
        }
        if !ready.is_empty() {
            finish_batch(pair, ready, &mut out).await;
        }
        out
    };
    tokio::join!(send, commit).1
}

/// `upload_session/finish_batch_v2` takes at most this many entries.
const FINISH_BATCH_MAX: usize = 1000;

/// Sent sessions waiting for their commit: key, local node, base revision, session id, size.
type Ready = (Key, LocalNode, Option<String>, String, u64);

/// Commit sent sessions in one `finish_batch`, retrying the entries Dropbox refused with
/// `too_many_write_operations`.
async fn finish_batch(
    pair: &Pair,
    chunk: Vec<Ready>,
    out: &mut Vec<(Key, String, Result<Done, Fail>)>,
) {
    let mut pending: Vec<usize> = (0..chunk.len()).collect();
    for attempt in 0..6u32 {
        if pending.is_empty() {
            break;
        }
        let entries: Vec<(String, u64, Commit)> = pending
            .iter()
            .map(|&i| {
                let (_, local, base, id, len) = &chunk[i];
                (id.clone(), *len, commit_for(pair, local, base.clone()))
            })
            .collect();
        let results = {
            let _one_commit_at_a_time = pair.commit_lock.lock().await;
            pair.remote.finish_batch(&entries).await
        };
        let results = match results {
            Ok(r) => r,
            Err(e) => {
                let fatal = e.is_auth() || e.is_offline();
                for &i in &pending {
                    let (key, local, ..) = &chunk[i];
                    out.push((
                        key.clone(),
                        local.path.clone(),
                        Err(if fatal {
                            Fail::Fatal(SyncError::Remote(e.clone()))
                        } else {
                            from_dbx(e.clone())
                        }),
                    ));
                }
                return;
            }
        };
        let mut retry = vec![];
        for (&i, r) in pending.iter().zip(results) {
            let (key, local, ..) = &chunk[i];
            match r {
                Ok(fe) => out.push((
                    key.clone(),
                    local.path.clone(),
                    uploaded(pair, key.clone(), local.clone(), fe),
                )),
                Err(DbxError::TooManyWriteOperations) => retry.push(i),
                Err(DbxError::Conflict(_)) => out.push((
                    key.clone(),
                    local.path.clone(),
                    after_conflict(pair, key, local).await,
                )),
                Err(e) => out.push((key.clone(), local.path.clone(), Err(from_dbx(e)))),
            }
        }
        pending = retry;
        if !pending.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(
                200 * (1 << attempt.min(4)),
            ))
            .await;
        }
    }
    for &i in &pending {
        let (key, local, ..) = &chunk[i];
        out.push((
            key.clone(),
            local.path.clone(),
            Err(from_dbx(DbxError::TooManyWriteOperations)),
        ));
    }
}

// ------------------------------------------------------------------ downloads and local folders

/// The local path for a pair-relative remote path: existing local folders keep their own
/// spelling; missing parts take Dropbox's.
fn local_path_for(pair: &Pair, remote_path: &str) -> String {
    let ix = lock(&pair.index);
    let mut out = String::new();
    let comps: Vec<&str> = remote_path.split('/').skip(1).collect();
    for (i, c) in comps.iter().enumerate() {
        let candidate = format!("{out}/{c}");
        if i + 1 < comps.len() {
            out = match ix.local(&key(&candidate)) {
                Ok(Some(l)) => l.path,
                _ => candidate,
            };
        } else {
            out = candidate;
        }
    }
    out
}

/// The name a download of the version `hash` of `key` is staged under: stable across
/// attempts and restarts, and different for another file with the same content (two
/// downloads never share one staged file).
fn partial_name(hash: &ContentHash, key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    format!("{}-{:016x}", hash.to_hex(), h.finish())
}

/// Feed the first `len` bytes of a staged download to `hasher` (the content hash is
/// computed over the whole file, so what is continued is read again first).
fn rehash(file: &std::fs::File, len: u64, hasher: &mut ContentHasher) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let want = (len - at).min(buf.len() as u64) as usize;
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

async fn download(
    pair: &Pair,
    key: String,
    remote: RemoteNode,
    replace: Option<LocalNode>,
    turn: Option<&Turn>,
) -> Result<Done, Fail> {
    let target_rel = match &replace {
        Some(l) => l.path.clone(),
        None => local_path_for(pair, &remote.path),
    };
    let root = place(pair, &target_rel)?;
    match &replace {
        Some(l) if !root.matches(&target_rel, l) => return Err(Fail::Stale(Some(l.path.clone()))),
        None if root.exists(&target_rel) => return Err(occupied(&root, &target_rel)),
        _ => {}
    }
    let (Some(rev), sync_core::RemoteKind::File { size: listed, .. }) =
        (remote.rev(), &remote.kind)
    else {
        return Err(Fail::Stale(None));
    };
    let listed = *listed;
    let expect = remote.hash();
    // The download is staged under a name stable for this version of this file, so an
    // interrupted attempt (a lost connection, a crash, a restart) is continued from where it
    // stopped; what was staged is hashed again and the whole file is proven by its content
    // hash at the end, so nothing torn or stale is ever placed.
    let (temp, staged) = match expect {
        Some(h) => root.partial_temp(&partial_name(&h, &key)),
        None => root.temp_file().map(|t| (t, 0)),
    }
    .map_err(|e| {
        state_unsafe(pair, &e).unwrap_or_else(|| io_fail("cannot create a temporary file", e))
    })?;
    let mut hasher = ContentHasher::new();
    // At most up to the last byte: a range from the end would be refused (416), and the
    // answer's metadata is wanted anyway; a part longer than the file is not this version.
    let resume_at = staged.min(listed.saturating_sub(1));
    let mut start = match staged {
        0 => 0,
        n if n > listed => 0,
        _ => match rehash(&temp.file, resume_at, &mut hasher) {
            Ok(()) => resume_at,
            Err(_) => {
                hasher = ContentHasher::new();
                0
            }
        },
    };
    if start != staged {
        temp.file
            .set_len(start)
            .map_err(|e| io_fail("cannot write the downloaded file", e))?;
    }
    let answer = pair
        .remote
        .download(&format!("rev:{rev}"), start)
        .await
        .map_err(from_dbx);
    let (fe, sent, mut body) = match answer {
        Ok(a) => a,
        Err(f) => return Err(f), // the staged part stays for the next attempt
    };
    let refused = |message: String| Fail::Failed {
        code: "download_refused",
        message,
        counts: true,
    };
    if fe.size != listed {
        root.remove_temp(temp);
        return Err(refused(format!(
            "Dropbox announced {} bytes for a file it listed with {listed}; nothing was written — the download is retried",
            fe.size
        )));
    }
    // A server that sends the whole file despite the range: start again from byte 0.
    if start > 0 && sent == Some(listed) {
        hasher = ContentHasher::new();
        start = 0;
        if let Err(e) = temp.file.set_len(0) {
            root.remove_temp(temp);
            return Err(io_fail("cannot write the downloaded file", e));
        }
    }
    if start > 0 {
        tracing::info!(path = %target_rel, from = start, "a staged download goes on");
    }
    let result = async {
        let file = &temp.file;
        let mut writer = file;
        {
            use std::io::Seek;
            writer
                .seek(std::io::SeekFrom::Start(start))
                .map_err(|e| io_fail("cannot write the downloaded file", e))?;
        }
        let mut buf = vec![0u8; 256 * 1024];
        let mut done = start;
        loop {
            // One byte more than listed is enough to know the body is too long: a server
            // that keeps sending is cut off there, never written past the listed size.
            let room = (listed + 1 - done).min(buf.len() as u64) as usize;
            let n = body.read(&mut buf[..room]).await.map_err(|e| Fail::Failed { code: "download_interrupted", message: format!("the download was interrupted ({e}); it is retried, going on from byte {done}"), counts: true })?;
            if n == 0 {
                break;
            }
            if done + n as u64 > listed {
                return Err(refused(format!("Dropbox sent more than the {listed} bytes it listed for this file; the download was cut off and nothing was replaced — it is retried")));
            }
            hasher.update(&buf[..n]);
            writer.write_all(&buf[..n]).map_err(|e| io_fail("cannot write the downloaded file", e))?;
            done += n as u64;
            if fe.size > 4 << 20 {
                pair.events.send(Event::Progress { pair: pair.spec.name.clone(), path: target_rel.clone(), direction: "download".into(), done, total: fe.size });
            }
        }
        let got = hasher.finish();
        if Some(got) != expect || got != fe.content_hash || done != listed {
            return Err(Fail::Failed { code: "content_hash_mismatch", message: "the downloaded bytes do not match Dropbox's content hash; the download is retried".into(), counts: true });
        }
        if let Some(t) = parse_ts(&fe.client_modified) {
            let _ = file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64));
        }
        Ok::<_, Fail>(got)
    }
    .await;
    let hash = match result {
        Ok(x) => x,
        // Interrupted: what arrived stays staged, and the next attempt goes on from there.
        Err(
            f @ Fail::Failed {
                code: "download_interrupted",
                ..
            },
        ) => return Err(f),
        Err(f) => {
            root.remove_temp(temp);
            return Err(f);
        }
    };
    if let Some(t) = turn {
        // The rename into place and its record take the turn (see `crate::stage`); a round
        // may have pulled a newer version meanwhile: that one is planned, this one dropped.
        t.take().await;
        let now_listed = lock(&pair.index)
            .remote(&key)
            .map_err(|e| Fail::Fatal(e.into()))?;
        if now_listed.as_ref().and_then(|r| r.rev()) != Some(rev) {
            root.remove_temp(temp);
            return Err(Fail::Stale(None));
        }
    }
    let placed = (|| {
        root.ensure_parent(&target_rel)
            .map_err(|_| Fail::Stale(Some(parent(&target_rel).to_string())))?;
        match &replace {
            Some(l) => {
                // Right before replacing: the file must still be the version the plan saw,
                // by content — an edit made meanwhile, or one that kept size and time, is
                // not lost.
                let old = root
                    .stat(&target_rel)
                    .map_err(|_| Fail::Stale(Some(l.path.clone())))?;
                prove(pair, &root, &key, &target_rel, l)?;
                // The new version keeps the old one's permissions (a private file stays
                // private, a script executable); never set-user or set-group-ID bits.
                use std::os::unix::fs::PermissionsExt;
                let mode = old.permissions().mode() & 0o1777;
                temp.file
                    .set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| io_fail("cannot write the downloaded file", e))?;
                root.place_temp(&temp, &target_rel, true)
                    .map_err(|e| io_fail("cannot move the downloaded file into place", e))
            }
            None => root.place_temp(&temp, &target_rel, false).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    occupied(&root, &target_rel)
                } else {
                    io_fail("cannot move the downloaded file into place", e)
                }
            }),
        }
    })();
    let sig = placed.and_then(|_| {
        temp.file
            .metadata()
            .map(|md| sig_of(&md))
            .map_err(|e| io_fail("cannot write the downloaded file", e))
    });
    let sig = match sig {
        Ok(s) => s,
        Err(f) => {
            root.remove_temp(temp);
            return Err(f);
        }
    };
    pair.counters.downloaded.fetch_add(1, Ordering::Relaxed);
    pair.counters.bytes.fetch_add(fe.size, Ordering::Relaxed);
    let local = LocalNode {
        path: target_rel.clone(),
        inode: sig.inode,
        kind: LocalKind::File {
            size: sig.size,
            mtime_ns: sig.mtime_ns,
            hash,
        },
    };
    Ok(Done::new(
        Outcome::Downloaded { key, local, remote },
        "downloaded",
        &target_rel,
        Some(fe.size),
    ))
}

/// Seconds since the epoch of a Dropbox timestamp (`2015-05-12T15:50:38Z`).
pub(crate) fn parse_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn create_local_folder(pair: &Pair, key: String, remote: RemoteNode) -> Result<Done, Fail> {
    let rel = local_path_for(pair, &remote.path);
    let root = place(pair, &rel)?;
    match root.stat(&rel) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(occupied(&root, &rel)),
        Err(_) => root
            .create_dir_all(&rel)
            .map_err(|e| io_fail("cannot create the folder", e))?,
    }
    let md = root
        .stat(&rel)
        .map_err(|e| io_fail("cannot create the folder", e))?;
    pair.counters.folders.fetch_add(1, Ordering::Relaxed);
    let local = LocalNode {
        path: rel.clone(),
        inode: sig_of(&md).inode,
        kind: LocalKind::Folder,
    };
    Ok(Done::new(
        Outcome::Downloaded { key, local, remote },
        "folder created",
        &rel,
        None,
    ))
}

async fn create_remote_folder(pair: &Pair, key: String, local: LocalNode) -> Result<Done, Fail> {
    if !place(pair, &local.path)?.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let dbx = pair.root.dropbox_path(&local.path);
    let entry = match pair.remote.create_folder(&dbx).await {
        Ok(f) => Entry::Folder(f),
        Err(DbxError::Conflict(nuvosync_dropbox::Conflict::Folder)) => {
            match pair.remote.get_metadata(&dbx).await.map_err(from_dbx)? {
                Some(e @ Entry::Folder(_)) => e,
                _ => return Err(Fail::Stale(None)),
            }
        }
        Err(e) => return Err(from_dbx(e)),
    };
    let remote = remote_node(pair, entry)?;
    pair.counters.folders.fetch_add(1, Ordering::Relaxed);
    let path = local.path.clone();
    Ok(Done::new(
        Outcome::Uploaded { key, local, remote },
        "folder created on Dropbox",
        &path,
        None,
    ))
}

// ------------------------------------------------------------------ deletes

async fn delete_remote(pair: &Pair, key: String, remote: RemoteNode) -> Result<Done, Fail> {
    let dbx = pair.root.dropbox_path(&remote.path);
    if remote.is_folder() {
        // Dropbox cannot delete a folder conditionally: make sure nothing in it is news to us.
        let mut known = Trees::default();
        lock(&pair.index)
            .load_subtree(&key, &mut known)
            .map_err(|e| Fail::Fatal(e.into()))?;
        let mut page = pair.remote.list_folder(&dbx).await.map_err(from_dbx)?;
        loop {
            for e in &page.entries {
                if let Some((k, n)) = pair.root.node(e).map_err(bad_remote)? {
                    let same = known
                        .remote
                        .get(&k)
                        .is_some_and(|r| r.id == n.id && r.rev() == n.rev());
                    if !same {
                        return Err(Fail::Stale(None));
                    }
                }
            }
            if !page.has_more {
                break;
            }
            page = pair
                .remote
                .list_continue(&page.cursor)
                .await
                .map_err(from_dbx)?;
        }
    }
    match pair.remote.delete(&dbx, remote.rev()).await {
        Ok(_) | Err(DbxError::NotFound) => {}
        Err(e) => return Err(from_dbx(e)),
    }
    pair.counters.deleted_remote.fetch_add(1, Ordering::Relaxed);
    Ok(Done::new(
        Outcome::RemoteDeleted { key },
        "deleted on Dropbox",
        &remote.path,
        None,
    ))
}

fn delete_local(pair: &Pair, key: String, local: LocalNode) -> Result<Done, Fail> {
    let root = place(pair, &local.path)?;
    if !root.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
    let os = pair.os_trash();
    let trash = |rel: &str| {
        root.to_trash(rel, &stamp, os.as_ref())
            .map_err(|e| io_fail("cannot move the file to the trash", e))
    };
    let mut kept = vec![];
    if local.is_folder() {
        // Every entry below must be one we know, unchanged — proven by content; anything
        // new or edited stops it. What the pair does not sync (excluded folders, ignored
        // names, links, special files, names Dropbox refuses) is not the pair's to delete:
        // it stays, and only the synced files go to the trash.
        let mut known = Trees::default();
        lock(&pair.index)
            .load_subtree(&key, &mut known)
            .map_err(|e| Fail::Fatal(e.into()))?;
        let rules = pair.rules();
        let entries = root
            .walk(&local.path)
            .map_err(|e| io_fail("cannot look into the folder", e))?;
        let mut files = vec![];
        let mut folders = vec![];
        for crate::localfs::Walked { rel, md, utf8 } in entries {
            if kept.iter().any(|k: &String| is_within_path(&rel, k)) {
                continue;
            }
            let ft = md.file_type();
            let named = utf8
                && rel.rsplit('/').next().is_some_and(|n| {
                    sync_core::path::check_os_name(std::ffi::OsStr::new(n)).is_ok()
                });
            if rules.skips_path(&rel) || !(ft.is_file() || ft.is_dir()) || !named {
                kept.push(rel);
                continue;
            }
            let Some(n) = known.local.get(&key_of(&rel)).filter(|n| n.path == rel) else {
                return Err(Fail::Stale(Some(local.path.clone())));
            };
            if md.is_dir() {
                if !root.matches(&rel, n) {
                    return Err(Fail::Stale(Some(local.path.clone())));
                }
                folders.push(rel);
            } else {
                prove(pair, &root, &key_of(&rel), &rel, n)?;
                files.push(rel);
            }
        }
        if kept.is_empty() {
            trash(&local.path)?;
        } else {
            for f in &files {
                trash(f)?;
            }
            // Deepest first; a folder that holds something kept stays.
            folders.sort_by_key(|f| std::cmp::Reverse(f.len()));
            for d in &folders {
                if !kept.iter().any(|k| is_within_path(k, d)) {
                    // Emptied: its files are in the trash.
                    root.remove_dir(d)
                        .map_err(|e| io_fail("cannot remove the emptied folder", e))?;
                }
            }
            tracing::info!(path = %local.path, kept = ?kept, "deleted on Dropbox: the synced files went to the trash; what is not synced stays");
        }
    } else {
        prove(pair, &root, &key, &local.path, &local)?;
        trash(&local.path)?;
    }
    pair.counters.deleted_local.fetch_add(1, Ordering::Relaxed);
    let mut done = Done::new(
        Outcome::LocalDeleted { key },
        "deleted locally (moved to the trash)",
        &local.path,
        None,
    );
    if !kept.is_empty() {
        done.action = "deleted locally (moved to the trash; what is not synced stays)";
        done.rescan = vec![local.path.clone()];
    }
    Ok(done)
}

fn key_of(rel: &str) -> Key {
    key(rel)
}

/// `path` is `folder` or inside it (display paths, as on disk).
fn is_within_path(path: &str, folder: &str) -> bool {
    path == folder
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

// ------------------------------------------------------------------ moves and renames

async fn move_remote(
    pair: &Pair,
    from: Key,
    to: Key,
    from_path: String,
    to_path: String,
) -> Result<Done, Fail> {
    let src = pair.root.dropbox_path(&from_path);
    let dst = pair.root.dropbox_path(&to_path);
    // A case-only rename (`from == to`) is one move too: Dropbox renames the item in place
    // (Maestral's `test_case_change_local`, run against the real Dropbox).
    let entry = pair.remote.move_entry(&src, &dst).await.map_err(from_dbx)?;
    let remote = remote_node(pair, entry)?;
    pair.counters.moved.fetch_add(1, Ordering::Relaxed);
    Ok(Done::new(
        Outcome::RemoteMoved { from, to, remote },
        "moved on Dropbox",
        &to_path,
        None,
    ))
}

fn move_local(
    pair: &Pair,
    from: Key,
    to: Key,
    from_path: String,
    to_path: String,
) -> Result<Done, Fail> {
    let target_rel = if from == to {
        format!("{}/{}", parent(&from_path), name(&to_path))
    } else {
        local_path_for(pair, &to_path)
    };
    let root = place(pair, &from_path)?;
    place(pair, &target_rel)?;
    let known = lock(&pair.index)
        .local(&from)
        .map_err(|e| Fail::Fatal(e.into()))?;
    match known {
        Some(l) if l.path == from_path && root.matches(&from_path, &l) => {}
        _ => return Err(Fail::Stale(Some(from_path))),
    }
    root.ensure_parent(&target_rel)
        .map_err(|_| Fail::Stale(Some(parent(&target_rel).to_string())))?;
    match root.rename(&from_path, &target_rel, true) {
        Ok(()) => {}
        // A case-insensitive disk sees the new name as taken by the old one: two steps.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && from == to => {
            let tmp = format!("{from_path}.nuvosync-rename");
            place(pair, &tmp)?;
            root.rename(&from_path, &tmp, true)
                .map_err(|e| io_fail("cannot rename", e))?;
            root.rename(&tmp, &target_rel, true)
                .map_err(|e| io_fail("cannot rename", e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(occupied(&root, &target_rel));
        }
        Err(e) => return Err(io_fail("cannot rename", e)),
    }
    pair.counters.moved.fetch_add(1, Ordering::Relaxed);
    Ok(Done::new(
        Outcome::LocalMoved {
            from,
            to,
            path: target_rel.clone(),
        },
        "moved locally",
        &target_rel,
        None,
    ))
}

/// A name next to `path` that is free on disk and in every tree: the planner saw only part
/// of the trees, so its suggestion may be taken.
fn free_name(pair: &Pair, suggested: &str, make: impl Fn(u32) -> String) -> String {
    let taken = |rel: &str| {
        let k = key(rel);
        let ix = lock(&pair.index);
        pair.files().is_ok_and(|root| root.exists(rel))
            || ix.local(&k).ok().flatten().is_some()
            || ix.remote(&k).ok().flatten().is_some()
            || ix.synced(&k).ok().flatten().is_some()
    };
    if !taken(suggested) {
        return suggested.to_string();
    }
    let dir = parent(suggested).to_string();
    (2..10_000)
        .map(|n| format!("{dir}/{}", make(n)))
        .find(|p| !taken(p))
        .unwrap_or_else(|| suggested.to_string())
}

fn set_aside(pair: &Pair, key: String, local: LocalNode, to_path: String) -> Result<Done, Fail> {
    let root = place(pair, &local.path)?;
    if !root.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let original = name(&local.path).to_string();
    let (host, date) = (pair.tuning.host.clone(), crate::pair::today());
    let to_path = free_name(pair, &to_path, |n| {
        sync_core::path::conflicted_copy_name(&original, &host, &date, n)
    });
    place(pair, &to_path)?;
    root.rename(&local.path, &to_path, true).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Fail::Stale(Some(to_path.clone()))
        } else {
            io_fail("cannot rename the local version aside", e)
        }
    })?;
    let _ = lock(&pair.index).add_conflict(now(), &local.path, &to_path, "conflict");
    pair.counters.conflicts.fetch_add(1, Ordering::Relaxed);
    pair.events.send(Event::Conflict {
        pair: pair.spec.name.clone(),
        path: local.path.clone(),
        copy_path: to_path.clone(),
    });
    tracing::info!(path = %local.path, copy = %to_path, "conflict: both versions kept");
    let mut d = Done::new(
        Outcome::SetAside {
            key,
            to: sync_core::path::key(&to_path),
            path: to_path.clone(),
        },
        "conflict: local version kept as a copy",
        &to_path,
        None,
    );
    d.rescan = vec![to_path];
    Ok(d)
}

fn rename_clash(
    pair: &Pair,
    local: LocalNode,
    to_path: String,
    reason: sync_core::ClashReason,
) -> Result<Done, Fail> {
    let root = place(pair, &local.path)?;
    if !root.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(parent(&local.path).to_string())));
    }
    let original = name(&local.path).to_string();
    let unicode = reason == sync_core::ClashReason::Unicode;
    let to_path = free_name(pair, &to_path, |n| {
        sync_core::path::clash_name(&original, unicode, n)
    });
    place(pair, &to_path)?;
    root.rename(&local.path, &to_path, true)
        .map_err(|e| io_fail("cannot rename the clashing name", e))?;
    let kind = match reason {
        sync_core::ClashReason::Case => "case",
        sync_core::ClashReason::Unicode => "unicode",
    };
    let _ = lock(&pair.index).add_conflict(now(), &local.path, &to_path, kind);
    let _ = lock(&pair.index).clear_issue(&local.path);
    pair.events.send(Event::Conflict {
        pair: pair.spec.name.clone(),
        path: local.path.clone(),
        copy_path: to_path.clone(),
    });
    Ok(Done {
        outcome: None,
        action: "renamed (name clash on Dropbox)",
        path: to_path.clone(),
        size: None,
        rescan: vec![parent(&local.path).to_string(), to_path],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_ts("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ts("2015-05-12T15:50:38Z"), Some(1_431_445_838));
        assert_eq!(parse_ts("bad"), None);
    }
}
