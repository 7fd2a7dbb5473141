//! A file's versions on Dropbox and how to go back to one, the files deleted there and how
//! to bring one back, and what Dropbox says of a path now.

use super::PairHandle;
use crate::pair::SyncError;
use futures_util::StreamExt;
use nuvosync_dropbox::{Entry, FileEntry};

/// A file deleted on Dropbox in the pair's folder, with its last version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// Relative display path.
    pub path: String,
    /// When it was deleted (a Dropbox timestamp).
    pub deleted_at: String,
    /// The size of its last version.
    pub size: u64,
    /// Its last version.
    pub rev: String,
}

/// Why a deleted file was not brought back.
#[derive(Debug, thiserror::Error)]
pub enum UndeleteError {
    /// Dropbox has no history for the path.
    #[error("Dropbox has no history for {0}")]
    NoHistory(String),
    /// The path is a folder on Dropbox (its files come back one by one).
    #[error("{0} is a folder on Dropbox")]
    Folder(String),
    /// Dropbox keeps no version of it any more.
    #[error("Dropbox keeps no version of {0} any more")]
    NoVersion(String),
    /// It is not deleted on Dropbox.
    #[error("{0} is not deleted on Dropbox")]
    NotDeleted(String),
    /// Dropbox or the pair failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl PairHandle {
    /// Make version `rev` of the file at `rel` (a display path in the pair's folder) its
    /// current version on Dropbox; the pair downloads it in its next round.
    pub async fn restore_revision(&self, rel: &str, rev: &str) -> Result<FileEntry, SyncError> {
        let p = &self.pair;
        Ok(p.remote()
            .restore(&p.remote_root().dropbox_path(rel), rev)
            .await?)
    }

    /// Bring back the last version of the file at `rel`, deleted on Dropbox; what came back.
    pub async fn undelete(&self, rel: &str) -> Result<FileEntry, UndeleteError> {
        let p = &self.pair;
        let full = p.remote_root().dropbox_path(rel);
        let h = p
            .remote()
            .file_history(&full, 1)
            .await
            .map_err(|e| match e {
                nuvosync_dropbox::Error::NotFound => UndeleteError::NoHistory(rel.to_string()),
                nuvosync_dropbox::Error::NotFile => UndeleteError::Folder(rel.to_string()),
                e => UndeleteError::Sync(e.into()),
            })?;
        let Some(last) = h.revisions.into_iter().next() else {
            return Err(UndeleteError::NoVersion(rel.to_string()));
        };
        if h.deleted_at.is_none() {
            return Err(UndeleteError::NotDeleted(rel.to_string()));
        }
        Ok(p.remote()
            .restore(&full, &last.rev)
            .await
            .map_err(SyncError::from)?)
    }

    /// What Dropbox holds at `rel` (a display path in the pair's folder) now.
    pub async fn remote_entry(&self, rel: &str) -> Result<Option<Entry>, SyncError> {
        let p = &self.pair;
        Ok(p.remote()
            .get_metadata(&p.remote_root().dropbox_path(rel))
            .await?)
    }

    /// The versions Dropbox keeps of the file at `rel` (a display path in the pair's
    /// folder), newest first, at most `limit`.
    pub async fn revisions(&self, rel: &str, limit: u64) -> Result<Vec<FileEntry>, SyncError> {
        let p = &self.pair;
        Ok(p.remote()
            .list_revisions(&p.remote_root().dropbox_path(rel), limit)
            .await?)
    }

    /// Files deleted on Dropbox in the pair's folder, newest first: Dropbox lists the deleted
    /// paths, and each one's history says whether it is a file, when it was deleted and its
    /// last version (a folder has no history and is left out: its files are listed). At most
    /// `max` histories are asked for (newest first needs each one's date).
    pub async fn deleted(&self, max: usize) -> Result<Vec<Deleted>, SyncError> {
        let p = &self.pair;
        let root = p.remote_root();
        let paths = p.remote().list_deleted(&root.path).await?;
        let remote = p.remote();
        let histories = futures_util::stream::iter(paths.into_iter().take(max).map(|path| {
            let remote = remote.clone();
            async move {
                let h = remote.file_history(&path, 1).await;
                (path, h)
            }
        }))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
        let mut out = vec![];
        for (path, h) in histories {
            let h = match h {
                Ok(h) => h,
                // A folder (not a file), or gone from history since the listing.
                Err(nuvosync_dropbox::Error::NotFound | nuvosync_dropbox::Error::NotFile) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let (Some(at), Some(last)) = (h.deleted_at, h.revisions.into_iter().next()) else {
                continue;
            };
            let Ok(Some(rel)) = root.relative(&path) else {
                continue;
            };
            out.push(Deleted {
                path: rel,
                deleted_at: at,
                size: last.size,
                rev: last.rev,
            });
        }
        out.sort_by(|a, b| b.deleted_at.cmp(&a.deleted_at).then(a.path.cmp(&b.path)));
        Ok(out)
    }
}
