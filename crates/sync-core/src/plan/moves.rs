//! Clashing names, moves and renames: planned first, so that what they reshape is held
//! back from the per-key rules.

use super::{ClashReason, Op, Planner};
use crate::path::{self, clash_name, is_below, key, name, parent};
use crate::tree::Key;
use std::collections::HashMap;

impl Planner<'_> {
    /// Local names that clash with another local name on Dropbox are renamed aside.
    pub(super) fn clashes(&mut self) {
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
    pub(super) fn moves(&mut self) {
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
}
