//! The commands about files: conflicts and their resolution, a file's status, its versions,
//! and the files deleted on Dropbox.

use super::{absolute, call, fail, human_bytes, one_pair, paths, print_json, simple, when};
use crate::args::{Choice, Cli, ResolveArgs};
use nuvosync_api::ask;
use nuvosync_api::dto::*;
use nuvosync_api::{ApiError, ErrorCode, Service};

/// `conflicts`
pub async fn conflicts(cli: &Cli, json: bool, all: bool) -> i32 {
    let list: Vec<ConflictDto> = match call(
        cli,
        ask!(Conflicts {
            include_resolved: all,
        }),
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
            let list: Vec<ConflictDto> = match call(
                cli,
                ask!(Conflicts {
                    include_resolved: false,
                }),
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
        ask!(Resolve {
            pair,
            id: a.id,
            choice,
        }),
        "resolved",
        true,
    )
    .await
}

/// `filestatus`
pub async fn filestatus(cli: &Cli, path: &str, json: bool) -> i32 {
    let abs = absolute(path);
    match call(
        cli,
        ask!(FileStatus {
            path: abs.display().to_string(),
        }),
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
    let revs: Vec<RevisionDto> = match call(
        cli,
        ask!(Revisions {
            pair,
            path: rel.clone(),
        }),
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
        ask!(RestoreRevision {
            pair,
            path: rel.clone(),
            rev: rev.to_string(),
        }),
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
    let list: Vec<DeletedDto> = match call(cli, ask!(Deleted { pair }), true).await {
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
    match call(
        cli,
        ask!(Undelete {
            pair,
            path: rel.clone(),
        }),
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
