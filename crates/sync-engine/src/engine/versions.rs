//! A file's versions on Dropbox, and the files deleted there that can be brought back.

use super::PairHandle;
use crate::pair::SyncError;
use futures_util::StreamExt;
use nuvosync_dropbox::FileEntry;

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

impl PairHandle {
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
