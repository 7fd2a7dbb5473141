//! Errors from Dropbox, classified for the engine (retry? re-plan? ask the user?) and worded
//! for people: each message says what happened and what to do next. No message ever
//! contains a token.

use thiserror::Error;

/// What a write collided with on Dropbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A file is in the way (or, for an update, the file changed since the given rev).
    File,
    /// A folder is in the way.
    Folder,
    /// A parent path is a file.
    FileAncestor,
}

/// Why Dropbox refused the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthProblem {
    /// The token was revoked, or the refresh token is no longer valid.
    Revoked,
    /// The access token expired and could not be refreshed.
    Expired,
    /// The token lacks a permission.
    MissingScope(String),
    /// Anything else, explained.
    Other(String),
}

/// A Dropbox call failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// Nothing at the path.
    #[error("not found on Dropbox")]
    NotFound,
    /// The path is a folder where a file was expected.
    #[error("is a folder on Dropbox, not a file")]
    NotFile,
    /// The path is a file where a folder was expected.
    #[error("is a file on Dropbox, not a folder")]
    NotFolder,
    /// Dropbox rejected the path's form.
    #[error("Dropbox rejected the path as malformed — rename the file or folder")]
    MalformedPath,
    /// Something is in the way.
    #[error("conflicts with a {0:?} on Dropbox")]
    Conflict(Conflict),
    /// A name Dropbox will not store.
    #[error(
        "Dropbox does not accept this name (desktop.ini, thumbs.db, .ds_store and similar are refused) — rename it"
    )]
    DisallowedName,
    /// Out of space.
    #[error("the Dropbox account is full — free some space on Dropbox, then sync resumes")]
    InsufficientSpace,
    /// No write permission there.
    #[error("no permission to write here on Dropbox")]
    NoWritePermission,
    /// Namespace lock contention (retry later).
    #[error(
        "Dropbox is busy with other writes to this account (too_many_write_operations); retrying"
    )]
    TooManyWriteOperations,
    /// The cursor expired: list again from scratch.
    #[error("the Dropbox change cursor expired; a full listing is needed")]
    CursorReset,
    /// The upload session is gone (expired or finished).
    #[error("the upload session is gone; the upload restarts")]
    SessionNotFound,
    /// The upload session was closed.
    #[error("the upload session is closed")]
    SessionClosed,
    /// The session is at another offset.
    #[error("the upload session is at offset {correct_offset}")]
    IncorrectOffset {
        /// Where Dropbox says the session is.
        correct_offset: u64,
    },
    /// The bytes did not match their hash (corrupted in transit).
    #[error("the data was corrupted in transit (content hash mismatch); retrying")]
    ContentHashMismatch,
    /// A request body over 150 MiB.
    #[error("the request was too large for Dropbox")]
    PayloadTooLarge,
    /// An operation over 10,000 entries.
    #[error("Dropbox cannot do this for more than 10,000 files at once")]
    TooManyFiles,
    /// A folder moved into itself.
    #[error("a folder cannot be moved into itself")]
    CantMoveIntoItself,
    /// A revision that does not belong to the file.
    #[error("that revision does not belong to this file")]
    InvalidRevision,
    /// Legally blocked content.
    #[error("Dropbox blocks this file's content (restricted content); it cannot be downloaded")]
    RestrictedContent,
    /// A Paper doc or another cloud document: Dropbox can only export it.
    #[error(
        "this is a Paper doc or another cloud document, which Dropbox cannot download — it stays on Dropbox; open it on dropbox.com"
    )]
    NotDownloadable,
    /// Credentials refused.
    #[error("{}", auth_message(.0))]
    Auth(AuthProblem),
    /// Rate limited (retry after the given seconds).
    #[error("Dropbox asked us to slow down; retrying in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
        /// True for lock contention (`too_many_write_operations`).
        write: bool,
    },
    /// Dropbox had a server error.
    #[error("Dropbox had a temporary problem ({0}); retrying")]
    Server(String),
    /// The network failed.
    #[error("cannot reach Dropbox ({0}) — check the network connection; sync resumes by itself")]
    Network(String),
    /// One request stopped moving (nothing sent or received for this many seconds). The
    /// network is not down — other requests go on — so this fails only the operation, which
    /// is tried again.
    #[error("Dropbox stopped answering one request (nothing moved for {0} s); it is tried again")]
    Stalled(u64),
    /// Dropbox's answer arrived cut off or garbled, again and again (after retries).
    #[error(
        "Dropbox's answer arrived cut off or garbled ({0}) — usually a flaky connection or a proxy that alters traffic; sync retries by itself, and if this persists check the proxy or network"
    )]
    Garbled(String),
    /// Dropbox said the request was malformed (a bug on our side).
    #[error("Dropbox rejected the request: {0}")]
    BadRequest(String),
    /// Something we did not expect.
    #[error("unexpected answer from Dropbox: {0}")]
    Unexpected(String),
}

fn auth_message(p: &AuthProblem) -> String {
    match p {
        AuthProblem::Revoked => "Dropbox no longer accepts nuvosync's access (the link was revoked or expired) — run `nuvosync link` to link again".into(),
        AuthProblem::Expired => "the Dropbox access token expired and could not be renewed — run `nuvosync link` to link again".into(),
        AuthProblem::MissingScope(s) => format!("the Dropbox link lacks the permission {s} — run `nuvosync link` to link again"),
        AuthProblem::Other(s) => s.clone(),
    }
}

impl Error {
    /// Worth retrying the same request after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::TooManyWriteOperations
                | Error::RateLimited { .. }
                | Error::Server(_)
                | Error::Network(_)
                | Error::Stalled(_)
                | Error::Garbled(_)
                | Error::ContentHashMismatch
        )
    }

    /// The credentials are the problem: stop syncing and ask the user to link again.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth(_))
    }

    /// The network is the problem (show "offline").
    pub fn is_offline(&self) -> bool {
        matches!(self, Error::Network(_))
    }

    /// A stable machine-readable code for the UI and the control API.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::NotFile => "not_file",
            Error::NotFolder => "not_folder",
            Error::MalformedPath => "malformed_path",
            Error::Conflict(_) => "conflict",
            Error::DisallowedName => "disallowed_name",
            Error::InsufficientSpace => "insufficient_space",
            Error::NoWritePermission => "no_write_permission",
            Error::TooManyWriteOperations => "too_many_write_operations",
            Error::CursorReset => "cursor_reset",
            Error::SessionNotFound => "session_not_found",
            Error::SessionClosed => "session_closed",
            Error::IncorrectOffset { .. } => "incorrect_offset",
            Error::ContentHashMismatch => "content_hash_mismatch",
            Error::PayloadTooLarge => "payload_too_large",
            Error::TooManyFiles => "too_many_files",
            Error::CantMoveIntoItself => "cant_move_into_itself",
            Error::InvalidRevision => "invalid_revision",
            Error::RestrictedContent => "restricted_content",
            Error::NotDownloadable => "not_downloadable",
            Error::Auth(_) => "auth",
            Error::RateLimited { .. } => "rate_limited",
            Error::Server(_) => "server_error",
            Error::Network(_) => "offline",
            Error::Stalled(_) => "stalled",
            Error::Garbled(_) => "garbled_answer",
            Error::BadRequest(_) => "bad_request",
            Error::Unexpected(_) => "unexpected",
        }
    }
}

// ---- mapping the SDK's route errors

use dropbox_sdk::files as f;

pub(crate) fn lookup(e: &f::LookupError) -> Error {
    match e {
        f::LookupError::NotFound => Error::NotFound,
        f::LookupError::NotFile => Error::NotFile,
        f::LookupError::NotFolder => Error::NotFolder,
        f::LookupError::MalformedPath(_) => Error::MalformedPath,
        f::LookupError::RestrictedContent => Error::RestrictedContent,
        other => Error::Unexpected(format!("lookup error {other:?}")),
    }
}

pub(crate) fn write(e: &f::WriteError) -> Error {
    match e {
        f::WriteError::Conflict(c) => Error::Conflict(match c {
            f::WriteConflictError::Folder => Conflict::Folder,
            f::WriteConflictError::FileAncestor => Conflict::FileAncestor,
            _ => Conflict::File,
        }),
        f::WriteError::MalformedPath(_) => Error::MalformedPath,
        f::WriteError::DisallowedName => Error::DisallowedName,
        f::WriteError::InsufficientSpace
        | f::WriteError::TeamFolderInsufficientSpace
        | f::WriteError::MemberFolderInsufficientSpace => Error::InsufficientSpace,
        f::WriteError::NoWritePermission
        | f::WriteError::TeamFolder
        | f::WriteError::AccessRestricted => Error::NoWritePermission,
        f::WriteError::TooManyWriteOperations => Error::TooManyWriteOperations,
        other => Error::Unexpected(format!("write error {other:?}")),
    }
}

pub(crate) fn session_lookup(e: &f::UploadSessionLookupError) -> Error {
    match e {
        f::UploadSessionLookupError::NotFound => Error::SessionNotFound,
        f::UploadSessionLookupError::IncorrectOffset(o) => Error::IncorrectOffset {
            correct_offset: o.correct_offset,
        },
        f::UploadSessionLookupError::Closed => Error::SessionClosed,
        f::UploadSessionLookupError::PayloadTooLarge | f::UploadSessionLookupError::TooLarge => {
            Error::PayloadTooLarge
        }
        other => Error::Unexpected(format!("upload session error {other:?}")),
    }
}

pub(crate) fn finish(e: &f::UploadSessionFinishError) -> Error {
    match e {
        f::UploadSessionFinishError::LookupFailed(l) => session_lookup(l),
        f::UploadSessionFinishError::Path(w) => write(w),
        f::UploadSessionFinishError::TooManyWriteOperations => Error::TooManyWriteOperations,
        f::UploadSessionFinishError::ContentHashMismatch => Error::ContentHashMismatch,
        f::UploadSessionFinishError::PayloadTooLarge => Error::PayloadTooLarge,
        other => Error::Unexpected(format!("finish error {other:?}")),
    }
}

pub(crate) fn relocation(e: &f::RelocationError) -> Error {
    match e {
        f::RelocationError::FromLookup(l) => lookup(l),
        f::RelocationError::FromWrite(w) | f::RelocationError::To(w) => write(w),
        f::RelocationError::CantMoveFolderIntoItself => Error::CantMoveIntoItself,
        f::RelocationError::TooManyFiles => Error::TooManyFiles,
        f::RelocationError::InsufficientQuota => Error::InsufficientSpace,
        other => Error::Unexpected(format!("relocation error {other:?}")),
    }
}

pub(crate) fn delete(e: &f::DeleteError) -> Error {
    match e {
        f::DeleteError::PathLookup(l) => lookup(l),
        f::DeleteError::PathWrite(w) => write(w),
        f::DeleteError::TooManyWriteOperations => Error::TooManyWriteOperations,
        f::DeleteError::TooManyFiles => Error::TooManyFiles,
        other => Error::Unexpected(format!("delete error {other:?}")),
    }
}

/// Map an SDK error whose route error is mapped by `route`.
pub(crate) fn from_sdk<E: std::fmt::Debug>(
    e: dropbox_sdk::Error<E>,
    route: impl FnOnce(&E) -> Error,
) -> Error {
    use dropbox_sdk::Error as S;
    match e {
        S::Api(inner) => route(&inner),
        S::HttpClient(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Network(other.to_string()),
        },
        S::Json(j) => Error::Unexpected(format!("malformed JSON from Dropbox: {j}")),
        S::UnexpectedResponse(s) => Error::Unexpected(s),
        S::BadRequest(s) => Error::BadRequest(s.chars().take(300).collect()),
        S::Authentication(a) => Error::Auth(match a {
            dropbox_sdk::auth::AuthError::ExpiredAccessToken => AuthProblem::Expired,
            dropbox_sdk::auth::AuthError::MissingScope(s) => {
                AuthProblem::MissingScope(s.required_scope)
            }
            dropbox_sdk::auth::AuthError::InvalidAccessToken
            | dropbox_sdk::auth::AuthError::UserSuspended => AuthProblem::Revoked,
            other => AuthProblem::Other(format!(
                "Dropbox refused the credentials ({other:?}) — run `nuvosync link`"
            )),
        }),
        S::RateLimited {
            reason,
            retry_after_seconds,
        } => Error::RateLimited {
            retry_after_secs: retry_after_seconds.max(1) as u64,
            write: matches!(
                reason,
                dropbox_sdk::auth::RateLimitReason::TooManyWriteOperations
            ),
        },
        S::AccessDenied(a) => {
            Error::Auth(AuthProblem::Other(format!("Dropbox denied access ({a:?})")))
        }
        S::ServerError(s) => Error::Server(s.chars().take(200).collect()),
        S::UnexpectedHttpError { code, response } => Error::Unexpected(format!(
            "HTTP {code}: {}",
            response.chars().take(200).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(Error::TooManyWriteOperations.is_retryable());
        assert!(Error::Network("x".into()).is_offline());
        assert!(!Error::Conflict(Conflict::File).is_retryable());
        assert!(Error::Auth(AuthProblem::Revoked).is_auth());
        assert!(
            Error::Auth(AuthProblem::Revoked)
                .to_string()
                .contains("nuvosync link")
        );
    }
}
