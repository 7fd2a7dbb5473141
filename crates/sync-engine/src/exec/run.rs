//! Running a plan: every operation at once within the pair's limits, the results recorded
//! in the index in one transaction per batch, big transfers handed to the transfer stage.

use super::Ctx;
use super::Turn;
use super::deletes::{delete_local, delete_remote};
use super::download::{create_local_folder, create_remote_folder, download};
use super::moves::{move_local, move_remote, rename_clash, set_aside};
use super::upload::{upload, upload_batch};
use super::{Done, Executed, Fail, file_size, record, slot};
use crate::clock::now;
use crate::events::Event;
use crate::sync_lock::lock;
use futures_util::StreamExt;
use std::collections::BTreeSet;
use sync_core::{Key, Op, Outcome, Plan};

/// Carry out a plan. Big transfers go to the pair's transfer stage when a runner runs it
/// (they end in a later round's time); everything else is done when this returns.
pub async fn execute(cx: &Ctx<'_>, plan: Plan) -> Executed {
    let mut handed_off = 0;
    let mut bookkeeping = vec![];
    let mut small = vec![];
    let mut rest = vec![];
    for op in plan.ops {
        match &op {
            Op::Agree { .. } | Op::Forget { .. } => bookkeeping.push(op),
            Op::Upload { local, .. }
                if file_size(local) <= cx.tuning.single_request_limit as u64 =>
            {
                small.push(op)
            }
            Op::Upload { .. } | Op::Download { .. } => match cx.host.hand_off(op) {
                Some(op) => rest.push(op),
                None => handed_off += 1,
            },
            _ => rest.push(op),
        }
    }
    let mut results: Vec<(Key, String, Result<Done, Fail>)> = vec![];
    for op in bookkeeping {
        let k = op.key().to_string();
        let o = match op {
            Op::Agree { key } => Outcome::Agreed { key },
            Op::Forget { key } => Outcome::Forgotten { key },
            _ => continue,
        };
        results.push((
            k.clone(),
            k,
            Ok(Done {
                outcome: Some(o),
                action: "",
                path: String::new(),
                size: None,
                rescan: vec![],
            }),
        ));
    }
    let batch = small.len() >= cx.tuning.batch_threshold;
    // Small transfers are latency-bound: many run at once. Larger ones also take one of
    // `transfers` slots (see `slot`), so bandwidth and memory stay bounded.
    let width = cx.tuning.small_transfers.max(cx.tuning.transfers).max(1);
    let uploads = async {
        if batch {
            upload_batch(cx, small, width).await
        } else {
            futures_util::stream::iter(small)
                .map(|op| run(cx, op))
                .buffer_unordered(width)
                .collect::<Vec<_>>()
                .await
        }
    };
    let others = futures_util::stream::iter(rest)
        .map(|op| run(cx, op))
        .buffer_unordered(width)
        .collect::<Vec<_>>();
    // One transfer at a time means one: the small uploads, then the rest.
    let (uploads, others) = if width == 1 {
        let u = uploads.await;
        (u, others.await)
    } else {
        tokio::join!(uploads, others)
    };
    results.extend(uploads);
    results.extend(others);
    let mut out = settle(cx, results, false).await;
    out.handed_off = handed_off;
    out
}

/// Take in the results of operations: record what completed (one index transaction), mark
/// what was stale for planning again and rescan its paths, note failures. With `bump`, a
/// completed operation also moves the pair's generation on (a round's caller does that once
/// per plan instead).
pub(crate) async fn settle(
    cx: &Ctx<'_>,
    results: Vec<(Key, String, Result<Done, Fail>)>,
    bump: bool,
) -> Executed {
    let mut out = Executed::default();
    let mut rescan: BTreeSet<String> = BTreeSet::new();
    let mut done = vec![];
    for (k, path, r) in results {
        match r {
            Ok(d) => {
                rescan.extend(d.rescan.iter().cloned());
                if d.outcome.is_some() {
                    out.changed = true;
                }
                done.push(d);
            }
            Err(Fail::Stale(p)) => {
                if let Some(p) = p {
                    rescan.insert(p);
                }
                let _ = lock(cx.index).batch().and_then(|mut b| {
                    b.mark(&k)?;
                    b.commit()
                });
            }
            Err(Fail::Failed {
                code,
                message,
                counts,
            }) => note_failure(cx, &k, &path, code, &message, counts),
            Err(Fail::Fatal(e)) => {
                if out.fatal.is_none() {
                    out.fatal = Some(e);
                }
            }
        }
    }
    if let Err(e) = record(cx, &done) {
        out.fatal.get_or_insert(e);
    } else if bump && out.changed {
        if let Err(e) = cx.host.bump_generation() {
            out.fatal.get_or_insert(e);
        }
    }
    if !rescan.is_empty() {
        let scopes: Vec<String> = rescan.into_iter().collect();
        if let Err(e) = cx.host.scan(&scopes).await {
            out.fatal.get_or_insert(e);
        }
    }
    out
}

/// Record a failure of an operation on `key`; after `max_failures` the key is left alone
/// for this run and the issue stays in status.
fn note_failure(cx: &Ctx<'_>, key: &str, path: &str, code: &str, message: &str, counts: bool) {
    if counts {
        let mut f = lock(cx.failures);
        *f.entry(key.to_string()).or_insert(0) += 1;
    }
    let _ = lock(cx.index).set_issue(path, code, message, now());
    cx.events.send(Event::FileError {
        pair: cx.name.to_string(),
        path: path.to_string(),
        message: message.to_string(),
    });
}

async fn run(cx: &Ctx<'_>, op: Op) -> (Key, String, Result<Done, Fail>) {
    run_turned(cx, op, None).await
}

/// Run one operation. A big transfer of the transfer stage passes its `turn`: taken before
/// its last checks and its commit, and held by the caller until the result is recorded.
pub(crate) async fn run_turned(
    cx: &Ctx<'_>,
    op: Op,
    turn: Option<&Turn>,
) -> (Key, String, Result<Done, Fail>) {
    let k = op.key().to_string();
    let _slot = match &op {
        Op::Upload { local, .. } => slot(cx, file_size(local)).await,
        Op::Download { remote, .. } => match remote.kind {
            sync_core::RemoteKind::File { size, .. } => slot(cx, size).await,
            sync_core::RemoteKind::Folder => None,
        },
        _ => None,
    };
    let path = match &op {
        Op::Upload { local, .. }
        | Op::CreateRemoteFolder { local, .. }
        | Op::DeleteLocal { local, .. }
        | Op::SetAside { local, .. }
        | Op::RenameClash { local, .. } => local.path.clone(),
        Op::Download { remote, .. }
        | Op::CreateLocalFolder { remote, .. }
        | Op::DeleteRemote { remote, .. } => remote.path.clone(),
        Op::MoveLocal { to_path, .. } | Op::MoveRemote { to_path, .. } => to_path.clone(),
        Op::Agree { key } | Op::Forget { key } => key.clone(),
    };
    let r = match op {
        Op::Upload { key, local, base } => upload(cx, key, local, base, turn).await,
        Op::Download {
            key,
            remote,
            replace,
        } => download(cx, key, remote, replace, turn).await,
        Op::CreateRemoteFolder { key, local } => create_remote_folder(cx, key, local).await,
        Op::CreateLocalFolder { key, remote } => create_local_folder(cx, key, remote),
        Op::DeleteRemote { key, remote } => delete_remote(cx, key, remote).await,
        Op::DeleteLocal { key, local } => delete_local(cx, key, local),
        Op::MoveRemote {
            from,
            to,
            from_path,
            to_path,
        } => move_remote(cx, from, to, from_path, to_path).await,
        Op::MoveLocal {
            from,
            to,
            from_path,
            to_path,
        } => move_local(cx, from, to, from_path, to_path),
        Op::SetAside {
            key,
            local,
            to_path,
        } => set_aside(cx, key, local, to_path),
        Op::RenameClash {
            local,
            to_path,
            reason,
        } => rename_clash(cx, local, to_path, reason),
        Op::Agree { key } => Ok(Done::new(Outcome::Agreed { key }, "", "", None)),
        Op::Forget { key } => Ok(Done::new(Outcome::Forgotten { key }, "", "", None)),
    };
    (k, path, r)
}
