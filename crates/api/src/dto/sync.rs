//! What `sync --once` answers: one entry per pair, with what the run did or why it stopped.

use super::IssueDto;
use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What one pair's `sync --once` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PairSyncDto {
    /// Pair name.
    pub pair: String,
    /// The report, when it ran to the end.
    pub report: Option<SyncReportDto>,
    /// The error, when it did not.
    pub error: Option<ApiError>,
}

/// What a sync run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncReportDto {
    /// Files uploaded.
    #[ts(type = "number")]
    pub uploaded: u64,
    /// Files downloaded.
    #[ts(type = "number")]
    pub downloaded: u64,
    /// Deleted on Dropbox.
    #[ts(type = "number")]
    pub deleted_remote: u64,
    /// Deleted locally (to the trash).
    #[ts(type = "number")]
    pub deleted_local: u64,
    /// Moves and renames.
    #[ts(type = "number")]
    pub moved: u64,
    /// Folders created.
    #[ts(type = "number")]
    pub folders: u64,
    /// Conflicts (both versions kept).
    #[ts(type = "number")]
    pub conflicts: u64,
    /// Planning rounds.
    #[ts(type = "number")]
    pub rounds: u64,
    /// Bytes transferred.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Files that could not be synced, with why.
    pub failed: Vec<IssueDto>,
    /// Everything currently wrong with single files.
    pub issues: Vec<IssueDto>,
}

impl From<sync_engine::Report> for SyncReportDto {
    fn from(r: sync_engine::Report) -> Self {
        let issue = IssueDto::from;
        SyncReportDto {
            uploaded: r.uploaded,
            downloaded: r.downloaded,
            deleted_remote: r.deleted_remote,
            deleted_local: r.deleted_local,
            moved: r.moved,
            folders: r.folders,
            conflicts: r.conflicts,
            rounds: r.rounds,
            bytes: r.bytes,
            failed: r.failed.into_iter().map(issue).collect(),
            issues: r.issues.into_iter().map(issue).collect(),
        }
    }
}
