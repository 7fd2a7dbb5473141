//! A pair's state as the index keeps it: what is synced and what waits, its issues and
//! history; and the changes front ends make to it — new selective-sync rules, a full
//! rescan, the excluded folders' local copies freed, the index's trees rebuilt.

use super::PairHandle;
use crate::index::{HistoryEntry, Issue};
use crate::pair::SyncError;
use crate::selective::Freed;

/// A pair's counts and issues, for its status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairSummary {
    /// Synced files.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Paths waiting to be looked at.
    pub pending: u64,
    /// Unresolved conflicts.
    pub conflicts: u64,
    /// Per-file problems.
    pub issues: Vec<Issue>,
}

impl PairHandle {
    /// The pair's ignore patterns (its `.nuvosyncignore`), read through the checked file
    /// layer: a link there is not followed (what it points to is not the pair's to show).
    /// Empty when there is none or it cannot be read.
    pub fn ignore_patterns(&self) -> String {
        // Only looked at: opened for this read (nothing is made in the folder), not kept.
        let p = &self.pair;
        let Ok(files) = crate::localfs::Root::open(p.tuning.fs.clone(), p.root()) else {
            return String::new();
        };
        let mut text = String::new();
        if let Ok(mut f) = files.open_read(&format!("/{}", crate::rules::IGNORE_FILE)) {
            use std::io::Read;
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Replace the pair's ignore patterns: the text goes into a new file in the pair's state
    /// folder, made durable, and is renamed over `.nuvosyncignore` — no partial file is ever
    /// there, and a link in its place is replaced, never written through. The patterns take
    /// effect with the next [`PairHandle::reload_rules`].
    pub fn set_ignore_patterns(&self, text: &str) -> Result<(), SyncError> {
        let io = |source| SyncError::Io {
            what: format!("writing {}", crate::rules::IGNORE_FILE),
            source,
        };
        let files = self.pair.files()?;
        let mut temp = files.temp_file().map_err(io)?;
        let written = {
            use std::io::Write;
            temp.file.write_all(text.as_bytes())
        }
        .and_then(|()| files.place_temp(&temp, &format!("/{}", crate::rules::IGNORE_FILE), true));
        if let Err(e) = written {
            files.remove_temp(temp);
            return Err(io(e));
        }
        Ok(())
    }

    /// The pair's counts and issues (what cannot be read counts as none).
    pub fn summary(&self) -> PairSummary {
        // Read beside a running round, never waiting for it (see `Pair::with_reader`).
        self.pair.with_reader(|ix| {
            let (files, bytes) = ix.synced_totals().unwrap_or((0, 0));
            PairSummary {
                files,
                bytes,
                pending: ix.count("dirty").unwrap_or(0),
                conflicts: ix.conflicts(false).map(|c| c.len() as u64).unwrap_or(0),
                issues: ix.issues().unwrap_or_default(),
            }
        })
    }

    /// The pair's history, newest first, at most `limit` entries; with `search`, only the
    /// entries whose path contains it.
    pub fn history(
        &self,
        limit: usize,
        search: Option<&str>,
    ) -> Result<Vec<HistoryEntry>, SyncError> {
        Ok(self.pair.with_reader(|ix| ix.history(limit, search))?)
    }

    /// Apply the ignore file and these excluded folders (display paths) from now on.
    pub fn reload_rules(&self, excluded: &[String]) {
        self.pair.reload_rules(excluded);
    }

    /// Look at every path again in the next round (after the rules changed, so that what
    /// they no longer skip is synced).
    pub fn mark_all_dirty(&self) -> Result<(), SyncError> {
        Ok(self.pair.with_index(|ix| ix.mark_all_dirty())?)
    }

    /// Move the local copy of the excluded folder `rel` to the trash, file by file, keeping
    /// what is not the synced version. Not while the pair runs.
    pub fn free_excluded(&self, rel: &str) -> Result<Freed, SyncError> {
        self.pair.free_excluded(rel)
    }

    /// Whether the pair's Dropbox is still the account it was synced with (an error says
    /// why not).
    pub async fn check_account(&self) -> Result<(), SyncError> {
        self.pair.check_account().await
    }

    /// Forget the three trees (the next sync compares both sides afresh, as a first sync
    /// does); the pair is then to be opened afresh. Not while the pair runs.
    pub fn reset_trees(&self) -> Result<(), SyncError> {
        Ok(self.pair.with_index(|ix| ix.reset_trees())?)
    }
}
