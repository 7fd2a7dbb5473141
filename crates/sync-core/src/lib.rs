//! The pure heart of nuvosync.
//!
//! Everything in this crate is a function of its inputs: no file system, no network, no
//! clock, no threads. The engine (`sync-engine`) observes the world and feeds the
//! observations in; the planner hands back operations for the engine to carry out.
//!
//! Terms used throughout:
//! - **Local tree**: what was last observed on disk.
//! - **Remote tree**: what Dropbox's change feed last reported.
//! - **Synced tree**: the merge base — the last state both sides agreed on, per node.
//! - **Plan**: a batch of operations that are safe to run concurrently.

pub mod hash;

pub use hash::{BLOCK_SIZE, ContentHash, ContentHasher};
pub mod path;
pub mod plan;
pub mod tree;

pub use plan::{ClashReason, Op, Plan, Settings, plan};
pub use tree::{
    Edit, Key, LocalKind, LocalNode, Outcome, RemoteKind, RemoteNode, SyncedKind, SyncedNode,
    Trees, effects,
};
