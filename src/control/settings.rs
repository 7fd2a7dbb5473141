//! `excluded`, `settings` and `autostart`: the commands that change the configuration.

use super::{call, fail, human_bytes, one_pair, paths, print_json, when};
use crate::args::{Cli, ExcludedCommand, SettingsCommand};
use nuvosync_api::ask;
use nuvosync_api::dto::*;
use nuvosync_api::{ApiError, ErrorCode};

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
    let free = match (&c, excluded_cmd) {
        (
            Some((path, true)),
            ExcludedCommand::Add {
                remove_local: true, ..
            },
        ) => Some((pair.clone(), path.clone())),
        _ => None,
    };
    let cmd: Ask<Vec<String>> = match c {
        None => ask!(ExcludedList { pair }),
        Some((path, true)) => ask!(ExcludedAdd { pair, path }),
        Some((path, false)) => ask!(ExcludedRemove { pair, path }),
    };
    match call(cli, cmd, true).await {
        Ok(list) => {
            if let Some((pair, path)) = free {
                return match call(
                    cli,
                    ask!(ExcludedFree {
                        pair,
                        path: path.clone(),
                    }),
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
        SettingsCommand::Get { .. } => call(cli, ask!(SettingsGet), true).await,
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
                Ok(()) => call(cli, ask!(SettingsSet { patch }), true).await,
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

/// `autostart enable|disable`: the `autostart` setting, which writes or removes the system's
/// entry (a systemd user unit running the daemon, `Type=notify`; the app's desktop entry when
/// the app answers).
pub async fn autostart(cli: &Cli, enable: bool) -> i32 {
    let patch = SettingsPatch {
        autostart: Some(enable),
        ..SettingsPatch::default()
    };
    if let Err(e) = call(cli, ask!(SettingsSet { patch }), true).await {
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
