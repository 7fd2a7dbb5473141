//! CanopyCheck-style property test of the planner.
//!
//! A random base tree is perturbed twice — once as the local disk, once as Dropbox — so the
//! three trees are correlated the way real ones are (edits, deletes, creates, moves, renames,
//! case-only renames, kind changes on either side). Then, round after round, the plan is
//! shuffled and carried out by a model executor against a model disk and a model Dropbox,
//! with the same safety checks the real executor makes, until the planner has nothing left.
//!
//! Invariants: it terminates within 200 rounds; it never panics; local and remote converge
//! and the merge base agrees with them; no edited version is lost (every file content that
//! differed from the merge base on either side ends in the final tree, possibly as a
//! conflicted copy); a deletion made on one side of an untouched file is not undone; and the
//! bookkeeping of every completed operation matches what a fresh scan then observes.
//!
//! `PLANNER_CASES` sets the number of cases (default 10,000; 1,000,000 for a long run).

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, BTreeSet};
use sync_core::path::{is_within, key, name, parent};
use sync_core::{
    ContentHash, LocalKind, LocalNode, Op, Outcome, RemoteKind, RemoteNode, Settings, SyncedKind,
    SyncedNode, Trees, plan,
};

const NAMES: &[&str] = &["a", "b", "A", "c.txt", "C.TXT", "d", "e.md"];

#[derive(Clone, Debug)]
enum Action {
    CreateFile {
        parent: usize,
        name: usize,
        content: u8,
    },
    CreateFolder {
        parent: usize,
        name: usize,
    },
    Modify {
        node: usize,
        content: u8,
    },
    Delete {
        node: usize,
    },
    Move {
        node: usize,
        parent: usize,
        name: usize,
    },
    CaseRename {
        node: usize,
    },
    KindChange {
        node: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (any::<usize>(), 0..NAMES.len(), any::<u8>()).prop_map(|(parent, name, content)| Action::CreateFile { parent, name, content }),
        2 => (any::<usize>(), 0..NAMES.len()).prop_map(|(parent, name)| Action::CreateFolder { parent, name }),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(node, content)| Action::Modify { node, content }),
        2 => any::<usize>().prop_map(|node| Action::Delete { node }),
        2 => (any::<usize>(), any::<usize>(), 0..NAMES.len()).prop_map(|(node, parent, name)| Action::Move { node, parent, name }),
        1 => any::<usize>().prop_map(|node| Action::CaseRename { node }),
        1 => any::<usize>().prop_map(|node| Action::KindChange { node }),
    ]
}

/// A file system model: display path → entry. `case_insensitive` models Dropbox.
#[derive(Clone, Debug, Default)]
struct Fs {
    entries: BTreeMap<String, Entry>,
    case_insensitive: bool,
    next_ident: u64,
    /// Contents that left the tree by an explicit delete (trash or Dropbox history).
    discarded: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    folder: bool,
    content: Vec<u8>,
    /// Inode (local) or id number (remote).
    ident: u64,
    rev: u64,
}

impl Fs {
    fn ident(&mut self) -> u64 {
        self.next_ident += 1;
        self.next_ident
    }

    fn find(&self, path: &str) -> Option<String> {
        if self.entries.contains_key(path) {
            return Some(path.to_string());
        }
        if self.case_insensitive {
            let k = key(path);
            return self.entries.keys().find(|p| key(p) == k).cloned();
        }
        None
    }

    fn taken(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    fn folders(&self) -> Vec<String> {
        std::iter::once(String::new())
            .chain(
                self.entries
                    .iter()
                    .filter(|(_, e)| e.folder)
                    .map(|(p, _)| p.clone()),
            )
            .collect()
    }

    fn subtree(&self, root: &str) -> Vec<String> {
        self.entries
            .keys()
            .filter(|p| is_within(p, root))
            .cloned()
            .collect()
    }

    fn remove_tree(&mut self, root: &str, keep: bool) {
        for p in self.subtree(root) {
            if let Some(e) = self.entries.remove(&p) {
                if keep && !e.folder {
                    self.discarded.push(e.content);
                }
            }
        }
    }

    fn mkdirs(&mut self, path: &str) -> bool {
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
    fn resolve(&self, path: &str) -> String {
        let p = parent(path);
        if p.is_empty() {
            return path.to_string();
        }
        let pp = self.find(p).unwrap_or_else(|| self.resolve(p));
        format!("{pp}/{}", name(path))
    }

    fn perturb(&mut self, a: &Action) {
        let nodes: Vec<String> = self.entries.keys().cloned().collect();
        let folders = self.folders();
        let pick = |i: usize| nodes.get(i % nodes.len().max(1)).cloned();
        match *a {
            Action::CreateFile {
                parent: pi,
                name: ni,
                content,
            } => {
                let path = format!("{}/{}", folders[pi % folders.len()], NAMES[ni]);
                if !self.taken(&path) {
                    let ident = self.ident();
                    self.entries.insert(
                        path,
                        Entry {
                            folder: false,
                            content: vec![content],
                            ident,
                            rev: 1,
                        },
                    );
                }
            }
            Action::CreateFolder {
                parent: pi,
                name: ni,
            } => {
                let path = format!("{}/{}", folders[pi % folders.len()], NAMES[ni]);
                if !self.taken(&path) {
                    let ident = self.ident();
                    self.entries.insert(
                        path,
                        Entry {
                            folder: true,
                            content: vec![],
                            ident,
                            rev: 0,
                        },
                    );
                }
            }
            Action::Modify { node, content } => {
                if let Some(p) = pick(node) {
                    let e = self.entries.get_mut(&p).unwrap();
                    if !e.folder {
                        e.content = vec![
                            content,
                            e.content.first().copied().unwrap_or(0).wrapping_add(1),
                        ];
                        e.rev += 1;
                    }
                }
            }
            Action::Delete { node } => {
                if let Some(p) = pick(node) {
                    self.remove_tree(&p, true);
                }
            }
            Action::Move {
                node,
                parent: pi,
                name: ni,
            } => {
                let Some(p) = pick(node) else { return };
                let to = format!("{}/{}", folders[pi % folders.len()], NAMES[ni]);
                if is_within(&to, &p) || self.taken(&to) {
                    return;
                }
                for old in self.subtree(&p) {
                    let e = self.entries.remove(&old).unwrap();
                    self.entries.insert(format!("{to}{}", &old[p.len()..]), e);
                }
            }
            Action::CaseRename { node } => {
                let Some(p) = pick(node) else { return };
                let n = name(&p);
                let flipped: String = n
                    .chars()
                    .map(|c| {
                        if c.is_lowercase() {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect();
                let to = format!("{}/{flipped}", parent(&p));
                if to == p || (!self.case_insensitive && self.entries.contains_key(&to)) {
                    return;
                }
                for old in self.subtree(&p) {
                    let e = self.entries.remove(&old).unwrap();
                    self.entries.insert(format!("{to}{}", &old[p.len()..]), e);
                }
            }
            Action::KindChange { node } => {
                let Some(p) = pick(node) else { return };
                let was_folder = self.entries[&p].folder;
                self.remove_tree(&p, true);
                let ident = self.ident();
                self.entries.insert(
                    p,
                    Entry {
                        folder: !was_folder,
                        content: if was_folder { vec![7] } else { vec![] },
                        ident,
                        rev: 1,
                    },
                );
            }
        }
    }
}

fn hash(c: &[u8]) -> ContentHash {
    ContentHash::of(c)
}

fn observe_local(
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

fn observe_remote(fs: &Fs) -> BTreeMap<String, RemoteNode> {
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

fn local_matches(fs: &Fs, n: &LocalNode) -> bool {
    fs.entries.get(&n.path).is_some_and(|e| {
        e.ident == n.inode
            && e.folder == n.is_folder()
            && (e.folder || Some(hash(&e.content)) == n.hash())
    })
}

fn remote_matches(fs: &Fs, n: &RemoteNode) -> bool {
    fs.find(&n.path)
        .and_then(|p| fs.entries.get(&p))
        .is_some_and(|e| {
            format!("id:{}", e.ident) == n.id
                && e.folder == n.is_folder()
                && (e.folder || Some(format!("r{}-{}", e.ident, e.rev).as_str()) == n.rev())
        })
}

/// The local display path for a key: existing ancestors as spelled on disk.
fn local_path_for(fs: &Fs, trees: &Trees, remote_path: &str) -> String {
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
fn execute(op: &Op, trees: &Trees, local: &mut Fs, remote: &mut Fs) -> Option<Outcome> {
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

fn base_world(actions: &[Action]) -> (Fs, Fs, BTreeMap<String, SyncedNode>) {
    let mut base = Fs {
        case_insensitive: true,
        ..Fs::default()
    };
    for a in actions {
        base.perturb(a);
    }
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

fn run_case(
    base: Vec<Action>,
    local_actions: Vec<Action>,
    remote_actions: Vec<Action>,
    seed: u64,
) -> Result<(), TestCaseError> {
    let (mut local, mut remote, synced) = base_world(&base);
    let base_content: BTreeMap<String, Vec<u8>> = synced
        .keys()
        .filter_map(|k| {
            local
                .entries
                .iter()
                .find(|(p, _)| &key(p) == k)
                .filter(|(_, e)| !e.folder)
                .map(|(_, e)| (k.clone(), e.content.clone()))
        })
        .collect();
    for a in &local_actions {
        local.perturb(a);
    }
    for a in &remote_actions {
        remote.perturb(a);
    }
    // Versions written after the merge base (on either side): the edits that must survive.
    // (A base version may move with a rename; it is not an edit.)
    let base_versions: BTreeSet<&Vec<u8>> = base_content.values().collect();
    let mut edits: BTreeSet<Vec<u8>> = BTreeSet::new();
    for fs in [&local, &remote] {
        for e in fs.entries.values() {
            if !e.folder && !base_versions.contains(&e.content) {
                edits.insert(e.content.clone());
            }
        }
    }
    // One-sided deletes of untouched files: deleted on one side, identical to base on the other.
    let mut one_sided_deletes = vec![];
    for (k, c) in &base_content {
        let lf = local
            .entries
            .iter()
            .find(|(p, _)| &key(p) == k)
            .map(|(_, e)| e.clone());
        let rf = remote.find(k).map(|p| remote.entries[&p].clone());
        let untouched_moves = local
            .entries
            .values()
            .all(|e| lf.as_ref().is_none_or(|x| x.ident != e.ident) || lf.is_some());
        match (lf, rf) {
            (None, Some(r)) if &r.content == c && !r.folder && untouched_moves => {
                one_sided_deletes.push(k.clone())
            }
            (Some(l), None) if &l.content == c && !l.folder => one_sided_deletes.push(k.clone()),
            _ => {}
        }
    }

    let settings = Settings {
        host: "sim".into(),
        date: "2026-11-27".into(),
        excluded: vec![],
    };
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut trees = Trees {
        synced,
        ..Trees::default()
    };
    let (l, c) = observe_local(&local, &trees.synced);
    trees.local = l;
    trees.clashes = c;
    trees.remote = observe_remote(&remote);
    let mut rounds = 0;
    let trace = std::env::var("PLANNER_TRACE").is_ok();
    if trace {
        eprintln!(
            "---- case\nlocal  {:?}\nremote {:?}\nsynced {:?}",
            local.entries,
            remote.entries,
            trees
                .synced
                .values()
                .map(|s| (&s.path, s.inode, &s.id))
                .collect::<Vec<_>>()
        );
    }
    loop {
        let p = plan(&trees, &settings);
        if trace {
            eprintln!("plan {:?}", p.ops);
        }
        if p.is_empty() {
            break;
        }
        rounds += 1;
        prop_assert!(
            rounds <= 200,
            "no convergence after 200 rounds; last plan {:?}",
            p.ops
        );
        let mut ops = p.ops.clone();
        ops.shuffle(&mut rng);
        let snapshot = trees.clone();
        let mut done = vec![];
        for op in &ops {
            if let Some(outcome) = execute(op, &snapshot, &mut local, &mut remote) {
                trees.apply(&outcome);
                done.push(outcome);
            }
        }
        // Bookkeeping must agree with what the observers see next.
        let (l_obs, clashes) = observe_local(&local, &trees.synced);
        let r_obs = observe_remote(&remote);
        for o in &done {
            if let Outcome::Uploaded { key: k, .. } | Outcome::Downloaded { key: k, .. } = o {
                if let (Some(a), Some(b)) = (trees.local.get(k), l_obs.get(k)) {
                    prop_assert_eq!(a, b, "local bookkeeping for {}", k);
                }
                if let (Some(a), Some(b)) = (trees.remote.get(k), r_obs.get(k)) {
                    prop_assert_eq!(&a.id, &b.id, "remote id bookkeeping for {}", k);
                    prop_assert_eq!(a.hash(), b.hash(), "remote content bookkeeping for {}", k);
                }
            }
        }
        trees.local = l_obs;
        trees.clashes = clashes;
        trees.remote = r_obs;
    }
    // Converged.
    prop_assert!(
        trees.clashes.is_empty(),
        "clashes left: {:?}",
        trees.clashes
    );
    prop_assert!(
        trees.converged(),
        "not converged:\nlocal {:?}\nremote {:?}\nsynced {:?}",
        trees.local,
        trees.remote,
        trees.synced
    );
    let final_contents: BTreeSet<Vec<u8>> = local
        .entries
        .values()
        .filter(|e| !e.folder)
        .map(|e| e.content.clone())
        .collect();
    for v in &edits {
        prop_assert!(
            final_contents.contains(v),
            "edited version {:?} was lost; final local {:?}",
            v,
            local.entries
        );
    }
    for k in &one_sided_deletes {
        let back = local.entries.keys().any(|p| &key(p) == k);
        let content_back = base_content.get(k).is_some_and(|c| {
            local
                .entries
                .iter()
                .any(|(p, e)| &key(p) == k && &e.content == c)
        });
        prop_assert!(
            !(back && content_back),
            "a one-sided delete of {} was undone",
            k
        );
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PLANNER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn planner_converges_without_losing_versions(
        base in proptest::collection::vec(action(), 0..14),
        local_actions in proptest::collection::vec(action(), 0..6),
        remote_actions in proptest::collection::vec(action(), 0..6),
        seed in any::<u64>(),
    ) {
        run_case(base, local_actions, remote_actions, seed)?;
    }
}
