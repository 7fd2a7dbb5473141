//! Selective sync that frees space: the local copy of a folder excluded from sync can be
//! moved to the trash, and comes back (downloaded) when the folder is included again.
//!
//! Only what is proven to be the version both sides agreed on goes: each file's content is
//! read and compared with the synced version right before it is moved to the trash (never
//! deleted outright). A file changed here, a file that was never synced, a link or anything
//! the pair does not sync stays where it is, and is named in the answer. The index forgets
//! what went — its local and synced rows — so that including the folder again is a download
//! of what Dropbox has, not a delete of what is "missing" here.

use crate::localfs::Proof;
use crate::pair::{Pair, SyncError, lock, now};
use sync_core::{Edit, LocalKind, SyncedKind, Trees};

/// What freeing an excluded folder did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Freed {
    /// Files moved to the trash.
    pub trashed: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files that stay: changed here since they were synced, or never synced (display paths).
    pub kept: Vec<String>,
}

impl Pair {
    /// Move the local copy of the excluded folder `rel` to the trash, file by file, keeping
    /// what is not the synced version (see the module docs). The pair must not be syncing
    /// meanwhile (the daemon stops its runner first).
    pub fn free_excluded(&self, rel: &str) -> Result<Freed, SyncError> {
        let key = sync_core::path::key(rel);
        if !self.rules().excluded().contains(&key) {
            return Err(SyncError::Invalid(format!(
                "{rel} is not excluded — exclude it first (`nuvosync excluded add {rel}`); only an excluded folder's local copy can be removed"
            )));
        }
        let root = self.files()?;
        let mut trees = Trees::default();
        lock(&self.index).load_subtree(&key, &mut trees)?;
        let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
        let os = self.os_trash();
        let mut freed = Freed::default();
        let mut edits = vec![];
        let mut kept_paths = std::collections::BTreeSet::new();
        for (k, local) in &trees.local {
            let LocalKind::File { hash, size, .. } = &local.kind else {
                continue;
            };
            let agreed = matches!(
                trees.synced.get(k).map(|s| &s.kind),
                Some(SyncedKind::File { hash: h, .. }) if h == hash
            );
            let same = agreed
                && matches!(
                    root.proven(&local.path, local).map_err(|e| SyncError::Io {
                        what: format!("reading {}", local.path),
                        source: e,
                    })?,
                    Proof::Same
                );
            if !same {
                kept_paths.insert(local.path.clone());
                continue;
            }
            root.to_trash(&local.path, &stamp, os.as_ref())
                .map_err(|e| SyncError::Io {
                    what: format!("moving {} to the trash", local.path),
                    source: e,
                })?;
            freed.trashed += 1;
            freed.bytes += size;
            edits.push(Edit::DelLocal(k.clone()));
            edits.push(Edit::DelSynced(k.clone()));
        }
        // Folders emptied by that go too, deepest first; one still holding anything stays.
        let mut folders: Vec<_> = trees
            .local
            .iter()
            .filter(|(_, n)| matches!(n.kind, LocalKind::Folder))
            .collect();
        folders.sort_by_key(|(_, n)| std::cmp::Reverse(n.path.matches('/').count()));
        for (k, n) in folders {
            if root.remove_dir(&n.path).is_ok() {
                edits.push(Edit::DelLocal(k.clone()));
                edits.push(Edit::DelSynced(k.clone()));
            }
        }
        {
            let mut ix = lock(&self.index);
            let mut b = ix.batch()?;
            b.edits(&edits)?;
            b.commit()?;
        }
        // What stays is reported; what is not in the index (never synced) is found on disk.
        if let Ok(walked) = root.walk(rel) {
            for w in walked {
                if w.md.is_file() {
                    kept_paths.insert(w.rel);
                }
            }
        }
        freed.kept = kept_paths.into_iter().collect();
        tracing::info!(pair = %self.spec.name, folder = rel, trashed = freed.trashed, bytes = freed.bytes, kept = freed.kept.len(), "the local copy of an excluded folder went to the trash");
        Ok(freed)
    }
}
