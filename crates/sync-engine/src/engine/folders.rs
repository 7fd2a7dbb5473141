//! The folder tree on Dropbox as the index's copy of the listing has it, one level at a
//! time, with what lies below each folder and whether it is excluded (for choosing the
//! folders to sync).

use super::PairHandle;
use crate::pair::SyncError;
use std::collections::BTreeMap;

/// A folder on Dropbox, with what is below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFolder {
    /// Its display path in the pair's folder.
    pub path: String,
    /// Its name.
    pub name: String,
    /// The files below it, at any depth.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// It has folders in it.
    pub has_folders: bool,
    /// It is excluded from sync (itself or a folder above it).
    pub excluded: bool,
}

impl PairHandle {
    /// The folders directly in `path` (a display path in the pair's folder) on Dropbox, by
    /// name (ignoring case).
    pub fn remote_folders(&self, path: &str) -> Result<Vec<RemoteFolder>, SyncError> {
        let p = &self.pair;
        let rel = format!("/{}", path.trim_matches('/'));
        let key = if rel == "/" {
            String::new()
        } else {
            sync_core::path::key(&rel)
        };
        let mut trees = sync_core::Trees::default();
        p.with_reader(|ix| ix.load_subtree(&key, &mut trees))?;
        let rules = p.rules();
        let depth = |k: &str| k.matches('/').count();
        let want = depth(&key) + 1;
        let mut out: BTreeMap<String, RemoteFolder> = BTreeMap::new();
        for (k, n) in trees
            .remote
            .iter()
            .filter(|(k, n)| depth(k) == want && n.is_folder())
        {
            out.insert(
                k.clone(),
                RemoteFolder {
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
        let mut list: Vec<RemoteFolder> = out.into_values().collect();
        list.sort_by_key(|f| f.name.to_lowercase());
        Ok(list)
    }
}
