//! The file tree of one account: nodes, revisions, the change journal and tombstones.
//!
//! Every mutation is expressed as a [`Change`] (put a node at a path, or delete a path and
//! everything below it) and applied through [`Namespace::apply`]. The same function replays
//! the persisted change log at start-up, so the live state and the recovered state are built
//! by one code path. The journal, tombstones, revision history and space usage are all
//! derived from the changes.
//!
//! Paths here are *full* paths in the account (`/Apps/nuvolos.cloud/a.txt`); scoping to an
//! app folder happens in the route layer. Keys are the lower-cased NFC form (`path_lower`).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use sync_core::ContentHash;
use unicode_normalization::UnicodeNormalization;

/// The key Dropbox compares paths by: NFC, then Unicode lower case.
pub fn lower(path: &str) -> String {
    path.nfc().collect::<String>().to_lowercase()
}

/// The parent of a full path (`/a/b` → `/a`, `/a` → ``).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// The last component of a path.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// True if `path` is `root` or lies below it (both lower-cased full paths; `""` is the root).
pub fn within(path: &str, root: &str) -> bool {
    root.is_empty()
        || path == root
        || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

/// One version of a file's content.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileVersion {
    /// Opaque revision id (hex, at least 9 characters).
    pub rev: String,
    /// Size in bytes.
    pub size: u64,
    /// Dropbox content hash of the bytes.
    pub hash: ContentHash,
    /// Timestamp the client claimed (seconds since the epoch).
    pub client_modified: i64,
    /// Timestamp the server stored this version (seconds since the epoch).
    pub server_modified: i64,
    /// Set for a file Dropbox cannot hand out as it is (a Paper doc, a Google Doc): listed with
    /// `is_downloadable: false` and `export_info`, without `content_hash`; `files/download`
    /// refuses it, `files/export` serves one of these formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Exports>,
}

/// The formats a non-downloadable file exports to, Dropbox's default (`export_as`) first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Exports {
    /// (format as the API names it, e.g. `html` or `markdown`; content hash of the exported bytes;
    /// their size).
    pub formats: Vec<(String, ContentHash, u64)>,
}

impl FileVersion {
    /// Whether `files/download` may hand out this version's bytes.
    pub fn is_downloadable(&self) -> bool {
        self.export.is_none()
    }
}

/// What a node is.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum NodeKind {
    /// A folder.
    Folder,
    /// A file with its current version.
    File(FileVersion),
}

/// A file or folder in the tree.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Node {
    /// Stable id (`id:...`), kept across moves.
    pub id: String,
    /// Full path with the casing the user gave.
    pub display: String,
    /// The full path as the request that made or last wrote this node spelled it: its parent
    /// components may be cased otherwise than the parents are (the request's casing, or the
    /// casing a parent had before a case-only rename). Listings may show those parents
    /// (`wire::shown_display`); `None` when nothing differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// File or folder.
    pub kind: NodeKind,
}

impl Node {
    /// The file version, if this node is a file.
    pub fn file(&self) -> Option<&FileVersion> {
        match &self.kind {
            NodeKind::File(f) => Some(f),
            NodeKind::Folder => None,
        }
    }
}

/// A primitive mutation of the tree. Everything else is derived from these.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Change {
    /// Create or replace the node at its path (children of a replaced folder are kept).
    Put(Node),
    /// Delete the node at this full path and everything below it.
    Delete {
        /// Full display path of what is deleted.
        display: String,
        /// When (seconds since the epoch).
        at: i64,
    },
}

/// A change-feed entry: the state of one path after a change.
#[derive(Clone, Debug)]
pub struct JournalEntry {
    /// Lower-cased full path.
    pub lower: String,
    /// The node now at the path, or `None` for a deletion.
    pub node: Option<Node>,
    /// Display path (for deletions: the path as it was).
    pub display: String,
}

/// A revision of a file kept for `list_revisions` and `restore`.
#[derive(Clone, Debug)]
pub struct Revision {
    /// The file id the revision belonged to.
    pub id: String,
    /// Display path at the time of the revision.
    pub display: String,
    /// The version.
    pub version: FileVersion,
}

/// A deleted path remembered for `include_deleted`.
#[derive(Clone, Debug)]
pub struct Tombstone {
    /// Display path as it was.
    pub display: String,
    /// When it was deleted.
    pub at: i64,
    /// True if a file (not a folder) was deleted here.
    pub was_file: bool,
    /// The id of what was deleted (revisions follow the file's id).
    pub id: String,
}

/// The tree of one account.
#[derive(Default)]
pub struct Namespace {
    /// Nodes by lower-cased full path; ordered, so a subtree is a range and parents sort
    /// before their children.
    pub nodes: BTreeMap<String, Node>,
    /// id → lower-cased full path.
    pub by_id: HashMap<String, String>,
    /// The change feed; entry `i` has sequence number `i + 1`.
    pub journal: Vec<JournalEntry>,
    /// Deleted paths not since re-created.
    pub tombstones: BTreeMap<String, Tombstone>,
    /// rev → revision.
    pub revisions: HashMap<String, Revision>,
    /// lower path → revs that were ever at that path (oldest first).
    pub path_revs: HashMap<String, Vec<String>>,
    /// id → revs of that file (oldest first).
    pub id_revs: HashMap<String, Vec<String>>,
    /// Bytes used by current files.
    pub used: u64,
}

impl Namespace {
    /// The current sequence number (number of journal entries).
    pub fn seq(&self) -> u64 {
        self.journal.len() as u64
    }

    /// The node at a lower-cased full path.
    pub fn get(&self, lower_path: &str) -> Option<&Node> {
        self.nodes.get(lower_path)
    }

    /// The lower path of the node with this id.
    pub fn path_of_id(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(String::as_str)
    }

    /// Nodes strictly below `root` (lower-cased full path), in path order.
    pub fn descendants<'a>(
        &'a self,
        root: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Node)> + 'a {
        let start = format!("{root}/");
        let end = format!("{root}0"); // '0' is the byte after '/'
        self.nodes.range(start..end)
    }

    /// True if the folder has any child.
    pub fn has_children(&self, root: &str) -> bool {
        self.descendants(root).next().is_some()
    }

    /// Apply one change, updating every derived structure.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Put(node) => {
                let key = lower(&node.display);
                self.tombstones.remove(&key);
                if let Some(old) = self.nodes.get(&key) {
                    if let Some(f) = old.file() {
                        self.used = self.used.saturating_sub(f.size);
                    }
                    if old.id != node.id {
                        self.by_id.remove(&old.id);
                    }
                }
                if let Some(f) = node.file() {
                    self.used += f.size;
                    if !self.revisions.contains_key(&f.rev) {
                        self.revisions.insert(
                            f.rev.clone(),
                            Revision {
                                id: node.id.clone(),
                                display: node.display.clone(),
                                version: f.clone(),
                            },
                        );
                        self.id_revs
                            .entry(node.id.clone())
                            .or_default()
                            .push(f.rev.clone());
                    }
                    let revs = self.path_revs.entry(key.clone()).or_default();
                    if revs.last() != Some(&f.rev) {
                        revs.push(f.rev.clone());
                    }
                }
                self.by_id.insert(node.id.clone(), key.clone());
                self.journal.push(JournalEntry {
                    lower: key.clone(),
                    node: Some(node.clone()),
                    display: node.display.clone(),
                });
                self.nodes.insert(key, node);
            }
            Change::Delete { display, at } => {
                let key = lower(&display);
                let mut doomed: Vec<String> =
                    self.descendants(&key).map(|(k, _)| k.clone()).collect();
                if self.nodes.contains_key(&key) {
                    doomed.push(key.clone());
                }
                for k in doomed {
                    if let Some(old) = self.nodes.remove(&k) {
                        if let Some(f) = old.file() {
                            self.used = self.used.saturating_sub(f.size);
                        }
                        self.by_id.remove(&old.id);
                        self.tombstones.insert(
                            k,
                            Tombstone {
                                display: old.display.clone(),
                                at,
                                was_file: old.file().is_some(),
                                id: old.id.clone(),
                            },
                        );
                    }
                }
                self.journal.push(JournalEntry {
                    lower: key,
                    node: None,
                    display,
                });
            }
        }
    }

    /// Revisions of the file at a path (newest first): those of the file currently there,
    /// or, for a deleted file, those recorded at the path.
    pub fn revisions_at(&self, lower_path: &str) -> Vec<&Revision> {
        let revs = match (self.nodes.get(lower_path), self.tombstones.get(lower_path)) {
            (Some(node), _) => self.id_revs.get(&node.id),
            (None, Some(t)) if t.was_file => self
                .id_revs
                .get(&t.id)
                .or_else(|| self.path_revs.get(lower_path)),
            _ => self.path_revs.get(lower_path),
        };
        revs.map(|v| {
            v.iter()
                .rev()
                .filter_map(|r| self.revisions.get(r))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Revisions of the file with this id (newest first).
    pub fn revisions_of_id(&self, id: &str) -> Vec<&Revision> {
        self.id_revs
            .get(id)
            .map(|v| {
                v.iter()
                    .rev()
                    .filter_map(|r| self.revisions.get(r))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the folder `root` (a listing's folder; not the app folder or the account's
    /// root) is gone since `seq`: deleted, moved away, or replaced by a file — now, or at any
    /// point after `seq` (then a folder at that path now is not the one listed, or came back
    /// after its contents were gone, which the cursor's journal cannot tell item by item).
    pub fn listed_folder_gone_since(&self, seq: u64, root: &str) -> bool {
        if root.is_empty() {
            return false;
        }
        self.nodes.get(root).is_none_or(|n| n.file().is_some())
            || self
                .journal
                .iter()
                .skip(seq as usize)
                .any(|e| e.node.is_none() && within(root, &e.lower))
    }

    /// Journal entries after `seq` that fall in the scope (`root`, recursive or not).
    pub fn changes_since(
        &self,
        seq: u64,
        root: &str,
        recursive: bool,
    ) -> impl Iterator<Item = (u64, &JournalEntry)> + '_ {
        let root = root.to_string();
        self.journal
            .iter()
            .enumerate()
            .skip(seq as usize)
            .filter_map(move |(i, e)| {
                let in_scope = if recursive {
                    within(&e.lower, &root) && e.lower != root
                } else {
                    parent(&e.lower) == root
                };
                in_scope.then_some((i as u64 + 1, e))
            })
    }

    /// The changes after `seq` as `list_folder/continue` sends them: one entry per path with
    /// its latest state, in journal order of that state. An entry is dropped when a later one
    /// makes it moot: a later entry at the same path, or a later deletion of an ancestor (the
    /// deletion removes the whole subtree). A deletion followed by a folder at the same path
    /// is kept as the pair, since a folder entry leaves the children a client knows in place
    /// (files.stone `ListFolderResult`; Dropbox's list_folder docs: a file entry replaces a
    /// folder and its children, a folder entry replaces only a file).
    pub fn latest_changes_since(
        &self,
        seq: u64,
        root: &str,
        recursive: bool,
    ) -> Vec<(u64, &JournalEntry)> {
        let mut out: BTreeMap<u64, &JournalEntry> = BTreeMap::new();
        let mut at: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (s, e) in self.changes_since(seq, root, recursive) {
            match &e.node {
                None => {
                    let prefix = format!("{}/", e.lower);
                    let doomed: Vec<String> = std::iter::once(e.lower.clone())
                        .chain(
                            at.range::<String, _>(prefix.clone()..)
                                .take_while(|(k, _)| k.starts_with(&prefix))
                                .map(|(k, _)| k.clone()),
                        )
                        .collect();
                    for k in doomed {
                        for old in at.remove(&k).unwrap_or_default() {
                            out.remove(&old);
                        }
                    }
                }
                Some(node) => {
                    let olds = at.remove(&e.lower).unwrap_or_default();
                    let mut kept = Vec::new();
                    for old in olds {
                        let was_delete = out.get(&old).is_some_and(|o| o.node.is_none());
                        if was_delete && node.file().is_none() {
                            kept.push(old);
                        } else {
                            out.remove(&old);
                        }
                    }
                    if !kept.is_empty() {
                        at.insert(e.lower.clone(), kept);
                    }
                }
            }
            at.entry(e.lower.clone()).or_default().push(s);
            out.insert(s, e);
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, display: &str) -> Node {
        Node {
            id: id.into(),
            display: display.into(),
            written: None,
            kind: NodeKind::Folder,
        }
    }

    fn file(id: &str, display: &str, rev: &str, data: &[u8]) -> Node {
        Node {
            id: id.into(),
            display: display.into(),
            written: None,
            kind: NodeKind::File(FileVersion {
                rev: rev.into(),
                size: data.len() as u64,
                hash: ContentHash::of(data),
                client_modified: 1,
                server_modified: 1,
                export: None,
            }),
        }
    }

    #[test]
    fn paths_compare_case_and_normalisation_insensitively() {
        assert_eq!(lower("/A/Ü"), lower("/a/u\u{308}"));
        assert!(within("/a/b", "/a"));
        assert!(!within("/ab", "/a"));
        assert!(within("/x", ""));
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "");
    }

    #[test]
    fn deleting_a_folder_removes_its_subtree_and_leaves_tombstones() {
        let mut ns = Namespace::default();
        ns.apply(Change::Put(folder("id:1", "/A")));
        ns.apply(Change::Put(file("id:2", "/A/x.txt", "000000001", b"hello")));
        ns.apply(Change::Put(file("id:3", "/Ab.txt", "000000002", b"hi")));
        assert_eq!(ns.used, 7);
        ns.apply(Change::Delete {
            display: "/A".into(),
            at: 5,
        });
        assert!(ns.get("/a/x.txt").is_none());
        assert!(
            ns.get("/ab.txt").is_some(),
            "a sibling whose name shares the prefix survives"
        );
        assert_eq!(ns.used, 2);
        assert!(ns.tombstones.contains_key("/a/x.txt"));
        assert_eq!(ns.seq(), 4);
        // The deleted file's history stays reachable by path.
        assert_eq!(ns.revisions_at("/a/x.txt").len(), 1);
    }

    #[test]
    fn changes_since_filters_by_scope() {
        let mut ns = Namespace::default();
        ns.apply(Change::Put(folder("id:1", "/a")));
        ns.apply(Change::Put(folder("id:2", "/a/b")));
        ns.apply(Change::Put(file("id:3", "/a/b/c", "000000001", b"x")));
        ns.apply(Change::Put(file("id:4", "/z", "000000002", b"y")));
        let rec: Vec<_> = ns
            .changes_since(0, "/a", true)
            .map(|(_, e)| e.lower.clone())
            .collect();
        assert_eq!(rec, vec!["/a/b", "/a/b/c"]);
        let flat: Vec<_> = ns
            .changes_since(0, "/a", false)
            .map(|(_, e)| e.lower.clone())
            .collect();
        assert_eq!(flat, vec!["/a/b"]);
        let all: Vec<_> = ns.changes_since(2, "", true).map(|(s, _)| s).collect();
        assert_eq!(all, vec![3, 4]);
    }
}
