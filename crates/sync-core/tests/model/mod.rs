//! The model world shared by the planner tests: a model disk and a model Dropbox (`Fs`), the
//! observers that turn them into the Local and Remote trees, a model executor that carries out
//! one operation with the same safety checks the real executor makes, and `converge`, which
//! plans and executes round after round until the planner has nothing left.
//!
//! Used by `planner_properties.rs` (random worlds) and `scenarios.rs` (worlds written down in
//! `tests/scenarios/*.scenario`).

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;
use sync_core::path::{is_within, key, name, parent};
use sync_core::{
    ContentHash, LocalKind, LocalNode, Op, Outcome, RemoteKind, RemoteNode, Settings, SyncedKind,
    SyncedNode, Trees, plan,
};

/// A file system model: display path → entry. `case_insensitive` models Dropbox.
#[derive(Clone, Debug, Default)]
pub struct Fs {
    pub entries: BTreeMap<String, Entry>,
    pub case_insensitive: bool,
    pub next_ident: u64,
    /// Contents that left the tree by an explicit delete (trash or Dropbox history).
    pub discarded: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub folder: bool,
    pub content: Vec<u8>,
    /// Inode (local) or id number (remote).
    pub ident: u64,
    pub rev: u64,
}

impl Fs {
    pub fn ident(&mut self) -> u64 {
        self.next_ident += 1;
        self.next_ident
    }

    pub fn find(&self, path: &str) -> Option<String> {
        if self.entries.contains_key(path) {
            return Some(path.to_string());
        }
        if self.case_insensitive {
            let k = key(path);
            return self.entries.keys().find(|p| key(p) == k).cloned();
        }
        None
    }

    pub fn taken(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    pub fn folders(&self) -> Vec<String> {
        std::iter::once(String::new())
            .chain(
                self.entries
                    .iter()
                    .filter(|(_, e)| e.folder)
                    .map(|(p, _)| p.clone()),
            )
            .collect()
    }

    pub fn subtree(&self, root: &str) -> Vec<String> {
        self.entries
            .keys()
            .filter(|p| is_within(p, root))
            .cloned()
            .collect()
    }

    pub fn remove_tree(&mut self, root: &str, keep: bool) {
        for p in self.subtree(root) {
            if let Some(e) = self.entries.remove(&p) {
                if keep && !e.folder {
                    self.discarded.push(e.content);
                }
            }
        }
    }

    pub fn mkdirs(&mut self, path: &str) -> bool {
        let p = parent(path);
        if p.is_empty() {
            return true;
        }
        match self.find(p) {
            Some(existing) => self.entries[&existing].folder,
            None => {
                if !self.mkdirs(p) {
                    return false;
                }
                let ident = self.ident();
                let resolved = self.resolve(p);
                self.entries.insert(
                    resolved,
                    Entry {
                        folder: true,
                        content: vec![],
                        ident,
                        rev: 0,
                    },
                );
                true
            }
        }
    }

    /// The path with each existing ancestor spelled as stored.
    pub fn resolve(&self, path: &str) -> String {
        let p = parent(path);
        if p.is_empty() {
            return path.to_string();
        }
        let pp = self.find(p).unwrap_or_else(|| self.resolve(p));
        format!("{pp}/{}", name(path))
    }
}

pub fn hash(c: &[u8]) -> ContentHash {
    ContentHash::of(c)
}

pub fn observe_local(
    fs: &Fs,
    synced: &BTreeMap<String, SyncedNode>,
) -> (BTreeMap<String, LocalNode>, Vec<LocalNode>) {
    let mut local = BTreeMap::new();
    let mut clashes = vec![];
    // Of names that clash, the one already synced under its name keeps the key.
    let mut order: Vec<(&String, &Entry)> = fs.entries.iter().collect();
    order.sort_by_key(|(p, _)| {
        (
            synced.get(&key(p)).is_none_or(|s| &s.path != *p),
            (*p).clone(),
        )
    });
    for (p, e) in order {
        let node = LocalNode {
            path: p.clone(),
            inode: e.ident,
            kind: if e.folder {
                LocalKind::Folder
            } else {
                LocalKind::File {
                    size: e.content.len() as u64,
                    mtime_ns: 0,
                    hash: hash(&e.content),
                }
            },
        };
        // A node under a clashing folder is not observable under its key either.
        if clashes
            .iter()
            .any(|c: &LocalNode| sync_core::path::is_below(p, &c.path))
        {
            continue;
        }
        match local.entry(key(p)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(node);
            }
            std::collections::btree_map::Entry::Occupied(_) => clashes.push(node),
        }
    }
    (local, clashes)
}

pub fn observe_remote(fs: &Fs) -> BTreeMap<String, RemoteNode> {
    fs.entries
        .iter()
        .map(|(p, e)| {
            let kind = if e.folder {
                RemoteKind::Folder
            } else {
                RemoteKind::File {
                    rev: format!("r{}-{}", e.ident, e.rev),
                    size: e.content.len() as u64,
                    hash: hash(&e.content),
                }
            };
            (
                key(p),
                RemoteNode {
                    path: p.clone(),
                    id: format!("id:{}", e.ident),
                    kind,
                },
            )
        })
        .collect()
}

pub fn local_matches(fs: &Fs, n: &LocalNode) -> bool {
    fs.entries.get(&n.path).is_some_and(|e| {
        e.ident == n.inode
            && e.folder == n.is_folder()
            && (e.folder || Some(hash(&e.content)) == n.hash())
    })
}

pub fn remote_matches(fs: &Fs, n: &RemoteNode) -> bool {
    fs.find(&n.path)
        .and_then(|p| fs.entries.get(&p))
        .is_some_and(|e| {
            format!("id:{}", e.ident) == n.id
                && e.folder == n.is_folder()
                && (e.folder || Some(format!("r{}-{}", e.ident, e.rev).as_str()) == n.rev())
        })
}

/// The local display path for a key: existing ancestors as spelled on disk.
pub fn local_path_for(fs: &Fs, trees: &Trees, remote_path: &str) -> String {
    let p = parent(remote_path);
    if p.is_empty() {
        return remote_path.to_string();
    }
    let pp = trees
        .local
        .get(&key(p))
        .map(|n| n.path.clone())
        .filter(|lp| fs.entries.contains_key(lp))
        .unwrap_or_else(|| local_path_for(fs, trees, p));
    format!("{pp}/{}", name(remote_path))
}

/// Carry out one operation; `None` when its preconditions no longer hold.
pub fn execute(op: &Op, trees: &Trees, local: &mut Fs, remote: &mut Fs) -> Option<Outcome> {
    match op {
        Op::Agree { key } => Some(Outcome::Agreed { key: key.clone() }),
        Op::Forget { key } => Some(Outcome::Forgotten { key: key.clone() }),
        Op::Upload {
            key: k,
            local: l,
            base,
        } => {
            if !local_matches(local, l) {
                return None;
            }
            let current = remote.find(&l.path);
            let e = match (base, &current) {
                (None, None) => None,
                (Some(b), Some(p))
                    if !remote.entries[p].folder
                        && &format!("r{}-{}", remote.entries[p].ident, remote.entries[p].rev)
                            == b =>
                {
                    Some(p.clone())
                }
                _ => return None, // conflict: strict update/add refused
            };
            if !remote.mkdirs(&l.path) {
                return None;
            }
            let content = local.entries[&l.path].content.clone();
            let path = match e {
                Some(p) => {
                    let entry = remote.entries.get_mut(&p).unwrap();
                    entry.content = content;
                    entry.rev += 1;
                    p
                }
                None => {
                    let ident = remote.ident();
                    let p = remote.resolve(&l.path);
                    remote.entries.insert(
                        p.clone(),
                        Entry {
                            folder: false,
                            content,
                            ident,
                            rev: 1,
                        },
                    );
                    p
                }
            };
            let r = observe_remote(remote).remove(&key(&path)).unwrap();
            Some(Outcome::Uploaded {
                key: k.clone(),
                local: l.clone(),
                remote: r,
            })
        }
        Op::CreateRemoteFolder { key: k, local: l } => {
            if !local_matches(local, l) {
                return None;
            }
            match remote.find(&l.path) {
                Some(p) if !remote.entries[&p].folder => return None,
                Some(_) => {}
                None => {
                    if !remote.mkdirs(&l.path) {
                        return None;
                    }
                    let ident = remote.ident();
                    let p = remote.resolve(&l.path);
                    remote.entries.insert(
                        p,
                        Entry {
                            folder: true,
                            content: vec![],
                            ident,
                            rev: 0,
                        },
                    );
                }
            }
            let r = observe_remote(remote).remove(k).unwrap();
            Some(Outcome::Uploaded {
                key: k.clone(),
                local: l.clone(),
                remote: r,
            })
        }
        Op::Download {
            key: k,
            remote: r,
            replace,
        } => {
            if !remote_matches(remote, r) {
                return None;
            }
            let target = match replace {
                Some(l) => {
                    if !local_matches(local, l) {
                        return None;
                    }
                    l.path.clone()
                }
                None => {
                    let t = local_path_for(local, trees, &r.path);
                    if local.entries.contains_key(&t) || trees.local.contains_key(k) {
                        return None;
                    }
                    t
                }
            };
            if !local.mkdirs(&target) {
                return None;
            }
            let content = remote.entries[&remote.find(&r.path).unwrap()]
                .content
                .clone();
            if let Some(old) = local.entries.remove(&target) {
                local.discarded.push(old.content); // replaced only after the check above
            }
            let ident = local.ident();
            let target = local.resolve(&target);
            local.entries.insert(
                target.clone(),
                Entry {
                    folder: false,
                    content: content.clone(),
                    ident,
                    rev: 0,
                },
            );
            let l = LocalNode {
                path: target,
                inode: ident,
                kind: LocalKind::File {
                    size: content.len() as u64,
                    mtime_ns: 0,
                    hash: hash(&content),
                },
            };
            Some(Outcome::Downloaded {
                key: k.clone(),
                local: l,
                remote: r.clone(),
            })
        }
        Op::CreateLocalFolder { key: k, remote: r } => {
            if !remote_matches(remote, r) {
                return None;
            }
            let target = local_path_for(local, trees, &r.path);
            if local.entries.contains_key(&target) || trees.local.contains_key(k) {
                return None;
            }
            if !local.mkdirs(&target) {
                return None;
            }
            let ident = local.ident();
            let target = local.resolve(&target);
            local.entries.insert(
                target.clone(),
                Entry {
                    folder: true,
                    content: vec![],
                    ident,
                    rev: 0,
                },
            );
            Some(Outcome::Downloaded {
                key: k.clone(),
                local: LocalNode {
                    path: target,
                    inode: ident,
                    kind: LocalKind::Folder,
                },
                remote: r.clone(),
            })
        }
        Op::DeleteRemote { key: k, remote: r } => {
            if !remote_matches(remote, r) {
                return None;
            }
            let p = remote.find(&r.path).unwrap();
            remote.remove_tree(&p, true);
            Some(Outcome::RemoteDeleted { key: k.clone() })
        }
        Op::DeleteLocal { key: k, local: l } => {
            if !local_matches(local, l) {
                return None;
            }
            // Everything in the subtree must still be as observed.
            for p in local.subtree(&l.path) {
                let observed = trees.local.get(&key(&p));
                let e = &local.entries[&p];
                if observed.is_none_or(|o| {
                    o.path != p
                        || o.inode != e.ident
                        || (!e.folder && o.hash() != Some(hash(&e.content)))
                }) {
                    return None;
                }
            }
            local.remove_tree(&l.path, true);
            Some(Outcome::LocalDeleted { key: k.clone() })
        }
        Op::MoveRemote {
            from,
            to,
            from_path,
            to_path,
        } => {
            let src = remote.find(from_path)?;
            if key(&src) != *from {
                return None;
            }
            if from != to && remote.taken(to_path) {
                return None;
            }
            if !remote.mkdirs(to_path) {
                return None;
            }
            let dest = remote.resolve(to_path);
            for old in remote.subtree(&src) {
                let e = remote.entries.remove(&old).unwrap();
                remote
                    .entries
                    .insert(format!("{dest}{}", &old[src.len()..]), e);
            }
            let r = observe_remote(remote).remove(to).unwrap();
            Some(Outcome::RemoteMoved {
                from: from.clone(),
                to: to.clone(),
                remote: r,
            })
        }
        Op::MoveLocal {
            from,
            to,
            from_path,
            to_path,
        } => {
            if !local.entries.contains_key(from_path)
                || (from != to && trees.local.contains_key(to))
                || local.entries.contains_key(to_path)
            {
                return None;
            }
            if !local.mkdirs(to_path) {
                return None;
            }
            let dest = local.resolve(to_path);
            for old in local.subtree(from_path) {
                let e = local.entries.remove(&old).unwrap();
                local
                    .entries
                    .insert(format!("{dest}{}", &old[from_path.len()..]), e);
            }
            Some(Outcome::LocalMoved {
                from: from.clone(),
                to: to.clone(),
                path: dest,
            })
        }
        Op::SetAside {
            key: k,
            local: l,
            to_path,
        } => {
            if !local_matches(local, l) || local.entries.contains_key(to_path) {
                return None;
            }
            for old in local.subtree(&l.path) {
                let e = local.entries.remove(&old).unwrap();
                local
                    .entries
                    .insert(format!("{to_path}{}", &old[l.path.len()..]), e);
            }
            Some(Outcome::SetAside {
                key: k.clone(),
                to: key(to_path),
                path: to_path.clone(),
            })
        }
        Op::RenameClash {
            local: l, to_path, ..
        } => {
            if !local_matches(local, l) || local.entries.contains_key(to_path) {
                return None;
            }
            for old in local.subtree(&l.path) {
                let e = local.entries.remove(&old).unwrap();
                local
                    .entries
                    .insert(format!("{to_path}{}", &old[l.path.len()..]), e);
            }
            None // no bookkeeping: the next scan sees it under its new name
        }
    }
}

/// Split an agreed state into the two sides and their merge base: the local disk (case
/// sensitive), Dropbox (case insensitive; ids are the inode numbers + 1000, as unrelated
/// numbers) and the Synced tree that records both.
pub fn split_base(base: &Fs) -> (Fs, Fs, BTreeMap<String, SyncedNode>) {
    // The base is what both sides agreed on: same names, same content.
    let local = Fs {
        entries: base.entries.clone(),
        case_insensitive: false,
        next_ident: base.next_ident,
        discarded: vec![],
    };
    let mut remote = Fs {
        entries: base.entries.clone(),
        case_insensitive: true,
        next_ident: base.next_ident + 1000,
        discarded: vec![],
    };
    for e in remote.entries.values_mut() {
        e.ident += 1000; // ids and inodes are unrelated numbers
    }
    let synced = base
        .entries
        .iter()
        .map(|(p, e)| {
            let kind = if e.folder {
                SyncedKind::Folder
            } else {
                SyncedKind::File {
                    rev: format!("r{}-{}", e.ident + 1000, e.rev),
                    size: e.content.len() as u64,
                    hash: hash(&e.content),
                }
            };
            (
                key(p),
                SyncedNode {
                    path: p.clone(),
                    id: format!("id:{}", e.ident + 1000),
                    inode: e.ident,
                    kind,
                },
            )
        })
        .collect();
    (local, remote, synced)
}

/// Plan and execute, round after round, until the planner has nothing left; returns the
/// number of rounds. Each plan is shuffled (seeded by `seed`) and carried out against the
/// model disk and the model Dropbox from a snapshot of the trees it was planned on; after
/// each round both sides are observed afresh. Fails if the bookkeeping of a completed
/// operation differs from what the next scan observes, or after 200 rounds.
///
/// `PLANNER_TRACE` prints every plan.
pub fn converge(
    trees: &mut Trees,
    local: &mut Fs,
    remote: &mut Fs,
    settings: &Settings,
    seed: u64,
) -> Result<usize, String> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rounds = 0;
    let trace = std::env::var("PLANNER_TRACE").is_ok();
    loop {
        let p = plan(trees, settings);
        if trace {
            eprintln!("plan {:?}", p.ops);
        }
        if p.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > 200 {
            return Err(format!(
                "no convergence after 200 rounds; last plan {:?}",
                p.ops
            ));
        }
        let mut ops = p.ops.clone();
        ops.shuffle(&mut rng);
        let snapshot = trees.clone();
        let mut done = vec![];
        for op in &ops {
            if let Some(outcome) = execute(op, &snapshot, local, remote) {
                trees.apply(&outcome);
                done.push(outcome);
            }
        }
        // Bookkeeping must agree with what the observers see next.
        let (l_obs, clashes) = observe_local(local, &trees.synced);
        let r_obs = observe_remote(remote);
        for o in &done {
            if let Outcome::Uploaded { key: k, .. } | Outcome::Downloaded { key: k, .. } = o {
                if let (Some(a), Some(b)) = (trees.local.get(k), l_obs.get(k)) {
                    if a != b {
                        return Err(format!(
                            "local bookkeeping for {k}: recorded {a:?}, observed {b:?}"
                        ));
                    }
                }
                if let (Some(a), Some(b)) = (trees.remote.get(k), r_obs.get(k)) {
                    if a.id != b.id {
                        return Err(format!(
                            "remote id bookkeeping for {k}: recorded {:?}, observed {:?}",
                            a.id, b.id
                        ));
                    }
                    if a.hash() != b.hash() {
                        return Err(format!(
                            "remote content bookkeeping for {k}: recorded {:?}, observed {:?}",
                            a.hash(),
                            b.hash()
                        ));
                    }
                }
            }
        }
        trees.local = l_obs;
        trees.clashes = clashes;
        trees.remote = r_obs;
    }
    Ok(rounds)
}
