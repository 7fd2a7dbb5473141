//! Paths against paths: the outermost of a burst of scopes, a set of folders to test paths
//! against, and local names that clash on Dropbox.

use super::Found;
use std::collections::HashSet;
use sync_core::LocalNode;
use sync_core::path::is_within;

/// The scopes that are not inside another one, each once: a folder and a file in it (a
/// burst of file events) must not walk the file twice, or it would clash with itself.
///
/// Sorted component by component, a folder comes right before everything inside it (plain
/// string order would put "/a b" between "/a" and "/a/x"), so one look at the last scope kept
/// is enough: O(n log n) for a burst of n paths.
pub(super) fn outermost(scopes: &[String]) -> Vec<String> {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable_by(|a, b| a.split('/').cmp(b.split('/')));
    sorted.dedup();
    let mut out: Vec<String> = Vec::with_capacity(sorted.len());
    for s in sorted {
        if out.last().is_some_and(|o| is_within(s, o)) {
            continue;
        }
        out.push(s.to_string());
    }
    out
}

/// Folders (or files) to test paths against: is a path one of them or inside one? One
/// hash lookup per component of the path, so that n known paths are matched against the n
/// paths of a burst in O(n × depth), not n².
pub(crate) struct PathSet<'a> {
    all: bool,
    set: HashSet<&'a str>,
}

impl<'a> PathSet<'a> {
    pub(crate) fn new<S: AsRef<str>>(paths: &'a [S]) -> Self {
        PathSet {
            all: paths.iter().any(|p| p.as_ref().is_empty()),
            set: paths.iter().map(AsRef::as_ref).collect(),
        }
    }

    /// `path` is within one of the set (as [`is_within`] says).
    pub(crate) fn holds(&self, path: &str) -> bool {
        if self.all {
            return true;
        }
        if self.set.is_empty() {
            return false;
        }
        path.match_indices('/')
            .map(|(i, _)| &path[..i])
            .filter(|a| !a.is_empty())
            .chain(std::iter::once(path))
            .any(|a| self.set.contains(a))
    }
}

/// Split found nodes into those that own their key and those that clash with another local
/// name that maps to the same Dropbox path. `owner_hint(key)` names the path that should keep
/// a key (the one already synced, else the one already indexed); `exists(path)` tells
/// whether an indexed path is still on disk. The owners come back sorted by key, the clashes by path.
///
/// A first sync hands in every node of the folder, so this works in place: an unstable sort
/// (no scratch buffer of half the list), a byte per node for its fate, and the owners are moved
/// to the front of the list and the others split off (no second list of the same length).
pub fn resolve_clashes(
    found: Vec<Found>,
    owner_hint: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&str) -> bool,
) -> (Vec<Found>, Vec<LocalNode>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Fate {
        Owner,
        Clash,
        /// The same entry seen twice is one file, never a clash with itself.
        Again,
    }
    let mut found = found;
    found.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let mut fates = vec![Fate::Owner; found.len()];
    let mut start = 0;
    while start < found.len() {
        let k = &found[start].key;
        let end = start + found[start..].partition_point(|f| &f.key == k);
        let group = start..end;
        start = end;
        let hint = owner_hint(k);
        if group.len() == 1 && hint.as_ref().is_none_or(|h| *h == found[group.start].node.path) {
            continue;
        }
        // The indexed owner of this key is still on disk under another name: every new one clashes.
        if let Some(h) = &hint {
            if !found[group.clone()].iter().any(|f| &f.node.path == h) && exists(h) {
                fates[group].fill(Fate::Clash);
                continue;
            }
        }
        // The hinted path first, then by path: the first owns the key.
        let mut order: Vec<usize> = group.collect();
        let path = |i: usize| found[i].node.path.as_str();
        order.sort_by(|&a, &b| {
            let ah = hint.as_deref() == Some(path(a));
            let bh = hint.as_deref() == Some(path(b));
            bh.cmp(&ah).then_with(|| path(a).cmp(path(b)))
        });
        fates[order[0]] = Fate::Owner;
        for w in order.windows(2) {
            fates[w[1]] = if path(w[1]) == path(w[0]) {
                Fate::Again
            } else {
                Fate::Clash
            };
        }
    }
    // The owners to the front, in order, each swapped with the first node that is not one.
    let mut owners = 0;
    for i in 0..found.len() {
        if fates[i] == Fate::Owner {
            found.swap(owners, i);
            fates.swap(owners, i);
            owners += 1;
        }
    }
    let others = found.split_off(owners);
    let mut clashes: Vec<LocalNode> = others
        .into_iter()
        .zip(&fates[owners..])
        .filter(|(_, f)| **f == Fate::Clash)
        .map(|(f, _)| f.node)
        .collect();
    // In path order, whatever else was found (the swaps above depend on it): the renames
    // made of them are numbered in this order.
    clashes.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    (found, clashes)
}
