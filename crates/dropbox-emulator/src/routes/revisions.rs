//! `files/list_revisions` and `files/restore`.

use super::paths::{LOOKUP, PathArg, lookup_error, write_error};
use super::{Call, Reply, decode, to_json};
use crate::ops::OpError;
use crate::state::Emulator;
use crate::store::{Node, lower};
use crate::wire::{self, ApiError};
use dropbox_sdk::files;

pub(super) fn list_revisions(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListRevisionsArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ListRevisionsError::Path(lookup_error(e)));
    if !(1..=100).contains(&arg.limit) {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: limit",
            format!("{} is not within range 1..100", arg.limit),
        ));
    }
    let account = call.account()?;
    let path = call.path(&arg.path, LOOKUP)?.map_err(|e| err(&e))?;
    let by_id = matches!(arg.mode, files::ListRevisionsMode::Id);
    let ns = account.ns.lock();
    let (revs, current) = match &path {
        PathArg::Id(id) if by_id => {
            let current = ns.path_of_id(id).and_then(|p| ns.get(p));
            let revs = ns.revisions_of_id(id);
            // The file (or, once deleted, its last version) must lie in the caller's scope:
            // an app-folder token must not read the history of files outside its folder.
            let location = current
                .map(|n| lower(&n.display))
                .or_else(|| revs.first().map(|r| lower(&r.display)));
            if !location.is_some_and(|l| crate::store::within(&l, &call.scope.root_lower())) {
                return Err(err(&OpError::NotFound));
            }
            (revs, current)
        }
        PathArg::Id(_) => {
            return Err(ApiError::route(files::ListRevisionsError::Path(
                files::LookupError::MalformedPath(None),
            )));
        }
        PathArg::Path(p) => {
            let key = lower(p);
            if let Some(n) = ns.get(&key) {
                if n.file().is_none() {
                    return Err(err(&OpError::NotFile));
                }
            }
            (ns.revisions_at(&key), ns.get(&key))
        }
        _ => return Err(err(&OpError::NotFound)),
    };
    if revs.is_empty() {
        return Err(err(&OpError::NotFound));
    }
    let mut revs: Vec<_> = revs.into_iter().collect();
    if let Some(before) = &arg.before_rev {
        if by_id {
            return Err(ApiError::route(
                files::ListRevisionsError::BeforeRevNotSupported,
            ));
        }
        let pos = revs
            .iter()
            .position(|r| &r.version.rev == before)
            .ok_or_else(|| ApiError::route(files::ListRevisionsError::InvalidBeforeRev))?;
        revs.drain(..=pos);
    }
    let has_more = revs.len() > arg.limit as usize;
    let entries: Vec<files::FileMetadata> = revs
        .iter()
        .take(arg.limit as usize)
        .filter_map(|r| {
            let node = Node {
                id: r.id.clone(),
                display: current
                    .map(|c| c.display.clone())
                    .unwrap_or(r.display.clone()),
                written: current.and_then(|c| c.written.clone()),
                kind: crate::store::NodeKind::File(r.version.clone()),
            };
            wire::file_metadata(&node, &call.scope)
        })
        .collect();
    let mut result = files::ListRevisionsResult::new(current.is_none(), entries, has_more);
    if current.is_none() {
        let key = match &path {
            PathArg::Path(p) => lower(p),
            _ => String::new(),
        };
        if let Some(t) = ns.tombstones.get(&key) {
            result = result.with_server_deleted(wire::timestamp(t.at));
        }
    }
    to_json(result)
}

pub(super) fn restore(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::RestoreArg = decode(call)?;
    let account = call.account()?;
    let full = call.write_path(&arg.path, |e| {
        ApiError::route(files::RestoreError::PathWrite(e))
    })?;
    let node = emu
        .mutate(account, |r| r.restore(&full, &arg.rev))
        .map_err(|e| match e {
            OpError::InvalidRevision => ApiError::route(files::RestoreError::InvalidRevision),
            OpError::NotFound => ApiError::route(files::RestoreError::PathLookup(
                files::LookupError::NotFound,
            )),
            other => ApiError::route(files::RestoreError::PathWrite(write_error(&other))),
        })?;
    to_json(wire::file_metadata(&node, &call.scope))
}
