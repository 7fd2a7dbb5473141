//! The restore wizard's answers: the preview and the result.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
