//! Path arguments: their forms (`""`, `/path`, `id:`, `rev:`, `ns:`), the checks Dropbox makes
//! on them, how they resolve inside the caller's scope, and the lookup and write errors.

use super::Call;
use crate::ops::{ConflictKind, OpError};
use crate::state::Account;
use crate::store::Namespace;
use crate::wire::{ApiError, Scope};
use dropbox_sdk::files;
use serde_json::Value;
use std::sync::Arc;

/// A path argument after its form was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathArg {
    /// The root of the scope (`""`).
    Root,
    /// A full display path.
    Path(String),
    /// `id:...`.
    Id(String),
    /// `rev:...`.
    Rev(String),
}

/// Which forms a path argument may take.
#[derive(Clone, Copy)]
pub struct Forms {
    pub(super) root: bool,
    pub(super) id: bool,
    pub(super) rev: bool,
}

pub(super) const READ: Forms = Forms {
    root: false,
    id: true,
    rev: true,
};
pub(super) const LOOKUP: Forms = Forms {
    root: false,
    id: true,
    rev: false,
};
pub(super) const LIST: Forms = Forms {
    root: true,
    id: true,
    rev: false,
};
pub(super) const WRITE: Forms = Forms {
    root: false,
    id: false,
    rev: false,
};

/// Check a path's form. Wrong shape → 400 (as Dropbox's pattern check); well shaped but
/// malformed (`//`, trailing `/`, `..`, NUL, over-long names) → 409 `malformed_path`.
pub fn parse_path(
    call: &Call,
    account: &Account,
    raw: &str,
    forms: Forms,
) -> Result<PathArg, PathProblem> {
    if raw.is_empty() {
        return if forms.root {
            Ok(PathArg::Root)
        } else {
            Err(PathProblem::Pattern)
        };
    }
    if let Some(id) = raw.strip_prefix("id:") {
        return if forms.id && !id.is_empty() {
            Ok(PathArg::Id(raw.to_string()))
        } else {
            Err(PathProblem::Pattern)
        };
    }
    if let Some(rev) = raw.strip_prefix("rev:") {
        let ok = forms.rev && rev.len() >= 9 && rev.chars().all(|c| c.is_ascii_hexdigit());
        return if ok {
            Ok(PathArg::Rev(rev.to_string()))
        } else {
            Err(PathProblem::Pattern)
        };
    }
    let rel = if let Some(rest) = raw.strip_prefix("ns:") {
        let (nsid, tail) = rest
            .split_once('/')
            .map(|(a, b)| (a, format!("/{b}")))
            .unwrap_or((rest, String::new()));
        if nsid != account.namespace_id || !call.scope.root.is_empty() {
            return Err(PathProblem::NotFound);
        }
        tail
    } else if raw.starts_with('/') {
        raw.to_string()
    } else {
        return Err(PathProblem::Pattern);
    };
    if rel.is_empty() {
        return if forms.root {
            Ok(PathArg::Root)
        } else {
            Err(PathProblem::Malformed)
        };
    }
    if rel == "/" {
        // Dropbox refuses "/" for the root, with a 400 that names the fix.
        return Err(if forms.root {
            PathProblem::RootAsSlash
        } else {
            PathProblem::Malformed
        });
    }
    for comp in rel[1..].split('/') {
        let bad = comp.is_empty()
            || comp == "."
            || comp == ".."
            // Dropbox counts a name's length in UTF-16 units, at most 255 (its help page on
            // file names counts an emoji as two characters).
            || comp.encode_utf16().count() > 255
            || comp.ends_with(' ')
            || comp
                .chars()
                .any(|c| c == '\0' || c == '\u{7f}' || c == '\\');
        if bad {
            return Err(PathProblem::Malformed);
        }
    }
    // Dropbox keeps names composed (NFC): a name sent decomposed (as macOS file systems give
    // it) is stored, listed and found composed (the official SDK's and Maestral's integration
    // tests expect `path_display` in NFC).
    let rel: String = unicode_normalization::UnicodeNormalization::nfc(rel.as_str()).collect();
    Ok(PathArg::Path(call.scope.full_path(&rel)))
}

/// Why a path argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Fails the route's path pattern (400).
    Pattern,
    /// Shaped right, but not a valid path (409 malformed_path).
    Malformed,
    /// Names a namespace the caller cannot see.
    NotFound,
    /// `"/"` where the root is meant (400: the root is `""`).
    RootAsSlash,
}

pub(super) fn lookup_error(e: &OpError) -> files::LookupError {
    match e {
        OpError::NotFile => files::LookupError::NotFile,
        OpError::NotFolder => files::LookupError::NotFolder,
        OpError::MalformedPath => files::LookupError::MalformedPath(None),
        _ => files::LookupError::NotFound,
    }
}

pub(super) fn write_error(e: &OpError) -> files::WriteError {
    match e {
        OpError::Conflict(ConflictKind::File) => {
            files::WriteError::Conflict(files::WriteConflictError::File)
        }
        OpError::Conflict(ConflictKind::Folder) => {
            files::WriteError::Conflict(files::WriteConflictError::Folder)
        }
        OpError::Conflict(ConflictKind::FileAncestor) => {
            files::WriteError::Conflict(files::WriteConflictError::FileAncestor)
        }
        OpError::DisallowedName => files::WriteError::DisallowedName,
        OpError::InsufficientSpace => files::WriteError::InsufficientSpace,
        OpError::MalformedPath => files::WriteError::MalformedPath(None),
        _ => files::WriteError::NoWritePermission,
    }
}

/// Resolve a path argument to a full display path for reading (ids must exist and lie in scope).
pub(super) fn resolve_read(
    ns: &Namespace,
    scope: &Scope,
    arg: &PathArg,
) -> Result<Option<String>, OpError> {
    match arg {
        PathArg::Root => Ok(None),
        PathArg::Path(p) => Ok(Some(p.clone())),
        PathArg::Id(id) => {
            let p = ns.path_of_id(id).ok_or(OpError::NotFound)?;
            if !crate::store::within(p, &scope.root_lower()) {
                return Err(OpError::NotFound);
            }
            Ok(Some(
                ns.get(p).map(|n| n.display.clone()).unwrap_or_default(),
            ))
        }
        PathArg::Rev(_) => Err(OpError::NotFound),
    }
}

impl Call {
    pub(super) fn account(&self) -> Result<&Arc<Account>, ApiError> {
        self.account
            .as_ref()
            .ok_or(ApiError::Auth("invalid_access_token"))
    }

    #[allow(dead_code)]
    fn arg_value(&self) -> Value {
        serde_json::from_slice(&self.arg).unwrap_or(Value::Null)
    }

    pub(super) fn path(
        &self,
        raw: &str,
        forms: Forms,
    ) -> Result<Result<PathArg, OpError>, ApiError> {
        let account = self.account()?;
        match parse_path(self, account, raw, forms) {
            Ok(p) => Ok(Ok(p)),
            Err(PathProblem::Pattern) => Err(ApiError::bad_arg(
                &self.route,
                "path",
                format!(
                    "'{raw}' did not match pattern '(/(.|[\\r\\n])*)|(ns:[0-9]+(/.*)?)|(id:.*)'"
                ),
            )),
            Err(PathProblem::RootAsSlash) => Err(ApiError::bad_arg(
                &self.route,
                "request body: path",
                "Specify the root folder as an empty string rather than as \"/\".",
            )),
            Err(PathProblem::Malformed) => Ok(Err(OpError::MalformedPath)),
            Err(PathProblem::NotFound) => Ok(Err(OpError::NotFound)),
        }
    }

    /// A write path as a full display path, or the route error for it.
    pub(super) fn write_path(
        &self,
        raw: &str,
        wrap: impl Fn(files::WriteError) -> ApiError,
    ) -> Result<String, ApiError> {
        let forms = if self.route.ends_with("upload")
            || self.route.contains("finish")
            || self.route.ends_with("delete_v2")
        {
            Forms { id: true, ..WRITE }
        } else {
            WRITE
        };
        match self.path(raw, forms)? {
            Ok(PathArg::Path(p)) => Ok(p),
            Ok(PathArg::Id(id)) => {
                let account = self.account()?;
                let ns = account.ns.lock();
                match resolve_read(&ns, &self.scope, &PathArg::Id(id)) {
                    Ok(Some(p)) => Ok(p),
                    _ => Err(wrap(files::WriteError::MalformedPath(None))),
                }
            }
            Ok(_) => Err(wrap(files::WriteError::MalformedPath(None))),
            Err(e) => Err(wrap(write_error(&e))),
        }
    }
}
