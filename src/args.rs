//! The command line of the `nuvosync` binary as clap parses it: the commands, their
//! arguments and options. Only data: [`crate::cli`] dispatches each command, and
//! [`crate::control`] and the other modules carry them out.

use clap::{Args, Parser, Subcommand, ValueEnum};
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
    Demo(DemoArgs),
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
    Resolve(ResolveArgs),
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
    Excluded(ExcludedCommand),
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
    Settings(SettingsCommand),
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
    Restore(RestoreArgs),
    /// Measurements for the benchmarks.
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

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

/// `demo`
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo in this folder (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sync once and exit instead of running continuously.
    #[arg(long)]
    pub once: bool,
    /// Serve the web UI on this address (e.g. 127.0.0.1:8080; port 0 picks one).
    #[arg(long)]
    pub ui: Option<String>,
    /// The built UI to serve (default ui/dist next to the sources).
    #[arg(long)]
    pub ui_dir: Option<PathBuf>,
    /// Latency the emulator adds to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Start without a linked account: link through the UI or `nuvosync link` (the emulator's
    /// consent page signs in as the demo account).
    #[arg(long)]
    pub unlinked: bool,
}

/// `debug`
#[derive(Subcommand, Debug)]
pub enum DebugCommand {
    /// Hash files (in parallel across files) and report the throughput.
    Hash {
        /// Files.
        files: Vec<PathBuf>,
        /// Threads (default: the number of cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// A bare parallel lstat walk of a tree.
    Statwalk {
        /// The tree.
        dir: PathBuf,
    },
}
