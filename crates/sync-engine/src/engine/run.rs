//! Running a pair: continuously ([`PairHandle::run`]) or once, until both sides agree
//! ([`PairHandle::sync_once`]); and the user's word that a mass delete may go ahead.

use super::PairHandle;
use crate::pair::{Report, SyncError};
use crate::runner::{RunOptions, Runner};

impl PairHandle {
    /// Keep the pair in sync until the runner is stopped.
    pub fn run(&self, opts: RunOptions) -> Runner {
        Runner::spawn(self.pair.clone(), opts)
    }

    /// Converge the pair once: rounds until both sides agree.
    pub async fn sync_once(&self) -> Result<Report, SyncError> {
        self.pair.sync_once().await
    }

    /// The user confirmed the deletes the mass-delete guard held back: the next round
    /// carries them out.
    pub fn confirm_deletes(&self) {
        self.pair.confirm_deletes();
    }
}
