//! The guided restore of a snapshot: the restored local folder becomes the authority, and
//! Dropbox's newer state is kept aside, never deleted.
//!
//! 1. **Preview** ([`plan`]): a fresh look at both sides — which Dropbox files the restored
//!    versions replace, which Dropbox files leave the instance folder, which restored files
//!    are new to Dropbox.
//! 2. **Apply** ([`apply`]): move Dropbox's instance folder aside to
//!    `<Instance> (before restore YYYY-MM-DD HH.MM)` next to it, reset the pair's state, and
//!    sync with the restored files as the authority. Each step is recorded first, so an
//!    interrupted restore resumes where it stopped.
//! 3. Or **continue normally** ([`continue_normally`]) when it was not a restore — after
//!    [`continue_preview`] has shown what normal sync would then overwrite or delete.

use crate::dto::{RestoreItemDto, RestorePlanDto, RestoreResultDto};
use crate::error::{ApiError, ErrorCode};
use crate::service::Service;
use std::collections::BTreeMap;
use sync_core::{ContentHash, Op};
use sync_engine::scan::Scanner;

const IN_PROGRESS: &str = "restore_backup";

struct Sides {
    local: BTreeMap<String, (String, u64, ContentHash)>,
    remote: BTreeMap<String, (String, u64, ContentHash)>,
    not_synced: Vec<(String, Option<u64>)>,
}

fn invalid(msg: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, msg)
}

async fn look(service: &Service, pair: &str) -> Result<Sides, ApiError> {
    let p = service.pair(pair)?;
    let root = p.root().to_path_buf();
    if !root.is_dir() {
        return Err(ApiError::new(
            ErrorCode::Paused,
            format!(
                "the local folder {} is missing — mount or restore it first",
                root.display()
            ),
        ));
    }
    let rules = p.rules();
    let threads = p.tuning.hash_threads;
    let scan_rules = rules.clone();
    let scanned = tokio::task::spawn_blocking(move || {
        Scanner {
            root: &root,
            rules: &scan_rules,
            threads,
        }
        .scan(&[], &Default::default(), &|_, _| None)
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
    .map_err(|e| ApiError::new(ErrorCode::Paused, e.to_string()))?;
    let mut local = BTreeMap::new();
    for f in scanned.found {
        if let sync_core::LocalKind::File { size, hash, .. } = f.node.kind {
            local.insert(f.key, (f.node.path, size, hash));
        }
    }
    let listed = list_remote(&p, p.remote_root(), &rules).await?;
    Ok(Sides {
        local,
        remote: listed.files,
        not_synced: listed.not_synced,
    })
}

/// A Dropbox folder as the pair sees it.
struct Listed {
    /// Files the pair syncs, by key.
    files: BTreeMap<String, (String, u64, ContentHash)>,
    /// What the pair does not sync (excluded folders, ignored names): the outermost such
    /// entries, relative paths with the size of files.
    not_synced: Vec<(String, Option<u64>)>,
}

async fn list_remote(
    p: &sync_engine::Pair,
    root: &sync_engine::RemoteRoot,
    rules: &sync_engine::rules::Rules,
) -> Result<Listed, ApiError> {
    let mut out = Listed {
        files: BTreeMap::new(),
        not_synced: vec![],
    };
    let mut skipped = vec![];
    match p.remote().list_folder(&root.path).await {
        Ok(mut page) => loop {
            for e in &page.entries {
                // What cannot be a path in the folder is not restored into it.
                let Ok(Some((k, n))) = root.node(e) else {
                    continue;
                };
                let size = match n.kind {
                    sync_core::RemoteKind::File { size, .. } => Some(size),
                    _ => None,
                };
                if rules.skips_path(&n.path) {
                    skipped.push((n.path, size));
                } else if let sync_core::RemoteKind::File { size, hash, .. } = n.kind {
                    out.files.insert(k, (n.path, size, hash));
                }
            }
            if !page.has_more {
                break;
            }
            page = p.remote().list_continue(&page.cursor).await?;
        },
        Err(nuvosync_dropbox::Error::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    // Only the outermost: a skipped folder goes with everything in it.
    skipped.sort_by_key(|(path, _)| sync_core::path::key(path));
    for (path, size) in skipped {
        let k = sync_core::path::key(&path);
        if !out
            .not_synced
            .iter()
            .any(|(o, _)| sync_core::path::is_within(&k, &sync_core::path::key(o)))
        {
            out.not_synced.push((path, size));
        }
    }
    Ok(out)
}

/// The backup folder's path (next to the instance folder).
fn backup_path(service: &Service, pair: &str, stamp: &str) -> Result<String, ApiError> {
    let cfg = service
        .config()
        .pair(pair)
        .cloned()
        .ok_or_else(|| invalid(format!("no pair named {pair:?}")))?;
    Ok(format!(
        "/{}/{}/{} (before restore {stamp})",
        cfg.organization, cfg.space, cfg.instance
    ))
}

fn stamp() -> String {
    // YYYY-MM-DD HH.MM (UTC)
    let t = nuvosync_dropbox::client::timestamp(sync_engine::pair::now());
    format!("{} {}", &t[..10], t[11..16].replace(':', "."))
}

/// Was a restore detected for this pair?
fn detected(service: &Service, pair: &str) -> Result<bool, ApiError> {
    let p = service.pair(pair)?;
    Ok(matches!(
        p.check_folder(),
        Err(sync_engine::SyncError::Paused(
            sync_engine::PauseReason::RestoreDetected { .. }
                | sync_engine::PauseReason::IndexMissing { .. }
        ))
    ))
}

/// Preview a restore.
pub async fn plan(service: &Service, pair: &str) -> Result<RestorePlanDto, ApiError> {
    let sides = look(service, pair).await?;
    let mut dto = RestorePlanDto {
        pair: pair.to_string(),
        detected: detected(service, pair)?,
        replaced: vec![],
        removed: vec![],
        uploaded: vec![],
        not_synced: sides
            .not_synced
            .iter()
            .map(|(path, size)| RestoreItemDto {
                path: path.clone(),
                size: *size,
            })
            .collect(),
        overwritten_here: vec![],
        deleted_here: vec![],
        conflicts: vec![],
        unchanged: 0,
        backup_folder: backup_path(service, pair, &stamp())?,
    };
    for (k, (path, size, hash)) in &sides.local {
        match sides.remote.get(k) {
            Some((_, _, h)) if h == hash => dto.unchanged += 1,
            Some(_) => dto.replaced.push(RestoreItemDto {
                path: path.clone(),
                size: Some(*size),
            }),
            None => dto.uploaded.push(RestoreItemDto {
                path: path.clone(),
                size: Some(*size),
            }),
        }
    }
    for (k, (path, size, _)) in &sides.remote {
        if !sides.local.contains_key(k) {
            dto.removed.push(RestoreItemDto {
                path: path.clone(),
                size: Some(*size),
            });
        }
    }
    Ok(dto)
}

/// Apply a restore (the pair must not be running). Resumable.
pub async fn apply(service: &Service, pair: &str) -> Result<RestoreResultDto, ApiError> {
    let p = service.pair(pair)?;
    if !p.root().is_dir() {
        return Err(ApiError::new(
            ErrorCode::Paused,
            format!(
                "the local folder {} is missing — mount or restore it first",
                p.root().display()
            ),
        ));
    }
    // 1. Decide the backup name once, and record it before touching anything.
    let recorded = p.with_index(|ix| ix.meta(IN_PROGRESS))?;
    let resuming = recorded.is_some();
    let backup = match recorded {
        Some(b) => b,
        None => {
            let b = backup_path(service, pair, &stamp())?;
            p.with_index(|ix| ix.set_meta(IN_PROGRESS, &b))?;
            b
        }
    };
    // 2. Move Dropbox's instance folder aside (already done if resuming).
    let root = p.remote_root().path.clone();
    match p.remote().move_entry(&root, &backup).await {
        Ok(_) => tracing::info!(pair, backup = %backup, "Dropbox's instance folder moved aside"),
        Err(nuvosync_dropbox::Error::NotFound) => {} // moved before an interruption, or never existed
        Err(nuvosync_dropbox::Error::Conflict(_)) => {
            // The backup name exists. Resuming, that is this restore's own move (the name is
            // this restore's, with its time): the folder at `root` is the restored state being
            // uploaded when the restore was interrupted, and the upload goes on. A new restore
            // meeting an existing name does not touch either.
            if !resuming && p.remote().get_metadata(&root).await?.is_some() {
                return Err(ApiError::new(
                    ErrorCode::Dropbox,
                    format!(
                        "both {root} and the backup {backup} exist on Dropbox — move one of them on dropbox.com, then run the restore again"
                    ),
                ));
            }
        }
        Err(e) => return Err(e.into()),
    }
    // 3. What this pair does not sync (excluded folders, ignored names) was never part of
    //    the snapshot: it goes back where it was. Moving creates the parents; on a resumed
    //    restore, what was moved back already is no longer in the backup.
    let rules = p.rules();
    let kept = list_remote(&p, &sync_engine::RemoteRoot::new(&backup), &rules).await?;
    for (rel, _) in &kept.not_synced {
        let from = format!("{backup}{rel}");
        let to = format!("{root}{rel}");
        match p.remote().move_entry(&from, &to).await {
            Ok(_) => {
                tracing::info!(pair, path = %rel, "not synced here: left in the instance folder")
            }
            Err(nuvosync_dropbox::Error::NotFound) => {}
            Err(nuvosync_dropbox::Error::Conflict(_)) => {
                tracing::warn!(pair, path = %rel, backup = %backup, "not synced here, and the instance folder has it again: left in the backup");
            }
            Err(e) => return Err(e.into()),
        }
    }
    // 4. Forget what was synced: the restored folder is the new truth — and so is the Dropbox
    //    folder made for it (the one the pair synced is the backup now, moved on purpose:
    //    not a folder that "moved away").
    p.with_index(|ix| -> Result<(), ApiError> {
        ix.reset_trees()?;
        ix.del_meta("generation")?;
        ix.del_meta("pending_generation")?;
        ix.del_meta("root_id")?;
        Ok(())
    })?;
    service.forget_pair(pair);
    // 5. Upload the restored state.
    let p = service.pair(pair)?;
    let report = p.sync_once().await?;
    p.with_index(|ix| ix.del_meta(IN_PROGRESS))?;
    let url =
        service
            .endpoints()
            .web_url(&format!("/Apps/{}{}", nuvosync_dropbox::APP_FOLDER, backup));
    Ok(RestoreResultDto {
        pair: pair.to_string(),
        backup_folder: backup,
        backup_url: url,
        uploaded: report.uploaded,
    })
}

/// What normal sync would do, on both sides, if this was not a restore.
pub async fn continue_preview(service: &Service, pair: &str) -> Result<RestorePlanDto, ApiError> {
    let p = service.pair(pair)?;
    p.scan(&[]).await?;
    p.pull().await?;
    let (trees, plan, _) = p.plan()?;
    let mut dto = RestorePlanDto {
        pair: pair.to_string(),
        detected: detected(service, pair)?,
        replaced: vec![],
        removed: vec![],
        uploaded: vec![],
        not_synced: vec![],
        overwritten_here: vec![],
        deleted_here: vec![],
        conflicts: vec![],
        unchanged: 0,
        backup_folder: String::new(),
    };
    // A deleted folder counts the files that were synced inside it.
    let files_under = |key: &str| {
        trees
            .synced
            .range(key.to_string()..)
            .take_while(|(k, _)| sync_core::path::is_within(k, key))
            .filter(|(_, s)| !s.is_folder())
            .count()
            .max(1) as u64
    };
    let item = |path: String, size: Option<u64>| RestoreItemDto { path, size };
    for op in plan.ops {
        match op {
            Op::Upload {
                local,
                base: Some(_),
                ..
            } => dto
                .replaced
                .push(item(local.path.clone(), file_size(&local))),
            Op::Upload {
                local, base: None, ..
            } => dto
                .uploaded
                .push(item(local.path.clone(), file_size(&local))),
            Op::DeleteRemote { key, remote } => {
                dto.removed.push(item(remote.path, Some(files_under(&key))))
            }
            Op::Download {
                replace: Some(local),
                remote,
                ..
            } => dto
                .overwritten_here
                .push(item(local.path, remote_size(&remote))),
            Op::DeleteLocal { key, local } => dto
                .deleted_here
                .push(item(local.path, Some(files_under(&key)))),
            Op::SetAside { local, .. } => dto
                .conflicts
                .push(item(local.path.clone(), file_size(&local))),
            _ => {}
        }
    }
    Ok(dto)
}

fn file_size(l: &sync_core::LocalNode) -> Option<u64> {
    match l.kind {
        sync_core::LocalKind::File { size, .. } => Some(size),
        sync_core::LocalKind::Folder => None,
    }
}

fn remote_size(r: &sync_core::RemoteNode) -> Option<u64> {
    match r.kind {
        sync_core::RemoteKind::File { size, .. } => Some(size),
        _ => None,
    }
}

/// "This was not a restore": accept the folder's marker and sync normally.
pub fn continue_normally(service: &Service, pair: &str) -> Result<(), ApiError> {
    let p = service.pair(pair)?;
    let m = sync_engine::marker::read(p.root());
    p.with_index(|ix| -> Result<(), ApiError> {
        match m {
            Some(m) => {
                ix.set_meta("generation", &m.generation.to_string())?;
                ix.set_meta("pair_id", &m.pair_id)?;
            }
            None => {
                ix.del_meta("generation")?;
            }
        }
        ix.del_meta("pending_generation")?;
        Ok(())
    })?;
    service.forget_pair(pair);
    Ok(())
}
