//! File operations on one [`Namespace`]: commit an upload, create a folder, delete, move,
//! copy, restore. They speak in full display paths and return [`OpError`]s that the route
//! layer maps onto each route's error union.
//!
//! Every operation records its effects as [`Change`]s through [`Recorder`], which applies
//! them at once (so later steps of the same operation see them) and keeps them for the
//! persistence log.

use crate::store::{Change, FileVersion, Namespace, Node, NodeKind, lower, name, parent};
use sync_core::ContentHash;

/// Why a file operation failed, independent of the route that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// Nothing at the path.
    NotFound,
    /// Expected a file, found a folder.
    NotFile,
    /// Expected a folder, found a file.
    NotFolder,
    /// Something is in the way.
    Conflict(ConflictKind),
    /// A name Dropbox refuses (`desktop.ini`, `thumbs.db`, ...).
    DisallowedName,
    /// The path is not well formed.
    MalformedPath,
    /// Quota exceeded.
    InsufficientSpace,
    /// Moving a folder into itself.
    IntoItself,
    /// More than 10,000 entries would be touched.
    TooManyFiles,
    /// The revision does not belong to the path.
    InvalidRevision,
}

/// What a write collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A file.
    File,
    /// A folder.
    Folder,
    /// A file where a parent folder should be.
    FileAncestor,
}

/// How an upload treats an existing file (Dropbox's `WriteMode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Never overwrite.
    Add,
    /// Always overwrite.
    Overwrite,
    /// Overwrite only if the current revision is this one.
    Update(String),
}

/// Limit of entries a single delete, move or copy may touch.
pub const MAX_RELOCATION_ENTRIES: usize = 10_000;

/// Names Dropbox refuses to store (compared case-insensitively).
const DISALLOWED: &[&str] = &[
    "desktop.ini",
    "thumbs.db",
    ".ds_store",
    "icon\r",
    ".dropbox",
    ".dropbox.attr",
];

/// Applies changes to a namespace and remembers them for the log.
pub struct Recorder<'a> {
    /// The namespace being changed.
    pub ns: &'a mut Namespace,
    /// Changes made so far.
    pub changes: Vec<Change>,
    /// Source of new ids and revs.
    pub ids: &'a dyn IdSource,
    /// Current time (seconds since the epoch).
    pub now: i64,
    /// Quota in bytes.
    pub quota: u64,
    /// The account owner's given name, for conflicted copies (`a (Ada's conflicted copy).txt`).
    pub owner: String,
}

/// Where new ids and revisions come from.
pub trait IdSource {
    /// A fresh `id:...`.
    fn new_id(&self) -> String;
    /// A fresh revision.
    fn new_rev(&self) -> String;
}

impl Recorder<'_> {
    fn record(&mut self, change: Change) {
        self.ns.apply(change.clone());
        self.changes.push(change);
    }

    /// Check a full display path's components against Dropbox's naming rules.
    pub fn check_names(display: &str) -> Result<(), OpError> {
        for comp in display.split('/').skip(1) {
            if DISALLOWED.contains(&comp.to_lowercase().as_str()) {
                return Err(OpError::DisallowedName);
            }
        }
        Ok(())
    }

    /// The display path of `display` with its parent's stored casing.
    fn canonical_display(&self, display: &str) -> String {
        let p = parent(display);
        if p.is_empty() {
            return display.to_string();
        }
        match self.ns.get(&lower(p)) {
            Some(node) => format!("{}/{}", node.display, name(display)),
            None => format!("{}/{}", self.canonical_display(p), name(display)),
        }
    }

    /// Fail if any ancestor of `display` is a file.
    fn check_ancestors(&self, display: &str) -> Result<(), OpError> {
        let mut p = parent(display);
        while !p.is_empty() {
            if let Some(node) = self.ns.get(&lower(p)) {
                if node.file().is_some() {
                    return Err(OpError::Conflict(ConflictKind::FileAncestor));
                }
                return Ok(()); // an existing folder: its own ancestors are folders already
            }
            p = parent(p);
        }
        Ok(())
    }

    /// Create any missing parent folders of `display`.
    fn ensure_parents(&mut self, display: &str) {
        let p = parent(display);
        if p.is_empty() || self.ns.get(&lower(p)).is_some() {
            return;
        }
        self.ensure_parents(p);
        let display = self.canonical_display(p);
        let id = self.ids.new_id();
        self.record(Change::Put(Node {
            id,
            written: written(p, &display),
            display,
            kind: NodeKind::Folder,
        }));
    }

    /// A free variant of `display` (`name (1).ext`, or with `label` as `name (label).ext`).
    fn free_name(&self, display: &str, label: Option<&str>) -> String {
        let (dir, file) = (parent(display), name(display));
        let (stem, ext) = match file.rfind('.') {
            Some(i) if i > 0 => (&file[..i], &file[i..]),
            _ => (file, ""),
        };
        let candidate = |n: u32| match (label, n) {
            (Some(l), 0) => format!("{dir}/{stem} ({l}){ext}"),
            (Some(l), n) => format!("{dir}/{stem} ({l} {}){ext}", n + 1),
            (None, n) => format!("{dir}/{stem} ({}){ext}", n + 1),
        };
        (0..)
            .map(candidate)
            .find(|c| self.ns.get(&lower(c)).is_none())
            .unwrap_or_default()
    }

    /// Write file content at `display` following `mode`. Returns the node now there.
    #[allow(clippy::too_many_arguments)] // mirrors Dropbox's CommitInfo field by field
    pub fn commit(
        &mut self,
        display: &str,
        mode: &Mode,
        autorename: bool,
        strict: bool,
        client_modified: Option<i64>,
        hash: ContentHash,
        size: u64,
    ) -> Result<Node, OpError> {
        Self::check_names(display)?;
        self.check_ancestors(display)?;
        let key = lower(display);
        let existing = self.ns.get(&key).cloned();
        let conflict = |kind| Err(OpError::Conflict(kind));
        let mut rename_label: Option<Option<&str>> = None; // Some(label) when we must autorename
        let mut replace: Option<Node> = None;
        // files.stone WriteMode.update: "The autorename strategy is to append the string
        // "conflicted copy" to the file name. For example, "document.txt" might become
        // "document (conflicted copy).txt" or "document (Panda's conflicted copy).txt"."
        let conflicted = format!("{}'s conflicted copy", self.owner);
        if existing
            .as_ref()
            .and_then(|n| n.file())
            .is_some_and(|f| !f.is_downloadable())
        {
            // A Paper doc or another cloud document is edited in its own editor; an upload
            // never replaces it (in any mode), it collides.
            if !autorename {
                return conflict(ConflictKind::File);
            }
            rename_label = Some(None);
        }
        match (&existing, mode) {
            _ if rename_label.is_some() => {}
            (Some(node), _) if node.file().is_none() => {
                if !autorename {
                    return conflict(ConflictKind::Folder);
                }
                rename_label = Some(None);
            }
            (Some(node), Mode::Add) => {
                let same = node.file().is_some_and(|f| f.hash == hash);
                if same && !strict {
                    return Ok(node.clone());
                }
                if !autorename {
                    return conflict(ConflictKind::File);
                }
                rename_label = Some(None);
            }
            (Some(node), Mode::Overwrite) => {
                if node.file().is_some_and(|f| f.hash == hash) {
                    return Ok(node.clone());
                }
                replace = Some(node.clone());
            }
            (Some(node), Mode::Update(rev)) => {
                let f = node.file().cloned().unwrap_or_else(unreachable_file);
                let same = f.hash == hash;
                if &f.rev == rev {
                    if same {
                        return Ok(node.clone());
                    }
                    replace = Some(node.clone());
                } else {
                    if same && !strict {
                        return Ok(node.clone());
                    }
                    if !autorename {
                        return conflict(ConflictKind::File);
                    }
                    rename_label = Some(Some(conflicted.as_str()));
                }
            }
            (None, Mode::Update(_)) if strict => {
                if !autorename {
                    return conflict(ConflictKind::File);
                }
                rename_label = Some(Some(conflicted.as_str()));
            }
            (None, _) => {}
        }
        let target = match rename_label {
            Some(label) => self.free_name(display, label),
            None => display.to_string(),
        };
        let old_size = replace
            .as_ref()
            .and_then(|n| n.file())
            .map_or(0, |f| f.size);
        if self.ns.used - old_size + size > self.quota {
            return Err(OpError::InsufficientSpace);
        }
        self.ensure_parents(&target);
        let version = FileVersion {
            rev: self.ids.new_rev(),
            size,
            hash,
            client_modified: client_modified.unwrap_or(self.now),
            server_modified: self.now,
            export: None,
        };
        let node = match replace {
            Some(old) => Node {
                id: old.id,
                written: written(&target, &old.display),
                display: old.display,
                kind: NodeKind::File(version),
            },
            None => {
                let display = self.canonical_display(&target);
                Node {
                    id: self.ids.new_id(),
                    written: written(&target, &display),
                    display,
                    kind: NodeKind::File(version),
                }
            }
        };
        self.record(Change::Put(node.clone()));
        Ok(node)
    }

    /// Make a file that cannot be downloaded, only exported (a Paper doc): `formats` as in
    /// [`Exports`], the first is its `export_as`. Fails if something is at `display`.
    pub fn create_export_only(
        &mut self,
        display: &str,
        formats: Vec<(String, ContentHash, u64)>,
    ) -> Result<Node, OpError> {
        Self::check_names(display)?;
        self.check_ancestors(display)?;
        let Some((_, hash, size)) = formats.first().cloned() else {
            return Err(OpError::MalformedPath);
        };
        if self.ns.get(&lower(display)).is_some() {
            return Err(OpError::Conflict(ConflictKind::File));
        }
        self.ensure_parents(display);
        let canonical = self.canonical_display(display);
        let node = Node {
            id: self.ids.new_id(),
            written: written(display, &canonical),
            display: canonical,
            kind: NodeKind::File(FileVersion {
                rev: self.ids.new_rev(),
                size,
                hash,
                client_modified: self.now,
                server_modified: self.now,
                export: Some(crate::store::Exports { formats }),
            }),
        };
        self.record(Change::Put(node.clone()));
        Ok(node)
    }

    /// Create a folder at `display`.
    pub fn create_folder(&mut self, display: &str, autorename: bool) -> Result<Node, OpError> {
        Self::check_names(display)?;
        self.check_ancestors(display)?;
        let mut target = display.to_string();
        if let Some(node) = self.ns.get(&lower(display)) {
            if !autorename {
                let kind = if node.file().is_some() {
                    ConflictKind::File
                } else {
                    ConflictKind::Folder
                };
                return Err(OpError::Conflict(kind));
            }
            target = self.free_name(display, None);
        }
        self.ensure_parents(&target);
        let display = self.canonical_display(&target);
        let node = Node {
            id: self.ids.new_id(),
            written: written(&target, &display),
            display,
            kind: NodeKind::Folder,
        };
        self.record(Change::Put(node.clone()));
        Ok(node)
    }

    /// Delete what is at `display` (and below). Returns the node as it was.
    pub fn delete(&mut self, display: &str, parent_rev: Option<&str>) -> Result<Node, OpError> {
        let key = lower(display);
        let node = self.ns.get(&key).cloned().ok_or(OpError::NotFound)?;
        if let (Some(rev), Some(f)) = (parent_rev, node.file()) {
            if f.rev != rev {
                return Err(OpError::Conflict(ConflictKind::File));
            }
        }
        if self
            .ns
            .descendants(&key)
            .nth(MAX_RELOCATION_ENTRIES)
            .is_some()
        {
            return Err(OpError::TooManyFiles);
        }
        self.record(Change::Delete {
            display: node.display.clone(),
            at: self.now,
        });
        Ok(node)
    }

    /// Move (or copy) `from` to `to`. Returns the node at the destination.
    pub fn relocate(
        &mut self,
        from: &str,
        to: &str,
        autorename: bool,
        copy: bool,
    ) -> Result<Node, RelocateError> {
        let from_key = lower(from);
        let src = self
            .ns
            .get(&from_key)
            .cloned()
            .ok_or(RelocateError::From(OpError::NotFound))?;
        let to_key = lower(to);
        if to_key == from_key && !copy && name(&src.display) != name(to) {
            return Ok(self.recase(&src, to));
        }
        if to_key == from_key || (src.file().is_none() && crate::store::within(&to_key, &from_key))
        {
            if to_key == from_key {
                let kind = if src.file().is_some() {
                    ConflictKind::File
                } else {
                    ConflictKind::Folder
                };
                return Err(RelocateError::To(OpError::Conflict(kind)));
            }
            return Err(RelocateError::IntoItself);
        }
        Self::check_names(to).map_err(RelocateError::To)?;
        self.check_ancestors(to).map_err(RelocateError::To)?;
        let mut target = to.to_string();
        if let Some(existing) = self.ns.get(&to_key) {
            if !autorename {
                let kind = if existing.file().is_some() {
                    ConflictKind::File
                } else {
                    ConflictKind::Folder
                };
                return Err(RelocateError::To(OpError::Conflict(kind)));
            }
            target = self.free_name(to, None);
        }
        let subtree: Vec<Node> = self
            .ns
            .descendants(&from_key)
            .map(|(_, n)| n.clone())
            .collect();
        if subtree.len() >= MAX_RELOCATION_ENTRIES {
            return Err(RelocateError::TooManyFiles);
        }
        if copy {
            let added: u64 = src.file().map_or(0, |f| f.size)
                + subtree
                    .iter()
                    .filter_map(|n| n.file())
                    .map(|f| f.size)
                    .sum::<u64>();
            if self.ns.used + added > self.quota {
                return Err(RelocateError::InsufficientQuota);
            }
        }
        let from_display = src.display.clone();
        if !copy {
            self.record(Change::Delete {
                display: from_display.clone(),
                at: self.now,
            });
        }
        self.ensure_parents(&target);
        let new_root = self.canonical_display(&target);
        let rebase = |n: &Node| format!("{new_root}{}", &n.display[from_display.len()..]);
        let fresh = |this: &Self, n: &Node| -> Node {
            let kind = match &n.kind {
                NodeKind::File(f) if copy => NodeKind::File(FileVersion {
                    rev: this.ids.new_rev(),
                    server_modified: this.now,
                    ..f.clone()
                }),
                k => k.clone(),
            };
            Node {
                id: if copy {
                    this.ids.new_id()
                } else {
                    n.id.clone()
                },
                display: rebase(n),
                written: None,
                kind,
            }
        };
        let mut root = fresh(self, &src);
        root.written = written(&target, &root.display);
        self.record(Change::Put(root.clone()));
        for n in &subtree {
            let moved = fresh(self, n);
            self.record(Change::Put(moved));
        }
        Ok(root)
    }

    /// A case-only rename (`/folder` → `/FOLDER`): Dropbox renames the item in place, same id,
    /// as the official SDK's and Maestral's integration tests against the real Dropbox expect
    /// (`test_case_change_remote`). Each node under it is put again with the new casing; nothing
    /// is deleted, so a listing shows the renamed entries only.
    fn recase(&mut self, src: &Node, to: &str) -> Node {
        let new_root = self.canonical_display(&format!("{}/{}", parent(&src.display), name(to)));
        let old_len = src.display.len();
        let subtree: Vec<Node> = self
            .ns
            .descendants(&lower(&src.display))
            .map(|(_, n)| n.clone())
            .collect();
        let root = Node {
            display: new_root.clone(),
            written: written(to, &new_root),
            ..src.clone()
        };
        self.record(Change::Put(root.clone()));
        for n in subtree {
            // What is below keeps the parents' old casing in what it shows (Dropbox: "at least
            // the last path component will have the correct casing").
            let display = format!("{new_root}{}", &n.display[old_len..]);
            let was = n.written.clone().unwrap_or_else(|| n.display.clone());
            self.record(Change::Put(Node {
                written: written(&was, &display),
                display,
                ..n
            }));
        }
        root
    }

    /// Make `rev` the current content at `display` (as a new revision).
    pub fn restore(&mut self, display: &str, rev: &str) -> Result<Node, OpError> {
        let key = lower(display);
        let known = self
            .ns
            .revisions_at(&key)
            .iter()
            .any(|r| r.version.rev == rev);
        let Some(revision) = self.ns.revisions.get(rev).cloned().filter(|_| known) else {
            return Err(OpError::InvalidRevision);
        };
        let v = revision.version;
        let target = self
            .ns
            .get(&key)
            .map(|n| n.display.clone())
            .unwrap_or_else(|| display.to_string());
        self.commit(
            &target,
            &Mode::Overwrite,
            false,
            false,
            Some(v.client_modified),
            v.hash,
            v.size,
        )
    }
}

/// Why a move or copy failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelocateError {
    /// The source could not be found or read.
    From(OpError),
    /// The destination could not be written.
    To(OpError),
    /// A folder cannot move into itself.
    IntoItself,
    /// More than 10,000 entries.
    TooManyFiles,
    /// Not enough space for the copy.
    InsufficientQuota,
}

fn unreachable_file() -> FileVersion {
    // Only called on a node already known to be a file; a folder is handled earlier.
    FileVersion {
        rev: String::new(),
        size: 0,
        hash: ContentHash::empty(),
        client_modified: 0,
        server_modified: 0,
        export: None,
    }
}

/// The path a request spelled, kept on the node when its parents' casing differs from the
/// stored parents' (see `Node::written`); `None` when it is the same path or another place.
fn written(requested: &str, display: &str) -> Option<String> {
    let (rp, dp) = (parent(requested), parent(display));
    (rp != dp && lower(rp) == lower(dp)).then(|| requested.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Counter(Cell<u64>);
    impl IdSource for Counter {
        fn new_id(&self) -> String {
            self.0.set(self.0.get() + 1);
            format!("id:{}", self.0.get())
        }
        fn new_rev(&self) -> String {
            self.0.set(self.0.get() + 1);
            format!("{:012x}", self.0.get())
        }
    }

    fn rec<'a>(ns: &'a mut Namespace, ids: &'a Counter) -> Recorder<'a> {
        Recorder {
            ns,
            changes: vec![],
            ids,
            now: 100,
            quota: 1 << 40,
            owner: "Ada".into(),
        }
    }

    #[test]
    fn write_modes_follow_dropbox() {
        let mut ns = Namespace::default();
        let ids = Counter(Cell::new(0));
        let h1 = ContentHash::of(b"one");
        let h2 = ContentHash::of(b"two");
        let mut r = rec(&mut ns, &ids);
        let a = r
            .commit("/Docs/a.txt", &Mode::Add, false, true, None, h1, 3)
            .unwrap();
        assert_eq!(
            r.ns.get("/docs").unwrap().display,
            "/Docs",
            "parents are created"
        );
        let rev1 = a.file().unwrap().rev.clone();
        // identical content in add mode: nothing new, unless strict
        let again = r
            .commit("/docs/A.txt", &Mode::Add, false, false, None, h1, 3)
            .unwrap();
        assert_eq!(again.file().unwrap().rev, rev1);
        assert_eq!(
            r.commit("/docs/a.txt", &Mode::Add, false, true, None, h1, 3),
            Err(OpError::Conflict(ConflictKind::File))
        );
        // update with the right rev replaces and keeps the id
        let b = r
            .commit(
                "/docs/a.txt",
                &Mode::Update(rev1.clone()),
                false,
                true,
                None,
                h2,
                3,
            )
            .unwrap();
        assert_eq!(b.id, a.id);
        assert_ne!(b.file().unwrap().rev, rev1);
        assert_eq!(b.display, "/Docs/a.txt", "the stored casing is kept");
        // update with a stale rev is a conflict, or a conflicted copy with autorename
        assert_eq!(
            r.commit(
                "/docs/a.txt",
                &Mode::Update(rev1.clone()),
                false,
                true,
                None,
                h1,
                3
            ),
            Err(OpError::Conflict(ConflictKind::File))
        );
        let cc = r
            .commit("/docs/a.txt", &Mode::Update(rev1), true, true, None, h1, 3)
            .unwrap();
        assert_eq!(cc.display, "/Docs/a (Ada's conflicted copy).txt");
        // add with autorename numbers the name
        let n = r
            .commit(
                "/docs/a.txt",
                &Mode::Add,
                true,
                false,
                None,
                ContentHash::of(b"3"),
                1,
            )
            .unwrap();
        assert_eq!(n.display, "/Docs/a (1).txt");
        // a file cannot be a parent
        assert_eq!(
            r.commit("/docs/a.txt/x", &Mode::Add, false, false, None, h1, 3),
            Err(OpError::Conflict(ConflictKind::FileAncestor))
        );
        assert_eq!(
            r.commit("/x/Thumbs.db", &Mode::Add, false, false, None, h1, 3),
            Err(OpError::DisallowedName)
        );
    }

    #[test]
    fn folder_move_keeps_ids_and_rebases_children() {
        let mut ns = Namespace::default();
        let ids = Counter(Cell::new(0));
        let mut r = rec(&mut ns, &ids);
        let f = r
            .commit(
                "/a/b/c.txt",
                &Mode::Add,
                false,
                false,
                None,
                ContentHash::of(b"c"),
                1,
            )
            .unwrap();
        let moved = r.relocate("/a", "/z/A2", false, false).unwrap();
        assert_eq!(moved.display, "/z/A2");
        let c = r.ns.get("/z/a2/b/c.txt").unwrap();
        assert_eq!(c.id, f.id);
        assert!(r.ns.get("/a").is_none());
        assert_eq!(
            r.relocate("/z", "/z/in", false, false),
            Err(RelocateError::IntoItself)
        );
        let copy = r.relocate("/z/A2/b/c.txt", "/c2.txt", false, true).unwrap();
        assert_ne!(copy.id, f.id);
        assert_eq!(copy.file().unwrap().hash, f.file().unwrap().hash);
    }

    #[test]
    fn restore_brings_back_old_content_as_new_revision() {
        let mut ns = Namespace::default();
        let ids = Counter(Cell::new(0));
        let mut r = rec(&mut ns, &ids);
        let v1 = r
            .commit(
                "/f",
                &Mode::Add,
                false,
                false,
                None,
                ContentHash::of(b"1"),
                1,
            )
            .unwrap();
        let rev1 = v1.file().unwrap().rev.clone();
        r.commit(
            "/f",
            &Mode::Overwrite,
            false,
            false,
            None,
            ContentHash::of(b"2"),
            1,
        )
        .unwrap();
        r.delete("/f", None).unwrap();
        let back = r.restore("/f", &rev1).unwrap();
        assert_eq!(back.file().unwrap().hash, ContentHash::of(b"1"));
        assert_eq!(
            r.restore("/f", "ffffffffffff"),
            Err(OpError::InvalidRevision)
        );
    }
}
