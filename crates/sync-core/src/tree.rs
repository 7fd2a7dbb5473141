//! The three trees — Local, Remote, Synced — and how a completed operation moves them.
//!
//! Each tree maps a [`key`](crate::path::key) to a node. The engine keeps the trees in SQLite
//! and hands the planner the rows that matter (everything that changed, plus move partners);
//! a key absent from all three maps is taken to be in sync. Completed operations turn into
//! [`Edit`]s through [`effects`], a pure function, and the engine writes those edits in one
//! transaction — so the in-memory model used by the property tests and the database follow
//! the same rules.

use crate::hash::ContentHash;
use crate::path::{is_within, rebase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A normalised path key.
pub type Key = String;

/// What the scanner last saw on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalNode {
    /// Relative display path (as on disk).
    pub path: String,
    /// Inode number (for move detection).
    pub inode: u64,
    /// File or folder.
    pub kind: LocalKind,
}

/// Local file or folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalKind {
    /// A folder.
    Folder,
    /// A file with what identifies its content version.
    File {
        /// Size in bytes.
        size: u64,
        /// Modification time in nanoseconds since the epoch.
        mtime_ns: i64,
        /// Content hash.
        hash: ContentHash,
    },
}

/// What Dropbox's change feed last said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteNode {
    /// Display path relative to the pair's remote root.
    pub path: String,
    /// Dropbox id (stable across moves).
    pub id: String,
    /// File or folder.
    pub kind: RemoteKind,
}

/// Remote file or folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteKind {
    /// A folder.
    Folder,
    /// A file.
    File {
        /// Revision.
        rev: String,
        /// Size in bytes.
        size: u64,
        /// Content hash.
        hash: ContentHash,
    },
}

/// The merge base: the last state both sides agreed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedNode {
    /// Display path both sides agreed on.
    pub path: String,
    /// Dropbox id.
    pub id: String,
    /// Local inode.
    pub inode: u64,
    /// File or folder.
    pub kind: SyncedKind,
}

/// Synced file or folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncedKind {
    /// A folder.
    Folder,
    /// A file version known on both sides.
    File {
        /// Remote revision of the agreed version.
        rev: String,
        /// Size in bytes.
        size: u64,
        /// Content hash.
        hash: ContentHash,
    },
}

impl LocalNode {
    /// Content hash for files.
    pub fn hash(&self) -> Option<ContentHash> {
        match &self.kind {
            LocalKind::File { hash, .. } => Some(*hash),
            LocalKind::Folder => None,
        }
    }
    /// True for folders.
    pub fn is_folder(&self) -> bool {
        matches!(self.kind, LocalKind::Folder)
    }
}

impl RemoteNode {
    /// Content hash for files.
    pub fn hash(&self) -> Option<ContentHash> {
        match &self.kind {
            RemoteKind::File { hash, .. } => Some(*hash),
            RemoteKind::Folder => None,
        }
    }
    /// Revision for files.
    pub fn rev(&self) -> Option<&str> {
        match &self.kind {
            RemoteKind::File { rev, .. } => Some(rev),
            RemoteKind::Folder => None,
        }
    }
    /// True for folders.
    pub fn is_folder(&self) -> bool {
        matches!(self.kind, RemoteKind::Folder)
    }
}

impl SyncedNode {
    /// Content hash for files.
    pub fn hash(&self) -> Option<ContentHash> {
        match &self.kind {
            SyncedKind::File { hash, .. } => Some(*hash),
            SyncedKind::Folder => None,
        }
    }
    /// Revision for files.
    pub fn rev(&self) -> Option<&str> {
        match &self.kind {
            SyncedKind::File { rev, .. } => Some(rev),
            SyncedKind::Folder => None,
        }
    }
    /// True for folders.
    pub fn is_folder(&self) -> bool {
        matches!(self.kind, SyncedKind::Folder)
    }

    /// The merge base for a local and a remote node that agree.
    pub fn merged(local: &LocalNode, remote: &RemoteNode) -> SyncedNode {
        let kind = match &remote.kind {
            RemoteKind::File { rev, size, hash } => SyncedKind::File {
                rev: rev.clone(),
                size: *size,
                hash: *hash,
            },
            RemoteKind::Folder => SyncedKind::Folder,
        };
        // The agreed name is the local one: that is what the user sees.
        SyncedNode {
            path: local.path.clone(),
            id: remote.id.clone(),
            inode: local.inode,
            kind,
        }
    }
}

/// The three trees (or the part of them that matters for one planning round).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trees {
    /// Local observations.
    pub local: BTreeMap<Key, LocalNode>,
    /// Remote observations.
    pub remote: BTreeMap<Key, RemoteNode>,
    /// Merge base.
    pub synced: BTreeMap<Key, SyncedNode>,
    /// Local nodes whose key is already taken by another local node (names that differ only
    /// in case or Unicode form, which Dropbox cannot hold side by side).
    pub clashes: Vec<LocalNode>,
}

/// One change to one tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Set a local node.
    PutLocal(Key, LocalNode),
    /// Remove a local node.
    DelLocal(Key),
    /// Set a remote node.
    PutRemote(Key, RemoteNode),
    /// Remove a remote node.
    DelRemote(Key),
    /// Set a synced node.
    PutSynced(Key, SyncedNode),
    /// Remove a synced node.
    DelSynced(Key),
}

/// What a completed operation observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Local content now on Dropbox (also: a remote folder was created).
    Uploaded {
        /// Key.
        key: Key,
        /// The local node that was uploaded.
        local: LocalNode,
        /// What Dropbox now has.
        remote: RemoteNode,
    },
    /// Remote content now on disk (also: a local folder was created).
    Downloaded {
        /// Key.
        key: Key,
        /// What is on disk now.
        local: LocalNode,
        /// The remote node that was downloaded.
        remote: RemoteNode,
    },
    /// Deleted on Dropbox (with everything below).
    RemoteDeleted {
        /// Key.
        key: Key,
    },
    /// Deleted locally (with everything below).
    LocalDeleted {
        /// Key.
        key: Key,
    },
    /// Moved on Dropbox; `remote` is the node at its new place.
    RemoteMoved {
        /// Old key.
        from: Key,
        /// New key.
        to: Key,
        /// The moved node as Dropbox now reports it.
        remote: RemoteNode,
    },
    /// Moved locally; `path` is the new display path.
    LocalMoved {
        /// Old key.
        from: Key,
        /// New key.
        to: Key,
        /// New display path.
        path: String,
    },
    /// The local node at `key` was renamed aside to `path` (a conflicted copy); the merge
    /// base of `key` is dropped, so the copy is new to both sides.
    SetAside {
        /// Old key.
        key: Key,
        /// New key.
        to: Key,
        /// New display path.
        path: String,
    },
    /// Both sides agree; record the merge base.
    Agreed {
        /// Key.
        key: Key,
    },
    /// Gone on both sides; forget the merge base of the subtree.
    Forgotten {
        /// Key.
        key: Key,
    },
}

fn subtree<'a, V>(
    map: &'a BTreeMap<Key, V>,
    root: &str,
) -> impl Iterator<Item = (&'a Key, &'a V)> + 'a {
    let (a, b) = (root.to_string(), root.to_string());
    map.range(root.to_string()..)
        .take_while(move |(k, _)| k.starts_with(a.as_str()))
        .filter(move |(k, _)| is_within(k, &b))
}

/// The edits that record `outcome` in `trees` (which must hold the subtree of any moved or
/// deleted key).
pub fn effects(trees: &Trees, outcome: &Outcome) -> Vec<Edit> {
    let mut out = Vec::new();
    match outcome {
        Outcome::Uploaded { key, local, remote } | Outcome::Downloaded { key, local, remote } => {
            out.push(Edit::PutLocal(key.clone(), local.clone()));
            out.push(Edit::PutRemote(key.clone(), remote.clone()));
            out.push(Edit::PutSynced(
                key.clone(),
                SyncedNode::merged(local, remote),
            ));
        }
        Outcome::RemoteDeleted { key } => {
            out.extend(subtree(&trees.remote, key).map(|(k, _)| Edit::DelRemote(k.clone())));
            out.extend(subtree(&trees.synced, key).map(|(k, _)| Edit::DelSynced(k.clone())));
        }
        Outcome::LocalDeleted { key } => {
            out.extend(subtree(&trees.local, key).map(|(k, _)| Edit::DelLocal(k.clone())));
            out.extend(subtree(&trees.synced, key).map(|(k, _)| Edit::DelSynced(k.clone())));
        }
        Outcome::RemoteMoved { from, to, remote } => {
            let from_path = trees.remote.get(from).map(|n| n.path.clone());
            for (k, n) in subtree(&trees.remote, from) {
                out.push(Edit::DelRemote(k.clone()));
                let mut moved = n.clone();
                if k == from {
                    moved = remote.clone();
                } else if let Some(fp) = &from_path {
                    moved.path = rebase_display(&n.path, fp, &remote.path);
                }
                out.push(Edit::PutRemote(rebase(k, from, to), moved));
            }
            move_synced(trees, from, to, &remote.path, &mut out);
        }
        Outcome::LocalMoved { from, to, path } => {
            let from_path = trees.local.get(from).map(|n| n.path.clone());
            for (k, n) in subtree(&trees.local, from) {
                out.push(Edit::DelLocal(k.clone()));
                let mut moved = n.clone();
                moved.path = match &from_path {
                    Some(fp) => rebase_display(&n.path, fp, path),
                    None => path.clone(),
                };
                out.push(Edit::PutLocal(rebase(k, from, to), moved));
            }
            move_synced(trees, from, to, path, &mut out);
        }
        Outcome::SetAside { key, to, path } => {
            let from_path = trees.local.get(key).map(|n| n.path.clone());
            for (k, n) in subtree(&trees.local, key) {
                out.push(Edit::DelLocal(k.clone()));
                let mut moved = n.clone();
                moved.path = match &from_path {
                    Some(fp) => rebase_display(&n.path, fp, path),
                    None => path.clone(),
                };
                out.push(Edit::PutLocal(rebase(k, key, to), moved));
            }
            // Only the node's own merge base goes: merge bases below it still describe what
            // the other side has there (a folder replaced locally by a file keeps its children's
            // history, so one-sided deletes inside it still propagate).
            out.push(Edit::DelSynced(key.clone()));
        }
        Outcome::Agreed { key } => {
            if let (Some(l), Some(r)) = (trees.local.get(key), trees.remote.get(key)) {
                out.push(Edit::PutSynced(key.clone(), SyncedNode::merged(l, r)));
            }
        }
        Outcome::Forgotten { key } => {
            out.extend(subtree(&trees.synced, key).map(|(k, _)| Edit::DelSynced(k.clone())));
        }
    }
    out
}

/// Rebase a display path: `path` lies under `from` (compared by key); put it under `to`.
fn rebase_display(path: &str, from: &str, to: &str) -> String {
    // Keys and display paths have the same component structure; cut by component count.
    let depth = from.matches('/').count();
    let tail: Vec<&str> = path.split('/').skip(depth + 1).collect();
    if tail.is_empty() {
        to.to_string()
    } else {
        format!("{to}/{}", tail.join("/"))
    }
}

fn move_synced(trees: &Trees, from: &str, to: &str, to_path: &str, out: &mut Vec<Edit>) {
    let from_path = trees.synced.get(from).map(|n| n.path.clone());
    for (k, n) in subtree(&trees.synced, from) {
        out.push(Edit::DelSynced(k.clone()));
        let mut moved = n.clone();
        moved.path = match &from_path {
            Some(fp) => rebase_display(&n.path, fp, to_path),
            None => to_path.to_string(),
        };
        out.push(Edit::PutSynced(rebase(k, from, to), moved));
    }
}

impl Trees {
    /// Apply edits in order.
    pub fn apply_edits(&mut self, edits: &[Edit]) {
        for e in edits {
            match e {
                Edit::PutLocal(k, n) => {
                    self.local.insert(k.clone(), n.clone());
                }
                Edit::DelLocal(k) => {
                    self.local.remove(k);
                }
                Edit::PutRemote(k, n) => {
                    self.remote.insert(k.clone(), n.clone());
                }
                Edit::DelRemote(k) => {
                    self.remote.remove(k);
                }
                Edit::PutSynced(k, n) => {
                    self.synced.insert(k.clone(), n.clone());
                }
                Edit::DelSynced(k) => {
                    self.synced.remove(k);
                }
            }
        }
    }

    /// Record an outcome.
    pub fn apply(&mut self, outcome: &Outcome) {
        let edits = effects(self, outcome);
        self.apply_edits(&edits);
    }

    /// Every key present in any tree, in order.
    pub fn keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .local
            .keys()
            .chain(self.remote.keys())
            .chain(self.synced.keys())
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Whether local and remote agree everywhere (and the merge base with them).
    pub fn converged(&self) -> bool {
        self.local.len() == self.remote.len()
            && self.local.len() == self.synced.len()
            && self.local.iter().all(|(k, l)| {
                let (Some(r), Some(s)) = (self.remote.get(k), self.synced.get(k)) else {
                    return false;
                };
                l.hash() == r.hash() && l.hash() == s.hash() && l.is_folder() == r.is_folder()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::key;

    fn lfile(path: &str, inode: u64, data: &[u8]) -> LocalNode {
        LocalNode {
            path: path.into(),
            inode,
            kind: LocalKind::File {
                size: data.len() as u64,
                mtime_ns: 1,
                hash: ContentHash::of(data),
            },
        }
    }
    fn rfile(path: &str, id: &str, rev: &str, data: &[u8]) -> RemoteNode {
        RemoteNode {
            path: path.into(),
            id: id.into(),
            kind: RemoteKind::File {
                rev: rev.into(),
                size: data.len() as u64,
                hash: ContentHash::of(data),
            },
        }
    }

    #[test]
    fn a_folder_move_rebases_the_subtree_in_all_trees() {
        let mut t = Trees::default();
        t.local.insert(
            key("/A"),
            LocalNode {
                path: "/A".into(),
                inode: 1,
                kind: LocalKind::Folder,
            },
        );
        t.local.insert(key("/A/x"), lfile("/A/x", 2, b"x"));
        t.remote.insert(
            key("/A"),
            RemoteNode {
                path: "/A".into(),
                id: "id:a".into(),
                kind: RemoteKind::Folder,
            },
        );
        t.remote
            .insert(key("/A/x"), rfile("/A/x", "id:x", "r1", b"x"));
        let l = t.local[&key("/A")].clone();
        let r = t.remote[&key("/A")].clone();
        t.synced.insert(key("/A"), SyncedNode::merged(&l, &r));
        let (l, r) = (
            t.local[&key("/A/x")].clone(),
            t.remote[&key("/A/x")].clone(),
        );
        t.synced.insert(key("/A/x"), SyncedNode::merged(&l, &r));
        t.apply(&Outcome::LocalMoved {
            from: key("/A"),
            to: key("/B/C"),
            path: "/B/C".into(),
        });
        assert_eq!(t.local[&key("/b/c/x")].path, "/B/C/x");
        assert_eq!(t.synced[&key("/b/c/x")].path, "/B/C/x");
        assert!(!t.local.contains_key("/a"));
        let moved = RemoteNode {
            path: "/B/C".into(),
            id: "id:a".into(),
            kind: RemoteKind::Folder,
        };
        t.apply(&Outcome::RemoteMoved {
            from: key("/A"),
            to: key("/B/C"),
            remote: moved,
        });
        assert_eq!(t.remote[&key("/b/c/x")].path, "/B/C/x");
        assert!(t.converged());
    }

    #[test]
    fn set_aside_drops_the_merge_base() {
        let mut t = Trees::default();
        t.local.insert(key("/f"), lfile("/f", 1, b"mine"));
        t.synced.insert(
            key("/f"),
            SyncedNode::merged(&lfile("/f", 1, b"old"), &rfile("/f", "id:f", "r1", b"old")),
        );
        t.apply(&Outcome::SetAside {
            key: key("/f"),
            to: key("/f (cc)"),
            path: "/f (cc)".into(),
        });
        assert!(t.synced.is_empty());
        assert_eq!(t.local[&key("/f (cc)")].inode, 1);
    }

    #[test]
    fn subtree_does_not_include_siblings_sharing_a_prefix() {
        let mut m = BTreeMap::new();
        for k in ["/a", "/a b", "/a/b", "/ab"] {
            m.insert(k.to_string(), ());
        }
        let got: Vec<_> = subtree(&m, "/a").map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, ["/a", "/a/b"]);
    }
}
