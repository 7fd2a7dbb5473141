//! A file's versions on Dropbox, the files deleted there and how to bring them back, and the
//! folder tree on Dropbox.

use super::{Daemon, rel};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use nuvosync_dropbox::Entry;
use std::collections::BTreeMap;
use sync_engine::PairHandle;

impl Daemon {
    pub(super) async fn revisions(
        &self,
        pair: &str,
        path: &str,
    ) -> Result<Vec<RevisionDto>, ApiError> {
        let revs = PairHandle::new(self.service.pair(pair)?)
            .revisions(&rel(path), 20)
            .await?;
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
        let deleted = PairHandle::new(self.service.pair(pair)?)
            .deleted(MAX)
            .await?;
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
        let p = self.service.pair(pair)?;
        let rel = format!("/{}", path.trim_matches('/'));
        let key = if rel == "/" {
            String::new()
        } else {
            sync_core::path::key(&rel)
        };
        let mut trees = sync_core::Trees::default();
        p.with_index(|ix| ix.load_subtree(&key, &mut trees))?;
        let rules = p.rules();
        let depth = |k: &str| k.matches('/').count();
        let want = depth(&key) + 1;
        let mut out: BTreeMap<String, RemoteFolderDto> = BTreeMap::new();
        for (k, n) in trees
            .remote
            .iter()
            .filter(|(k, n)| depth(k) == want && n.is_folder())
        {
            out.insert(
                k.clone(),
                RemoteFolderDto {
                    path: n.path.clone(),
                    name: n.path.rsplit('/').next().unwrap_or_default().to_string(),
                    files: 0,
                    bytes: 0,
                    has_folders: false,
                    excluded: rules
                        .excluded()
                        .iter()
                        .any(|e| *k == *e || sync_core::path::is_below(k, e)),
                },
            );
        }
        for (k, n) in &trees.remote {
            if depth(k) <= want {
                continue;
            }
            // The child of `key` this entry lies in.
            let child: String = k.split('/').take(want + 1).collect::<Vec<_>>().join("/");
            if let Some(f) = out.get_mut(&child) {
                match &n.kind {
                    sync_core::RemoteKind::File { size, .. } => {
                        f.files += 1;
                        f.bytes += size;
                    }
                    sync_core::RemoteKind::Folder => f.has_folders = true,
                }
            }
        }
        let mut list: Vec<RemoteFolderDto> = out.into_values().collect();
        list.sort_by_key(|f| f.name.to_lowercase());
        Ok(list)
    }

    /// Bring back the last version of a file deleted on Dropbox.
    pub(super) async fn undelete(&self, pair: &str, path: &str) -> Result<RevisionDto, ApiError> {
        let p = self.service.pair(pair)?;
        let full = p.remote_root().dropbox_path(&rel(path));
        let h = p.remote().file_history(&full, 1).await.map_err(|e| match e {
            nuvosync_dropbox::Error::NotFound => ApiError::new(
                ErrorCode::NotFound,
                format!("Dropbox has no history for {path} — see `nuvosync deleted` for what can be brought back"),
            ),
            nuvosync_dropbox::Error::NotFile => ApiError::new(
                ErrorCode::InvalidArgument,
                format!("{path} is a folder on Dropbox — bring back the files in it one by one (see `nuvosync deleted`)"),
            ),
            e => e.into(),
        })?;
        let Some(last) = h.revisions.into_iter().next() else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("Dropbox keeps no version of {path} any more"),
            ));
        };
        if h.deleted_at.is_none() {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{path} is not deleted on Dropbox — to bring back an earlier version, see `nuvosync history`"
                ),
            ));
        }
        let back = p.remote().restore(&full, &last.rev).await?;
        Ok(RevisionDto {
            rev: back.rev,
            size: back.size,
            server_modified: back.server_modified,
        })
    }

    /// Resolve a path in a pair to the Dropbox metadata (used by the UI to show both versions).
    pub async fn remote_entry(&self, pair: &str, path: &str) -> Result<Option<Entry>, ApiError> {
        let p = self.service.pair(pair)?;
        Ok(p.remote()
            .get_metadata(&p.remote_root().dropbox_path(&rel(path)))
            .await?)
    }
}
