//! Errors at the API boundary: a stable machine code and a message for people. Front ends
//! branch on the code, never on the text.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Machine-readable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Bad input (a flag, a path, a name).
    InvalidArgument,
    /// No such pair, conflict, file...
    NotFound,
    /// Already exists.
    AlreadyExists,
    /// No Dropbox account is linked.
    NotLinked,
    /// Dropbox refused the credentials.
    Auth,
    /// Dropbox cannot be reached.
    Offline,
    /// Dropbox failed otherwise.
    Dropbox,
    /// A guard paused sync; the user must decide.
    Paused,
    /// The local index failed.
    Index,
    /// Local IO failed.
    Io,
    /// The daemon is not running.
    NoDaemon,
    /// Another nuvosync runs with this profile (the daemon, the app, a `sync --once`).
    AlreadyRunning,
    /// Anything else.
    Internal,
}

/// An API error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Machine code.
    pub code: ErrorCode,
    /// What happened and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// The process exit code for the CLI: 3 when a guard paused sync, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self.code {
            ErrorCode::Paused => 3,
            ErrorCode::InvalidArgument => 2,
            _ => 1,
        }
    }
}

impl From<sync_engine::SyncError> for ApiError {
    fn from(e: sync_engine::SyncError) -> Self {
        use sync_engine::SyncError as S;
        match &e {
            S::Paused(_) => ApiError::new(ErrorCode::Paused, e.to_string()),
            S::Remote(r) if r.is_auth() => ApiError::new(ErrorCode::Auth, e.to_string()),
            S::Remote(r) if r.is_offline() => ApiError::new(ErrorCode::Offline, e.to_string()),
            S::Remote(_) => ApiError::new(ErrorCode::Dropbox, e.to_string()),
            S::Index(_) => ApiError::new(ErrorCode::Index, e.to_string()),
            S::Io { .. } => ApiError::new(ErrorCode::Io, e.to_string()),
            S::NoProgress(_) => ApiError::new(ErrorCode::Internal, e.to_string()),
            S::Invalid(_) => ApiError::new(ErrorCode::InvalidArgument, e.to_string()),
        }
    }
}

impl From<nuvosync_dropbox::Error> for ApiError {
    fn from(e: nuvosync_dropbox::Error) -> Self {
        let code = if e.is_auth() {
            ErrorCode::Auth
        } else if e.is_offline() {
            ErrorCode::Offline
        } else {
            ErrorCode::Dropbox
        };
        ApiError::new(code, e.to_string())
    }
}
