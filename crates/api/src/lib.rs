//! The control API of nuvosync: one set of commands and events that every front end uses —
//! the CLI, the control socket of the daemon, and the tray app.
//!
//! - [`config`]: where things live (XDG paths, overrides) and the TOML configuration.
//! - [`error`]: errors as `{code, message}`, with the message saying what to do next.
//! - [`dto`]: the types front ends see (with generated TypeScript twins).
//! - [`service`]: the commands.

pub mod autostart;
pub mod config;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod dto;
pub mod error;
pub mod instance;
pub mod logging;
pub mod notify;
pub mod restore;
pub mod service;
pub mod socket;
pub mod tray;

pub use config::{Config, PairConfig, Paths};
pub use daemon::Daemon;
pub use error::{ApiError, ErrorCode};
pub use service::Service;
pub use sync_engine::tune_allocator;
