//! `sync --once`: converge every pair (or one) and exit, with the exit code the outcome calls for.

use super::{Conn, fail};
use crate::args::{Cli, SyncArgs};
use nuvosync_api::ask;
use nuvosync_api::dto::PairSyncDto;

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
pub async fn sync_once(cli: &Cli, args: &SyncArgs) -> i32 {
    let results = match Conn::open(cli, true).await {
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
