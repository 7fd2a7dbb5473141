//! The engine as front ends see it: one [`PairHandle`] per open pair, with what a front end
//! asks of a pair beyond running it — the guided restore of a snapshot (`restore`), a file's
//! sync status (`status`), the conflicts and their resolution (`resolve`), and the
//! versions Dropbox keeps and the files deleted there (`versions`). Front ends map what
//! these return to their own types; the reasoning stays here.

mod resolve;
mod restore;
mod status;
mod versions;

pub use resolve::{Conflict, FileVersion, Resolution, ResolveError};
pub use restore::{RestoreDone, RestoreItem, RestorePlan};
pub use status::{FileState, FileStatus};
pub use versions::Deleted;

use crate::pair::Pair;
use std::sync::Arc;

/// One open pair, as front ends use it.
#[derive(Clone)]
pub struct PairHandle {
    pair: Arc<Pair>,
}

impl PairHandle {
    /// The handle of an open pair.
    pub fn new(pair: Arc<Pair>) -> PairHandle {
        PairHandle { pair }
    }

    /// The pair itself (to run it).
    pub fn pair(&self) -> &Arc<Pair> {
        &self.pair
    }
}

impl From<Arc<Pair>> for PairHandle {
    fn from(pair: Arc<Pair>) -> PairHandle {
        PairHandle::new(pair)
    }
}
