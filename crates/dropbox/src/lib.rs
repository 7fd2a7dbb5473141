//! nuvosync's Dropbox client.
//!
//! - [`Client`]: the calls a sync engine makes, through the official `dropbox-sdk` routes
//!   over our own [`transport`] (configurable endpoints and CA, retries with backoff,
//!   `Retry-After`, refresh on expiry).
//! - [`auth`]: credentials, access-token refresh, and the OAuth 2 PKCE link flow.
//! - [`store`]: the refresh token in the OS keyring or a 0600 file.
//! - [`probe`]: one-request checks of hosts, clock and granted scopes (`nuvosync doctor`).
//! - [`throttle`]: upload and download bandwidth limits.
//! - [`Backoff`]: the exponential back-off (with or without jitter) between tries.
//! - [`Error`]: every failure, classified and worded to say what to do next.

pub mod adapt;
pub mod auth;
pub mod backoff;
pub mod client;
pub mod endpoints;
pub mod error;
pub mod probe;
pub mod store;
pub mod throttle;
pub mod transport;

pub use auth::{APP_FOLDER, Credential, DEFAULT_APP_KEY, LinkSession, Secret};
pub use backoff::{Backoff, Jitter};
pub use client::{
    Account, Client, Commit, Entry, ExportOnlyEntry, FileEntry, FileHistory, FolderEntry, Page,
    SpaceUsage, WriteMode,
};
pub use endpoints::Endpoints;
pub use error::{AuthProblem, Conflict, Error};
