//! What the status and activity views and the tray show, and the events front ends receive.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A pair's state and a pair's event are the engine's own types.
pub use sync_engine::{Event, PairState};

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

impl From<sync_engine::engine::Issue> for IssueDto {
    fn from(i: sync_engine::engine::Issue) -> Self {
        IssueDto {
            path: i.path,
            code: i.code,
            message: i.message,
            since: i.since,
        }
    }
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
    pub state: PairState,
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
    pub state: PairState,
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

/// An event for front ends: what a pair reports, as the engine says it, and what only the
/// control API knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventDto {
    /// A transfer progressed (the engine's `Progress` with the rate and time left; the
    /// engine's own is never sent).
    Progress {
        /// The transfer.
        transfer: TransferDto,
    },
    /// Account linked or unlinked.
    Link {
        /// Linked now.
        linked: bool,
    },
    /// What a pair reports: its state, a file synced, a conflict, a file's error, a pause.
    #[serde(untagged)]
    Pair(Event),
}
