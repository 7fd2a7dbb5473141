//! The engine as front ends see it, its façade: an [`Engine`] owns the open pairs of a
//! process, and hands out one [`PairHandle`] per open pair, with everything a front end asks
//! of a pair — running it and syncing it once (`run`), its counts, issues and history and a
//! rebuild of its index (`state`), the guided restore of a snapshot (`restore`), a file's
//! sync status (`status`), the conflicts and their resolution (`resolve`), the versions
//! Dropbox keeps, the files deleted there and how to bring them back (`versions`), and the
//! folder tree on Dropbox (`folders`). Front ends map what these return to their own types;
//! the reasoning stays here. What else they need of the engine (a clock, the ignore file's
//! name, the types these methods return) is re-exported here, so that a front end names no
//! other module of the engine (`tests/crate_graph.rs` checks it).

mod folders;
mod pairs;
mod resolve;
mod restore;
mod run;
mod state;
mod status;
mod versions;

pub use folders::RemoteFolder;
pub use pairs::Engine;
pub use resolve::{Conflict, FileVersion, Resolution, ResolveError};
pub use restore::{RestoreDone, RestoreItem, RestorePlan};
pub use state::PairSummary;
pub use status::{FileState, FileStatus};
pub use versions::{Deleted, UndeleteError};

pub use crate::index::{HistoryEntry, Issue};
pub use crate::pair::now;
pub use crate::rules::{IGNORE_FILE, real_path};
pub use crate::selective::Freed;

use crate::pair::Pair;
use std::sync::Arc;

/// One open pair, as front ends use it.
#[derive(Clone)]
pub struct PairHandle {
    pair: Arc<Pair>,
}

impl PairHandle {
    /// The handle of an open pair.
    pub(crate) fn new(pair: Arc<Pair>) -> PairHandle {
        PairHandle { pair }
    }

    /// The pair itself, for the engine's own tests and the tests of front ends (which
    /// prepare an index as a case needs it).
    #[cfg(feature = "testing")]
    pub fn pair(&self) -> &Arc<Pair> {
        &self.pair
    }
}

/// The content hash of the file at `path` (no link is followed), as the scanner computes it;
/// `None` when the file changed while it was read. For measuring the hashing speed
/// (`nuvosync debug hash`).
pub fn hash_file(path: &std::path::Path) -> std::io::Result<Option<sync_core::ContentHash>> {
    let md = std::fs::symlink_metadata(path)?;
    crate::scan::hash_file(path, &crate::scan::sig_of(&md))
}
