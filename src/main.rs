//! `nuvosync`: the command line and headless daemon.
//!
//! Argument parsing and printing only; every command is one call into `nuvosync_api`.
//! Exit codes: 0 done (in sync), 2 usage, 3 paused by a guard (stderr says why and what to
//! do), 4 synced except for some files (listed), 1 any other error (stderr says what to do).

mod args;
mod browser;
mod cli;
mod control;
mod debug;
mod demo;
#[cfg(feature = "demo")]
mod web;

use clap::Parser;

fn main() {
    sync_engine::tune_allocator();
    let args = args::Cli::parse();
    use nuvosync_api::logging::{LogFormat, LogTarget};
    // A daemon's standard output carries nothing else: in JSON, that is where its log goes
    // (a container's log collector reads it); everything else keeps stdout for its results.
    let target = match (&args.command, args.log_format) {
        (args::Command::Daemon, LogFormat::Json) => LogTarget::Stdout,
        _ => LogTarget::Stderr,
    };
    nuvosync_api::logging::init_with(
        match args.verbose {
            // The Dropbox SDK logs every API error it returns; we report them ourselves.
            0 => "warn,dropbox_sdk=off",
            1 => "info,dropbox_sdk=off",
            2 => "debug,dropbox_sdk=off",
            _ => "trace",
        },
        args.log_format,
        target,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nuvosync: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(cli::run(args));
    std::process::exit(code);
}
