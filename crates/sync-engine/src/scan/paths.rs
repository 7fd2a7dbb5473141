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
/// whether an indexed path is still on disk.
pub fn resolve_clashes(
    found: Vec<Found>,
    owner_hint: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&str) -> bool,
) -> (Vec<Found>, Vec<LocalNode>) {
    // Grouped by key after a sort (a map of small vectors costs ~450 bytes a file).
    let mut found = found;
    found.sort_by(|a, b| a.key.cmp(&b.key));
    let mut owners = Vec::with_capacity(found.len());
    let mut clashes = Vec::new();
    let mut rest = found.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|n| n.key == group[0].key) {
            group.push(next);
        }
        let k = group[0].key.clone();
        let hint = owner_hint(&k);
        // The indexed owner of this key is still on disk under another name: every new one clashes.
        if let Some(h) = &hint {
            if !group.iter().any(|f| &f.node.path == h) && exists(h) {
                clashes.extend(group.into_iter().map(|f| f.node));
                continue;
            }
        }
        group.sort_by(|a, b| {
            let ah = hint.as_deref() == Some(a.node.path.as_str());
            let bh = hint.as_deref() == Some(b.node.path.as_str());
            bh.cmp(&ah).then_with(|| a.node.path.cmp(&b.node.path))
        });
        // The same entry seen twice is one file, never a clash with itself.
        group.dedup_by(|a, b| a.node.path == b.node.path);
        let mut it = group.into_iter();
        if let Some(first) = it.next() {
            owners.push(first);
        }
        clashes.extend(it.map(|f| f.node));
    }
    owners.sort_by(|a, b| a.key.cmp(&b.key));
    (owners, clashes)
}
