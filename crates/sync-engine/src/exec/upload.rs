//! Uploads: one request for a small file, an upload session (resumable, its progress in the
//! index) for a big one, and many small files committed in one batch.

use super::Ctx;
use super::Turn;
use super::{Done, Fail, bad_remote, file_size, from_dbx, io_fail, place, remote_node, slot};
use crate::clock::now;
use crate::events::Event;
use crate::index::StoredSession;
use crate::localfs::{Root, sig_of};
use crate::outcome::SyncError;
use crate::sync_lock::lock;
use bytes::Bytes;
use futures_util::StreamExt;
use nuvosync_dropbox::{Commit, Entry, Error as DbxError, FileEntry, WriteMode};
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;
use sync_core::{ContentHash, ContentHasher, Key, LocalKind, LocalNode, Op, Outcome};

/// Read a file whose content the plan expects, checking it did not change.
fn read_checked(cx: &Ctx<'_>, local: &LocalNode) -> Result<Bytes, Fail> {
    let root = place(cx, &local.path)?;
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

fn commit_for(cx: &Ctx<'_>, local: &LocalNode, base: Option<String>) -> Commit {
    let mtime = match local.kind {
        LocalKind::File { mtime_ns, .. } => Some(mtime_ns.div_euclid(1_000_000_000)),
        LocalKind::Folder => None,
    };
    Commit {
        path: cx.root.dropbox_path(&local.path),
        mode: base.map_or(WriteMode::Add, WriteMode::Update),
        autorename: false,
        strict_conflict: true,
        client_modified: mtime.filter(|m| *m > 0),
    }
}

/// A strict upload was refused as a conflict: if Dropbox already has exactly our content
/// (a retried commit, or the same edit on both sides), that is success; otherwise record
/// Dropbox's current state so the next plan sees the conflict.
async fn after_conflict(cx: &Ctx<'_>, key: &str, local: &LocalNode) -> Result<Done, Fail> {
    let dbx_path = cx.root.dropbox_path(&local.path);
    let meta = cx.remote.get_metadata(&dbx_path).await.map_err(from_dbx)?;
    if let Some(Entry::File(fe)) = &meta {
        if Some(fe.content_hash) == local.hash() {
            let remote = remote_node(cx, Entry::File(fe.clone()))?;
            cx.counters.uploaded.fetch_add(1, Ordering::Relaxed);
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
        Some(e) => cx.root.node(e).map_err(bad_remote)?,
        None => None,
    };
    let mut ix = lock(cx.index);
    let mut b = ix.batch().map_err(|e| Fail::Fatal(e.into()))?;
    match placed {
        Some((k, node)) => b.put_remote(&k, &node),
        None => b.delete_remote_subtree(key),
    }
    .and_then(|_| b.commit())
    .map_err(|e| Fail::Fatal(e.into()))?;
    Err(Fail::Stale(None))
}

fn uploaded(cx: &Ctx<'_>, key: String, local: LocalNode, fe: FileEntry) -> Result<Done, Fail> {
    let size = fe.size;
    let remote = remote_node(cx, Entry::File(fe))?;
    cx.counters.uploaded.fetch_add(1, Ordering::Relaxed);
    cx.counters.bytes.fetch_add(size, Ordering::Relaxed);
    let path = local.path.clone();
    Ok(Done::new(
        Outcome::Uploaded { key, local, remote },
        "uploaded",
        &path,
        Some(size),
    ))
}

pub(super) async fn upload(
    cx: &Ctx<'_>,
    key: String,
    local: LocalNode,
    base: Option<String>,
    turn: Option<&Turn>,
) -> Result<Done, Fail> {
    if file_size(&local) > cx.tuning.single_request_limit as u64 {
        let _permit = cx
            .large_uploads
            .acquire()
            .await
            .map_err(|_| Fail::Stale(None))?;
        return upload_session(cx, key, local, base, turn).await;
    }
    let data = crate::sync_lock::blocking(|| read_checked(cx, &local))?;
    let commit = commit_for(cx, &local, base);
    match cx.remote.upload(&commit, data).await {
        Ok(fe) => uploaded(cx, key, local, fe),
        Err(DbxError::Conflict(_)) => after_conflict(cx, &key, &local).await,
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
    cx: &Ctx<'_>,
    key: String,
    local: LocalNode,
    base: Option<String>,
    turn: Option<&Turn>,
) -> Result<Done, Fail> {
    let root = place(cx, &local.path)?;
    let size = file_size(&local);
    let LocalKind::File { mtime_ns, .. } = local.kind else {
        return Err(Fail::Stale(None));
    };
    let mut f = open_checked(&root, &local)?;
    let chunk = cx.tuning.chunk_size.max(1);
    let stored = lock(cx.index)
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
            let id = cx
                .remote
                .session_start(Bytes::from(first), false)
                .await
                .map_err(from_dbx)?;
            (id, len, h, now())
        }
    };
    let save = |session: &str, offset: u64| {
        lock(cx.index)
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
        match cx
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
                    let _ = lock(cx.index).drop_session(&key);
                    return Err(Fail::Stale(Some(local.path.clone())));
                }
                cx.events.send(Event::Progress {
                    pair: cx.name.to_string(),
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
                session = cx
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
        let _ = lock(cx.index).drop_session(&key);
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let commit = commit_for(cx, &local, base);
    let result = cx
        .remote
        .session_finish(&session, offset, &commit, Bytes::new())
        .await;
    let _ = lock(cx.index).drop_session(&key);
    match result {
        Ok(fe) => uploaded(cx, key, local, fe),
        // A finish whose answer was lost consumed the session: see whether it landed.
        Err(DbxError::Conflict(_)) | Err(DbxError::SessionNotFound) => {
            after_conflict(cx, &key, &local).await
        }
        Err(e) => Err(from_dbx(e)),
    }
}

/// An upload sent as a closed session: (key, local node, base rev, session id and length).
type Staged = (Key, LocalNode, Option<String>, Result<(String, u64), Fail>);

/// Many small files: each is sent as a closed session, then committed together.
pub(super) async fn upload_batch(
    cx: &Ctx<'_>,
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
                let _slot = slot(cx, file_size(&local)).await;
                let data = crate::sync_lock::blocking(|| read_checked(cx, &local))?;
                let len = data.len() as u64;
                let id = cx
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
                finish_batch(cx, std::mem::take(&mut ready), &mut out).await;
            }
        }
        if !ready.is_empty() {
            finish_batch(cx, ready, &mut out).await;
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
    cx: &Ctx<'_>,
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
                (id.clone(), *len, commit_for(cx, local, base.clone()))
            })
            .collect();
        let results = {
            let _one_commit_at_a_time = cx.commit_lock.lock().await;
            cx.remote.finish_batch(&entries).await
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
                    uploaded(cx, key.clone(), local.clone(), fe),
                )),
                Err(DbxError::TooManyWriteOperations) => retry.push(i),
                Err(DbxError::Conflict(_)) => out.push((
                    key.clone(),
                    local.path.clone(),
                    after_conflict(cx, key, local).await,
                )),
                Err(e) => out.push((key.clone(), local.path.clone(), Err(from_dbx(e)))),
            }
        }
        pending = retry;
        if !pending.is_empty() {
            tokio::time::sleep(crate::RETRY_BATCH.delay(attempt)).await;
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
