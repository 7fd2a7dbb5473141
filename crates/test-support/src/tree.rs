//! Local trees: writing a file at a relative path, and reading back what a folder holds
//! (outside the pair's own `.nuvosync` folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use sync_core::ContentHash;

/// Write `data` at `rel` (`/a/b.txt`) under `root`, creating the folders on the way.
pub fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// One entry found under a folder.
pub struct Entry {
    /// Its path relative to the folder walked, with a leading `/`.
    pub rel: String,
    /// Its full path.
    pub path: PathBuf,
    /// Its type (not followed through a symlink).
    pub file_type: std::fs::FileType,
}

/// What to do with a folder that cannot be listed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unlistable {
    /// Fail the test.
    Panic,
    /// Go on without what it holds.
    PassOver,
}

/// Every entry under `root`, depth first, folders before what they hold; folders for which
/// `prune(rel)` holds are neither listed nor entered.
pub fn walk(root: &Path, unlistable: Unlistable, prune: impl Fn(&str) -> bool) -> Vec<Entry> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if unlistable == Unlistable::Panic => panic!("{}: {e}", d.display()),
            Err(_) => continue,
        };
        for e in rd.flatten() {
            let path = e.path();
            let rel = format!("/{}", path.strip_prefix(root).unwrap().to_string_lossy());
            if prune(&rel) {
                continue;
            }
            let file_type = e.file_type().unwrap();
            if file_type.is_dir() {
                stack.push(path.clone());
            }
            out.push(Entry {
                rel,
                path,
                file_type,
            });
        }
    }
    out
}

/// Whether `rel` is the pair's own folder or in it.
pub fn is_own(rel: &str) -> bool {
    rel == "/.nuvosync" || rel.starts_with("/.nuvosync/")
}

/// Every file under `root` whose path does not start with `/.nuvosync`: path → content. A
/// folder that cannot be listed is passed over.
pub fn local_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(root, Unlistable::PassOver, |rel| {
        rel.starts_with("/.nuvosync")
    })
    .into_iter()
    .filter(|e| !e.file_type.is_dir())
    .map(|e| (e.rel, std::fs::read(&e.path).unwrap()))
    .collect()
}

/// Every file and folder under `root` outside `.nuvosync`: path → content hash (folders:
/// None).
pub fn local_tree(root: &Path) -> BTreeMap<String, Option<ContentHash>> {
    walk(root, Unlistable::Panic, is_own)
        .into_iter()
        .filter_map(|e| {
            if e.file_type.is_dir() {
                Some((e.rel, None))
            } else if e.file_type.is_file() {
                let hash = ContentHash::of(&std::fs::read(&e.path).unwrap());
                Some((e.rel, Some(hash)))
            } else {
                None
            }
        })
        .collect()
}

/// Copy the tree `from` to `to` (created).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}
