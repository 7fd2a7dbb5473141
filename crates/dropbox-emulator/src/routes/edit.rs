//! `files/delete`, `move`, `copy` and `create_folder`, one at a time and in batches.

use super::paths::{Forms, PathArg, WRITE, lookup_error, resolve_read, write_error};
use super::{Call, Reply, decode, new_job, to_json};
use crate::ops::{OpError, RelocateError};
use crate::state::{Account, Emulator};
use crate::store::Node;
use crate::wire::{self, ApiError};
use dropbox_sdk::files;

fn delete_one(
    emu: &Emulator,
    call: &Call,
    account: &Account,
    arg: &files::DeleteArg,
) -> Result<Node, files::DeleteError> {
    let full = match call
        .path(&arg.path, Forms { id: true, ..WRITE })
        .map_err(|_| files::DeleteError::PathLookup(files::LookupError::MalformedPath(None)))?
    {
        Ok(p) => {
            let ns = account.ns.lock();
            resolve_read(&ns, &call.scope, &p)
                .map_err(|e| files::DeleteError::PathLookup(lookup_error(&e)))?
        }
        Err(e) => return Err(files::DeleteError::PathLookup(lookup_error(&e))),
    };
    let full = full.ok_or(files::DeleteError::PathLookup(files::LookupError::NotFound))?;
    emu.mutate(account, |r| r.delete(&full, arg.parent_rev.as_deref()))
        .map_err(|e| match e {
            OpError::NotFound => files::DeleteError::PathLookup(files::LookupError::NotFound),
            OpError::TooManyFiles => files::DeleteError::TooManyFiles,
            other => files::DeleteError::PathWrite(write_error(&other)),
        })
}

pub(super) fn delete(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::DeleteArg = decode(call)?;
    let account = call.account()?;
    let node = delete_one(emu, call, account, &arg).map_err(ApiError::route)?;
    let md = wire::metadata(&node, &call.scope);
    if call.route == "files/delete" {
        return to_json(md);
    }
    to_json(files::DeleteResult::new(md))
}

pub(super) fn delete_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::DeleteBatchArg = decode(call)?;
    if arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: entries",
            "list has more than 1000 items",
        ));
    }
    let account = call.account()?;
    let p409 = emu.faults.read().p_write_contention_409;
    let entries = arg
        .entries
        .iter()
        .map(|e| {
            if emu.rng.lock().chance(p409) {
                return files::DeleteBatchResultEntry::Failure(
                    files::DeleteError::TooManyWriteOperations,
                );
            }
            match delete_one(emu, call, account, e) {
                Ok(node) => files::DeleteBatchResultEntry::Success(
                    files::DeleteBatchResultData::new(wire::metadata(&node, &call.scope)),
                ),
                Err(err) => files::DeleteBatchResultEntry::Failure(err),
            }
        })
        .collect();
    let status = serde_json::to_value(files::DeleteBatchJobStatus::Complete(
        files::DeleteBatchResult::new(entries),
    ))
    .map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Json(new_job(emu, status)))
}

fn relocation_error(e: RelocateError) -> files::RelocationError {
    match e {
        RelocateError::From(err) => files::RelocationError::FromLookup(lookup_error(&err)),
        RelocateError::To(err) => files::RelocationError::To(write_error(&err)),
        RelocateError::IntoItself => files::RelocationError::CantMoveFolderIntoItself,
        RelocateError::TooManyFiles => files::RelocationError::TooManyFiles,
        RelocateError::InsufficientQuota => files::RelocationError::InsufficientQuota,
    }
}

fn relocate_one(
    emu: &Emulator,
    call: &Call,
    account: &Account,
    from: &str,
    to: &str,
    autorename: bool,
    copy: bool,
) -> Result<Node, files::RelocationError> {
    let from_full = match call
        .path(from, Forms { id: true, ..WRITE })
        .map_err(|_| files::RelocationError::FromLookup(files::LookupError::MalformedPath(None)))?
    {
        Ok(p) => {
            let ns = account.ns.lock();
            resolve_read(&ns, &call.scope, &p)
                .map_err(|e| files::RelocationError::FromLookup(lookup_error(&e)))?
        }
        Err(e) => return Err(files::RelocationError::FromLookup(lookup_error(&e))),
    }
    .ok_or(files::RelocationError::FromLookup(
        files::LookupError::NotFound,
    ))?;
    let to_full = match call
        .path(to, WRITE)
        .map_err(|_| files::RelocationError::To(files::WriteError::MalformedPath(None)))?
    {
        Ok(PathArg::Path(p)) => p,
        Ok(_) => {
            return Err(files::RelocationError::To(
                files::WriteError::MalformedPath(None),
            ));
        }
        Err(e) => return Err(files::RelocationError::To(write_error(&e))),
    };
    emu.mutate(account, |r| {
        r.relocate(&from_full, &to_full, autorename, copy)
    })
    .map_err(relocation_error)
}

pub(super) fn relocate(emu: &Emulator, call: &Call, copy: bool) -> Result<Reply, ApiError> {
    let arg: files::RelocationArg = decode(call)?;
    let account = call.account()?;
    let node = relocate_one(
        emu,
        call,
        account,
        &arg.from_path,
        &arg.to_path,
        arg.autorename,
        copy,
    )
    .map_err(ApiError::route)?;
    to_json(files::RelocationResult::new(wire::metadata(
        &node,
        &call.scope,
    )))
}

pub(super) fn relocate_batch(emu: &Emulator, call: &Call, copy: bool) -> Result<Reply, ApiError> {
    let arg: files::MoveBatchArg = decode(call)?;
    if arg.entries.is_empty() || arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: entries",
            "list must have 1 to 1000 items",
        ));
    }
    let account = call.account()?;
    let p409 = emu.faults.read().p_write_contention_409;
    let entries = arg
        .entries
        .iter()
        .map(|e| {
            if emu.rng.lock().chance(p409) {
                return files::RelocationBatchResultEntry::Failure(
                    files::RelocationBatchErrorEntry::TooManyWriteOperations,
                );
            }
            match relocate_one(
                emu,
                call,
                account,
                &e.from_path,
                &e.to_path,
                arg.autorename,
                copy,
            ) {
                Ok(node) => {
                    files::RelocationBatchResultEntry::Success(wire::metadata(&node, &call.scope))
                }
                Err(err) => files::RelocationBatchResultEntry::Failure(
                    files::RelocationBatchErrorEntry::RelocationError(err),
                ),
            }
        })
        .collect();
    let status = serde_json::to_value(files::RelocationBatchV2JobStatus::Complete(
        files::RelocationBatchV2Result::new(entries),
    ))
    .map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Json(new_job(emu, status)))
}

pub(super) fn create_folder(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::CreateFolderArg = decode(call)?;
    let account = call.account()?;
    let wrap = |e: files::WriteError| ApiError::route(files::CreateFolderError::Path(e));
    let full = call.write_path(&arg.path, wrap)?;
    let node = emu
        .mutate(account, |r| r.create_folder(&full, arg.autorename))
        .map_err(|e| wrap(write_error(&e)))?;
    to_json(files::CreateFolderResult::new(wire::folder_metadata(
        &node,
        &call.scope,
    )))
}

pub(super) fn create_folder_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::CreateFolderBatchArg = decode(call)?;
    if arg.paths.len() > 10_000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: paths",
            "list has more than 10000 items",
        ));
    }
    let account = call.account()?;
    let entries: Vec<_> = arg
        .paths
        .iter()
        .map(|p| {
            let res = call
                .write_path(p, ApiError::route)
                .map_err(|_| files::WriteError::MalformedPath(None))
                .and_then(|full| {
                    emu.mutate(account, |r| r.create_folder(&full, arg.autorename))
                        .map_err(|e| write_error(&e))
                });
            match res {
                Ok(node) => files::CreateFolderBatchResultEntry::Success(
                    files::CreateFolderEntryResult::new(wire::folder_metadata(&node, &call.scope)),
                ),
                Err(e) => files::CreateFolderBatchResultEntry::Failure(
                    files::CreateFolderEntryError::Path(e),
                ),
            }
        })
        .collect();
    let result = files::CreateFolderBatchResult::new(entries);
    if arg.force_async {
        let status = serde_json::to_value(files::CreateFolderBatchJobStatus::Complete(result))
            .map_err(|_| ApiError::Server(500))?;
        return Ok(Reply::Json(new_job(emu, status)));
    }
    to_json(files::CreateFolderBatchLaunch::Complete(result))
}
