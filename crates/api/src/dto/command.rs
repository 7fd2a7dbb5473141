//! The commands to the service, as the control socket carries them.

use super::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A command to the service (the control socket carries these as JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "cmd", content = "args", rename_all = "snake_case")]
pub enum Command {
    /// Overall status.
    Status,
    /// Pause one pair or all.
    Pause {
        /// Pair (all if absent).
        pair: Option<String>,
    },
    /// Resume one pair or all.
    Resume {
        /// Pair (all if absent).
        pair: Option<String>,
        /// Let deletions a guard held back go ahead.
        #[serde(default)]
        confirm_deletes: bool,
    },
    /// Look at everything now.
    SyncNow {
        /// Pair (all if absent).
        pair: Option<String>,
    },
    /// Transfers and history.
    Activity {
        /// Filter the history by path.
        search: Option<String>,
        /// History entries.
        limit: Option<u32>,
    },
    /// Conflicts.
    Conflicts {
        /// Also resolved ones.
        #[serde(default)]
        include_resolved: bool,
    },
    /// Earlier Dropbox revisions of a file.
    Revisions {
        /// Pair.
        pair: String,
        /// Relative path.
        path: String,
    },
    /// Restore an earlier Dropbox revision.
    RestoreRevision {
        /// Pair.
        pair: String,
        /// Relative path.
        path: String,
        /// Revision.
        rev: String,
    },
    /// Move the local copy of an excluded folder to the trash to free space: only files that
    /// are the version synced with Dropbox go (read and compared first); changed and
    /// never-synced files stay. Including the folder again downloads it.
    ExcludedFree {
        /// Pair.
        pair: String,
        /// The excluded folder, relative to the pair's folder.
        path: String,
    },
    /// The folders directly in a folder of a pair, as Dropbox has them (from the pair's
    /// index, so it answers at once): with the files and bytes below each, and whether it is
    /// excluded — for a selective-sync folder picker.
    RemoteFolders {
        /// Pair.
        pair: String,
        /// The folder, relative to the pair's folder (`/` or empty for the pair's folder).
        #[serde(default)]
        path: String,
    },
    /// Files deleted on Dropbox in a pair's folder that can be brought back, newest first.
    Deleted {
        /// Pair.
        pair: String,
    },
    /// Bring back a file deleted on Dropbox: its last version becomes current again and
    /// syncs down. A file now at that path is kept (both versions end up side by side).
    Undelete {
        /// Pair.
        pair: String,
        /// Relative path.
        path: String,
    },
    /// Resolve a conflict.
    Resolve {
        /// Pair.
        pair: String,
        /// Conflict id.
        id: i64,
        /// How.
        choice: Resolution,
    },
    /// Status of one file.
    FileStatus {
        /// Absolute path.
        path: String,
    },
    /// Excluded folders of a pair.
    ExcludedList {
        /// Pair.
        pair: String,
    },
    /// Exclude a folder.
    ExcludedAdd {
        /// Pair.
        pair: String,
        /// Relative folder path.
        path: String,
    },
    /// Include a folder again.
    ExcludedRemove {
        /// Pair.
        pair: String,
        /// Relative folder path.
        path: String,
    },
    /// Forget the index of a pair and rebuild it from both sides (content decides).
    RebuildIndex {
        /// Pair.
        pair: String,
    },
    /// Settings.
    SettingsGet,
    /// Change settings.
    SettingsSet {
        /// The change.
        patch: SettingsPatch,
    },
    /// Add a pair.
    AddPair {
        /// The pair.
        pair: NewPairDto,
    },
    /// Remove a pair (files stay).
    RemovePair {
        /// Name.
        name: String,
    },
    /// The linked account.
    Account,
    /// Check the setup: account and scopes, hosts, clock, inotify limits, keyring, state folder.
    Doctor,
    /// Start linking a Dropbox account.
    LinkStart {
        /// Listen on 127.0.0.1 for the browser's redirect (false: Dropbox shows a code to paste).
        #[serde(default = "yes")]
        loopback: bool,
        /// Link with this Dropbox app key (default: `app_key` in config.toml, then
        /// `NUVOSYNC_APP_KEY`, then nuvosync's own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        app_key: Option<String>,
    },
    /// Finish linking with the redirect URL the browser came back to (or a pasted code).
    LinkFinish {
        /// Redirect URL or code.
        redirect: String,
    },
    /// Wait for the loopback redirect of the link in progress.
    LinkWait {
        /// Seconds to wait.
        #[ts(type = "number")]
        timeout_secs: u64,
    },
    /// Unlink (revoke the token; files stay).
    Unlink,
    /// Preview a snapshot restore.
    RestorePlan {
        /// Pair.
        pair: String,
    },
    /// Apply a snapshot restore.
    RestoreApply {
        /// Pair.
        pair: String,
    },
    /// What continuing normally (not a restore) would overwrite or delete on Dropbox.
    RestoreContinuePreview {
        /// Pair.
        pair: String,
    },
    /// "This was not a restore": accept the folder as it is and continue syncing normally.
    RestoreContinue {
        /// Pair.
        pair: String,
    },
    /// Receive events until the connection closes.
    Subscribe,
    /// Stop the daemon.
    Stop,
}

fn yes() -> bool {
    true
}
