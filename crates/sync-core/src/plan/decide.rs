//! The per-key rules: each side against the merge base, and what follows from the pair of
//! changes.

use super::planner::{Change, local_change, remote_change};
use super::{Op, Planner};

impl Planner<'_> {
    pub(super) fn decide(&mut self, k: &str) {
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
