//! The planner: `(local, remote, synced, settings) → Plan`.
//!
//! For every key it compares each side with the merge base and decides: propagate a
//! one-sided change, record agreement, or keep both versions of a true conflict. Moves are
//! recognised by inode (local) and Dropbox id (remote) and planned as moves; a folder move is
//! one move. Everything in one plan is safe to run concurrently: an operation that reshapes a
//! subtree (a move, a folder delete, a kind change, a conflict set aside) holds back every
//! operation below it until the next round, when the observations have moved on.
//!
//! Rules (docs/ARCHITECTURE.md, "The sync model"):
//! - changed on one side only → propagate; same content on both sides → record synced;
//! - different content on both sides → the local version is set aside as
//!   `name (conflicted copy from HOST DATE).ext` and both versions end on both sides;
//! - deleted on one side, modified on the other → the modification wins;
//! - a folder deleted on one side whose subtree changed on the other is not deleted as a
//!   whole: unchanged children are deleted one by one and changed ones restored.

use crate::path::{self, clash_name, conflicted_copy_name, is_below, is_within, key, name, parent};
use crate::tree::{Key, LocalNode, RemoteNode, SyncedNode, Trees};
use std::collections::{BTreeSet, HashMap};

/// Planner settings (time and place are passed in: the planner reads no clock).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// This machine's name, for conflicted-copy names.
    pub host: String,
    /// Today's date as `YYYY-MM-DD`, for conflicted-copy names.
    pub date: String,
    /// Keys of folders excluded from sync (selective sync): nothing at or below is touched.
    pub excluded: Vec<Key>,
}

/// One operation. Paths are display paths relative to the pair's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Upload a local file; `base` is the merge-base revision (`update(base)`), `None` to add.
    Upload {
        /// Key.
        key: Key,
        /// The local node as observed when planning (re-checked before reading).
        local: LocalNode,
        /// Revision to update.
        base: Option<String>,
    },
    /// Download a remote file to the local path of `key`, replacing `replace` if set.
    Download {
        /// Key.
        key: Key,
        /// The remote file.
        remote: RemoteNode,
        /// The local file expected at the target (re-checked before it is replaced).
        replace: Option<LocalNode>,
    },
    /// Create a folder on Dropbox.
    CreateRemoteFolder {
        /// Key.
        key: Key,
        /// The local folder.
        local: LocalNode,
    },
    /// Create a folder locally.
    CreateLocalFolder {
        /// Key.
        key: Key,
        /// The remote folder.
        remote: RemoteNode,
    },
    /// Delete on Dropbox (a file only if still at `rev`).
    DeleteRemote {
        /// Key.
        key: Key,
        /// Remote node as observed.
        remote: RemoteNode,
    },
    /// Delete locally (to the trash), after checking the node is still as observed.
    DeleteLocal {
        /// Key.
        key: Key,
        /// Local node as observed.
        local: LocalNode,
    },
    /// Move on Dropbox (ids are kept).
    MoveRemote {
        /// Old key.
        from: Key,
        /// New key.
        to: Key,
        /// Current remote path.
        from_path: String,
        /// New path (the local name).
        to_path: String,
    },
    /// Move locally.
    MoveLocal {
        /// Old key.
        from: Key,
        /// New key.
        to: Key,
        /// Current local path.
        from_path: String,
        /// New path (the remote name).
        to_path: String,
    },
    /// Rename the local node at `key` aside as a conflicted copy, so that both versions
    /// survive; its merge base is dropped, so the copy is new to both sides.
    SetAside {
        /// Key.
        key: Key,
        /// The local node as observed.
        local: LocalNode,
        /// New display path.
        to_path: String,
    },
    /// Rename a local node whose name Dropbox cannot hold next to another one (they differ
    /// only in case or Unicode form). It is not in the Local tree; the next scan sees it
    /// under its new name.
    RenameClash {
        /// The clashing node.
        local: LocalNode,
        /// New display path.
        to_path: String,
        /// Case or Unicode form.
        reason: ClashReason,
    },
    /// Both sides agree: record the merge base (no transfer).
    Agree {
        /// Key.
        key: Key,
    },
    /// Gone on both sides: forget the merge base.
    Forget {
        /// Key.
        key: Key,
    },
}

/// Why two local names clash on Dropbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClashReason {
    /// They differ only in letter case.
    Case,
    /// They differ only in Unicode normalisation.
    Unicode,
}

impl Op {
    /// The key the operation is about (the destination for moves).
    pub fn key(&self) -> &str {
        match self {
            Op::Upload { key, .. }
            | Op::Download { key, .. }
            | Op::CreateRemoteFolder { key, .. }
            | Op::CreateLocalFolder { key, .. }
            | Op::DeleteRemote { key, .. }
            | Op::DeleteLocal { key, .. }
            | Op::SetAside { key, .. }
            | Op::Agree { key }
            | Op::Forget { key } => key,
            Op::MoveRemote { to, .. } | Op::MoveLocal { to, .. } => to,
            Op::RenameClash { local, .. } => &local.path,
        }
    }

    /// Needs no IO: only the trees change.
    pub fn is_bookkeeping(&self) -> bool {
        matches!(self, Op::Agree { .. } | Op::Forget { .. })
    }
}

/// A batch of operations that are safe to run concurrently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The operations.
    pub ops: Vec<Op>,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Local deletions planned (files and folders counted as planned, not expanded).
    pub fn local_deletes(&self) -> impl Iterator<Item = &Op> {
        self.ops
            .iter()
            .filter(|o| matches!(o, Op::DeleteLocal { .. }))
    }
    /// Remote deletions planned.
    pub fn remote_deletes(&self) -> impl Iterator<Item = &Op> {
        self.ops
            .iter()
            .filter(|o| matches!(o, Op::DeleteRemote { .. }))
    }
}

/// How one side stands against the merge base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// Same as the merge base (or absent on both).
    None,
    /// New (no merge base).
    Created,
    /// Content changed.
    Modified,
    /// File became folder or the reverse.
    KindChanged,
    /// Gone.
    Deleted,
}

fn local_change(l: Option<&LocalNode>, s: Option<&SyncedNode>) -> Change {
    match (l, s) {
        (None, None) => Change::None,
        (Some(_), None) => Change::Created,
        (None, Some(_)) => Change::Deleted,
        (Some(l), Some(s)) if l.is_folder() != s.is_folder() => Change::KindChanged,
        (Some(l), Some(s)) if l.hash() != s.hash() => Change::Modified,
        _ => Change::None,
    }
}

fn remote_change(r: Option<&RemoteNode>, s: Option<&SyncedNode>) -> Change {
    match (r, s) {
        (None, None) => Change::None,
        (Some(_), None) => Change::Created,
        (None, Some(_)) => Change::Deleted,
        (Some(r), Some(s)) if r.is_folder() != s.is_folder() => Change::KindChanged,
        // A new revision with the same content (a restore, a touch) is no change of content.
        (Some(r), Some(s)) if r.hash() != s.hash() => Change::Modified,
        _ => Change::None,
    }
}

struct Planner<'a> {
    t: &'a Trees,
    s: &'a Settings,
    ops: Vec<Op>,
    /// Keys whose subtree is held back this round.
    blocked: BTreeSet<Key>,
    /// Keys already decided (move endpoints).
    claimed: BTreeSet<Key>,
    /// Keys made up in this plan (set-aside names), so two do not collide.
    taken: BTreeSet<Key>,
}

/// Plan the next batch of operations.
pub fn plan(trees: &Trees, settings: &Settings) -> Plan {
    let mut p = Planner {
        t: trees,
        s: settings,
        ops: vec![],
        blocked: BTreeSet::new(),
        claimed: BTreeSet::new(),
        taken: BTreeSet::new(),
    };
    p.clashes();
    p.moves();
    for k in trees.keys() {
        p.decide(&k);
    }
    Plan { ops: p.ops }
}

impl Planner<'_> {
    fn excluded(&self, k: &str) -> bool {
        self.s.excluded.iter().any(|e| is_within(k, e))
    }

    /// Held back: an ancestor's subtree is reshaped in this plan, or it is claimed by a move.
    fn held(&self, k: &str) -> bool {
        if self.claimed.contains(k) {
            return true;
        }
        let mut p = parent(k);
        while !p.is_empty() {
            if self.blocked.contains(p) {
                return true;
            }
            p = parent(p);
        }
        false
    }

    fn block(&mut self, k: &str) {
        self.blocked.insert(k.to_string());
    }

    fn key_free(&self, k: &str) -> bool {
        !self.t.local.contains_key(k)
            && !self.t.remote.contains_key(k)
            && !self.t.synced.contains_key(k)
            && !self.taken.contains(k)
    }

    /// A free display path next to `path` built by `make(n)`.
    fn free_path(&mut self, path: &str, make: impl Fn(u32) -> String) -> String {
        let dir = parent(path);
        for n in 1.. {
            let candidate = path::join(dir, &make(n));
            let k = key(&candidate);
            if self.key_free(&k) {
                self.taken.insert(k);
                return candidate;
            }
        }
        unreachable!("some numbered name is always free")
    }

    /// Local names that clash with another local name on Dropbox are renamed aside.
    fn clashes(&mut self) {
        for c in &self.t.clashes {
            let k = key(&c.path);
            if self.excluded(&k) {
                continue;
            }
            let nm = name(&c.path).to_string();
            let other = self
                .t
                .local
                .get(&k)
                .map(|n| name(&n.path).to_string())
                .unwrap_or_default();
            let unicode = nm.to_lowercase() != other.to_lowercase();
            let to_path = self.free_path(&c.path, |n| clash_name(&nm, unicode, n));
            let reason = if unicode {
                ClashReason::Unicode
            } else {
                ClashReason::Case
            };
            self.ops.push(Op::RenameClash {
                local: c.clone(),
                to_path,
                reason,
            });
            // Below the clash, one key stands for two places until the rename is done.
            self.blocked.insert(k);
        }
    }

    /// Moves and renames: local by inode, remote by id. Top-down, so a folder move covers
    /// its subtree.
    fn moves(&mut self) {
        let by_inode: HashMap<u64, &Key> =
            self.t.synced.iter().map(|(k, s)| (s.inode, k)).collect();
        let by_id: HashMap<&str, &Key> = self
            .t
            .synced
            .iter()
            .map(|(k, s)| (s.id.as_str(), k))
            .collect();
        for (to, r) in &self.t.remote {
            if self.t.synced.contains_key(to) || self.held(to) || self.excluded(to) {
                continue;
            }
            let Some(&from) = by_id.get(r.id.as_str()) else {
                continue;
            };
            let (s, l) = (&self.t.synced[from], self.t.local.get(from));
            let from_gone_remotely = self.t.remote.get(from).is_none_or(|x| x.id != r.id);
            let local_still_there =
                l.is_some_and(|l| l.inode == s.inode && l.is_folder() == r.is_folder());
            let target_free_locally = !self.t.local.contains_key(to);
            // A move into its own old subtree needs another node out of the way first; it is
            // left to the per-key rules (create there, delete here).
            let sane = !is_below(to, from) && !is_below(from, to);
            if sane
                && from_gone_remotely
                && local_still_there
                && target_free_locally
                && !self.held(from)
                && !self.excluded(from)
            {
                let l = l.unwrap_or_else(|| unreachable!());
                self.ops.push(Op::MoveLocal {
                    from: from.clone(),
                    to: to.clone(),
                    from_path: l.path.clone(),
                    to_path: r.path.clone(),
                });
                self.claim_move(from, to);
            }
        }
        for (to, l) in &self.t.local {
            if self.t.synced.contains_key(to) || self.held(to) || self.excluded(to) {
                continue;
            }
            let Some(&from) = by_inode.get(&l.inode) else {
                continue;
            };
            let (s, r) = (&self.t.synced[from], self.t.remote.get(from));
            let from_gone_locally = self.t.local.get(from).is_none_or(|x| x.inode != l.inode);
            let remote_still_there =
                r.is_some_and(|r| r.id == s.id && r.is_folder() == l.is_folder());
            let target_free_remotely = !self.t.remote.contains_key(to);
            // A file counts as moved only with unchanged content: a reused inode number must
            // not turn "deleted here, created there" into a move.
            let same_kind =
                s.is_folder() == l.is_folder() && (l.is_folder() || l.hash() == s.hash());
            let sane = !is_below(to, from) && !is_below(from, to);
            if sane
                && from_gone_locally
                && remote_still_there
                && target_free_remotely
                && same_kind
                && !self.held(from)
                && !self.excluded(from)
            {
                let r = r.unwrap_or_else(|| unreachable!());
                self.ops.push(Op::MoveRemote {
                    from: from.clone(),
                    to: to.clone(),
                    from_path: r.path.clone(),
                    to_path: l.path.clone(),
                });
                self.claim_move(from, to);
            }
        }
        // Renames that change only case or Unicode form: same key, different name.
        for (k, s) in &self.t.synced {
            if self.held(k) || self.excluded(k) {
                continue;
            }
            let (Some(l), Some(r)) = (self.t.local.get(k), self.t.remote.get(k)) else {
                continue;
            };
            if l.inode != s.inode || r.id != s.id {
                continue;
            }
            let (ln, rn, sn) = (name(&l.path), name(&r.path), name(&s.path));
            // Names that differ only in Unicode form are the same name (Dropbox ignores such renames).
            let same = |a: &str, b: &str| a == b || path::nfc(a) == path::nfc(b);
            if !same(rn, sn) && same(ln, sn) {
                self.ops.push(Op::MoveLocal {
                    from: k.clone(),
                    to: k.clone(),
                    from_path: l.path.clone(),
                    to_path: path::join(parent(&l.path), rn),
                });
                self.claim_move(k, k);
            } else if !same(ln, sn) && !same(rn, ln) {
                self.ops.push(Op::MoveRemote {
                    from: k.clone(),
                    to: k.clone(),
                    from_path: r.path.clone(),
                    to_path: path::join(parent(&r.path), ln),
                });
                self.claim_move(k, k);
            }
        }
    }

    fn claim_move(&mut self, from: &str, to: &str) {
        self.claimed.insert(from.to_string());
        self.claimed.insert(to.to_string());
        self.blocked.insert(from.to_string());
        self.blocked.insert(to.to_string());
    }

    /// True if anything strictly below `k` was created or edited on the remote side.
    fn remote_subtree_changed(&self, k: &str) -> bool {
        // Only edits count: a deletion inside agrees with deleting the whole folder.
        self.below(k).any(|c| {
            !matches!(
                remote_change(self.t.remote.get(&c), self.t.synced.get(&c)),
                Change::None | Change::Deleted
            )
        })
    }

    /// True if anything strictly below `k` was created or edited on the local side.
    fn local_subtree_changed(&self, k: &str) -> bool {
        self.below(k).any(|c| {
            !matches!(
                local_change(self.t.local.get(&c), self.t.synced.get(&c)),
                Change::None | Change::Deleted
            )
        })
    }

    fn below<'b>(&'b self, k: &'b str) -> impl Iterator<Item = Key> + 'b {
        let range = |m: &'b std::collections::BTreeMap<Key, _>| {
            m.range::<str, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                .map(|(c, _): (&Key, &_)| c.clone())
        };
        let l = range(&self.t.local);
        let r = self
            .t
            .remote
            .range::<str, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
            .map(|(c, _)| c.clone());
        let s = self
            .t
            .synced
            .range::<str, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
            .map(|(c, _)| c.clone());
        l.take_while(move |c| c.starts_with(k))
            .chain(r.take_while(move |c| c.starts_with(k)))
            .chain(s.take_while(move |c| c.starts_with(k)))
            .filter(move |c| is_below(c, k))
    }

    fn set_aside(&mut self, k: &str, l: &LocalNode) {
        let nm = name(&l.path).to_string();
        let (host, date) = (self.s.host.clone(), self.s.date.clone());
        let to_path = self.free_path(&l.path, |n| conflicted_copy_name(&nm, &host, &date, n));
        self.ops.push(Op::SetAside {
            key: k.to_string(),
            local: l.clone(),
            to_path,
        });
        self.block(k);
    }

    fn take_local(&mut self, k: &str, l: &LocalNode, base: Option<String>) {
        if l.is_folder() {
            self.ops.push(Op::CreateRemoteFolder {
                key: k.to_string(),
                local: l.clone(),
            });
        } else {
            self.ops.push(Op::Upload {
                key: k.to_string(),
                local: l.clone(),
                base,
            });
        }
    }

    fn take_remote(&mut self, k: &str, r: &RemoteNode, replace: Option<&LocalNode>) {
        if r.is_folder() {
            self.ops.push(Op::CreateLocalFolder {
                key: k.to_string(),
                remote: r.clone(),
            });
        } else {
            self.ops.push(Op::Download {
                key: k.to_string(),
                remote: r.clone(),
                replace: replace.cloned(),
            });
        }
    }

    fn decide(&mut self, k: &str) {
        if self.held(k) || self.excluded(k) {
            return;
        }
        let (l, r, s) = (
            self.t.local.get(k),
            self.t.remote.get(k),
            self.t.synced.get(k),
        );
        let (lc, rc) = (local_change(l, s), remote_change(r, s));
        use Change::*;
        match (lc, rc) {
            (None, None) => {
                // In sync; refresh the merge base if the remote revision or id moved on.
                if let (Some(l), Some(r), Some(s)) = (l, r, s) {
                    if r.rev() != s.rev() || r.id != s.id || l.inode != s.inode {
                        self.ops.push(Op::Agree { key: k.to_string() });
                    }
                }
            }
            // ---- one side changed
            (Created | Modified, None) => {
                let l = l.unwrap_or_else(|| unreachable!());
                if l.is_folder() {
                    // A folder that exists remotely too is already in agreement.
                    if r.is_some() {
                        self.ops.push(Op::Agree { key: k.to_string() });
                    } else {
                        self.take_local(k, l, Option::None);
                    }
                } else {
                    // Dropbox's content equals the merge base; its *current* revision is the one
                    // to update (it moves on with restores and same-content rewrites).
                    self.take_local(k, l, r.and_then(|r| r.rev().map(str::to_string)));
                }
            }
            (KindChanged, None) => {
                let (l, s) = (
                    l.unwrap_or_else(|| unreachable!()),
                    s.unwrap_or_else(|| unreachable!()),
                );
                let r = r.unwrap_or_else(|| unreachable!());
                if s.is_folder() && self.remote_subtree_changed(k) {
                    // The folder was replaced locally by a file, but someone changed files in it
                    // on Dropbox: keep the local file aside and let the folder come back.
                    self.set_aside(k, l);
                } else {
                    self.ops.push(Op::DeleteRemote {
                        key: k.to_string(),
                        remote: r.clone(),
                    });
                    self.block(k);
                }
            }
            (Deleted, None) => {
                let s = s.unwrap_or_else(|| unreachable!());
                match r {
                    Option::None => self.ops.push(Op::Forget { key: k.to_string() }),
                    Some(r) if s.is_folder() && self.remote_subtree_changed(k) => {
                        // Edits inside win over the folder's deletion: handle children one by one.
                        let _ = r;
                    }
                    Some(r) => {
                        self.ops.push(Op::DeleteRemote {
                            key: k.to_string(),
                            remote: r.clone(),
                        });
                        if s.is_folder() {
                            self.block(k);
                        }
                    }
                }
            }
            (None, Created | Modified) => {
                let r = r.unwrap_or_else(|| unreachable!());
                if r.is_folder() {
                    if l.is_some() {
                        self.ops.push(Op::Agree { key: k.to_string() });
                    } else {
                        self.take_remote(k, r, Option::None);
                    }
                } else {
                    self.take_remote(k, r, l);
                }
            }
            (None, KindChanged) => {
                let (l, s) = (
                    l.unwrap_or_else(|| unreachable!()),
                    s.unwrap_or_else(|| unreachable!()),
                );
                if s.is_folder() && self.local_subtree_changed(k) {
                    // The folder was replaced on Dropbox by a file, but local files in it changed:
                    // keep the local folder aside (it is uploaded as new) and take the file.
                    self.set_aside(k, l);
                } else {
                    self.ops.push(Op::DeleteLocal {
                        key: k.to_string(),
                        local: l.clone(),
                    });
                    self.block(k);
                }
            }
            (None, Deleted) => {
                let s = s.unwrap_or_else(|| unreachable!());
                match l {
                    Option::None => self.ops.push(Op::Forget { key: k.to_string() }),
                    Some(_) if s.is_folder() && self.local_subtree_changed(k) => {}
                    Some(l) => {
                        self.ops.push(Op::DeleteLocal {
                            key: k.to_string(),
                            local: l.clone(),
                        });
                        if s.is_folder() {
                            self.block(k);
                        }
                    }
                }
            }
            // ---- both changed
            _ => match (l, r) {
                (Option::None, Option::None) => {
                    self.ops.push(Op::Forget { key: k.to_string() });
                    self.block(k);
                }
                // Edit beats delete, on either side.
                (Option::None, Some(r)) => self.take_remote(k, r, Option::None),
                (Some(l), Option::None) => self.take_local(k, l, Option::None),
                (Some(l), Some(r)) => {
                    let agree = (l.is_folder() && r.is_folder())
                        || (!l.is_folder() && !r.is_folder() && l.hash() == r.hash());
                    if agree {
                        self.ops.push(Op::Agree { key: k.to_string() });
                    } else {
                        self.set_aside(k, l);
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::ContentHash;
    use crate::tree::{LocalKind, RemoteKind, SyncedKind};

    fn settings() -> Settings {
        Settings {
            host: "lab".into(),
            date: "2026-11-27".into(),
            excluded: vec![],
        }
    }
    fn lf(path: &str, inode: u64, data: &str) -> LocalNode {
        LocalNode {
            path: path.into(),
            inode,
            kind: LocalKind::File {
                size: data.len() as u64,
                mtime_ns: 0,
                hash: ContentHash::of(data.as_bytes()),
            },
        }
    }
    fn rf(path: &str, id: &str, rev: &str, data: &str) -> RemoteNode {
        RemoteNode {
            path: path.into(),
            id: id.into(),
            kind: RemoteKind::File {
                rev: rev.into(),
                size: data.len() as u64,
                hash: ContentHash::of(data.as_bytes()),
            },
        }
    }
    fn sf(path: &str, id: &str, inode: u64, rev: &str, data: &str) -> SyncedNode {
        SyncedNode {
            path: path.into(),
            id: id.into(),
            inode,
            kind: SyncedKind::File {
                rev: rev.into(),
                size: data.len() as u64,
                hash: ContentHash::of(data.as_bytes()),
            },
        }
    }

    #[test]
    fn one_sided_edit_propagates_with_the_merge_base_revision() {
        let mut t = Trees::default();
        t.local.insert("/a".into(), lf("/a", 1, "new"));
        t.remote.insert("/a".into(), rf("/a", "id:a", "r1", "old"));
        t.synced
            .insert("/a".into(), sf("/a", "id:a", 1, "r1", "old"));
        let p = plan(&t, &settings());
        assert_eq!(
            p.ops,
            vec![Op::Upload {
                key: "/a".into(),
                local: lf("/a", 1, "new"),
                base: Some("r1".into())
            }]
        );
    }

    #[test]
    fn same_content_on_both_sides_is_just_recorded() {
        let mut t = Trees::default();
        t.local.insert("/a".into(), lf("/a", 1, "same"));
        t.remote.insert("/a".into(), rf("/a", "id:a", "r1", "same"));
        assert_eq!(
            plan(&t, &settings()).ops,
            vec![Op::Agree { key: "/a".into() }]
        );
    }

    #[test]
    fn different_content_on_both_sides_sets_the_local_copy_aside() {
        let mut t = Trees::default();
        t.local.insert("/a.txt".into(), lf("/a.txt", 1, "mine"));
        t.remote
            .insert("/a.txt".into(), rf("/a.txt", "id:a", "r2", "theirs"));
        t.synced
            .insert("/a.txt".into(), sf("/a.txt", "id:a", 1, "r1", "base"));
        let p = plan(&t, &settings());
        assert_eq!(p.ops.len(), 1);
        match &p.ops[0] {
            Op::SetAside { to_path, .. } => {
                assert_eq!(to_path, "/a (conflicted copy from lab 2026-11-27).txt")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn edit_beats_delete_on_either_side() {
        let mut t = Trees::default();
        t.remote
            .insert("/a".into(), rf("/a", "id:a", "r2", "edited"));
        t.synced
            .insert("/a".into(), sf("/a", "id:a", 1, "r1", "base"));
        assert!(matches!(
            &plan(&t, &settings()).ops[..],
            [Op::Download { replace: None, .. }]
        ));
        let mut t = Trees::default();
        t.local.insert("/a".into(), lf("/a", 1, "edited"));
        t.synced
            .insert("/a".into(), sf("/a", "id:a", 1, "r1", "base"));
        assert!(matches!(
            &plan(&t, &settings()).ops[..],
            [Op::Upload { base: None, .. }]
        ));
    }

    #[test]
    fn a_folder_rename_is_one_move() {
        let mut t = Trees::default();
        let folder = |p: &str, inode| LocalNode {
            path: p.into(),
            inode,
            kind: LocalKind::Folder,
        };
        t.local.insert("/new".into(), folder("/New", 10));
        t.local.insert("/new/x".into(), lf("/New/x", 11, "x"));
        t.remote.insert(
            "/old".into(),
            RemoteNode {
                path: "/Old".into(),
                id: "id:d".into(),
                kind: RemoteKind::Folder,
            },
        );
        t.remote
            .insert("/old/x".into(), rf("/Old/x", "id:x", "r1", "x"));
        t.synced.insert(
            "/old".into(),
            SyncedNode {
                path: "/Old".into(),
                id: "id:d".into(),
                inode: 10,
                kind: SyncedKind::Folder,
            },
        );
        t.synced
            .insert("/old/x".into(), sf("/Old/x", "id:x", 11, "r1", "x"));
        let p = plan(&t, &settings());
        assert_eq!(
            p.ops,
            vec![Op::MoveRemote {
                from: "/old".into(),
                to: "/new".into(),
                from_path: "/Old".into(),
                to_path: "/New".into()
            }]
        );
    }
}
