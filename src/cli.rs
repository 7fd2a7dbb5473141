//! The commands of the `nuvosync` binary: parse, call the API, print.

use clap::{Args, Parser, Subcommand};
use nuvosync_api::service::{AddPair, PairSync};
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
    /// Run the built-in Dropbox emulator with a demo pair (no account needed).
    Demo(demo::DemoArgs),
}

use crate::demo;

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
        Command::Pair(cmd) => match service(&cli).and_then(|s| pair(&s, cmd)) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        Command::Sync(args) => {
            if !args.once {
                eprintln!(
                    "nuvosync: `sync` needs --once (continuous sync runs with `nuvosync daemon`)"
                );
                return 2;
            }
            match service(&cli) {
                Ok(s) => sync_once(&s, args).await,
                Err(e) => fail(&e),
            }
        }
    }
}

fn pair(s: &Service, cmd: &PairCommand) -> Result<(), ApiError> {
    match cmd {
        PairCommand::Add(a) => {
            let p = s.add_pair(AddPair {
                local: a.local.clone(),
                organization: a.organization.clone(),
                space: a.space.clone(),
                instance: a.instance.clone(),
                name: a.name.clone(),
                watch: !a.no_watch,
                rescan_interval_secs: a.rescan_interval,
                excluded: a.exclude.clone(),
            })?;
            println!(
                "added pair {}: {} ↔ Dropbox Apps/nuvolos.cloud{}",
                p.name,
                p.local.display(),
                p.remote_root()
            );
        }
        PairCommand::List { json } => {
            let pairs = s.pairs();
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
                        "{}\t{}\t{}\t{watch}, rescan every {} s",
                        p.name,
                        p.local.display(),
                        p.remote_root(),
                        p.rescan_interval_secs
                    );
                }
            }
        }
        PairCommand::Remove { name } => {
            s.remove_pair(name)?;
            println!("removed pair {name} (its files stay where they are)");
        }
    }
    Ok(())
}

/// Print the outcome of `sync --once` and pick the exit code.
pub fn print_sync(results: &[PairSync], json: bool) -> i32 {
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

async fn sync_once(s: &Service, args: &SyncArgs) -> i32 {
    match s
        .sync_once(args.pair.as_deref(), args.confirm_deletes)
        .await
    {
        Ok(results) => print_sync(&results, args.json),
        Err(e) => fail(&e),
    }
}
