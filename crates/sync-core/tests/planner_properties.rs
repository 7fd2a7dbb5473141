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

mod model;

use model::{Entry, Fs, converge, observe_local, observe_remote, split_base};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use sync_core::path::{is_within, key, name, parent};
use sync_core::{Settings, SyncedNode, Trees};

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

/// Random perturbations of a model file system (see `Action`).
impl Fs {
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

fn base_world(actions: &[Action]) -> (Fs, Fs, BTreeMap<String, SyncedNode>) {
    let mut base = Fs {
        case_insensitive: true,
        ..Fs::default()
    };
    for a in actions {
        base.perturb(a);
    }
    split_base(&base)
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
    let mut trees = Trees {
        synced,
        ..Trees::default()
    };
    let (l, c) = observe_local(&local, &trees.synced);
    trees.local = l;
    trees.clashes = c;
    trees.remote = observe_remote(&remote);
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
    converge(&mut trees, &mut local, &mut remote, &settings, seed).map_err(TestCaseError::fail)?;
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
