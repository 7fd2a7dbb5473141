//! The index: one SQLite database per pair (WAL) holding the three trees, the set of keys
//! whose observations changed since they were last planned ("dirty"), the remote cursor,
//! resumable upload sessions, per-file issues, conflicts and the activity history.
//!
//! Every completed operation is written as one transaction of tree [`Edit`](sync_core::Edit)s, so a crash at
//! any point leaves trees that re-plan correctly.
//!
//! - `schema`: the database files, opening, migrations;
//! - `rows`: the three trees as rows; `batch`: one operation's writes in one transaction;
//! - `trees`: reading the trees (signatures, dirty keys, what to plan);
//! - `records`: upload sessions, issues, conflicts, history;
//! - `staged`: the nodes a large scan found, staged in a temporary table until it ends.

mod batch;
mod records;
mod rows;
mod schema;
mod sigs;
mod staged;
#[cfg(test)]
mod tests;
mod trees;

#[cfg(feature = "testing")]
pub use batch::Batch;
#[cfg(feature = "testing")]
pub use schema::private_dir;
pub use sigs::Sigs;
pub use staged::Temp;

use rusqlite::Connection;
use std::path::PathBuf;
use thiserror::Error;

/// The index could not be used.
#[derive(Debug, Error)]
pub enum IndexError {
    /// SQLite failed.
    #[error(
        "the sync index {path} failed: {source} — if this persists, run `nuvosync rebuild-index`"
    )]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database is from a newer nuvosync.
    #[error(
        "the sync index {path} was written by a newer nuvosync (schema {found}, this one knows {known}) — update nuvosync"
    )]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Schema found.
        found: i64,
        /// Newest schema known.
        known: i64,
    },
}

/// Result with [`IndexError`].
pub type Result<T> = std::result::Result<T, IndexError>;

/// The previous scan's signature of a local path (to decide whether to hash again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sig {
    /// Folder.
    pub folder: bool,
    /// Inode.
    pub inode: u64,
    /// Size.
    pub size: u64,
    /// Modification time (ns).
    pub mtime_ns: i64,
    /// Status-change time (ns); 0 for folders and where it is not known.
    pub ctime_ns: i64,
}

/// A stored upload session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// Dropbox session id.
    pub session_id: String,
    /// Bytes Dropbox has.
    pub offset: u64,
    /// The file's size when the session began.
    pub size: u64,
    /// Its mtime.
    pub mtime_ns: i64,
    /// Its inode.
    pub inode: u64,
    /// When the session began (seconds since the epoch).
    pub created: i64,
}

/// A per-file problem, shown in status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// Local relative path.
    pub path: String,
    /// Machine code.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
    /// Since (seconds since the epoch).
    pub since: i64,
}

/// A recorded conflict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConflictRecord {
    /// Row id.
    pub id: i64,
    /// When (seconds since the epoch).
    pub at: i64,
    /// The contested path (Dropbox's version stays here).
    pub path: String,
    /// Where the local version was set aside.
    pub copy_path: String,
    /// `conflict`, `case`, `unicode`.
    pub kind: String,
    /// Resolved by the user.
    pub resolved: bool,
}

/// A history entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// When.
    pub at: i64,
    /// `uploaded`, `downloaded`, `deleted locally`, ...
    pub action: String,
    /// Path.
    pub path: String,
    /// Bytes, when a transfer.
    pub size: Option<u64>,
}

/// One pair's index.
pub struct Index {
    conn: Connection,
    path: PathBuf,
}
