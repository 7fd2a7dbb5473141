//! What the executor, the transfer stage and the exported copies work with: one pair's
//! parts, lent to them for a call ([`Ctx`]), and the few things they ask of the pair
//! ([`Host`]). The pair builds the context and passes it in, so none of them reaches into the
//! pair itself.

use crate::events::Events;
use crate::index::Index;
use crate::localfs::{OsTrash, Root};
use crate::outcome::{Counters, SyncError};
use crate::remote::{Remote, RemoteRoot};
use crate::rules::Rules;
use crate::settings::Tuning;
use crate::sync_lock::lock;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use sync_core::{Key, Op};
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// One pair's parts, as the executor needs them.
pub(crate) struct Ctx<'a> {
    /// The pair's name (events, logs).
    pub name: &'a str,
    /// The pair's local folder.
    pub local_root: &'a Path,
    /// The pair's index.
    pub index: &'a Mutex<Index>,
    /// The Dropbox client.
    pub remote: &'a Arc<dyn Remote>,
    /// The pair's folder on Dropbox.
    pub root: &'a RemoteRoot,
    /// The knobs.
    pub tuning: &'a Tuning,
    /// Events for front ends.
    pub events: &'a Events,
    /// What the run did.
    pub counters: &'a Counters,
    /// Failures per key in this run (a key is given up after `Tuning::max_failures`).
    pub failures: &'a Mutex<HashMap<Key, u32>>,
    /// Transfers of files above `Tuning::small_file`: `Tuning::transfers` at a time.
    pub transfer_slots: &'a Semaphore,
    /// Large uploads hold a chunk in memory each: only a few at a time.
    pub large_uploads: &'a Semaphore,
    /// One commit at a time per account.
    pub commit_lock: &'a tokio::sync::Mutex<()>,
    /// What is asked of the pair itself.
    pub host: &'a dyn Host,
}

/// What the executor asks of the pair it works for.
pub(crate) trait Host: Send + Sync {
    /// The pair's folder through the checked file layer.
    fn files(&self) -> Result<Arc<Root>, SyncError>;
    /// The desktop's trash, if deletes go there.
    fn os_trash(&self) -> Option<OsTrash>;
    /// The rules in force.
    fn rules(&self) -> Rules;
    /// The local copies of exported documents, never synced as files (`crate::export`).
    fn set_exported(&self, keys: &[Key]);
    /// Record that the folder's state moved on (marker and index generation).
    fn bump_generation(&self) -> Result<(), SyncError>;
    /// Scan these paths of the local folder into the index.
    fn scan<'a>(&'a self, scopes: &'a [String]) -> BoxFuture<'a, Result<bool, SyncError>>;
    /// Hand a big transfer to the pair's transfer stage; `op` comes back if the stage does
    /// not take it (then the executor runs it itself).
    fn hand_off(&self, op: Op) -> Option<Op>;
}

/// One round's or one transfer's turn (see `crate::stage`): taken at most once, held until
/// dropped.
pub(crate) struct Turn {
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Mutex<Option<OwnedMutexGuard<()>>>,
}

impl Turn {
    pub(crate) fn new(lock: Arc<tokio::sync::Mutex<()>>) -> Turn {
        Turn {
            lock,
            held: Mutex::new(None),
        }
    }

    /// Wait for the turn (at once if it is already held).
    pub(crate) async fn take(&self) {
        if lock(&self.held).is_some() {
            return;
        }
        let g = self.lock.clone().lock_owned().await;
        *lock(&self.held) = Some(g);
    }
}
