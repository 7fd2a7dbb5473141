//! `restore`: the restore wizard on the command line (preview, apply, or continue normally).

use super::{call, fail, one_pair, print_json, simple};
use crate::args::{Cli, RestoreArgs};
use nuvosync_api::ask;
use nuvosync_api::dto::*;

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
        let preview: RestorePlanDto = match call(
            cli,
            ask!(RestoreContinuePreview { pair: pair.clone() }),
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
            ask!(RestoreContinue { pair }),
            "continuing normally",
            true,
        )
        .await;
    }
    if a.apply {
        return match call(cli, ask!(RestoreApply { pair }), true).await {
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
    match call(cli, ask!(RestorePlan { pair }), true).await {
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
