//! The control API of nuvosync: one set of commands and events that every front end uses —
//! the CLI, the control socket of the daemon, and the tray app.
//!
//! - [`config`]: where things live (XDG paths, overrides) and the TOML configuration.
//! - [`error`]: errors as `{code, message}`, with the message saying what to do next.
//! - [`service`]: the commands.

pub mod config;
pub mod error;
pub mod service;

pub use config::{Config, PairConfig, Paths};
pub use error::{ApiError, ErrorCode};
pub use service::Service;
