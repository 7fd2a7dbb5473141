//! The planner's bookkeeping: what is held back or excluded, free names for set-aside
//! copies, what changed below a folder, and the operations that take one side's version.

use super::{Op, Planner};
use crate::path::{self, conflicted_copy_name, is_below, key, name, parent};
use crate::tree::{Key, LocalNode, RemoteNode, SyncedNode};

/// How one side stands against the merge base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
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

pub(super) fn local_change(l: Option<&LocalNode>, s: Option<&SyncedNode>) -> Change {
    match (l, s) {
        (None, None) => Change::None,
        (Some(_), None) => Change::Created,
        (None, Some(_)) => Change::Deleted,
        (Some(l), Some(s)) if l.is_folder() != s.is_folder() => Change::KindChanged,
        (Some(l), Some(s)) if l.hash() != s.hash() => Change::Modified,
        _ => Change::None,
    }
}

pub(super) fn remote_change(r: Option<&RemoteNode>, s: Option<&SyncedNode>) -> Change {
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

impl Planner<'_> {
    /// At or below an excluded folder (as [`path::is_within`] says).
    pub(super) fn excluded(&self, k: &str) -> bool {
        if self.excluded.is_empty() {
            return false;
        }
        let mut a = k;
        loop {
            if self.excluded.contains(a) {
                return true;
            }
            if a.is_empty() {
                return false;
            }
            a = parent(a);
        }
    }

    /// Held back: an ancestor's subtree is reshaped in this plan, or it is claimed by a move.
    pub(super) fn held(&self, k: &str) -> bool {
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

    pub(super) fn block(&mut self, k: &str) {
        self.blocked.insert(k.to_string());
    }

    pub(super) fn key_free(&self, k: &str) -> bool {
        !self.t.local.contains_key(k)
            && !self.t.remote.contains_key(k)
            && !self.t.synced.contains_key(k)
            && !self.taken.contains(k)
    }

    /// A free display path next to `path` built by `make(n)`.
    pub(super) fn free_path(&mut self, path: &str, make: impl Fn(u32) -> String) -> String {
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

    pub(super) fn claim_move(&mut self, from: &str, to: &str) {
        self.claimed.insert(from.to_string());
        self.claimed.insert(to.to_string());
        self.blocked.insert(from.to_string());
        self.blocked.insert(to.to_string());
    }

    /// True if anything strictly below `k` was created or edited on the remote side.
    pub(super) fn remote_subtree_changed(&self, k: &str) -> bool {
        // Only edits count: a deletion inside agrees with deleting the whole folder.
        self.below(k).any(|c| {
            !matches!(
                remote_change(self.t.remote.get(&c), self.t.synced.get(&c)),
                Change::None | Change::Deleted
            )
        })
    }

    /// True if anything strictly below `k` was created or edited on the local side.
    pub(super) fn local_subtree_changed(&self, k: &str) -> bool {
        self.below(k).any(|c| {
            !matches!(
                local_change(self.t.local.get(&c), self.t.synced.get(&c)),
                Change::None | Change::Deleted
            )
        })
    }

    pub(super) fn below<'b>(&'b self, k: &'b str) -> impl Iterator<Item = Key> + 'b {
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

    pub(super) fn set_aside(&mut self, k: &str, l: &LocalNode) {
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

    pub(super) fn take_local(&mut self, k: &str, l: &LocalNode, base: Option<String>) {
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

    pub(super) fn take_remote(&mut self, k: &str, r: &RemoteNode, replace: Option<&LocalNode>) {
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
}
