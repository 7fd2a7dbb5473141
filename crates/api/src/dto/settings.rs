//! The settings and the changes to them, a new pair, and the start of a Dropbox link.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
