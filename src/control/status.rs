//! `status` and `activity` (with its live event stream).

use super::{call, fail, human_bytes, paths, print_json, when};
use crate::args::Cli;
use nuvosync_api::ask;
use nuvosync_api::dto::*;
use nuvosync_api::socket::Client;
use std::io::{IsTerminal, Write};

/// `status`
pub async fn status(cli: &Cli, json: bool) -> i32 {
    let s: StatusDto = match call(cli, ask!(Status), false).await {
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

/// `activity`
pub async fn activity(cli: &Cli, follow: bool, search: Option<String>, json: bool) -> i32 {
    let a: ActivityDto = match call(
        cli,
        ask!(Activity {
            search,
            limit: Some(if json { 200 } else { 20 }),
        }),
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
            EventDto::Pair(Event::Synced { pair, path, action }) => {
                if tty {
                    print!("\r\x1b[K");
                }
                println!("{pair}: {action} {path}");
            }
            EventDto::Pair(Event::Conflict {
                pair,
                path,
                copy_path,
            }) => println!("{pair}: conflict on {path}: both kept (yours as {copy_path})"),
            EventDto::Pair(Event::FileError {
                pair,
                path,
                message,
            }) => println!("{pair}: {path}: {message}"),
            EventDto::Pair(Event::Paused { pair, message, .. }) => {
                println!("{pair}: paused: {message}")
            }
            EventDto::Pair(Event::State { pair, state }) => println!("{pair}: {state:?}"),
            EventDto::Link { linked } => println!("{}", if linked { "linked" } else { "unlinked" }),
            // Sent as `EventDto::Progress`, with the rate.
            EventDto::Pair(Event::Progress { .. }) => {}
        }
    }
    0
}
