//! Why a pair stops or waits for the user, and what a run did.

use crate::index::{IndexError, Issue};
use crate::scan::ScanError;
use nuvosync_dropbox::Error as DbxError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// Why sync stopped and waits for the user.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// The local folder is missing (unmounted?).
    MissingRoot {
        /// The folder.
        path: PathBuf,
    },
    /// A plan would delete much of one side.
    MassDelete {
        /// `local` or `remote`.
        side: String,
        /// Files that would be deleted.
        count: u64,
        /// Files there now.
        total: u64,
    },
    /// The folder holds an older state than nuvosync last synced: a snapshot was restored.
    RestoreDetected {
        /// Marker generation found, if any.
        found: Option<u64>,
        /// Generation expected.
        expected: u64,
    },
    /// Dropbox lists nothing where the index knows files.
    EmptyRemote {
        /// Files the index knows.
        known: u64,
    },
    /// nuvosync's state folder in the pair's folder (or what it keeps there) is a symbolic
    /// link, not a folder, or another user's: nothing is written through it.
    UnsafeStateFolder {
        /// The entry at fault.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The folder was synced before (its marker says so) but its index is gone: without it
    /// a restored snapshot cannot be told from the current state.
    IndexMissing {
        /// The marker's generation.
        found: u64,
    },
    /// The index was built with another Dropbox account than the one linked now.
    AccountChanged {
        /// The account the pair was synced with (its email, or id).
        synced_with: String,
        /// The account linked now.
        linked: String,
    },
    /// The pair's folder on Dropbox is not where the pair syncs it any more: moved (renamed on
    /// the web), deleted, or replaced by another folder of the same name. Nothing is synced,
    /// so it is never made again at the old place and nothing here is deleted.
    RemoteFolderGone {
        /// The pair's folder on Dropbox (in the app folder).
        path: String,
        /// Where it is now, if Dropbox still has it (in the app folder).
        moved_to: Option<String>,
        /// Another folder now sits at `path`.
        replaced: bool,
    },
    /// The user paused.
    User,
}

impl PauseReason {
    /// Whether the pause waits for the user to look (a guard held deletions back, a restored
    /// snapshot, a changed account…), rather than for the user's own resume or for the
    /// folder to come back: the pair's state is then `Attention`.
    pub fn needs_user(&self) -> bool {
        !matches!(self, PauseReason::User | PauseReason::MissingRoot { .. })
    }
}

impl PauseReason {
    /// What happened and what to do, for a user of `sync --once` (`one_shot`: there is no
    /// running engine to resume; the next run is told to go ahead) or of the daemon and app.
    pub fn describe(&self, one_shot: bool) -> String {
        let confirm = if one_shot {
            "`nuvosync sync --once --confirm-deletes`"
        } else {
            "`nuvosync resume --confirm-deletes` (or confirm in the app)"
        };
        match self {
            PauseReason::MissingRoot { path } => format!(
                "the local folder {} is missing or empty — if it is on a drive or network share, mount it; nothing is deleted while it is so (to start this folder afresh, remove the pair and add it again)",
                path.display()
            ),
            PauseReason::MassDelete { side, count, total } => {
                let here = if side == "local" {
                    "this computer"
                } else {
                    "Dropbox"
                };
                format!(
                    "this sync would delete {count} of {total} files on {here} — if that is intended, run {confirm}; otherwise restore the missing files (the threshold is the setting mass-delete-percent / mass-delete-min-files)"
                )
            }
            PauseReason::RestoreDetected { .. } => "the local folder holds an older state than nuvosync last synced (a snapshot was restored?) — run `nuvosync restore --plan` to see what would change and `nuvosync restore --apply` to make the restored files the authority, or `nuvosync restore --continue` if this was not a restore".to_string(),
            PauseReason::EmptyRemote { known } => format!(
                "Dropbox shows the folder empty but {known} files were synced — check the folder on dropbox.com; if it was emptied on purpose, run {confirm}"
            ),
            PauseReason::UnsafeStateFolder { path, problem } => format!(
                "nuvosync's state folder {} {problem} — nuvosync never writes through links or into another user's folder, so this pair is stopped. If you did not set it up so on purpose, remove it (`rm {}` removes a link, not what it points to) and sync again; nuvosync then makes a new one and, as its restore marker was in it, asks once whether the folder was restored from a snapshot (`nuvosync restore --continue --yes` if not)",
                path.display(),
                path.display()
            ),
            PauseReason::IndexMissing { found } => format!(
                "this folder was synced before (its marker is at generation {found}) but its sync index is gone — without it nuvosync cannot tell a restored snapshot from the current state, so it stops rather than guess. If you have the index file, put it back; otherwise run `nuvosync restore --plan` to see how the folder differs from Dropbox, then `nuvosync restore --continue --yes` to sync it afresh (where both sides differ, both versions are kept) or `nuvosync restore --apply` if the folder was restored from a snapshot"
            ),
            PauseReason::AccountChanged { synced_with, linked } => format!(
                "this folder was synced with the Dropbox account {synced_with}, but {linked} is linked now — nothing is synced, so the two accounts are never mixed. Link {synced_with} again (`nuvosync unlink`, then `nuvosync link`), or, to sync this folder with {linked} from now on, remove the pair and add it again (`nuvosync pair remove`, `nuvosync pair add`: both sides are kept, and where they differ both versions are)"
            ),
            PauseReason::RemoteFolderGone {
                path,
                moved_to,
                replaced,
            } => {
                let app = nuvosync_dropbox::APP_FOLDER;
                let what = match (moved_to, replaced) {
                    (Some(to), false) => format!(
                        "the Dropbox folder {path} this pair syncs was moved to {to} (Apps/{app} on dropbox.com)"
                    ),
                    (Some(to), true) => format!(
                        "the folder at {path} on Dropbox is not the one this pair synced: that one was moved to {to} (Apps/{app} on dropbox.com) and another folder was made in its place"
                    ),
                    (None, false) => format!(
                        "the Dropbox folder {path} this pair syncs was deleted or moved out of Apps/{app}"
                    ),
                    (None, true) => format!(
                        "the folder at {path} on Dropbox is not the one this pair synced: that one was deleted or moved out of Apps/{app}, and another folder was made in its place"
                    ),
                };
                let back = match (moved_to, replaced) {
                    (Some(to), false) => format!("move {to} back to {path} on dropbox.com"),
                    (Some(to), true) => format!(
                        "move the new {path} aside and {to} back to {path} on dropbox.com"
                    ),
                    (None, _) => format!(
                        "restore it at {path} on dropbox.com (Deleted files), or move it back there"
                    ),
                };
                format!(
                    "{what} — nothing is synced, so the old folder is not made again and nothing here is deleted. To go on, {back} and sync runs again; or, to sync this folder with the Dropbox folder where it is now, remove the pair and add it again with that path (`nuvosync pair remove`, `nuvosync pair add`: both sides are kept, and where they differ both versions are)"
                )
            }
            PauseReason::User => "paused — run `nuvosync resume` to continue".to_string(),
        }
    }
}

impl std::fmt::Display for PauseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(false))
    }
}

/// A sync run failed or stopped.
#[derive(Debug, Error)]
pub enum SyncError {
    /// A guard paused the pair.
    #[error("{0}")]
    Paused(PauseReason),
    /// Dropbox failed (after retries).
    #[error("{0}")]
    Remote(#[from] DbxError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Local IO failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Rounds kept producing work.
    #[error(
        "sync did not settle after {0} rounds — something keeps changing the files; see `nuvosync status`"
    )]
    NoProgress(usize),
    /// A request that cannot be done as asked; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
}

impl From<ScanError> for SyncError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::MissingRoot(path) => SyncError::Paused(PauseReason::MissingRoot { path }),
        }
    }
}

/// What a sync run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// Files uploaded.
    pub uploaded: u64,
    /// Files downloaded.
    pub downloaded: u64,
    /// Deleted on Dropbox.
    pub deleted_remote: u64,
    /// Deleted locally (to the trash).
    pub deleted_local: u64,
    /// Moves and renames.
    pub moved: u64,
    /// Folders created.
    pub folders: u64,
    /// Conflicts (both versions kept).
    pub conflicts: u64,
    /// Planning rounds.
    pub rounds: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Files that could not be synced, with why.
    pub failed: Vec<Issue>,
    /// Everything currently wrong with single files.
    pub issues: Vec<Issue>,
}

/// Counters shared with the executor.
#[derive(Default, Debug)]
pub struct Counters {
    /// See [`Report`].
    pub uploaded: AtomicU64,
    /// See [`Report`].
    pub downloaded: AtomicU64,
    /// See [`Report`].
    pub deleted_remote: AtomicU64,
    /// See [`Report`].
    pub deleted_local: AtomicU64,
    /// See [`Report`].
    pub moved: AtomicU64,
    /// See [`Report`].
    pub folders: AtomicU64,
    /// See [`Report`].
    pub conflicts: AtomicU64,
    /// See [`Report`].
    pub bytes: AtomicU64,
}

impl Counters {
    /// Start counting from zero.
    pub fn reset(&self) {
        for c in [
            &self.uploaded,
            &self.downloaded,
            &self.deleted_remote,
            &self.deleted_local,
            &self.moved,
            &self.folders,
            &self.conflicts,
            &self.bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}
