//! A pair's conflicts, each with both versions as they are on disk now, and resolving one:
//! keep both versions, keep mine (the set-aside local copy takes the
//! contested name; Dropbox's version goes to the trash here and stays in Dropbox's history),
//! or keep theirs (the local copy goes to the trash). Every file operation goes through the
//! pair's checked file layer: a path with `..`, or through a linked folder, is refused, and
//! nothing outside the pair's folder is touched.

use super::PairHandle;
use crate::pair::{SyncError, now};
use std::path::PathBuf;

/// A conflict and its two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// Its id (per pair).
    pub id: i64,
    /// When it was found (seconds since the epoch).
    pub at: i64,
    /// `conflict`, `case` or `unicode`.
    pub kind: String,
    /// The user resolved it.
    pub resolved: bool,
    /// This computer's version (the set-aside copy).
    pub mine: FileVersion,
    /// Dropbox's version (under the contested name).
    pub theirs: FileVersion,
}

/// One version of a conflict as it is on disk now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVersion {
    /// Relative display path.
    pub path: String,
    /// Its size, if it is still there.
    pub size: Option<u64>,
    /// When it was modified (seconds since the epoch), if it is still there.
    pub modified: Option<i64>,
    /// Its absolute path (to open it); `None` for a path that could lead out of the folder.
    pub abs: Option<PathBuf>,
}

/// What the user chose for a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Keep both files (the conflicted copy stays).
    KeepBoth,
    /// Keep the local version: it replaces Dropbox's.
    KeepMine,
    /// Keep Dropbox's version: the local copy goes to the trash.
    KeepTheirs,
}

/// Why a conflict was not resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The pair has no conflict of that id.
    #[error("no conflict {0} in this pair — see `nuvosync conflicts`")]
    NoConflict(i64),
    /// A path of the conflict could lead out of the pair's folder (`..`, a linked folder on
    /// the way): nothing is done.
    #[error("refusing to resolve conflict {id}: {reason}")]
    Refused {
        /// The conflict.
        id: i64,
        /// Which path, and why.
        reason: String,
    },
    /// "Keep mine", but the local version is gone.
    #[error("your version {0} is gone — nothing to keep")]
    MineGone(String),
    /// The index or the file layer failed (or refused a path).
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<crate::index::IndexError> for ResolveError {
    fn from(e: crate::index::IndexError) -> Self {
        ResolveError::Sync(e.into())
    }
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> ResolveError + '_ {
    move |source| {
        ResolveError::Sync(SyncError::Io {
            what: what.to_string(),
            source,
        })
    }
}

impl PairHandle {
    /// The pair's conflicts (with `include_resolved`, the resolved ones too), unresolved
    /// first, newest first. Each version is looked at through the checked file layer.
    pub fn conflicts(&self, include_resolved: bool) -> Result<Vec<Conflict>, SyncError> {
        let p = &self.pair;
        let records = p.with_reader(|ix| ix.conflicts(include_resolved))?;
        // Only looked at: opened for this listing, not kept for the pair's run.
        let files = crate::localfs::Root::open(p.tuning.fs.clone(), p.root()).ok();
        let version = |rel: &str| {
            let md = files.as_ref().and_then(|f| f.stat(rel).ok());
            FileVersion {
                path: rel.to_string(),
                size: md.as_ref().map(|m| m.len()),
                modified: md
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64),
                abs: crate::localfs::abs(p.root(), rel).ok(),
            }
        };
        Ok(records
            .into_iter()
            .map(|c| Conflict {
                id: c.id,
                at: c.at,
                mine: version(&c.copy_path),
                theirs: version(&c.path),
                kind: c.kind,
                resolved: c.resolved,
            })
            .collect())
    }

    /// Resolve conflict `id` of this pair as chosen, and mark it resolved.
    pub fn resolve(&self, id: i64, choice: Resolution) -> Result<(), ResolveError> {
        let p = &self.pair;
        let c = p
            .with_index(|ix| ix.conflicts(true))?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(ResolveError::NoConflict(id))?;
        // Through the pair's checked file layer: nothing through a link, nothing outside.
        let files = p.files()?;
        let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
        let os = p.os_trash();
        if choice != Resolution::KeepBoth {
            for path in [&c.path, &c.copy_path] {
                let checked =
                    crate::localfs::abs(p.root(), path).and_then(|_| files.check_parents(path));
                if let Err(e) = checked {
                    return Err(ResolveError::Refused {
                        id,
                        reason: e.to_string(),
                    });
                }
            }
        }
        match choice {
            Resolution::KeepBoth => {}
            Resolution::KeepTheirs => {
                if files.exists(&c.copy_path) {
                    files
                        .to_trash(&c.copy_path, &stamp, os.as_ref())
                        .map_err(io("cannot move your copy to the trash"))?;
                }
            }
            Resolution::KeepMine => {
                if !files.exists(&c.copy_path) {
                    return Err(ResolveError::MineGone(c.copy_path));
                }
                // Dropbox's version stays in Dropbox's history (and goes to the trash here).
                if files.exists(&c.path) {
                    files
                        .to_trash(&c.path, &stamp, os.as_ref())
                        .map_err(io("cannot move Dropbox's version aside"))?;
                }
                files
                    .rename(&c.copy_path, &c.path, true)
                    .map_err(io("cannot put your version in place"))?;
            }
        }
        p.with_index(|ix| ix.resolve_conflict(id))?;
        Ok(())
    }
}
