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
//!
//! - `moves`: clashing names, moves and renames, planned first;
//! - `decide`: the per-key rules; `planner`: what they share (held keys, exclusions, free
//!   names, the operations that take one side's version).

mod decide;
mod moves;
mod planner;
#[cfg(test)]
mod tests;

use crate::tree::{Key, LocalNode, RemoteNode, Trees};
use std::collections::{BTreeSet, HashSet};

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

/// One planning pass over the trees: the operations so far and what they hold back.
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
    /// The excluded folders, looked up by each ancestor of a key (never compared one by one).
    excluded: HashSet<&'a str>,
}

/// Plan the next batch of operations.
pub fn plan(trees: &Trees, settings: &Settings) -> Plan {
    let mut p = Planner::new(trees, settings);
    p.clashes();
    p.moves();
    for k in trees.keys() {
        p.decide(&k);
    }
    Plan { ops: p.ops }
}

impl<'a> Planner<'a> {
    fn new(t: &'a Trees, s: &'a Settings) -> Self {
        Planner {
            t,
            s,
            ops: vec![],
            blocked: BTreeSet::new(),
            claimed: BTreeSet::new(),
            taken: BTreeSet::new(),
            excluded: s.excluded.iter().map(String::as_str).collect(),
        }
    }
}
