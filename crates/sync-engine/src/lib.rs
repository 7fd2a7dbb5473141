//! The sync engine: everything around the pure core that touches the world.
//!
//! - [`index`]: the SQLite index of one pair (the three trees, dirty keys, cursor, sessions).
//! - [`scan`]: the parallel local scanner; [`rules`]: what is never synced.
//! - [`remote`]: the Dropbox calls as a trait, and the pair's root on Dropbox.
//! - [`exec`]: carries out plans safely; [`localfs`]: careful local file operations.
//! - [`pair`]: one pair's observe → plan → execute loop and its guards; [`marker`]: snapshot
//!   restore detection.
//! - [`runner`]: continuous sync (watcher, longpoll, rescans).
//! - [`events`]: what front ends hear.

pub mod events;
pub mod exec;
pub mod index;
pub mod localfs;
pub mod marker;
pub mod pair;
pub mod remote;
pub mod rules;
pub mod runner;
pub mod scan;

pub use events::{Event, Events, PairState};
pub use nuvosync_dropbox::throttle::Limits;
pub use pair::{Pair, PairSpec, PauseReason, Report, SyncError, Tuning};
pub use remote::{Remote, RemoteRoot};
pub use runner::{RunOptions, RunStatus, Runner};
