//! The commands of the `nuvosync` binary: parse, call the API, print.

use clap::{Args, Parser, Subcommand};
use nuvosync_api::ask;
use nuvosync_api::dto::{NewPairDto, PairSyncDto};
use nuvosync_api::{ApiError, Paths, Service};
use std::path::PathBuf;

/// Two-way Dropbox sync for Nuvolos instance folders.
#[derive(Parser, Debug)]
#[command(name = "nuvosync", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration directory (default ~/.config/nuvosync; env NUVOSYNC_CONFIG_DIR).
    #[arg(long, global = true)]
    pub config_dir: Option<PathBuf>,
    /// State directory (default ~/.local/share/nuvosync; env NUVOSYNC_STATE_DIR).
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace); NUVOSYNC_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format: `text`, or `json` — one JSON object per line for log collectors; the
    /// daemon then writes its log to standard output (env NUVOSYNC_LOG_FORMAT).
    #[arg(
        long,
        global = true,
        env = "NUVOSYNC_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: nuvosync_api::logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Manage sync pairs (a local folder ↔ /Organization/Space/Instance in Dropbox).
    #[command(subcommand)]
    Pair(PairCommand),
    /// Sync now.
    Sync(SyncArgs),
    /// Run the built-in Dropbox emulator with a demo pair (no account needed; builds with
    /// the `demo` feature, e.g. `cargo xtask demo`).
    Demo(demo::DemoArgs),
    /// Run every pair continuously in the foreground (control socket for the other commands).
    Daemon,
    /// Show what is going on.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Pause one pair (or all).
    Pause {
        /// Pair name (all if absent).
        pair: Option<String>,
    },
    /// Resume one pair (or all).
    Resume {
        /// Pair name (all if absent).
        pair: Option<String>,
        /// Let the deletions a guard held back go ahead (check them first with `status`).
        #[arg(long)]
        confirm_deletes: bool,
    },
    /// Live transfers and recent history.
    Activity {
        /// Print the history and exit instead of following live progress.
        #[arg(long)]
        no_follow: bool,
        /// Only history entries whose path contains this.
        #[arg(long)]
        search: Option<String>,
        /// Machine-readable output: the history and transfers as one JSON object, then
        /// (following) one event per line.
        #[arg(long)]
        json: bool,
    },
    /// Conflicts (both versions were kept).
    Conflicts {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also resolved ones.
        #[arg(long)]
        all: bool,
    },
    /// Resolve a conflict: keep-mine, keep-theirs or keep-both.
    Resolve(control::ResolveArgs),
    /// The sync status of one file.
    Filestatus {
        /// The file.
        path: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// A file's versions on Dropbox, newest first.
    History {
        /// The file (a path in a synced folder; it may be deleted).
        path: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier version of a file current again (the current one stays in its history).
    RestoreVersion {
        /// The file (a path in a synced folder).
        path: String,
        /// The version, as `history` lists it.
        rev: String,
    },
    /// Files deleted on Dropbox that can still be brought back, newest first.
    Deleted {
        /// The pair (needed when there are several).
        #[arg(long)]
        pair: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Bring back a file deleted on Dropbox (its last version); a file now at its place is kept.
    Undelete {
        /// The file (a path in a synced folder).
        path: String,
    },
    /// Folders excluded from sync (selective sync).
    #[command(subcommand)]
    Excluded(control::ExcludedCommand),
    /// Forget a pair's index and rebuild it from both sides (content decides; nothing is lost).
    RebuildIndex {
        /// The pair.
        #[arg(long)]
        pair: Option<String>,
    },
    /// Stop the daemon.
    Stop,
    /// Settings.
    #[command(subcommand)]
    Settings(control::SettingsCommand),
    /// Start the daemon at login (a systemd user unit).
    Autostart {
        /// enable or disable
        #[arg(value_parser = ["enable", "disable"])]
        action: String,
    },
    /// Link a Dropbox account (the app gets only Apps/nuvolos.cloud).
    Link {
        /// Print the address and read the code from the terminal (SSH sessions; also what
        /// happens without a display, or when none of the sign-in ports is free).
        #[arg(long)]
        no_browser: bool,
        /// The Dropbox app key to link with: an app you registered in Dropbox's App Console
        /// (README: "Use your own Dropbox app"). Default: `app_key` in config.toml, then
        /// NUVOSYNC_APP_KEY.
        #[arg(long, value_name = "KEY")]
        app_key: Option<String>,
    },
    /// Unlink: revoke nuvosync's access (local files stay).
    Unlink,
    /// The linked account.
    Account {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the setup: account and granted scopes, Dropbox hosts, clock, inotify limits,
    /// keyring, state folder — each with what to do. Exits 1 when a problem is found.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Recover from a restored snapshot of a pair's folder.
    Restore(control::RestoreArgs),
    /// Measurements for the benchmarks.
    #[command(subcommand, hide = true)]
    Debug(crate::debug::DebugCommand),
}

use crate::{control, demo};

/// `pair ...`
#[derive(Subcommand, Debug)]
pub enum PairCommand {
    /// Add a pair.
    Add(AddArgs),
    /// List the pairs.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a pair (files stay on both sides).
    Remove {
        /// Pair name.
        name: String,
    },
}

/// `pair add`
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The local folder (created if missing).
    #[arg(long)]
    pub local: PathBuf,
    /// Organization (first folder level in Apps/nuvolos.cloud).
    #[arg(long = "org")]
    pub organization: String,
    /// Space (second level).
    #[arg(long)]
    pub space: String,
    /// Instance (third level).
    #[arg(long)]
    pub instance: String,
    /// Pair name (default: from the instance).
    #[arg(long)]
    pub name: Option<String>,
    /// Do not watch for file events; rely on periodic rescans (for network file systems).
    #[arg(long)]
    pub no_watch: bool,
    /// Seconds between full rescans (default 60).
    #[arg(long = "rescan-interval")]
    pub rescan_interval: Option<u64>,
    /// Exclude a folder from sync (repeatable; relative to the local folder).
    #[arg(long = "exclude")]
    pub exclude: Vec<String>,
}

/// `sync`
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Converge every pair (or --pair), then exit. (Continuous sync is `nuvosync daemon`.)
    #[arg(long)]
    pub once: bool,
    /// Only this pair.
    #[arg(long)]
    pub pair: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Allow the deletions a guard paused for (after checking them).
    #[arg(long)]
    pub confirm_deletes: bool,
}

/// Print an error the way every command does, and return its exit code.
pub fn fail(e: &ApiError) -> i32 {
    eprintln!("nuvosync: {e}");
    e.exit_code()
}

fn service(cli: &Cli) -> Result<Service, ApiError> {
    Service::open(Paths::resolve(
        cli.config_dir.clone(),
        cli.state_dir.clone(),
    )?)
}

/// Run a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    match &cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Pair(cmd) => match pair(&cli, cmd).await {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        Command::Daemon => control::daemon(&cli).await,
        Command::Debug(c) => crate::debug::run(c),
        Command::Status { json } => control::status(&cli, *json).await,
        Command::Pause { pair } => {
            control::simple(&cli, ask!(Pause { pair: pair.clone() }), "paused", false).await
        }
        Command::Resume {
            pair,
            confirm_deletes,
        } => {
            control::simple(
                &cli,
                ask!(Resume {
                    pair: pair.clone(),
                    confirm_deletes: *confirm_deletes,
                }),
                "resumed",
                false,
            )
            .await
        }
        Command::Activity {
            no_follow,
            search,
            json,
        } => control::activity(&cli, !no_follow, search.clone(), *json).await,
        Command::Conflicts { json, all } => control::conflicts(&cli, *json, *all).await,
        Command::Resolve(a) => control::resolve(&cli, a).await,
        Command::Filestatus { path, json } => control::filestatus(&cli, path, *json).await,
        Command::History { path, json } => control::history(&cli, path, *json).await,
        Command::RestoreVersion { path, rev } => control::restore_version(&cli, path, rev).await,
        Command::Deleted { pair, json } => control::deleted(&cli, pair, *json).await,
        Command::Undelete { path } => control::undelete(&cli, path).await,
        Command::Excluded(c) => control::excluded(&cli, c).await,
        Command::RebuildIndex { pair } => match pair.clone().or_else(|| {
            service(&cli)
                .ok()
                .and_then(|s| (s.pairs().len() == 1).then(|| s.pairs()[0].name.clone()))
        }) {
            Some(pair) => {
                control::simple(
                    &cli,
                    ask!(RebuildIndex { pair }),
                    "the index is being rebuilt",
                    true,
                )
                .await
            }
            None => fail(&ApiError::new(
                nuvosync_api::ErrorCode::InvalidArgument,
                "say which pair with --pair NAME",
            )),
        },
        Command::Stop => control::simple(&cli, ask!(Stop), "stopping", false).await,
        Command::Settings(c) => control::settings(&cli, c).await,
        Command::Autostart { action } => control::autostart(&cli, action == "enable").await,
        Command::Link {
            no_browser,
            app_key,
        } => control::link(&cli, *no_browser, app_key.clone()).await,
        Command::Unlink => match control::call(&cli, ask!(Unlink), true).await {
            Ok(v) => {
                if v.revoked {
                    println!(
                        "unlinked: nuvosync's access was revoked; your files stay where they are"
                    );
                } else {
                    println!(
                        "unlinked here (your files stay where they are), but Dropbox could not be told — remove nuvosync's access at dropbox.com/account/connected_apps"
                    );
                }
                0
            }
            Err(e) => fail(&e),
        },
        Command::Account { json } => control::account(&cli, *json).await,
        Command::Doctor { json } => control::doctor(&cli, *json).await,
        Command::Restore(a) => control::restore(&cli, a).await,
        Command::Sync(args) => {
            if !args.once {
                eprintln!(
                    "nuvosync: `sync` needs --once (continuous sync runs with `nuvosync daemon`)"
                );
                return 2;
            }
            sync_once(&cli, args).await
        }
    }
}

/// `pair ...`: commands of the control API, through the daemon's socket when it runs (so it
/// starts or stops the pair at once), else in this process.
async fn pair(cli: &Cli, cmd: &PairCommand) -> Result<(), ApiError> {
    let mut conn = control::Conn::open(cli, true).await?;
    match cmd {
        PairCommand::Add(a) => {
            let name = conn
                .call(ask!(AddPair {
                    pair: NewPairDto {
                        // The daemon's current folder is not this one.
                        local: control::absolute(&a.local.to_string_lossy())
                            .to_string_lossy()
                            .into_owned(),
                        organization: a.organization.clone(),
                        space: a.space.clone(),
                        instance: a.instance.clone(),
                        name: a.name.clone(),
                        watch: !a.no_watch,
                        rescan_interval_secs: a.rescan_interval,
                        excluded: (!a.exclude.is_empty()).then(|| a.exclude.clone()),
                    },
                }))
                .await?;
            let settings = conn.call(ask!(SettingsGet)).await?;
            if let Some(p) = settings.pairs.iter().find(|p| p.name == name) {
                println!(
                    "added pair {}: {} ↔ Dropbox Apps/nuvolos.cloud/{}/{}/{}",
                    p.name, p.local, p.organization, p.space, p.instance
                );
                let paths = Paths::resolve(cli.config_dir.clone(), cli.state_dir.clone())?;
                for own in paths.private_inside(std::path::Path::new(&p.local)) {
                    println!(
                        "note: nuvosync's own folder {} is inside it; it is never synced (it holds nuvosync's index, link and logs)",
                        own.display()
                    );
                }
            }
        }
        PairCommand::List { json } => {
            let pairs = conn.call(ask!(SettingsGet)).await?.pairs;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&pairs).unwrap_or_default()
                );
            } else if pairs.is_empty() {
                println!(
                    "no pairs — add one with `nuvosync pair add --local DIR --org O --space S --instance I`"
                );
            } else {
                for p in pairs {
                    let watch = if p.watch { "watch" } else { "no-watch" };
                    println!(
                        "{}\t{}\t/{}/{}/{}\t{watch}, rescan every {} s",
                        p.name,
                        p.local,
                        p.organization,
                        p.space,
                        p.instance,
                        p.rescan_interval_secs
                    );
                }
            }
        }
        PairCommand::Remove { name } => {
            conn.call(ask!(RemovePair { name: name.clone() })).await?;
            println!("removed pair {name} (its files stay where they are)");
        }
    }
    Ok(())
}

/// Print the outcome of `sync --once` and pick the exit code.
pub fn print_sync(results: &[PairSyncDto], json: bool) -> i32 {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(results).unwrap_or_default()
        );
    }
    let mut code = 0;
    for r in results {
        match (&r.report, &r.error) {
            (Some(rep), _) => {
                if !json {
                    println!(
                        "{}: in sync — {} uploaded, {} downloaded, {} deleted on Dropbox, {} deleted locally (in the trash), {} moved, {} conflicts",
                        r.pair,
                        rep.uploaded,
                        rep.downloaded,
                        rep.deleted_remote,
                        rep.deleted_local,
                        rep.moved,
                        rep.conflicts
                    );
                    for i in &rep.issues {
                        eprintln!("  {}: {}", i.path, i.message);
                    }
                }
                if !rep.failed.is_empty() {
                    eprintln!(
                        "{}: {} files could not be synced:",
                        r.pair,
                        rep.failed.len()
                    );
                    for f in &rep.failed {
                        eprintln!("  {}: {}", f.path, f.message);
                    }
                    code = code.max(4);
                }
            }
            (None, Some(e)) => {
                eprintln!("nuvosync: {}: {}", r.pair, e.message);
                code = code.max(e.exit_code());
            }
            (None, None) => {}
        }
    }
    code
}

/// `sync --once`: the command API decides (a running daemon refuses: it syncs already).
async fn sync_once(cli: &Cli, args: &SyncArgs) -> i32 {
    let results = match control::Conn::open(cli, true).await {
        Ok(mut conn) => {
            conn.call(ask!(SyncOnce {
                pair: args.pair.clone(),
                confirm_deletes: args.confirm_deletes,
            }))
            .await
        }
        Err(e) => Err(e),
    };
    match results {
        Ok(results) => print_sync(&results, args.json),
        Err(e) => fail(&e),
    }
}
