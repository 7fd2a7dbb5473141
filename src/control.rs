//! The commands that talk to the service: through the daemon's control socket when it runs,
//! in-process for the few that need no running engine (link, unlink, account, restore).

use crate::cli::{Cli, fail};
use clap::{Args, Subcommand, ValueEnum};
use nuvosync_api::dto::*;
use nuvosync_api::socket::Client;
use nuvosync_api::{ApiError, Daemon, ErrorCode, Paths, Service};
use std::io::{IsTerminal, Write};
use std::sync::Arc;

/// `resolve`
#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// Conflict id (from `nuvosync conflicts`).
    pub id: i64,
    /// How to resolve it.
    #[arg(value_enum)]
    pub choice: Choice,
    /// The pair (needed when there are several).
    #[arg(long)]
    pub pair: Option<String>,
}

/// A resolution (the CLI spells them keep-mine, keep-theirs, keep-both).
#[derive(Clone, Copy, Debug, ValueEnum)]
#[allow(clippy::enum_variant_names)] // the words users type
pub enum Choice {
    /// Keep this computer's version under the original name.
    KeepMine,
    /// Keep Dropbox's version; this computer's copy goes to the trash.
    KeepTheirs,
    /// Keep both files.
    KeepBoth,
}

/// `excluded ...`
#[derive(Subcommand, Debug)]
pub enum ExcludedCommand {
    /// List excluded folders.
    List {
        /// The pair.
        #[arg(long)]
        pair: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Exclude a folder: it is no longer synced; its local copy stays unless --remove-local.
    Add {
        /// Folder, relative to the pair's folder.
        path: String,
        /// The pair.
        #[arg(long)]
        pair: Option<String>,
        /// Free the space: move the local copy to the trash — only files that are the version
        /// synced with Dropbox; changed and never-synced files stay. `excluded remove`
        /// downloads it again.
        #[arg(long)]
        remove_local: bool,
    },
    /// Sync a folder again.
    Remove {
        /// Folder, relative to the pair's folder.
        path: String,
        /// The pair.
        #[arg(long)]
        pair: Option<String>,
    },
}

/// `settings ...`
#[derive(Subcommand, Debug)]
pub enum SettingsCommand {
    /// Show the settings.
    Get {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Change a setting: notifications (all|attention|off), snooze (minutes), upload-limit,
    /// download-limit (bytes/s, 0 = none), autostart (true|false), mass-delete-percent (0–100)
    /// and mass-delete-min-files (the guard pauses when one sync would delete more than both),
    /// trash-days and trash-max-mb (what a pair's own trash keeps), history-days and
    /// history-max-entries (what the activity history keeps), export-documents (on|off: Paper
    /// docs exported as read-only local copies).
    Set {
        /// Setting.
        key: String,
        /// Value.
        value: String,
    },
}

/// `restore`
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Preview what a restore would change.
    #[arg(long, conflicts_with_all = ["apply", "continue_"])]
    pub plan: bool,
    /// Make the restored local files the authority (Dropbox's folder is kept as a dated backup).
    #[arg(long, conflicts_with = "continue_")]
    pub apply: bool,
    /// It was not a restore: continue syncing normally (shows what that overwrites; needs --yes).
    #[arg(long = "continue")]
    pub continue_: bool,
    /// Confirm `--continue`.
    #[arg(long)]
    pub yes: bool,
    /// The pair (needed when there are several).
    #[arg(long)]
    pub pair: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
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

    /// Send one command.
    pub async fn call(&mut self, cmd: Command) -> Result<serde_json::Value, ApiError> {
        match self {
            Conn::Socket(c) => c.call(cmd).await,
            Conn::Local(d) => d.handle(cmd).await,
        }
    }

    /// Send one command and decode the answer.
    pub async fn call_as<T: serde::de::DeserializeOwned>(
        &mut self,
        cmd: Command,
    ) -> Result<T, ApiError> {
        let v = self.call(cmd).await?;
        serde_json::from_value(v)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("unexpected answer: {e}")))
    }
}

/// Send a command to the daemon; if `local` and no daemon runs, handle it in-process.
pub async fn call(cli: &Cli, cmd: Command, local: bool) -> Result<serde_json::Value, ApiError> {
    Conn::open(cli, local).await?.call(cmd).await
}

async fn call_as<T: serde::de::DeserializeOwned>(
    cli: &Cli,
    cmd: Command,
    local: bool,
) -> Result<T, ApiError> {
    Conn::open(cli, local).await?.call_as(cmd).await
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
            let ago = sync_engine::pair::now() - t;
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

/// `status`
pub async fn status(cli: &Cli, json: bool) -> i32 {
    let s: StatusDto = match call_as(cli, Command::Status, false).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if json {
        print_json(&s);
        return 0;
    }
    println!("nuvosync: {}", s.summary);
    if let Some(a) = &s.account {
        println!(
            "linked as {} ({} of {} used)",
            a.email,
            human_bytes(a.used),
            human_bytes(a.allocated)
        );
    }
    for p in &s.pairs {
        println!(
            "{}: {:?} — last sync {}, {} files ({}), {} pending — {} ↔ Dropbox {}",
            p.name,
            p.state,
            when(p.last_sync),
            p.files,
            human_bytes(p.bytes),
            p.pending,
            p.local,
            p.remote_path
        );
        if let Some(m) = &p.message {
            println!("  {m}");
        }
        if let Some(w) = &p.watch_problem {
            println!("  {w}");
        }
        if p.conflicts > 0 {
            println!(
                "  {} unresolved conflicts — see `nuvosync conflicts`",
                p.conflicts
            );
        }
        for i in &p.issues {
            println!("  {}: {}", i.path, i.message);
        }
    }
    for t in &s.transfers {
        println!(
            "  {} {} {}/{}",
            t.direction,
            t.path,
            human_bytes(t.done),
            human_bytes(t.total)
        );
    }
    0
}

/// Commands that print nothing but "done".
/// Send `cmd` and print `done`; `local`: handled in-process when no daemon runs.
pub async fn simple(cli: &Cli, cmd: Command, done: &str, local: bool) -> i32 {
    match call(cli, cmd, local).await {
        Ok(_) => {
            println!("{done}");
            0
        }
        Err(e) => fail(&e),
    }
}

/// `activity`
pub async fn activity(cli: &Cli, follow: bool, search: Option<String>, json: bool) -> i32 {
    let a: ActivityDto = match call_as(
        cli,
        Command::Activity {
            search,
            limit: Some(if json { 200 } else { 20 }),
        },
        !follow,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    if json {
        // The history and transfers now, then (following) one event per line.
        print_json(&a);
        if !follow {
            return 0;
        }
    }
    for h in a.history.iter().rev().filter(|_| !json) {
        println!(
            "{}  {:<8} {:<40} {}",
            when(Some(h.at)),
            h.pair,
            h.action,
            h.path
        );
    }
    if !follow {
        return 0;
    }
    let paths = match paths(cli) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let mut events = match Client::connect(&paths.socket()).await {
        Ok(c) => match c.subscribe().await {
            Ok(ev) => ev,
            Err(e) => return fail(&e),
        },
        Err(e) => return fail(&e),
    };
    let tty = std::io::stdout().is_terminal();
    while let Some(e) = events.next().await {
        if json {
            match serde_json::to_string(&e) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("cannot print an event: {e}"),
            }
            continue;
        }
        match e {
            EventDto::Progress { transfer: t } => {
                let pct = (t.done * 100).checked_div(t.total).unwrap_or(100);
                let bar: String = (0..30)
                    .map(|i| if i * 100 / 30 < pct { '█' } else { '░' })
                    .collect();
                let eta = t
                    .eta_secs
                    .map(|s| format!(" {s:.0} s left"))
                    .unwrap_or_default();
                if tty {
                    print!(
                        "\r{} {bar} {pct:>3}% {}/s{eta} {}\x1b[K",
                        t.direction,
                        human_bytes(t.bytes_per_sec as u64),
                        t.path
                    );
                    let _ = std::io::stdout().flush();
                } else {
                    println!("{} {pct}% {}", t.direction, t.path);
                }
            }
            EventDto::Synced { pair, path, action } => {
                if tty {
                    print!("\r\x1b[K");
                }
                println!("{pair}: {action} {path}");
            }
            EventDto::Conflict {
                pair,
                path,
                copy_path,
            } => println!("{pair}: conflict on {path}: both kept (yours as {copy_path})"),
            EventDto::FileError {
                pair,
                path,
                message,
            } => println!("{pair}: {path}: {message}"),
            EventDto::Paused { pair, message, .. } => println!("{pair}: paused: {message}"),
            EventDto::State { pair, state } => println!("{pair}: {state:?}"),
            EventDto::Link { linked } => println!("{}", if linked { "linked" } else { "unlinked" }),
        }
    }
    0
}

/// `conflicts`
pub async fn conflicts(cli: &Cli, json: bool, all: bool) -> i32 {
    let list: Vec<ConflictDto> = match call_as(
        cli,
        Command::Conflicts {
            include_resolved: all,
        },
        true,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if json {
        print_json(&list);
        return 0;
    }
    if list.is_empty() {
        println!("no conflicts");
    }
    for c in list {
        let size = |v: &VersionDto| v.size.map(human_bytes).unwrap_or_else(|| "gone".into());
        println!(
            "#{} [{}] {} ({}):",
            c.id,
            c.pair,
            when(Some(c.at)),
            if c.resolved { "resolved" } else { &c.kind }
        );
        println!(
            "  Dropbox's version: {} ({})",
            c.theirs.path,
            size(&c.theirs)
        );
        println!("  your version:      {} ({})", c.mine.path, size(&c.mine));
    }
    0
}

/// `resolve`
pub async fn resolve(cli: &Cli, a: &ResolveArgs) -> i32 {
    let pair = match &a.pair {
        Some(p) => p.clone(),
        None => {
            let list: Vec<ConflictDto> = match call_as(
                cli,
                Command::Conflicts {
                    include_resolved: false,
                },
                true,
            )
            .await
            {
                Ok(l) => l,
                Err(e) => return fail(&e),
            };
            let pairs: std::collections::BTreeSet<String> = list
                .iter()
                .filter(|c| c.id == a.id)
                .map(|c| c.pair.clone())
                .collect();
            match pairs.len() {
                1 => pairs.into_iter().next().unwrap_or_default(),
                0 => {
                    return fail(&ApiError::new(
                        ErrorCode::NotFound,
                        format!(
                            "no unresolved conflict #{} — see `nuvosync conflicts`",
                            a.id
                        ),
                    ));
                }
                _ => {
                    return fail(&ApiError::new(
                        ErrorCode::InvalidArgument,
                        "that id exists in several pairs — add --pair NAME",
                    ));
                }
            }
        }
    };
    let choice = match a.choice {
        Choice::KeepMine => Resolution::KeepMine,
        Choice::KeepTheirs => Resolution::KeepTheirs,
        Choice::KeepBoth => Resolution::KeepBoth,
    };
    simple(
        cli,
        Command::Resolve {
            pair,
            id: a.id,
            choice,
        },
        "resolved",
        true,
    )
    .await
}

/// `filestatus`
pub async fn filestatus(cli: &Cli, path: &str, json: bool) -> i32 {
    let abs = absolute(path);
    match call_as::<FileStatusDto>(
        cli,
        Command::FileStatus {
            path: abs.display().to_string(),
        },
        true,
    )
    .await
    {
        Ok(s) if json => {
            print_json(&s);
            0
        }
        Ok(s) => {
            println!("{}", s.status.replace('_', " "));
            if let Some(m) = s.message {
                eprintln!("{m}");
            }
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

/// The pair holding a local `path` and the path relative to it. The file itself may be gone
/// (a deleted file's history), so the path is resolved through its folder.
fn locate(cli: &Cli, path: &str) -> Result<(String, String), ApiError> {
    let abs = absolute(path);
    let abs = match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map(|d| d.join(name))
            .unwrap_or_else(|_| abs.clone()),
        _ => abs,
    };
    let pairs = Service::open(paths(cli)?)?.pairs();
    for p in pairs {
        let root = p.local.canonicalize().unwrap_or_else(|_| p.local.clone());
        if let Ok(rest) = abs.strip_prefix(&root) {
            let rel = rest.to_string_lossy().into_owned();
            if rel.is_empty() {
                break;
            }
            return Ok((p.name, format!("/{rel}")));
        }
    }
    Err(ApiError::new(
        ErrorCode::InvalidArgument,
        format!(
            "{path} is not a file in a synced folder — give a path inside one of the folders `nuvosync pair list` shows"
        ),
    ))
}

/// `history`
pub async fn history(cli: &Cli, path: &str, json: bool) -> i32 {
    let (pair, rel) = match locate(cli, path) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let revs: Vec<RevisionDto> = match call_as(
        cli,
        Command::Revisions {
            pair,
            path: rel.clone(),
        },
        true,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if json {
        print_json(&revs);
        return 0;
    }
    if revs.is_empty() {
        println!("no versions of {rel} on Dropbox");
    }
    for (i, r) in revs.iter().enumerate() {
        println!(
            "{}  {:>10}  {}{}",
            r.rev,
            human_bytes(r.size),
            r.server_modified,
            if i == 0 { "  (newest)" } else { "" }
        );
    }
    0
}

/// `restore-version`
pub async fn restore_version(cli: &Cli, path: &str, rev: &str) -> i32 {
    let (pair, rel) = match locate(cli, path) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    match call(
        cli,
        Command::RestoreRevision {
            pair,
            path: rel.clone(),
            rev: rev.to_string(),
        },
        true,
    )
    .await
    {
        Ok(_) => {
            println!(
                "{rel}: version {rev} is current on Dropbox again (the version it replaced stays in `nuvosync history`); the next sync brings it here"
            );
            0
        }
        Err(e) => fail(&e),
    }
}

/// `deleted`
pub async fn deleted(cli: &Cli, pair: &Option<String>, json: bool) -> i32 {
    let pair = match one_pair(cli, pair).await {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let list: Vec<DeletedDto> = match call_as(cli, Command::Deleted { pair }, true).await {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if json {
        print_json(&list);
        return 0;
    }
    if list.is_empty() {
        println!("no deleted files to bring back");
    }
    for d in list {
        println!("{}  {:>10}  {}", d.deleted_at, human_bytes(d.size), d.path);
    }
    0
}

/// `undelete`
pub async fn undelete(cli: &Cli, path: &str) -> i32 {
    let (pair, rel) = match locate(cli, path) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    match call_as::<RevisionDto>(
        cli,
        Command::Undelete {
            pair,
            path: rel.clone(),
        },
        true,
    )
    .await
    {
        Ok(r) => {
            println!(
                "{rel}: brought back on Dropbox (version {}, {}); the next sync brings it here",
                r.rev,
                human_bytes(r.size)
            );
            0
        }
        Err(e) => fail(&e),
    }
}

/// `excluded`
pub async fn excluded(cli: &Cli, excluded_cmd: &ExcludedCommand) -> i32 {
    let (pair, c, json) = match excluded_cmd {
        ExcludedCommand::List { pair, json } => (pair, None, *json),
        ExcludedCommand::Add { path, pair, .. } => (pair, Some((path.clone(), true)), false),
        ExcludedCommand::Remove { path, pair } => (pair, Some((path.clone(), false)), false),
    };
    let pair = match one_pair(cli, pair).await {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let cmd = match c {
        None => Command::ExcludedList { pair },
        Some((path, true)) => Command::ExcludedAdd { pair, path },
        Some((path, false)) => Command::ExcludedRemove { pair, path },
    };
    let free = match cmd {
        Command::ExcludedAdd { ref pair, ref path } => match excluded_cmd {
            ExcludedCommand::Add {
                remove_local: true, ..
            } => Some((pair.clone(), path.clone())),
            _ => None,
        },
        _ => None,
    };
    match call_as::<Vec<String>>(cli, cmd, true).await {
        Ok(list) => {
            if let Some((pair, path)) = free {
                return match call_as::<FreedDto>(
                    cli,
                    Command::ExcludedFree {
                        pair,
                        path: path.clone(),
                    },
                    true,
                )
                .await
                {
                    Ok(f) => {
                        println!(
                            "{path} is excluded; {} file{} ({}) moved to the trash",
                            f.trashed,
                            if f.trashed == 1 { "" } else { "s" },
                            human_bytes(f.bytes)
                        );
                        if !f.kept.is_empty() {
                            println!("kept here (changed since synced, or never synced):");
                            for k in f.kept {
                                println!("  {k}");
                            }
                        }
                        0
                    }
                    Err(e) => fail(&e),
                };
            }
            if json {
                print_json(&list);
                return 0;
            }
            if list.is_empty() {
                println!("nothing is excluded");
            }
            for p in list {
                println!("{p}");
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `settings`
pub async fn settings(cli: &Cli, cmd: &SettingsCommand) -> i32 {
    let result = match cmd {
        SettingsCommand::Get { .. } => {
            call_as::<SettingsDto>(cli, Command::SettingsGet, true).await
        }
        SettingsCommand::Set { key, value } => {
            let bad = || {
                ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("{value:?} is not a valid value for {key}"),
                )
            };
            let num = || value.parse::<u64>().map_err(|_| bad());
            let mut patch = SettingsPatch::default();
            let r = match key.as_str() {
                "notifications" => {
                    patch.notifications = Some(value.clone());
                    Ok(())
                }
                "snooze" => num().map(|n| patch.snooze_minutes = Some(n)),
                "upload-limit" => num().map(|n| patch.upload_limit = Some(n)),
                "download-limit" => num().map(|n| patch.download_limit = Some(n)),
                "autostart" => value
                    .parse::<bool>()
                    .map(|b| patch.autostart = Some(b))
                    .map_err(|_| bad()),
                "mass-delete-percent" => value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= 100)
                    .map(|n| patch.mass_delete_percent = Some(n))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidArgument,
                            format!(
                                "mass-delete-percent is a share of files, 0 to 100, not {value:?}"
                            ),
                        )
                    }),
                "mass-delete-min-files" => num().map(|n| patch.mass_delete_min_files = Some(n)),
                "trash-days" => value
                    .parse::<u32>()
                    .map(|n| patch.trash_days = Some(n))
                    .map_err(|_| bad()),
                "trash-max-mb" => num().map(|n| patch.trash_max_mb = Some(n)),
                "history-days" => value
                    .parse::<u32>()
                    .map(|n| patch.history_days = Some(n))
                    .map_err(|_| bad()),
                "history-max-entries" => num().map(|n| patch.history_max_entries = Some(n)),
                "export-documents" => match value.as_str() {
                    "on" | "true" | "yes" => Ok(true),
                    "off" | "false" | "no" => Ok(false),
                    _ => Err(ApiError::new(
                        ErrorCode::InvalidArgument,
                        format!("export-documents is on or off, not {value:?}"),
                    )),
                }
                .map(|b| patch.export_documents = Some(b)),
                _ => Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "unknown setting {key:?} — one of notifications, snooze, upload-limit, download-limit, autostart, mass-delete-percent, mass-delete-min-files, trash-days, trash-max-mb, history-days, history-max-entries, export-documents"
                    ),
                )),
            };
            match r {
                // Without a daemon the configuration file is changed directly.
                Ok(()) => call_as::<SettingsDto>(cli, Command::SettingsSet { patch }, true).await,
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(s) => {
            if matches!(cmd, SettingsCommand::Get { json: true }) {
                print_json(&s);
            } else {
                println!(
                    "notifications: {}{}",
                    s.notifications,
                    s.snoozed_until
                        .map(|t| format!(" (snoozed until {})", when(Some(t))))
                        .unwrap_or_default()
                );
                println!(
                    "upload limit: {}",
                    if s.upload_limit == 0 {
                        "none".into()
                    } else {
                        format!("{}/s", human_bytes(s.upload_limit))
                    }
                );
                println!(
                    "download limit: {}",
                    if s.download_limit == 0 {
                        "none".into()
                    } else {
                        format!("{}/s", human_bytes(s.download_limit))
                    }
                );
                println!("autostart: {}", s.autostart);
                println!(
                    "mass-delete guard: pause when one sync would delete more than {} % of a side and more than {} files",
                    s.mass_delete_percent, s.mass_delete_min_files
                );
                if let (Some(days), Some(mb)) = (s.trash_days, s.trash_max_mb) {
                    println!(
                        "pair trash: files deleted here stay {days} days, at most {mb} MiB per pair"
                    );
                }
                if let (Some(days), Some(n)) = (s.history_days, s.history_max_entries) {
                    println!("history: {days} days, at most {n} entries per pair");
                }
                if let Some(on) = s.export_documents {
                    println!(
                        "export documents (Paper docs as read-only copies): {}",
                        if on { "on" } else { "off" }
                    );
                }
                for p in s.pairs {
                    println!(
                        "pair {}: watch {}, rescan every {} s, excluded {:?}",
                        p.name, p.watch, p.rescan_interval_secs, p.excluded
                    );
                }
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `link`: the loopback redirect when a browser can be shown here (the consent page opened
/// through a private forwarding page, never on a command line), the code-paste flow with
/// `--no-browser`, without a display, or when none of the sign-in ports is free.
pub async fn link(cli: &Cli, no_browser: bool, app_key: Option<String>) -> i32 {
    // One connection for the whole sign-in: it holds the sign-in in progress.
    let mut conn = match Conn::open(cli, true).await {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let browser = !no_browser && crate::browser::available();
    if !no_browser && !browser {
        println!(
            "No display here (DISPLAY and WAYLAND_DISPLAY are unset), so no browser can be opened: Dropbox will show a code to paste instead."
        );
    }
    let start: LinkStartDto = match conn
        .call_as(Command::LinkStart {
            loopback: browser,
            app_key,
        })
        .await
    {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Some(why) = &start.paste_reason {
        println!("Note: {why}.");
    }
    println!(
        "Link nuvosync to your Dropbox (it gets only its own folder, Apps/nuvolos.cloud). Open:\n\n  {}\n",
        start.authorize_url
    );
    let account: Result<AccountDto, ApiError> = if start.redirect_uri.is_none() {
        print!("Then paste the code Dropbox shows you: ");
        let _ = std::io::stdout().flush();
        let mut code = String::new();
        if std::io::stdin().read_line(&mut code).is_err() || code.trim().is_empty() {
            return fail(&ApiError::new(
                ErrorCode::InvalidArgument,
                "no code given — run `nuvosync link --no-browser` again",
            ));
        }
        conn.call_as(Command::LinkFinish {
            redirect: code.trim().to_string(),
        })
        .await
    } else {
        // Kept until the sign-in ends: the browser may read it only after a while.
        let page = crate::browser::ForwardPage::new(&start.authorize_url);
        let opened = page.as_ref().is_ok_and(|p| p.open());
        if !opened {
            println!(
                "(no browser could be opened here — open the address above yourself, or use `nuvosync link --no-browser` on a machine without a desktop)"
            );
        }
        println!("Waiting for you to allow access in the browser…");
        let outcome = conn.call_as(Command::LinkWait { timeout_secs: 600 }).await;
        drop(page);
        outcome
    };
    match account {
        Ok(a) => {
            println!("Linked as {} ({}).", a.display_name, a.email);
            if let Some(f) = &a.stored_in_file {
                println!(
                    "No OS keyring is available here: the link is kept in {f} (readable only by you)."
                );
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `account`
pub async fn account(cli: &Cli, json: bool) -> i32 {
    match call_as::<AccountDto>(cli, Command::Account, true).await {
        Ok(a) => {
            if json {
                print_json(&a);
            } else {
                println!(
                    "{} ({})\n{}\n{} of {} used",
                    a.display_name,
                    a.email,
                    a.account_id,
                    human_bytes(a.used),
                    human_bytes(a.allocated)
                );
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `doctor`: every check with its verdict and what to do; exit 1 when one is a problem.
pub async fn doctor(cli: &Cli, json: bool) -> i32 {
    let d = match call_as::<DoctorDto>(cli, Command::Doctor, true).await {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if json {
        print_json(&d);
    } else {
        for c in &d.checks {
            let word = match c.verdict {
                Verdict::Ok => "ok",
                Verdict::Warning => "warning",
                Verdict::Problem => "PROBLEM",
            };
            println!("{word:<8} {}: {}", c.title, c.detail);
            if let Some(fix) = &c.fix {
                println!("{:<8}   → {fix}", "");
            }
        }
        let count = |v| d.checks.iter().filter(|c| c.verdict == v).count();
        println!(
            "\n{} ok, {} warning(s), {} problem(s)",
            count(Verdict::Ok),
            count(Verdict::Warning),
            count(Verdict::Problem)
        );
    }
    i32::from(d.verdict == Verdict::Problem)
}

/// `restore`
pub async fn restore(cli: &Cli, a: &RestoreArgs) -> i32 {
    let pair = match one_pair(cli, &a.pair).await {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let show = |p: &RestorePlanDto, continuing: bool| {
        if a.json {
            print_json(p);
            return;
        }
        if p.detected {
            println!("A restored snapshot was detected in pair {}.", p.pair);
        }
        let list = |title: &str, items: &[RestoreItemDto]| {
            println!("{title}: {}", items.len());
            for i in items.iter().take(50) {
                println!("  {}", i.path);
            }
            if items.len() > 50 {
                println!("  … and {} more", items.len() - 50);
            }
        };
        if continuing {
            list(
                "Dropbox files that normal sync would overwrite with the local versions",
                &p.replaced,
            );
            list(
                "Dropbox files or folders that normal sync would delete (they stay in Dropbox's history)",
                &p.removed,
            );
            list("Local files that would be uploaded", &p.uploaded);
            list(
                "Local files that Dropbox's versions would replace",
                &p.overwritten_here,
            );
            list(
                "Local files or folders that would be deleted here (to the trash), as on Dropbox",
                &p.deleted_here,
            );
            list(
                "Files changed on both sides (the local one is kept as a conflicted copy)",
                &p.conflicts,
            );
        } else {
            list("Dropbox files the restored versions replace", &p.replaced);
            list("Dropbox files that leave the instance folder", &p.removed);
            list("Restored files to upload", &p.uploaded);
            if !p.not_synced.is_empty() {
                list(
                    "Not synced here (excluded or ignored) — stays in the instance folder",
                    &p.not_synced,
                );
            }
            println!("Unchanged: {}", p.unchanged);
            println!(
                "Nothing is deleted: Dropbox's current folder is moved to {}",
                p.backup_folder
            );
        }
    };
    if a.continue_ {
        let preview: RestorePlanDto = match call_as(
            cli,
            Command::RestoreContinuePreview { pair: pair.clone() },
            true,
        )
        .await
        {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        show(&preview, true);
        if !a.yes {
            eprintln!(
                "This treats the folder as if it was not restored. Run again with --yes to continue syncing normally."
            );
            return 2;
        }
        return simple(
            cli,
            Command::RestoreContinue { pair },
            "continuing normally",
            true,
        )
        .await;
    }
    if a.apply {
        return match call_as::<RestoreResultDto>(cli, Command::RestoreApply { pair }, true).await {
            Ok(r) => {
                if a.json {
                    print_json(&r);
                } else {
                    println!(
                        "Restored: Dropbox's instance folder now holds the restored files ({} uploaded).",
                        r.uploaded
                    );
                    println!(
                        "Its former content is kept in {} ({})",
                        r.backup_folder, r.backup_url
                    );
                }
                0
            }
            Err(e) => fail(&e),
        };
    }
    match call_as::<RestorePlanDto>(cli, Command::RestorePlan { pair }, true).await {
        Ok(p) => {
            show(&p, false);
            if !a.json {
                println!(
                    "Apply with `nuvosync restore --apply`{}.",
                    a.pair
                        .as_ref()
                        .map(|p| format!(" --pair {p}"))
                        .unwrap_or_default()
                );
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `autostart enable|disable`: the `autostart` setting, which writes or removes the system's
/// entry (a systemd user unit running the daemon, `Type=notify`; the app's desktop entry when
/// the app answers).
pub async fn autostart(cli: &Cli, enable: bool) -> i32 {
    let patch = SettingsPatch {
        autostart: Some(enable),
        ..SettingsPatch::default()
    };
    if let Err(e) = call(cli, Command::SettingsSet { patch }, true).await {
        return fail(&e);
    }
    let entry = paths(cli)
        .ok()
        .and_then(|p| nuvosync_api::autostart::Autostart::for_this_process(&p))
        .map(|a| a.entry().display().to_string())
        .unwrap_or_default();
    if enable {
        println!(
            "autostart enabled: {entry} (with a user systemd, start it now with `systemctl --user start nuvosync`; if it is not enabled yet: `systemctl --user daemon-reload && systemctl --user enable --now nuvosync`)"
        );
    } else {
        println!("autostart disabled ({entry} removed)");
    }
    0
}

/// `daemon`: run every pair continuously, serve the control socket, stop on SIGTERM/SIGINT or
/// `nuvosync stop`.
pub async fn daemon(cli: &Cli) -> i32 {
    let paths = match paths(cli) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let service = match Service::open(paths.clone()) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(&e),
    };
    // One nuvosync per profile, whatever socket path another one listens on.
    if let Err(e) = service.claim() {
        return fail(&e);
    }
    let listener = match nuvosync_api::socket::bind(&paths.socket()).await {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if let Err(e) = service.credential() {
        tracing::warn!("{e}; pairs start once an account is linked");
    }
    let daemon = Daemon::start(service).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nuvosync_api::socket::serve(
        listener,
        daemon.clone(),
        async {
            let _ = stop_rx.await;
        },
    ));
    let _ = sd_notify::notify(
        false,
        &[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status("syncing"),
        ],
    );
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_micros(usec / 2)).await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
    tracing::info!(
        "nuvosync daemon running; control socket {}",
        paths.socket().display()
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(e) => {
            return fail(&ApiError::new(
                ErrorCode::Io,
                format!("cannot handle signals: {e}"),
            ));
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = daemon.stopped() => tracing::info!("stop requested"),
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(());
    daemon.shutdown().await;
    let _ = server.await;
    let _ = std::fs::remove_file(paths.socket());
    0
}
