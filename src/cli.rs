//! The commands of the `nuvosync` binary: parse, call the API, print.

use crate::args::{Cli, Command, PairCommand};
use crate::control::{self, fail};
use crate::demo;
use nuvosync_api::ask;
use nuvosync_api::dto::NewPairDto;
use nuvosync_api::{ApiError, Paths, Service};

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
            control::sync_once(&cli, args).await
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
