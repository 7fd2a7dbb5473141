//! What the engine tells front ends: state changes, transfer progress, conflicts, errors.
//! A broadcast channel: front ends subscribe; nobody listening costs nothing.
//!
//! These are the very types front ends receive (the control API passes them on); with the
//! `ts` feature each has a TypeScript twin, generated with the API's other types.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The state of a pair, as shown in the tray and status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PairState {
    /// In sync.
    UpToDate,
    /// Work in progress.
    Syncing,
    /// Paused by the user or a guard (see the reason in status).
    Paused,
    /// Dropbox cannot be reached; retrying.
    Offline,
    /// The pair needs the user: a guard holds it, a restore was detected
    /// ([`PauseReason::needs_user`](crate::PauseReason::needs_user)), or conflicts wait to be
    /// reviewed ([`RunStatus::shown_state`](crate::RunStatus::shown_state)).
    Attention,
    /// Something needs the user (relink, folder missing...).
    Error,
}

/// One event. Front ends receive each as it is, but for `Progress`: the control API sends a
/// transfer's progress with its rate and time left instead (so `Progress` has no TypeScript
/// twin). In TypeScript it is `PairEvent` (`Event` is the browser's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "PairEvent"))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The pair's state changed.
    State {
        /// Pair name.
        pair: String,
        /// New state.
        state: PairState,
    },
    /// A transfer progressed.
    #[cfg_attr(feature = "ts", ts(skip))]
    Progress {
        /// Pair name.
        pair: String,
        /// Relative path.
        path: String,
        /// `upload` or `download`.
        direction: String,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// A file finished (uploaded, downloaded, deleted, moved).
    Synced {
        /// Pair name.
        pair: String,
        /// Relative path.
        path: String,
        /// What happened.
        action: String,
    },
    /// Both sides changed a file; both versions were kept.
    Conflict {
        /// Pair name.
        pair: String,
        /// The contested path (Dropbox's version).
        path: String,
        /// Where the local version went.
        copy_path: String,
    },
    /// A file could not be synced.
    FileError {
        /// Pair name.
        pair: String,
        /// Relative path.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The pair stopped and waits for the user.
    Paused {
        /// Pair name.
        pair: String,
        /// Why, and what to do.
        message: String,
        /// Machine code of the reason.
        code: String,
    },
}

/// The event channel of a pair (or of the whole daemon).
#[derive(Clone, Debug)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    /// Share another channel (several pairs report into one).
    pub fn from_sender(tx: broadcast::Sender<Event>) -> Self {
        Events { tx }
    }
    /// Send (dropped if nobody listens).
    pub fn send(&self, e: Event) {
        let _ = self.tx.send(e);
    }
    /// Listen.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
    /// The sender, to share.
    pub fn sender(&self) -> broadcast::Sender<Event> {
        self.tx.clone()
    }
}
