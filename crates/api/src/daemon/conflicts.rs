//! The conflicts, their resolution, and the sync status of one file.

use super::{Daemon, lock, not_found, now};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use std::path::Path;

impl Daemon {
    pub(super) fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictDto>, ApiError> {
        let mut out = vec![];
        for cfg in self.service.pairs() {
            let Ok(p) = self.service.pair(&cfg.name) else {
                continue;
            };
            for c in p.with_index(|ix| ix.conflicts(include_resolved))? {
                let version = |rel: &str, side: &str| {
                    let abs = cfg.local.join(rel.trim_start_matches('/'));
                    let md = std::fs::metadata(&abs).ok();
                    VersionDto {
                        path: rel.to_string(),
                        side: side.to_string(),
                        size: md.as_ref().map(|m| m.len()),
                        modified: md
                            .and_then(|m| m.modified().ok())
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_secs() as i64),
                        open_path: Some(abs.display().to_string()),
                    }
                };
                out.push(ConflictDto {
                    id: c.id,
                    pair: cfg.name.clone(),
                    at: c.at,
                    kind: c.kind,
                    resolved: c.resolved,
                    mine: version(&c.copy_path, "local"),
                    theirs: version(&c.path, "dropbox"),
                });
            }
        }
        out.sort_by(|a, b| a.resolved.cmp(&b.resolved).then(b.at.cmp(&a.at)));
        Ok(out)
    }

    pub(super) fn resolve(&self, pair: &str, id: i64, choice: Resolution) -> Result<(), ApiError> {
        if self.service.config().pair(pair).is_none() {
            return Err(not_found(pair));
        }
        let p = self.service.pair(pair)?;
        let c = p
            .with_index(|ix| ix.conflicts(true))?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no conflict {id} in pair {pair:?} — see `nuvosync conflicts`"),
                )
            })?;
        // Through the pair's checked file layer: nothing through a link, nothing outside.
        let files = p.files()?;
        let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
        let io =
            |what: &str, e: std::io::Error| ApiError::new(ErrorCode::Io, format!("{what}: {e}"));
        let os = if std::env::var_os("NUVOSYNC_NO_OS_TRASH").is_none() {
            sync_engine::localfs::OsTrash::home(files.fs())
        } else {
            None
        };
        match choice {
            Resolution::KeepBoth => {}
            Resolution::KeepTheirs => {
                if files.exists(&c.copy_path) {
                    files
                        .to_trash(&c.copy_path, &stamp, os.as_ref())
                        .map_err(|e| io("cannot move your copy to the trash", e))?;
                }
            }
            Resolution::KeepMine => {
                if !files.exists(&c.copy_path) {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("your version {} is gone — nothing to keep", c.copy_path),
                    ));
                }
                // Dropbox's version stays in Dropbox's history (and goes to the trash here).
                if files.exists(&c.path) {
                    files
                        .to_trash(&c.path, &stamp, os.as_ref())
                        .map_err(|e| io("cannot move Dropbox's version aside", e))?;
                }
                files
                    .rename(&c.copy_path, &c.path, true)
                    .map_err(|e| io("cannot put your version in place", e))?;
            }
        }
        p.with_index(|ix| ix.resolve_conflict(id))?;
        Ok(())
    }

    pub(super) fn file_status(&self, path: &str) -> FileStatusDto {
        let abs = Path::new(path)
            .canonicalize()
            .unwrap_or_else(|_| Path::new(path).to_path_buf());
        let unwatched = FileStatusDto {
            path: path.to_string(),
            pair: None,
            status: "unwatched".into(),
            message: None,
        };
        let Some(cfg) = self
            .service
            .pairs()
            .into_iter()
            .find(|p| abs.starts_with(&p.local))
        else {
            return unwatched;
        };
        let rel_path = format!(
            "/{}",
            abs.strip_prefix(&cfg.local)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let out = |status: &str, message: Option<String>| FileStatusDto {
            path: path.to_string(),
            pair: Some(cfg.name.clone()),
            status: status.into(),
            message,
        };
        let Ok(p) = self.service.pair(&cfg.name) else {
            return out("pending", None);
        };
        if rel_path == "/" {
            return out("up_to_date", None);
        }
        if p.rules().skips_path(&rel_path) {
            return out("ignored", Some("not synced (nuvosync's own folder, an ignore pattern, an excluded folder or a name Dropbox does not take)".into()));
        }
        if let Some(t) = lock(&self.transfers).get(&(cfg.name.clone(), rel_path.clone())) {
            return out(
                if t.dto.direction == "upload" {
                    "uploading"
                } else {
                    "downloading"
                },
                None,
            );
        }
        let key = sync_core::path::key(&rel_path);
        p.with_index(|ix| {
            if let Some(i) = ix
                .issues()
                .unwrap_or_default()
                .into_iter()
                .find(|i| i.path == rel_path)
            {
                return out("error", Some(i.message));
            }
            if ix
                .conflicts(false)
                .unwrap_or_default()
                .iter()
                .any(|c| c.copy_path == rel_path || c.path == rel_path)
            {
                return out(
                    "conflict",
                    Some(
                        "changed on both sides; both versions were kept — see `nuvosync conflicts`"
                            .into(),
                    ),
                );
            }
            let (l, r, s) = (
                ix.local(&key).ok().flatten(),
                ix.remote(&key).ok().flatten(),
                ix.synced(&key).ok().flatten(),
            );
            let dirty = ix.dirty().unwrap_or_default().contains(&key);
            let on_disk = abs.exists();
            match (l, r, s) {
                (Some(l), Some(r), Some(s))
                    if !dirty && l.hash() == s.hash() && r.hash() == s.hash() =>
                {
                    out("up_to_date", None)
                }
                _ if !on_disk => out("unwatched", Some("no such file".into())),
                _ => out("pending", None),
            }
        })
    }
}
