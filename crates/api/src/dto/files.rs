//! The answers about files: conflicts and how to resolve them, a file's versions and status,
//! files deleted on Dropbox, and Dropbox's folders for the selective-sync picker.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
