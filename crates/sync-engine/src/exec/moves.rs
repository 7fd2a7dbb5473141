//! Moves, renames and set-aside copies on either side.

use super::Ctx;
use super::download::local_path_for;
use super::{Done, Fail, from_dbx, io_fail, occupied, place, remote_node};
use crate::clock::now;
use crate::events::Event;
use crate::sync_lock::lock;
use std::sync::atomic::Ordering;
use sync_core::path::{key, name, parent};
use sync_core::{Key, LocalNode, Outcome};

pub(super) async fn move_remote(
    cx: &Ctx<'_>,
    from: Key,
    to: Key,
    from_path: String,
    to_path: String,
) -> Result<Done, Fail> {
    let src = cx.root.dropbox_path(&from_path);
    let dst = cx.root.dropbox_path(&to_path);
    // A case-only rename (`from == to`) is one move too: Dropbox renames the item in place
    // (Maestral's `test_case_change_local`, run against the real Dropbox).
    let entry = cx.remote.move_entry(&src, &dst).await.map_err(from_dbx)?;
    let remote = remote_node(cx, entry)?;
    cx.counters.moved.fetch_add(1, Ordering::Relaxed);
    Ok(Done::new(
        Outcome::RemoteMoved { from, to, remote },
        "moved on Dropbox",
        &to_path,
        None,
    ))
}

pub(super) fn move_local(
    cx: &Ctx<'_>,
    from: Key,
    to: Key,
    from_path: String,
    to_path: String,
) -> Result<Done, Fail> {
    let target_rel = if from == to {
        format!("{}/{}", parent(&from_path), name(&to_path))
    } else {
        local_path_for(cx, &to_path)
    };
    let root = place(cx, &from_path)?;
    place(cx, &target_rel)?;
    let known = lock(cx.index)
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
            place(cx, &tmp)?;
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
    cx.counters.moved.fetch_add(1, Ordering::Relaxed);
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
fn free_name(cx: &Ctx<'_>, suggested: &str, make: impl Fn(u32) -> String) -> String {
    let taken = |rel: &str| {
        let k = key(rel);
        let ix = lock(cx.index);
        cx.host.files().is_ok_and(|root| root.exists(rel))
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

pub(super) fn set_aside(
    cx: &Ctx<'_>,
    key: String,
    local: LocalNode,
    to_path: String,
) -> Result<Done, Fail> {
    let root = place(cx, &local.path)?;
    if !root.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let original = name(&local.path).to_string();
    let (host, date) = (cx.tuning.host.clone(), crate::clock::today());
    let to_path = free_name(cx, &to_path, |n| {
        sync_core::path::conflicted_copy_name(&original, &host, &date, n)
    });
    place(cx, &to_path)?;
    root.rename(&local.path, &to_path, true).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Fail::Stale(Some(to_path.clone()))
        } else {
            io_fail("cannot rename the local version aside", e)
        }
    })?;
    let _ = lock(cx.index).add_conflict(now(), &local.path, &to_path, "conflict");
    cx.counters.conflicts.fetch_add(1, Ordering::Relaxed);
    cx.events.send(Event::Conflict {
        pair: cx.name.to_string(),
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

pub(super) fn rename_clash(
    cx: &Ctx<'_>,
    local: LocalNode,
    to_path: String,
    reason: sync_core::ClashReason,
) -> Result<Done, Fail> {
    let root = place(cx, &local.path)?;
    if !root.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(parent(&local.path).to_string())));
    }
    let original = name(&local.path).to_string();
    let unicode = reason == sync_core::ClashReason::Unicode;
    let to_path = free_name(cx, &to_path, |n| {
        sync_core::path::clash_name(&original, unicode, n)
    });
    place(cx, &to_path)?;
    root.rename(&local.path, &to_path, true)
        .map_err(|e| io_fail("cannot rename the clashing name", e))?;
    let kind = match reason {
        sync_core::ClashReason::Case => "case",
        sync_core::ClashReason::Unicode => "unicode",
    };
    let _ = lock(cx.index).add_conflict(now(), &local.path, &to_path, kind);
    let _ = lock(cx.index).clear_issue(&local.path);
    cx.events.send(Event::Conflict {
        pair: cx.name.to_string(),
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
