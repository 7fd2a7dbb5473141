//! The guided restore of a snapshot: the restored local folder becomes the authority, and
//! Dropbox's newer state is kept aside, never deleted.
//!
//! 1. **Preview** ([`PairHandle::restore_plan`]): a fresh look at both sides — which Dropbox
//!    files the restored versions replace, which Dropbox files leave the instance folder,
//!    which restored files are new to Dropbox.
//! 2. **Apply**: [`PairHandle::restore_set_aside`] moves Dropbox's instance folder aside to
//!    `<Instance> (before restore YYYY-MM-DD HH.MM)` next to it and resets the pair's state;
//!    the pair is then opened afresh and [`PairHandle::restore_upload`] syncs with the
//!    restored files as the authority. Each step is recorded first, so an interrupted restore
//!    resumes where it stopped.
//! 3. Or **continue normally** ([`PairHandle::restore_continue`]) when it was not a restore —
//!    after [`PairHandle::restore_continue_preview`] has shown what normal sync would then
//!    overwrite or delete.

use super::PairHandle;
use crate::pair::{Pair, PauseReason, SyncError};
use crate::remote::RemoteRoot;
use crate::rules::Rules;
use crate::scan::Scanner;
use std::collections::BTreeMap;
use sync_core::{ContentHash, Op};

/// The index key that records the backup folder of a restore under way.
const IN_PROGRESS: &str = "restore_backup";

/// One file (or folder) a restore or its alternative touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreItem {
    /// Relative path.
    pub path: String,
    /// Its size (files), or the files it holds (a deleted folder); `None` for a folder.
    pub size: Option<u64>,
}

/// What a restore, or continuing normally, would change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestorePlan {
    /// A restored snapshot was detected (or the index is missing).
    pub detected: bool,
    /// Dropbox files the restored (or local) versions replace.
    pub replaced: Vec<RestoreItem>,
    /// Dropbox files that leave the instance folder (restore) or are deleted there.
    pub removed: Vec<RestoreItem>,
    /// Files new to Dropbox.
    pub uploaded: Vec<RestoreItem>,
    /// Restore only: what the pair does not sync — it stays in the instance folder.
    pub not_synced: Vec<RestoreItem>,
    /// Continuing only: local files Dropbox's versions would overwrite.
    pub overwritten_here: Vec<RestoreItem>,
    /// Continuing only: local files that would be deleted.
    pub deleted_here: Vec<RestoreItem>,
    /// Continuing only: files changed on both sides (both versions kept).
    pub conflicts: Vec<RestoreItem>,
    /// Restored files identical to Dropbox's.
    pub unchanged: u64,
    /// Restore only: the Dropbox folder the instance folder would move to.
    pub backup_folder: String,
}

/// What an applied restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreDone {
    /// The Dropbox folder that holds Dropbox's state from before the restore.
    pub backup_folder: String,
    /// Files uploaded.
    pub uploaded: u64,
}

/// Files by key: (path, size, content hash).
type Files = BTreeMap<String, (String, u64, ContentHash)>;

struct Sides {
    local: Files,
    remote: Files,
    not_synced: Vec<(String, Option<u64>)>,
}

/// A Dropbox folder as the pair sees it.
struct Listed {
    /// Files the pair syncs, by key.
    files: Files,
    /// What the pair does not sync (excluded folders, ignored names): the outermost such
    /// entries, relative paths with the size of files.
    not_synced: Vec<(String, Option<u64>)>,
}

fn folder_present(p: &Pair) -> Result<(), SyncError> {
    if p.root().is_dir() {
        Ok(())
    } else {
        Err(SyncError::Paused(PauseReason::MissingRoot {
            path: p.root().to_path_buf(),
        }))
    }
}

async fn look(p: &Pair) -> Result<Sides, SyncError> {
    folder_present(p)?;
    let root = p.root().to_path_buf();
    let rules = p.rules();
    let threads = p.tuning.hash_threads;
    let scan_rules = rules.clone();
    let scanned = tokio::task::spawn_blocking(move || {
        Scanner {
            root: &root,
            rules: &scan_rules,
            threads,
            watch: None,
        }
        .scan(&[], &[], &|_, _| None)
    })
    .await
    .map_err(|e| SyncError::Io {
        what: "the scan of the restored folder stopped".into(),
        source: std::io::Error::other(e.to_string()),
    })??;
    let mut local = BTreeMap::new();
    for f in scanned.found {
        if let sync_core::LocalKind::File { size, hash, .. } = f.node.kind {
            local.insert(f.key, (f.node.path, size, hash));
        }
    }
    let listed = list_remote(p, p.remote_root(), &rules).await?;
    Ok(Sides {
        local,
        remote: listed.files,
        not_synced: listed.not_synced,
    })
}

async fn list_remote(p: &Pair, root: &RemoteRoot, rules: &Rules) -> Result<Listed, SyncError> {
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

/// Now as `YYYY-MM-DD HH.MM` (UTC).
fn stamp() -> String {
    let t = nuvosync_dropbox::client::timestamp(crate::pair::now());
    format!("{} {}", &t[..10], t[11..16].replace(':', "."))
}

fn item(path: String, size: Option<u64>) -> RestoreItem {
    RestoreItem { path, size }
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

impl PairHandle {
    /// The Dropbox folder a restore started now moves the instance folder to (next to it).
    pub fn restore_backup_folder(&self) -> String {
        format!(
            "{} (before restore {})",
            self.pair.remote_root().path,
            stamp()
        )
    }

    /// Was a restored snapshot detected (or is the index missing)?
    pub fn restore_detected(&self) -> bool {
        matches!(
            self.pair.check_folder(),
            Err(SyncError::Paused(
                PauseReason::RestoreDetected { .. } | PauseReason::IndexMissing { .. }
            ))
        )
    }

    /// Preview a restore: a fresh look at the folder and at Dropbox.
    pub async fn restore_plan(&self) -> Result<RestorePlan, SyncError> {
        let sides = look(&self.pair).await?;
        let mut plan = RestorePlan {
            detected: self.restore_detected(),
            not_synced: sides
                .not_synced
                .iter()
                .map(|(path, size)| item(path.clone(), *size))
                .collect(),
            backup_folder: self.restore_backup_folder(),
            ..RestorePlan::default()
        };
        for (k, (path, size, hash)) in &sides.local {
            match sides.remote.get(k) {
                Some((_, _, h)) if h == hash => plan.unchanged += 1,
                Some(_) => plan.replaced.push(item(path.clone(), Some(*size))),
                None => plan.uploaded.push(item(path.clone(), Some(*size))),
            }
        }
        for (k, (path, size, _)) in &sides.remote {
            if !sides.local.contains_key(k) {
                plan.removed.push(item(path.clone(), Some(*size)));
            }
        }
        Ok(plan)
    }

    /// The first part of applying a restore (the pair must not be running): move Dropbox's
    /// instance folder aside, move back what the pair does not sync, and forget what was
    /// synced. Returns the backup folder. The pair must then be opened afresh and
    /// [`PairHandle::restore_upload`] called on it. Resumable: the backup's name is recorded
    /// before anything moves.
    pub async fn restore_set_aside(&self) -> Result<String, SyncError> {
        let p = &self.pair;
        folder_present(p)?;
        // 1. Decide the backup name once, and record it before touching anything.
        let recorded = p.with_index(|ix| ix.meta(IN_PROGRESS))?;
        let resuming = recorded.is_some();
        let backup = match recorded {
            Some(b) => b,
            None => {
                let b = self.restore_backup_folder();
                p.with_index(|ix| ix.set_meta(IN_PROGRESS, &b))?;
                b
            }
        };
        let pair = &p.spec.name;
        // 2. Move Dropbox's instance folder aside (already done if resuming).
        let root = p.remote_root().path.clone();
        match p.remote().move_entry(&root, &backup).await {
            Ok(_) => {
                tracing::info!(pair, backup = %backup, "Dropbox's instance folder moved aside")
            }
            Err(nuvosync_dropbox::Error::NotFound) => {} // moved before an interruption, or never existed
            Err(nuvosync_dropbox::Error::Conflict(_)) => {
                // The backup name exists. Resuming, that is this restore's own move (the name
                // is this restore's, with its time): the folder at `root` is the restored
                // state being uploaded when the restore was interrupted, and the upload goes
                // on. A new restore meeting an existing name does not touch either.
                if !resuming && p.remote().get_metadata(&root).await?.is_some() {
                    return Err(SyncError::Invalid(format!(
                        "both {root} and the backup {backup} exist on Dropbox — move one of them on dropbox.com, then run the restore again"
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        // 3. What this pair does not sync (excluded folders, ignored names) was never part of
        //    the snapshot: it goes back where it was. Moving creates the parents; on a resumed
        //    restore, what was moved back already is no longer in the backup.
        let rules = p.rules();
        let kept = list_remote(p, &RemoteRoot::new(&backup), &rules).await?;
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
        // 4. Forget what was synced: the restored folder is the new truth — and so is the
        //    Dropbox folder made for it (the one the pair synced is the backup now, moved on
        //    purpose: not a folder that "moved away").
        p.with_index(|ix| -> Result<(), SyncError> {
            ix.reset_trees()?;
            ix.del_meta("generation")?;
            ix.del_meta("pending_generation")?;
            ix.del_meta("root_id")?;
            Ok(())
        })?;
        Ok(backup)
    }

    /// The last part of applying a restore, on the pair opened afresh after
    /// [`PairHandle::restore_set_aside`]: upload the restored state.
    pub async fn restore_upload(&self) -> Result<RestoreDone, SyncError> {
        let p = &self.pair;
        let backup = p
            .with_index(|ix| ix.meta(IN_PROGRESS))?
            .ok_or_else(|| SyncError::Invalid("no restore is under way for this pair".into()))?;
        let report = p.sync_once().await?;
        p.with_index(|ix| ix.del_meta(IN_PROGRESS))?;
        Ok(RestoreDone {
            backup_folder: backup,
            uploaded: report.uploaded,
        })
    }

    /// What normal sync would do, on both sides, if this was not a restore.
    pub async fn restore_continue_preview(&self) -> Result<RestorePlan, SyncError> {
        let p = &self.pair;
        p.scan(&[]).await?;
        p.pull().await?;
        let (trees, plan, _) = p.plan()?;
        let mut out = RestorePlan {
            detected: self.restore_detected(),
            ..RestorePlan::default()
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
        for op in plan.ops {
            match op {
                Op::Upload {
                    local,
                    base: Some(_),
                    ..
                } => out
                    .replaced
                    .push(item(local.path.clone(), file_size(&local))),
                Op::Upload {
                    local, base: None, ..
                } => out
                    .uploaded
                    .push(item(local.path.clone(), file_size(&local))),
                Op::DeleteRemote { key, remote } => {
                    out.removed.push(item(remote.path, Some(files_under(&key))))
                }
                Op::Download {
                    replace: Some(local),
                    remote,
                    ..
                } => out
                    .overwritten_here
                    .push(item(local.path, remote_size(&remote))),
                Op::DeleteLocal { key, local } => out
                    .deleted_here
                    .push(item(local.path, Some(files_under(&key)))),
                Op::SetAside { local, .. } => out
                    .conflicts
                    .push(item(local.path.clone(), file_size(&local))),
                _ => {}
            }
        }
        Ok(out)
    }

    /// "This was not a restore": accept the folder's marker. The pair must then be opened
    /// afresh to sync normally.
    pub fn restore_continue(&self) -> Result<(), SyncError> {
        let p = &self.pair;
        let m = crate::marker::read(p.root());
        p.with_index(|ix| -> Result<(), SyncError> {
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
        Ok(())
    }
}
