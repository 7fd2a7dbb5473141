//! Downloads and new folders: a download lands in a temp file in the state folder, is
//! checked and made durable, and is renamed into place only over the version it replaces.

use super::Ctx;
use super::Turn;
use super::{Done, Fail, from_dbx, io_fail, occupied, place, prove, remote_node, state_unsafe};
use crate::events::Event;
use crate::localfs::sig_of;
use crate::sync_lock::lock;
use futures_util::AsyncReadExt;
use nuvosync_dropbox::{Entry, Error as DbxError};
use std::io::Write;
use std::sync::atomic::Ordering;
use sync_core::path::{key, parent};
use sync_core::{ContentHash, ContentHasher, LocalKind, LocalNode, Outcome, RemoteNode};

/// The local path for a pair-relative remote path: existing local folders keep their own
/// spelling; missing parts take Dropbox's.
pub(super) fn local_path_for(cx: &Ctx<'_>, remote_path: &str) -> String {
    let ix = lock(cx.index);
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

pub(super) async fn download(
    cx: &Ctx<'_>,
    key: String,
    remote: RemoteNode,
    replace: Option<LocalNode>,
    turn: Option<&Turn>,
) -> Result<Done, Fail> {
    let target_rel = match &replace {
        Some(l) => l.path.clone(),
        None => local_path_for(cx, &remote.path),
    };
    let root = place(cx, &target_rel)?;
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
        state_unsafe(cx, &e).unwrap_or_else(|| io_fail("cannot create a temporary file", e))
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
    let answer = cx
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
                cx.events.send(Event::Progress { pair: cx.name.to_string(), path: target_rel.clone(), direction: "download".into(), done, total: fe.size });
            }
        }
        let got = hasher.finish();
        if Some(got) != expect || got != fe.content_hash || done != listed {
            return Err(Fail::Failed { code: "content_hash_mismatch", message: "the downloaded bytes do not match Dropbox's content hash; the download is retried".into(), counts: true });
        }
        if let Some(t) = nuvosync_dropbox::client::parse_timestamp(&fe.client_modified) {
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
        let now_listed = lock(cx.index)
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
                prove(cx, &root, &key, &target_rel, l)?;
                // The new version keeps the old one's permissions (a private file stays
                // private, a script executable); never set-user or set-group-ID bits.
                let mode = crate::platform::mode(&old) & 0o1777;
                crate::platform::set_mode(&temp.file, mode)
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
    cx.counters.downloaded.fetch_add(1, Ordering::Relaxed);
    cx.counters.bytes.fetch_add(fe.size, Ordering::Relaxed);
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

pub(super) fn create_local_folder(
    cx: &Ctx<'_>,
    key: String,
    remote: RemoteNode,
) -> Result<Done, Fail> {
    let rel = local_path_for(cx, &remote.path);
    let root = place(cx, &rel)?;
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
    cx.counters.folders.fetch_add(1, Ordering::Relaxed);
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

pub(super) async fn create_remote_folder(
    cx: &Ctx<'_>,
    key: String,
    local: LocalNode,
) -> Result<Done, Fail> {
    if !place(cx, &local.path)?.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let dbx = cx.root.dropbox_path(&local.path);
    let entry = match cx.remote.create_folder(&dbx).await {
        Ok(f) => Entry::Folder(f),
        Err(DbxError::Conflict(nuvosync_dropbox::Conflict::Folder)) => {
            match cx.remote.get_metadata(&dbx).await.map_err(from_dbx)? {
                Some(e @ Entry::Folder(_)) => e,
                _ => return Err(Fail::Stale(None)),
            }
        }
        Err(e) => return Err(from_dbx(e)),
    };
    let remote = remote_node(cx, entry)?;
    cx.counters.folders.fetch_add(1, Ordering::Relaxed);
    let path = local.path.clone();
    Ok(Done::new(
        Outcome::Uploaded { key, local, remote },
        "folder created on Dropbox",
        &path,
        None,
    ))
}
