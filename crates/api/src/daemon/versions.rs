//! A file's versions on Dropbox, the files deleted there and how to bring them back, and the
//! folder tree on Dropbox.

use super::{Daemon, rel};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use nuvosync_dropbox::Entry;
use sync_engine::engine::UndeleteError;

impl Daemon {
    pub(super) async fn revisions(
        &self,
        pair: &str,
        path: &str,
    ) -> Result<Vec<RevisionDto>, ApiError> {
        let revs = self.service.pair(pair)?.revisions(&rel(path), 20).await?;
        Ok(revs
            .into_iter()
            .map(|r| RevisionDto {
                rev: r.rev,
                size: r.size,
                server_modified: r.server_modified,
            })
            .collect())
    }

    /// Files deleted on Dropbox in the pair's folder, newest first: Dropbox lists the deleted
    /// paths, and each one's history says whether it is a file, when it was deleted and its
    /// last version (a folder has no history and is left out: its files are listed).
    pub(super) async fn deleted(&self, pair: &str) -> Result<Vec<DeletedDto>, ApiError> {
        /// At most this many histories are asked for (newest first needs each one's date).
        const MAX: usize = 500;
        let deleted = self.service.pair(pair)?.deleted(MAX).await?;
        Ok(deleted
            .into_iter()
            .map(|d| DeletedDto {
                pair: pair.to_string(),
                path: d.path,
                deleted_at: d.deleted_at,
                size: d.size,
                rev: d.rev,
            })
            .collect())
    }

    /// The folders directly in `path` on Dropbox (from the index's copy of the listing),
    /// with what is below each.
    pub(super) fn remote_folders(
        &self,
        pair: &str,
        path: &str,
    ) -> Result<Vec<RemoteFolderDto>, ApiError> {
        let folders = self.service.pair(pair)?.remote_folders(path)?;
        Ok(folders
            .into_iter()
            .map(|f| RemoteFolderDto {
                path: f.path,
                name: f.name,
                files: f.files,
                bytes: f.bytes,
                has_folders: f.has_folders,
                excluded: f.excluded,
            })
            .collect())
    }

    /// Bring back the last version of a file deleted on Dropbox.
    pub(super) async fn undelete(&self, pair: &str, path: &str) -> Result<RevisionDto, ApiError> {
        let back = self
            .service
            .pair(pair)?
            .undelete(&rel(path))
            .await
            .map_err(|e| match e {
                UndeleteError::NoHistory(_) => ApiError::new(
                    ErrorCode::NotFound,
                    format!("Dropbox has no history for {path} — see `nuvosync deleted` for what can be brought back"),
                ),
                UndeleteError::Folder(_) => ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("{path} is a folder on Dropbox — bring back the files in it one by one (see `nuvosync deleted`)"),
                ),
                UndeleteError::NoVersion(_) => ApiError::new(
                    ErrorCode::NotFound,
                    format!("Dropbox keeps no version of {path} any more"),
                ),
                UndeleteError::NotDeleted(_) => ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "{path} is not deleted on Dropbox — to bring back an earlier version, see `nuvosync history`"
                    ),
                ),
                UndeleteError::Sync(e) => e.into(),
            })?;
        Ok(RevisionDto {
            rev: back.rev,
            size: back.size,
            server_modified: back.server_modified,
        })
    }

    /// Resolve a path in a pair to the Dropbox metadata (used by the UI to show both versions).
    pub async fn remote_entry(&self, pair: &str, path: &str) -> Result<Option<Entry>, ApiError> {
        Ok(self.service.pair(pair)?.remote_entry(&rel(path)).await?)
    }
}
