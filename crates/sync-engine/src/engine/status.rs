//! A file's sync status as the index sees it: up to date, waiting, in conflict, with an
//! issue, or not synced at all.

use super::PairHandle;

/// Where a file stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileState {
    /// The same version here, on Dropbox and as last synced.
    UpToDate,
    /// Not synced: nuvosync's own folder, an ignore pattern, an excluded folder or a name
    /// Dropbox does not take.
    Ignored,
    /// An issue holds it (the message says which).
    Error,
    /// Changed on both sides; both versions were kept.
    Conflict,
    /// Neither on disk nor synced.
    Missing,
    /// Something is still to be done.
    Pending,
}

/// A file's state and what to tell about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStatus {
    /// The state.
    pub state: FileState,
    /// Why, for the states that need a word.
    pub message: Option<String>,
}

impl FileStatus {
    fn new(state: FileState, message: Option<&str>) -> FileStatus {
        FileStatus {
            state,
            message: message.map(str::to_string),
        }
    }
}

impl PairHandle {
    /// The status of the entry at `rel`, a display path relative to the pair's folder (`/`
    /// for the folder itself). Transfers under way are the front end's to report: it hears
    /// of them as events.
    pub fn file_status(&self, rel: &str) -> FileStatus {
        let p = &self.pair;
        if rel == "/" || rel.is_empty() {
            return FileStatus::new(FileState::UpToDate, None);
        }
        if p.rules().skips_path(rel) {
            return FileStatus::new(
                FileState::Ignored,
                Some(
                    "not synced (nuvosync's own folder, an ignore pattern, an excluded folder or a name Dropbox does not take)",
                ),
            );
        }
        let key = sync_core::path::key(rel);
        p.with_reader(|ix| {
            if let Some(i) = ix
                .issues()
                .unwrap_or_default()
                .into_iter()
                .find(|i| i.path == rel)
            {
                return FileStatus {
                    state: FileState::Error,
                    message: Some(i.message),
                };
            }
            if ix
                .conflicts(false)
                .unwrap_or_default()
                .iter()
                .any(|c| c.copy_path == rel || c.path == rel)
            {
                return FileStatus::new(
                    FileState::Conflict,
                    Some(
                        "changed on both sides; both versions were kept — see `nuvosync conflicts`",
                    ),
                );
            }
            let (l, r, s) = (
                ix.local(&key).ok().flatten(),
                ix.remote(&key).ok().flatten(),
                ix.synced(&key).ok().flatten(),
            );
            let dirty = ix.dirty().unwrap_or_default().contains(&key);
            let on_disk = crate::localfs::abs(p.root(), rel).is_ok_and(|abs| abs.exists());
            match (l, r, s) {
                (Some(l), Some(r), Some(s))
                    if !dirty && l.hash() == s.hash() && r.hash() == s.hash() =>
                {
                    FileStatus::new(FileState::UpToDate, None)
                }
                _ if !on_disk => FileStatus::new(FileState::Missing, Some("no such file")),
                _ => FileStatus::new(FileState::Pending, None),
            }
        })
    }
}
