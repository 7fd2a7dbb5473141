//! The commands that talk to the service: through the daemon's control socket when it runs,
//! in-process for the few that need no running engine (link, unlink, account, restore).
//!
//! One file per command family: `status` (status, activity), `files` (conflicts, a file's
//! status, versions, deleted files), `settings` (settings, excluded folders, autostart),
//! `account` (link, account, doctor), `restore` (the restore wizard) and `daemon` (running
//! the daemon). This file holds what they share: the connection and the printing helpers.

mod account;
mod daemon;
mod files;
mod restore;
mod settings;
mod status;
mod sync;

pub use account::{account, doctor, link};
pub use daemon::daemon;
pub use files::{conflicts, deleted, filestatus, history, resolve, restore_version, undelete};
pub use restore::restore;
pub use settings::{autostart, excluded, settings};
pub use status::{activity, status};
#[cfg(feature = "demo")]
pub use sync::print_sync;
pub use sync::sync_once;

use crate::args::Cli;
use nuvosync_api::dto::*;
use nuvosync_api::socket::Client;
use nuvosync_api::{ApiError, Daemon, ErrorCode, Paths, Service};
use std::sync::Arc;

/// Print an error the way every command does, and return its exit code.
pub fn fail(e: &ApiError) -> i32 {
    eprintln!("nuvosync: {e}");
    e.exit_code()
}

fn paths(cli: &Cli) -> Result<Paths, ApiError> {
    Paths::resolve(cli.config_dir.clone(), cli.state_dir.clone())
}

/// Where commands go: the daemon's socket, or (for the commands that need no running
/// engine) the service in this process.
pub enum Conn {
    /// The running daemon.
    Socket(Client),
    /// In-process.
    Local(Arc<Daemon>),
}

impl Conn {
    /// Connect to the daemon; if `local` and none runs, work in-process.
    pub async fn open(cli: &Cli, local: bool) -> Result<Conn, ApiError> {
        let paths = paths(cli)?;
        match Client::connect(&paths.socket()).await {
            Ok(c) => Ok(Conn::Socket(c)),
            Err(e) if local && e.code == ErrorCode::NoDaemon => {
                Ok(Conn::Local(Daemon::idle(Arc::new(Service::open(paths)?))))
            }
            Err(e) => Err(e),
        }
    }

    /// Send one command; its answer, typed as the command's answer is (`ask!` says which).
    pub async fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        ask: Ask<T>,
    ) -> Result<T, ApiError> {
        match self {
            Conn::Socket(c) => c.ask(ask).await,
            Conn::Local(d) => d.ask(ask).await,
        }
    }
}

/// Send a command to the daemon; if `local` and no daemon runs, handle it in-process.
pub async fn call<T: serde::de::DeserializeOwned>(
    cli: &Cli,
    ask: Ask<T>,
    local: bool,
) -> Result<T, ApiError> {
    Conn::open(cli, local).await?.call(ask).await
}

/// The pair a command is about: the one given, or the only one.
async fn one_pair(cli: &Cli, pair: &Option<String>) -> Result<String, ApiError> {
    if let Some(p) = pair {
        return Ok(p.clone());
    }
    let pairs = Service::open(paths(cli)?)?.pairs();
    match pairs.as_slice() {
        [one] => Ok(one.name.clone()),
        [] => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "no pairs are configured — add one with `nuvosync pair add`",
        )),
        _ => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "there are several pairs — say which with --pair NAME",
        )),
    }
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn when(t: Option<i64>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let ago = sync_engine::engine::now() - t;
            match ago {
                ..=5 => "just now".into(),
                6..=119 => format!("{ago} s ago"),
                120..=7199 => format!("{} min ago", ago / 60),
                _ => nuvosync_dropbox::client::timestamp(t)
                    .replace('T', " ")
                    .trim_end_matches('Z')
                    .to_string(),
            }
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Commands that print nothing but "done".
/// Send `cmd` and print `done`; `local`: handled in-process when no daemon runs.
pub async fn simple<T: serde::de::DeserializeOwned>(
    cli: &Cli,
    ask: Ask<T>,
    done: &str,
    local: bool,
) -> i32 {
    match call(cli, ask, local).await {
        Ok(_) => {
            println!("{done}");
            0
        }
        Err(e) => fail(&e),
    }
}

/// `path` as given, made absolute against the current folder.
pub fn absolute(path: &str) -> std::path::PathBuf {
    let given = std::path::Path::new(path);
    if given.is_absolute() {
        given.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(given))
            .unwrap_or_else(|_| given.to_path_buf())
    }
}
