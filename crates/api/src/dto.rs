//! The types front ends see: commands, answers and events, all serialisable, with TypeScript
//! twins generated into `ui/src/bindings/` (a test fails when those are stale).
//!
//! Times are seconds since the epoch; sizes are bytes.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A pair's state, as the tray icon shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StateDto {
    /// Everything in sync.
    UpToDate,
    /// Working.
    Syncing,
    /// Paused by the user or a guard.
    Paused,
    /// Dropbox cannot be reached.
    Offline,
    /// Something needs the user (conflict, guard, restore detected).
    Attention,
    /// An error (relink, folder gone...).
    Error,
}

/// A transfer in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TransferDto {
    /// Pair.
    pub pair: String,
    /// Relative path.
    pub path: String,
    /// `upload` or `download`.
    pub direction: String,
    /// Bytes done.
    #[ts(type = "number")]
    pub done: u64,
    /// Bytes in all.
    #[ts(type = "number")]
    pub total: u64,
    /// Current speed.
    pub bytes_per_sec: f64,
    /// Seconds left, when known.
    pub eta_secs: Option<f64>,
}

/// A file that cannot be synced right now, with what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IssueDto {
    /// Relative path.
    pub path: String,
    /// Machine code.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
    /// Since.
    #[ts(type = "number")]
    pub since: i64,
}

/// The status of one pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PairStatusDto {
    /// Name.
    pub name: String,
    /// Local folder.
    pub local: String,
    /// Organization.
    pub organization: String,
    /// Space.
    pub space: String,
    /// Instance.
    pub instance: String,
    /// Path in the app folder (`/Org/Space/Instance`).
    pub remote_path: String,
    /// The folder on dropbox.com.
    pub web_url: String,
    /// State.
    pub state: StateDto,
    /// Why paused or failing, and what to do.
    pub message: Option<String>,
    /// Machine code of the reason (`mass_delete`, `restore_detected`, `missing_root`, `offline`, `auth`, `user`...).
    pub code: Option<String>,
    /// Last time in sync.
    #[ts(type = "number | null")]
    pub last_sync: Option<i64>,
    /// Files in sync.
    #[ts(type = "number")]
    pub files: u64,
    /// Bytes in sync.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Keys waiting to be planned.
    #[ts(type = "number")]
    pub pending: u64,
    /// Unresolved conflicts.
    #[ts(type = "number")]
    pub conflicts: u64,
    /// Files with a problem.
    pub issues: Vec<IssueDto>,
    /// File events watched.
    pub watching: bool,
    /// Why file events are not watched.
    pub watch_problem: Option<String>,
    /// Watching turned on in settings.
    pub watch: bool,
    /// Seconds between rescans.
    #[ts(type = "number")]
    pub rescan_interval_secs: u64,
    /// Paused.
    pub paused: bool,
}

/// The linked Dropbox account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AccountDto {
    /// `dbid:...`.
    pub account_id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// Bytes used.
    #[ts(type = "number")]
    pub used: u64,
    /// Bytes allocated.
    #[ts(type = "number")]
    pub allocated: u64,
    /// Where the link was just stored, when no OS keyring could take it (a file of mode 0600):
    /// said once, when linking, so that the user knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stored_in_file: Option<String>,
}

/// How one check of `nuvosync doctor` came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Works, but something may go wrong later (or works less well than it could).
    Warning,
    /// Sync cannot work as it should until this is fixed.
    Problem,
}

/// One check of the setup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CheckDto {
    /// Stable id: `account`, `scopes`, `host_api`, `host_content`, `host_notify`, `clock`,
    /// `inotify`, `keyring`, `state_folder`.
    pub id: String,
    /// What was checked, in words.
    pub title: String,
    /// The outcome.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do (for a warning or a problem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fix: Option<String>,
}

/// The answer of `doctor`: every check, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DoctorDto {
    /// The checks.
    pub checks: Vec<CheckDto>,
    /// The worst verdict.
    pub verdict: Verdict,
}

/// Everything the status view shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct StatusDto {
    /// Overall state (worst of the pairs).
    pub state: StateDto,
    /// One-line summary (the tray tooltip and menu status line).
    pub summary: String,
    /// A Dropbox account is linked.
    pub linked: bool,
    /// The account, when known.
    pub account: Option<AccountDto>,
    /// The pairs.
    pub pairs: Vec<PairStatusDto>,
    /// Transfers in progress.
    pub transfers: Vec<TransferDto>,
}

/// A history entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HistoryDto {
    /// Pair.
    pub pair: String,
    /// When.
    #[ts(type = "number")]
    pub at: i64,
    /// What happened.
    pub action: String,
    /// Relative path.
    pub path: String,
    /// Bytes, for transfers.
    #[ts(type = "number | null")]
    pub size: Option<u64>,
}

/// Live transfers and recent history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ActivityDto {
    /// In progress.
    pub transfers: Vec<TransferDto>,
    /// Recent, newest first.
    pub history: Vec<HistoryDto>,
}

/// One side of a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VersionDto {
    /// Relative path.
    pub path: String,
    /// `local` (this computer's version) or `dropbox`.
    pub side: String,
    /// Size, if the file is still there.
    #[ts(type = "number | null")]
    pub size: Option<u64>,
    /// Modified, if known.
    #[ts(type = "number | null")]
    pub modified: Option<i64>,
    /// Absolute local path (to open it).
    pub open_path: Option<String>,
}

/// An earlier Dropbox revision of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RevisionDto {
    /// Revision id.
    pub rev: String,
    /// Size.
    #[ts(type = "number")]
    pub size: u64,
    /// Saved on Dropbox at.
    pub server_modified: String,
}

/// A file deleted on Dropbox that can still be brought back (Dropbox keeps deleted files for
/// its retention period).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeletedDto {
    /// Pair.
    pub pair: String,
    /// Relative path in the pair.
    pub path: String,
    /// Deleted on Dropbox at.
    pub deleted_at: String,
    /// The last version's size.
    #[ts(type = "number")]
    pub size: u64,
    /// The last version's revision (what `undelete` brings back).
    pub rev: String,
}

/// A folder on Dropbox, for the selective-sync picker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RemoteFolderDto {
    /// Relative path in the pair (`/data/raw`).
    pub path: String,
    /// Its name.
    pub name: String,
    /// Files below it (at any depth).
    #[ts(type = "number")]
    pub files: u64,
    /// Their bytes.
    #[ts(type = "number")]
    pub bytes: u64,
    /// It has folders in it.
    pub has_folders: bool,
    /// It, or a folder above it, is excluded from sync.
    pub excluded: bool,
}

/// What freeing an excluded folder's local copy did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FreedDto {
    /// Files moved to the trash.
    #[ts(type = "number")]
    pub trashed: u64,
    /// Their bytes.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Files that stay (changed here, or never synced): relative paths.
    pub kept: Vec<String>,
}

/// A conflict: both versions were kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConflictDto {
    /// Id (per pair).
    #[ts(type = "number")]
    pub id: i64,
    /// Pair.
    pub pair: String,
    /// When.
    #[ts(type = "number")]
    pub at: i64,
    /// `conflict`, `case` or `unicode`.
    pub kind: String,
    /// Resolved.
    pub resolved: bool,
    /// This computer's version (the conflicted copy).
    pub mine: VersionDto,
    /// Dropbox's version (under the original name).
    pub theirs: VersionDto,
}

/// How to resolve a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Keep this computer's version under the original name (Dropbox's goes to its history).
    KeepMine,
    /// Keep Dropbox's version (this computer's copy goes to the trash).
    KeepTheirs,
    /// Keep both (the copy stays as a separate file).
    KeepBoth,
}

/// Per-file status (for file managers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FileStatusDto {
    /// The path asked about.
    pub path: String,
    /// The pair it belongs to.
    pub pair: Option<String>,
    /// `up_to_date`, `uploading`, `downloading`, `pending`, `error`, `ignored`, `conflict` or `unwatched`.
    pub status: String,
    /// Details.
    pub message: Option<String>,
}

/// Settings of one pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PairSettingsDto {
    /// Name.
    pub name: String,
    /// Local folder.
    pub local: String,
    /// Organization.
    pub organization: String,
    /// Space.
    pub space: String,
    /// Instance.
    pub instance: String,
    /// Watch file events.
    pub watch: bool,
    /// Seconds between rescans.
    #[ts(type = "number")]
    pub rescan_interval_secs: u64,
    /// Excluded folders.
    pub excluded: Vec<String>,
    /// The `.nuvosyncignore` patterns (gitignore syntax).
    pub ignore_patterns: String,
}

/// All settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsDto {
    /// `all`, `attention` or `off`.
    pub notifications: String,
    /// Notifications snoozed until.
    #[ts(type = "number | null")]
    pub snoozed_until: Option<i64>,
    /// Upload limit (bytes/s, 0 = none).
    #[ts(type = "number")]
    pub upload_limit: u64,
    /// Download limit (bytes/s, 0 = none).
    #[ts(type = "number")]
    pub download_limit: u64,
    /// Start at login.
    pub autostart: bool,
    /// Mass-delete guard: pause when one sync would delete more than this share (%) of a side...
    pub mass_delete_percent: u32,
    /// ...and more than this many files.
    #[ts(type = "number")]
    pub mass_delete_min_files: u64,
    /// Days a pair's own trash keeps deleted files (always given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub trash_days: Option<u32>,
    /// MiB a pair's own trash holds at most (always given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub trash_max_mb: Option<u64>,
    /// Days of activity history kept (always given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub history_days: Option<u32>,
    /// Entries of activity history kept at most (always given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub history_max_entries: Option<u64>,
    /// Files Dropbox can only export (Paper docs) are exported as read-only local copies
    /// (always given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub export_documents: Option<bool>,
    /// Pairs.
    pub pairs: Vec<PairSettingsDto>,
}

/// A new pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NewPairDto {
    /// Local folder.
    pub local: String,
    /// Organization.
    pub organization: String,
    /// Space.
    pub space: String,
    /// Instance.
    pub instance: String,
    /// Name (default from the instance).
    pub name: Option<String>,
    /// Watch file events.
    pub watch: bool,
    /// Seconds between rescans.
    #[ts(type = "number | null")]
    pub rescan_interval_secs: Option<u64>,
    /// Folders excluded from the start (relative to the local folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub excluded: Option<Vec<String>>,
}

/// The start of a Dropbox link: open `authorize_url` in a browser or webview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LinkStartDto {
    /// The consent page.
    pub authorize_url: String,
    /// Where Dropbox sends the browser back (a loopback listener), if any; `None` when the
    /// user pastes the code Dropbox shows.
    pub redirect_uri: Option<String>,
    /// Why a sign-in that asked for the loopback redirect became a code-paste one (none of
    /// the sign-in ports was free), if it did.
    #[serde(default)]
    pub paste_reason: Option<String>,
    /// The Dropbox app key this sign-in uses.
    #[serde(default)]
    pub app_key: String,
}

/// One entry of a restore preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RestoreItemDto {
    /// Relative path.
    pub path: String,
    /// Bytes.
    #[ts(type = "number | null")]
    pub size: Option<u64>,
}

/// What `restore --apply` would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RestorePlanDto {
    /// Pair.
    pub pair: String,
    /// Why the wizard was offered.
    pub detected: bool,
    /// Dropbox files that will be replaced by the restored versions.
    pub replaced: Vec<RestoreItemDto>,
    /// Dropbox files that will leave the instance folder (they exist only on Dropbox).
    pub removed: Vec<RestoreItemDto>,
    /// Restored files that will be uploaded (new to Dropbox).
    pub uploaded: Vec<RestoreItemDto>,
    /// Restore only: what this pair does not sync (excluded folders, ignored names) — it
    /// stays in Dropbox's instance folder, untouched.
    pub not_synced: Vec<RestoreItemDto>,
    /// "Not a restore" only: local files normal sync replaces with Dropbox's version.
    pub overwritten_here: Vec<RestoreItemDto>,
    /// "Not a restore" only: local files (a folder: `size` counts its files) normal sync
    /// deletes here, to the trash, because they were deleted on Dropbox.
    pub deleted_here: Vec<RestoreItemDto>,
    /// "Not a restore" only: files changed on both sides; the local one is kept as a
    /// conflicted copy next to Dropbox's version.
    pub conflicts: Vec<RestoreItemDto>,
    /// Restored files identical to Dropbox's (nothing to do).
    #[ts(type = "number")]
    pub unchanged: u64,
    /// Where Dropbox's current instance folder goes (nothing is deleted).
    pub backup_folder: String,
}

/// What `restore --apply` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RestoreResultDto {
    /// Pair.
    pub pair: String,
    /// The backup of Dropbox's former instance folder.
    pub backup_folder: String,
    /// Its web address.
    pub backup_url: String,
    /// Files uploaded from the restored folder.
    #[ts(type = "number")]
    pub uploaded: u64,
}

/// An event for front ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventDto {
    /// A pair's state changed.
    State {
        /// Pair.
        pair: String,
        /// New state.
        state: StateDto,
    },
    /// A transfer progressed.
    Progress {
        /// The transfer.
        transfer: TransferDto,
    },
    /// A file finished.
    Synced {
        /// Pair.
        pair: String,
        /// Path.
        path: String,
        /// What happened.
        action: String,
    },
    /// A conflict; both versions kept.
    Conflict {
        /// Pair.
        pair: String,
        /// Path.
        path: String,
        /// Copy.
        copy_path: String,
    },
    /// A file could not be synced.
    FileError {
        /// Pair.
        pair: String,
        /// Path.
        path: String,
        /// What to do.
        message: String,
    },
    /// A guard paused a pair.
    Paused {
        /// Pair.
        pair: String,
        /// Why and what to do.
        message: String,
        /// Machine code.
        code: String,
    },
    /// Account linked or unlinked.
    Link {
        /// Linked now.
        linked: bool,
    },
}

/// A change to settings (absent fields stay as they are).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct SettingsPatch {
    /// `all`, `attention`, `off`.
    pub notifications: Option<String>,
    /// Snooze notifications for this many minutes (0 ends a snooze).
    #[ts(type = "number | null")]
    pub snooze_minutes: Option<u64>,
    /// Upload limit.
    #[ts(type = "number | null")]
    pub upload_limit: Option<u64>,
    /// Download limit.
    #[ts(type = "number | null")]
    pub download_limit: Option<u64>,
    /// Autostart.
    pub autostart: Option<bool>,
    /// Mass-delete guard share (0–100 %).
    pub mass_delete_percent: Option<u32>,
    /// Mass-delete guard floor (files).
    #[ts(type = "number | null")]
    pub mass_delete_min_files: Option<u64>,
    /// Days a pair's own trash keeps deleted files.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub trash_days: Option<u32>,
    /// MiB a pair's own trash holds at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub trash_max_mb: Option<u64>,
    /// Days of activity history kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub history_days: Option<u32>,
    /// Entries of activity history kept at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub history_max_entries: Option<u64>,
    /// Export the files Dropbox can only export (Paper docs) as read-only local copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub export_documents: Option<bool>,
    /// Per-pair changes.
    pub pairs: Vec<PairPatch>,
}

/// A change to one pair's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct PairPatch {
    /// Which pair.
    pub name: String,
    /// Watch file events.
    pub watch: Option<bool>,
    /// Seconds between rescans.
    #[ts(type = "number | null")]
    pub rescan_interval_secs: Option<u64>,
    /// Replace the excluded folders.
    pub excluded: Option<Vec<String>>,
    /// Replace the `.nuvosyncignore` patterns.
    pub ignore_patterns: Option<String>,
}

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

/// The TypeScript declarations of every DTO, as `(file name, content)`.
pub fn typescript() -> Vec<(String, String)> {
    let cfg = ts_rs::Config::new().with_large_int("number");
    macro_rules! ts {
        ($($t:ty),* $(,)?) => { vec![$( (format!("{}.ts", <$t as TS>::name(&cfg)), <$t as TS>::export_to_string(&cfg).unwrap_or_default()) ),*] };
    }
    ts![
        StateDto,
        TransferDto,
        IssueDto,
        PairStatusDto,
        AccountDto,
        Verdict,
        CheckDto,
        DoctorDto,
        StatusDto,
        HistoryDto,
        ActivityDto,
        VersionDto,
        RevisionDto,
        DeletedDto,
        FreedDto,
        RemoteFolderDto,
        ConflictDto,
        Resolution,
        FileStatusDto,
        PairSettingsDto,
        SettingsDto,
        NewPairDto,
        LinkStartDto,
        RestoreItemDto,
        RestorePlanDto,
        RestoreResultDto,
        EventDto,
        SettingsPatch,
        PairPatch,
        Command,
        crate::error::ApiError,
        crate::error::ErrorCode,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The UI's TypeScript types are generated from these; run with `UPDATE_BINDINGS=1` to
    /// refresh them after changing a DTO.
    #[test]
    fn typescript_bindings_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings");
        let update = std::env::var_os("UPDATE_BINDINGS").is_some();
        let mut stale = vec![];
        for (file, text) in typescript() {
            let path = dir.join(&file);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(file);
            }
        }
        assert!(
            stale.is_empty(),
            "stale TypeScript bindings in ui/src/bindings: {stale:?} — run `UPDATE_BINDINGS=1 cargo test -p nuvosync-api typescript`"
        );
    }

    #[test]
    fn commands_have_a_stable_wire_form() {
        let c: Command = serde_json::from_str(
            r#"{"cmd":"resume","args":{"pair":"lab","confirm_deletes":true}}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            Command::Resume {
                pair: Some("lab".into()),
                confirm_deletes: true
            }
        );
        assert_eq!(
            serde_json::to_string(&Command::Status).unwrap(),
            r#"{"cmd":"status"}"#
        );
        let r: Command = serde_json::from_str(
            r#"{"cmd":"resolve","args":{"pair":"p","id":3,"choice":"keep_mine"}}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            Command::Resolve {
                pair: "p".into(),
                id: 3,
                choice: Resolution::KeepMine
            }
        );
    }
}
