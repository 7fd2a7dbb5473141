//! What is never synced: nuvosync's own folder, names Dropbox refuses, temporary files of
//! editors and office suites, the patterns of `.nuvosyncignore` (gitignore syntax, matched
//! case-insensitively, at the pair's root), the folders excluded by selective sync, and
//! nuvosync's private folders (its state, configuration and logs) when they are inside the
//! pair's folder — found by real path ([`private_keys`]), so a pair of `$HOME` or a
//! `--state-dir` inside the pair never uploads nuvosync's own index, tokens or logs.
//!
//! The same rules apply to both sides: a remote file that matches is never downloaded, so it
//! can never look "deleted locally".
//!
//! Of these, only the names Dropbox refuses (`desktop.ini`, `thumbs.db`, ...) are shown to
//! the user — as "not synced", not as an error ([`Rules::refused_name_only`]); the rest are
//! skipped quietly because the user or the application asked for it.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::path::Path;
use sync_core::Key;
use sync_core::path::{is_disallowed_name, is_temporary, is_within, key};

/// The ignore file at the pair's root.
pub const IGNORE_FILE: &str = ".nuvosyncignore";
/// nuvosync's own folder at the pair's root (marker, temp files); never synced.
pub const STATE_DIR: &str = ".nuvosync";

/// The rules of one pair.
#[derive(Clone, Debug)]
pub struct Rules {
    excluded: Vec<Key>,
    patterns: Option<Gitignore>,
    /// nuvosync's private folders inside the pair's folder (state, configuration, logs).
    private: Vec<Key>,
    /// Local copies of documents Dropbox can only export (`crate::export`): never synced.
    exported: Vec<Key>,
}

impl Rules {
    /// Rules with these excluded folders (relative display paths) and no ignore file.
    pub fn new(excluded: &[String]) -> Self {
        Rules {
            excluded: excluded.iter().map(|e| key(&normalize(e))).collect(),
            patterns: None,
            private: vec![],
            exported: vec![],
        }
    }

    /// These rules, and never sync these folders (keys; see [`private_keys`]) either.
    pub fn with_private(mut self, private: &[Key]) -> Self {
        self.private = private.to_vec();
        self
    }

    /// These rules, and never sync these files (keys of exported copies) either.
    pub fn with_exported(mut self, exported: &[Key]) -> Self {
        self.exported = exported.to_vec();
        self
    }

    /// The keys of the exported copies.
    pub fn exported(&self) -> &[Key] {
        &self.exported
    }

    /// nuvosync's private folders inside the pair's folder (keys).
    pub fn private(&self) -> &[Key] {
        &self.private
    }

    /// Rules with the `.nuvosyncignore` at `root` (if any). A malformed line is reported.
    pub fn load(root: &Path, excluded: &[String]) -> (Self, Vec<String>) {
        let mut rules = Rules::new(excluded);
        let mut problems = vec![];
        let file = root.join(IGNORE_FILE);
        if file.exists() {
            let mut b = GitignoreBuilder::new(root);
            b.case_insensitive(true).ok();
            if let Some(e) = b.add(&file) {
                problems.push(format!("{IGNORE_FILE}: {e}"));
            }
            match b.build() {
                Ok(g) => rules.patterns = Some(g),
                Err(e) => problems.push(format!("{IGNORE_FILE}: {e}")),
            }
        }
        (rules, problems)
    }

    /// Excluded folder keys.
    pub fn excluded(&self) -> &[Key] {
        &self.excluded
    }

    /// A name never synced, wherever it is.
    pub fn ignores_name(&self, name: &str) -> bool {
        is_temporary(name) || is_disallowed_name(name) || name == IGNORE_FILE
    }

    /// A relative display path (`/a/b`) that is not synced, with everything below it.
    pub fn skips_path(&self, rel: &str) -> bool {
        self.skips(rel, true)
    }

    /// A path skipped for one reason only: its own name is one Dropbox refuses (desktop.ini
    /// & co) — the scanner reports it as not synced instead of passing over it in silence.
    pub fn refused_name_only(&self, rel: &str) -> bool {
        let name = sync_core::path::name(rel);
        is_disallowed_name(name)
            && !self.skips(rel, false)
            && !self.skips(sync_core::path::parent(rel), true)
    }

    fn skips(&self, rel: &str, refused_names: bool) -> bool {
        if rel.is_empty() {
            return false;
        }
        if rel
            .strip_prefix('/')
            .is_some_and(|r| is_within(r, STATE_DIR))
        {
            return true;
        }
        if !self.exported.is_empty() && self.exported.contains(&key(rel)) {
            return true;
        }
        if !self.excluded.is_empty() || !self.private.is_empty() {
            let k = key(rel);
            if self
                .excluded
                .iter()
                .chain(&self.private)
                .any(|e| is_within(&k, e))
            {
                return true;
            }
        }
        let ignored = |c: &str| {
            is_temporary(c) || c == IGNORE_FILE || (refused_names && is_disallowed_name(c))
        };
        if rel.split('/').any(|c| !c.is_empty() && ignored(c)) {
            return true;
        }
        match &self.patterns {
            Some(g) => {
                g.matched_path_or_any_parents(rel.trim_start_matches('/'), false)
                    .is_ignore()
                    || g.matched_path_or_any_parents(rel.trim_start_matches('/'), true)
                        .is_ignore()
            }
            None => false,
        }
    }
}

/// The keys, relative to the pair's folder `root`, of those of `dirs` that are inside it —
/// compared by real path (links and `..` resolved), so another spelling of the same folder is
/// found too. A folder that does not exist yet is placed by its nearest existing parent.
pub fn private_keys(root: &Path, dirs: &[std::path::PathBuf]) -> Vec<Key> {
    let root = real_path(root);
    let mut out: Vec<Key> = dirs
        .iter()
        .filter_map(|d| {
            let rel = real_path(d).strip_prefix(&root).ok()?.to_path_buf();
            let rel = rel.to_str()?;
            (!rel.is_empty()).then(|| key(&format!("/{rel}")))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `path` with links and `..` resolved, as far as it exists; the rest appended as it is.
pub fn real_path(path: &Path) -> std::path::PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut rest = vec![];
    let mut at = abs.as_path();
    loop {
        if let Ok(r) = at.canonicalize() {
            return rest.iter().rev().fold(r, |p, c| p.join(c));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return abs,
        }
    }
}

fn normalize(p: &str) -> String {
    let t = p.trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_folder_temp_files_and_exclusions_are_skipped() {
        let r = Rules::new(&["Big Data/".into()]);
        assert!(r.skips_path("/.nuvosync/marker"));
        assert!(r.skips_path("/big data/x.bin"));
        assert!(!r.skips_path("/big"));
        assert!(r.skips_path("/docs/~$report.docx"));
        assert!(r.skips_path("/docs/Thumbs.db"));
        assert!(!r.skips_path("/docs/report.docx"));
    }

    #[test]
    fn refused_names_are_told_apart_from_ignored_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "private/\n").unwrap();
        let (r, _) = Rules::load(dir.path(), &["excluded".into()]);
        assert!(r.skips_path("/docs/Desktop.ini"));
        assert!(r.refused_name_only("/docs/Desktop.ini"));
        assert!(r.refused_name_only("/Thumbs.db"));
        // Skipped anyway, for another reason: quiet.
        assert!(!r.refused_name_only("/private/desktop.ini"));
        assert!(!r.refused_name_only("/excluded/desktop.ini"));
        assert!(!r.refused_name_only("/~$x/desktop.ini"));
        assert!(!r.refused_name_only("/docs/report.docx"));
    }

    #[test]
    fn private_folders_inside_the_pair_are_found_by_real_path() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        std::fs::create_dir_all(home.join(".local/state/nuvosync")).unwrap();
        // The pair's folder reached through a link: still the same folder.
        std::os::unix::fs::symlink(&home, d.path().join("link")).unwrap();
        let keys = private_keys(
            &d.path().join("link"),
            &[
                home.join(".local/state/nuvosync"),
                home.join(".config/nuvosync"), // not made yet
                d.path().join("elsewhere"),
                home.clone(),
            ],
        );
        assert_eq!(keys, ["/.config/nuvosync", "/.local/state/nuvosync"]);
        let r = Rules::new(&[]).with_private(&keys);
        assert!(r.skips_path("/.local/state/nuvosync/pairs/home.db"));
        assert!(r.skips_path("/.Config/NuvoSync"));
        assert!(!r.skips_path("/.local/state/other"));
    }

    #[test]
    fn ignore_file_patterns_match_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "*.log\nbuild/\n").unwrap();
        let (r, problems) = Rules::load(dir.path(), &[]);
        assert!(problems.is_empty());
        assert!(r.skips_path("/run.LOG"));
        assert!(r.skips_path("/src/build/out.o"));
        assert!(!r.skips_path("/src/main.rs"));
    }
}
