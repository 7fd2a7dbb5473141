//! The conflicts, their resolution, and the sync status of one file: each an engine call
//! (`sync_engine::engine::PairHandle`) and its answer as DTOs.

use super::{Daemon, not_found};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use std::path::Path;
use sync_engine::engine::{FileState, FileVersion, Resolution as Choice, ResolveError};

impl Daemon {
    pub(super) fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictDto>, ApiError> {
        let mut out = vec![];
        for cfg in self.service.pairs() {
            let Ok(p) = self.service.pair(&cfg.name) else {
                continue;
            };
            for c in p.conflicts(include_resolved)? {
                let version = |v: FileVersion, side: &str| VersionDto {
                    path: v.path,
                    side: side.to_string(),
                    size: v.size,
                    modified: v.modified,
                    open_path: v.abs.map(|a| a.display().to_string()),
                };
                out.push(ConflictDto {
                    id: c.id,
                    pair: cfg.name.clone(),
                    at: c.at,
                    kind: c.kind,
                    resolved: c.resolved,
                    mine: version(c.mine, "local"),
                    theirs: version(c.theirs, "dropbox"),
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
        let choice = match choice {
            Resolution::KeepBoth => Choice::KeepBoth,
            Resolution::KeepMine => Choice::KeepMine,
            Resolution::KeepTheirs => Choice::KeepTheirs,
        };
        self.service
            .pair(pair)?
            .resolve(id, choice)
            .map_err(|e| match e {
                ResolveError::NoConflict(_) => ApiError::new(
                    ErrorCode::NotFound,
                    format!("no conflict {id} in pair {pair:?} — see `nuvosync conflicts`"),
                ),
                ResolveError::MineGone(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
                ResolveError::Refused { .. } => {
                    ApiError::new(ErrorCode::InvalidArgument, e.to_string())
                }
                ResolveError::Sync(e) => e.into(),
            })
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
        // Transfers under way are known from the engine's events; the rest is the engine's.
        if let Some(t) = self
            .transfers
            .lock()
            .get(&(cfg.name.clone(), rel_path.clone()))
        {
            return out(
                if t.dto.direction == "upload" {
                    "uploading"
                } else {
                    "downloading"
                },
                None,
            );
        }
        let status = p.file_status(&rel_path);
        let state = match status.state {
            FileState::UpToDate => "up_to_date",
            FileState::Ignored => "ignored",
            FileState::Error => "error",
            FileState::Conflict => "conflict",
            FileState::Missing => "unwatched",
            FileState::Pending => "pending",
        };
        out(state, status.message)
    }
}
