//! `files/upload` and the upload sessions: start, append (v1, v2, batch), finish and
//! finish_batch.

use super::paths::write_error;
use super::{
    CONCURRENT_ALIGN, Call, MAX_PAYLOAD, Reply, SESSION_LIFETIME_SECS, Style, decode, new_job,
    route_info, to_json,
};
use crate::ops::Mode;
use crate::state::{Account, Emulator, Session};
use crate::store::Node;
use crate::wire::{self, ApiError};
use bytes::Bytes;
use dropbox_sdk::files;
use serde_json::Value;
use std::sync::Arc;
use sync_core::ContentHash;

fn mode_of(m: &files::WriteMode) -> Mode {
    match m {
        files::WriteMode::Add => Mode::Add,
        files::WriteMode::Overwrite => Mode::Overwrite,
        files::WriteMode::Update(rev) => Mode::Update(rev.clone()),
    }
}

/// A `client_modified` as seconds since the epoch; a malformed timestamp is refused with the
/// 400 Dropbox sends (common.stone `DropboxTimestamp`: `%Y-%m-%dT%H:%M:%SZ`).
fn client_modified(call: &Call, ts: &Option<String>) -> Result<Option<i64>, ApiError> {
    match ts {
        None => Ok(None),
        Some(s) => wire::parse_timestamp(s).map(Some).ok_or_else(|| {
            let what = if route_info(&call.route).is_some_and(|r| r.style == Style::Rpc) {
                "request body"
            } else {
                "HTTP header \"Dropbox-API-Arg\""
            };
            ApiError::bad_arg(
                &call.route,
                &format!("{what}: client_modified"),
                format!("time data '{s}' does not match format '%Y-%m-%dT%H:%M:%SZ'"),
            )
        }),
    }
}

fn check_hash(expected: &Option<String>, data: &[u8]) -> Result<ContentHash, ()> {
    let actual = ContentHash::of(data);
    match expected {
        Some(h) if !h.eq_ignore_ascii_case(&actual.to_hex()) => Err(()),
        _ => Ok(actual),
    }
}

pub(super) fn upload(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadArg = decode(call)?;
    let account = call.account()?;
    // On a write error the data stays in a (closed) upload session whose id comes with the
    // error, so the commit can be retried with upload_session/finish without sending it again.
    let wrap = |e: files::WriteError| {
        let session_id = park_in_session(emu, account, &call.body);
        ApiError::route(files::UploadError::Path(files::UploadWriteFailed::new(
            e, session_id,
        )))
    };
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(files::UploadError::PayloadTooLarge));
    }
    let hash = check_hash(&arg.content_hash, &call.body)
        .map_err(|_| ApiError::route(files::UploadError::ContentHashMismatch))?;
    let full = call.write_path(&arg.path, wrap)?;
    let cm = client_modified(call, &arg.client_modified)?;
    emu.put_blob(hash, call.body.clone())
        .map_err(|_| ApiError::Server(500))?;
    let node = emu
        .mutate(account, |r| {
            r.commit(
                &full,
                &mode_of(&arg.mode),
                arg.autorename,
                arg.strict_conflict,
                cm,
                hash,
                call.body.len() as u64,
            )
        })
        .map_err(|e| wrap(write_error(&e)))?;
    to_json(wire::file_metadata(&node, &call.scope))
}

/// A new upload session of `account` holding `data`; returns its id.
fn new_session(
    emu: &Emulator,
    account: &Account,
    concurrent: bool,
    data: &[u8],
    closed: bool,
) -> String {
    let id = emu.random_token("pid_upload_session:");
    let session = Session {
        account: account.name.clone(),
        concurrent,
        data: data.to_vec(),
        parts: Default::default(),
        offset: data.len() as u64,
        closed,
        created: emu.now(),
    };
    emu.sessions
        .lock()
        .insert(id.clone(), Arc::new(parking_lot::Mutex::new(session)));
    id
}

/// Keep `data` in a new closed upload session of `account`; returns the session id.
fn park_in_session(emu: &Emulator, account: &Account, data: &Bytes) -> String {
    new_session(emu, account, false, data, true)
}

pub(super) fn session_start(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionStartArg = decode(call)?;
    let account = call.account()?;
    let concurrent = matches!(arg.session_type, Some(files::UploadSessionType::Concurrent));
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(
            files::UploadSessionStartError::PayloadTooLarge,
        ));
    }
    if concurrent && !call.body.is_empty() {
        return Err(ApiError::route(
            files::UploadSessionStartError::ConcurrentSessionDataNotAllowed,
        ));
    }
    if concurrent && arg.close {
        return Err(ApiError::route(
            files::UploadSessionStartError::ConcurrentSessionCloseNotAllowed,
        ));
    }
    check_hash(&arg.content_hash, &call.body)
        .map_err(|_| ApiError::route(files::UploadSessionStartError::ContentHashMismatch))?;
    let id = new_session(emu, account, concurrent, &call.body, arg.close);
    to_json(files::UploadSessionStartResult::new(id))
}

pub(super) fn session_start_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionStartBatchArg = decode(call)?;
    if !(1..=1000).contains(&arg.num_sessions) {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: num_sessions",
            format!("{} is not within range 1..1000", arg.num_sessions),
        ));
    }
    let account = call.account()?;
    let concurrent = matches!(arg.session_type, Some(files::UploadSessionType::Concurrent));
    let ids = (0..arg.num_sessions)
        .map(|_| new_session(emu, account, concurrent, &[], false))
        .collect();
    to_json(files::UploadSessionStartBatchResult::new(ids))
}

/// Find a live session of this account.
fn find_session(
    emu: &Emulator,
    account: &Account,
    id: &str,
) -> Option<Arc<parking_lot::Mutex<Session>>> {
    let mut sessions = emu.sessions.lock();
    let s = sessions.get(id)?.clone();
    let (owner, created) = {
        let g = s.lock();
        (g.account.clone(), g.created)
    };
    if emu.now() - created > SESSION_LIFETIME_SECS {
        sessions.remove(id);
        return None;
    }
    (owner == account.name).then_some(s)
}

pub(super) fn session_append(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    // v1 `append` takes the cursor itself as its argument.
    let (cursor, close, content_hash) = if call.route.ends_with("append_v2") {
        let arg: files::UploadSessionAppendArg = decode(call)?;
        (arg.cursor, arg.close, arg.content_hash)
    } else {
        let cursor: files::UploadSessionCursor = decode(call)?;
        (cursor, false, None)
    };
    let account = call.account()?;
    use files::UploadSessionAppendError as E;
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(E::PayloadTooLarge));
    }
    check_hash(&content_hash, &call.body).map_err(|_| ApiError::route(E::ContentHashMismatch))?;
    append_one(emu, account, &cursor, close, &call.body).map_err(ApiError::route)?;
    Ok(Reply::Json(Value::Null))
}

/// Append `data` at `cursor` to one of `account`'s sessions (for append, append_v2 and
/// append_batch). Only session-level errors come back; the call-level ones (payload size,
/// content hash) are checked by the caller.
fn append_one(
    emu: &Emulator,
    account: &Account,
    cursor: &files::UploadSessionCursor,
    close: bool,
    data: &Bytes,
) -> Result<(), files::UploadSessionAppendError> {
    use files::UploadSessionAppendError as E;
    let session = find_session(emu, account, &cursor.session_id).ok_or(E::NotFound)?;
    let mut s = session.lock();
    if s.closed {
        return Err(E::Closed);
    }
    let len = data.len() as u64;
    if s.concurrent {
        if cursor.offset % CONCURRENT_ALIGN != 0 {
            return Err(E::ConcurrentSessionInvalidOffset);
        }
        if !close && len % CONCURRENT_ALIGN != 0 {
            return Err(E::ConcurrentSessionInvalidDataSize);
        }
        s.parts.insert(cursor.offset, data.clone());
    } else {
        if cursor.offset != s.offset {
            return Err(E::IncorrectOffset(files::UploadSessionOffsetError::new(
                s.offset,
            )));
        }
        s.data.extend_from_slice(data);
        s.offset += len;
    }
    if close {
        s.closed = true;
    }
    Ok(())
}

pub(super) fn session_append_batch(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionAppendBatchArg = decode(call)?;
    if arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "HTTP header \"Dropbox-API-Arg\": entries",
            "list has more than 1000 items",
        ));
    }
    let account = call.account()?;
    use files::UploadSessionAppendBatchEntryError as EE;
    use files::UploadSessionAppendBatchError as E;
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(E::PayloadTooLarge));
    }
    check_hash(&arg.content_hash, &call.body)
        .map_err(|_| ApiError::route(E::ContentHashMismatch))?;
    let total = arg
        .entries
        .iter()
        .try_fold(0u64, |sum, e| sum.checked_add(e.length));
    if total != Some(call.body.len() as u64) {
        return Err(ApiError::route(E::LengthMismatch));
    }
    let mut at = 0usize;
    let entries = arg
        .entries
        .iter()
        .map(|e| {
            let data = call.body.slice(at..at + e.length as usize);
            at += e.length as usize;
            match append_one(emu, account, &e.cursor, e.close, &data) {
                Ok(()) => files::UploadSessionAppendBatchResultEntry::Success,
                Err(err) => files::UploadSessionAppendBatchResultEntry::Failure(match err {
                    files::UploadSessionAppendError::IncorrectOffset(o) => EE::IncorrectOffset(o),
                    files::UploadSessionAppendError::Closed => EE::Closed,
                    files::UploadSessionAppendError::TooLarge => EE::TooLarge,
                    files::UploadSessionAppendError::ConcurrentSessionInvalidOffset => {
                        EE::ConcurrentSessionInvalidOffset
                    }
                    files::UploadSessionAppendError::ConcurrentSessionInvalidDataSize => {
                        EE::ConcurrentSessionInvalidDataSize
                    }
                    _ => EE::NotFound,
                }),
            }
        })
        .collect();
    to_json(files::UploadSessionAppendBatchResult::new(entries))
}

/// Assemble a session's data for a finish at `offset` with a final `tail`.
fn session_data(
    s: &mut Session,
    offset: u64,
    tail: &Bytes,
) -> Result<Vec<u8>, files::UploadSessionFinishError> {
    use files::UploadSessionFinishError as E;
    use files::UploadSessionLookupError as L;
    if s.concurrent {
        if !tail.is_empty() {
            return Err(E::ConcurrentSessionDataNotAllowed);
        }
        if !s.closed {
            return Err(E::ConcurrentSessionNotClosed);
        }
        let mut out = Vec::new();
        for (off, part) in &s.parts {
            if *off != out.len() as u64 {
                return Err(E::ConcurrentSessionMissingData);
            }
            out.extend_from_slice(part);
        }
        if offset != out.len() as u64 {
            return Err(E::LookupFailed(L::IncorrectOffset(
                files::UploadSessionOffsetError::new(out.len() as u64),
            )));
        }
        return Ok(out);
    }
    if offset != s.offset {
        return Err(E::LookupFailed(L::IncorrectOffset(
            files::UploadSessionOffsetError::new(s.offset),
        )));
    }
    if s.closed && !tail.is_empty() {
        return Err(E::LookupFailed(L::Closed));
    }
    let mut out = s.data.clone();
    out.extend_from_slice(tail);
    Ok(out)
}

/// Commit one finished session. Errors are the finish error union.
fn finish_one(
    emu: &Emulator,
    call: &Call,
    account: &Account,
    arg: &files::UploadSessionFinishArg,
    tail: &Bytes,
    require_closed: bool,
) -> Result<Node, files::UploadSessionFinishError> {
    use files::UploadSessionFinishError as E;
    use files::UploadSessionLookupError as L;
    let session =
        find_session(emu, account, &arg.cursor.session_id).ok_or(E::LookupFailed(L::NotFound))?;
    let data = {
        let mut s = session.lock();
        if require_closed && !s.closed {
            return Err(E::LookupFailed(L::NotClosed));
        }
        session_data(&mut s, arg.cursor.offset, tail)?
    };
    // The hash covers this call's data, which may be empty (a finish without a tail);
    // batch finishes carry no data at all, so theirs is not checked.
    if !tail.is_empty() || !require_closed {
        check_hash(&arg.content_hash, tail).map_err(|_| E::ContentHashMismatch)?;
    }
    let hash = ContentHash::of(&data);
    let len = data.len() as u64;
    let full = call
        .write_path(&arg.commit.path, |_| ApiError::Server(0))
        .map_err(|_| E::Path(files::WriteError::MalformedPath(None)))?;
    let cm = arg
        .commit
        .client_modified
        .as_deref()
        .and_then(wire::parse_timestamp);
    emu.put_blob(hash, Bytes::from(data))
        .map_err(|_| E::Other)?;
    let c = &arg.commit;
    let node = emu
        .mutate(account, |r| {
            r.commit(
                &full,
                &mode_of(&c.mode),
                c.autorename,
                c.strict_conflict,
                cm,
                hash,
                len,
            )
        })
        .map_err(|e| E::Path(write_error(&e)))?;
    // A committed session is gone; the data stays in the session only on a path error.
    emu.sessions.lock().remove(&arg.cursor.session_id);
    Ok(node)
}

pub(super) fn session_finish(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionFinishArg = decode(call)?;
    client_modified(call, &arg.commit.client_modified)?;
    let account = call.account()?;
    if call.body.len() as u64 > MAX_PAYLOAD {
        return Err(ApiError::route(
            files::UploadSessionFinishError::PayloadTooLarge,
        ));
    }
    let node = finish_one(emu, call, account, &arg, &call.body, false).map_err(ApiError::route)?;
    to_json(wire::file_metadata(&node, &call.scope))
}

pub(super) fn finish_batch(emu: &Emulator, call: &Call, v1: bool) -> Result<Reply, ApiError> {
    let arg: files::UploadSessionFinishBatchArg = decode(call)?;
    for e in &arg.entries {
        client_modified(call, &e.commit.client_modified)?;
    }
    if arg.entries.len() > 1000 {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: entries",
            "list has more than 1000 items",
        ));
    }
    let account = call.account()?;
    let p409 = emu.faults.read().p_write_contention_409;
    let mut results = Vec::with_capacity(arg.entries.len());
    for entry in &arg.entries {
        if emu.rng.lock().chance(p409) {
            emu.stats
                .faults
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            results.push(files::UploadSessionFinishBatchResultEntry::Failure(
                files::UploadSessionFinishError::TooManyWriteOperations,
            ));
            continue;
        }
        results.push(
            match finish_one(emu, call, account, entry, &Bytes::new(), true) {
                Ok(node) => files::UploadSessionFinishBatchResultEntry::Success(
                    wire::file_metadata(&node, &call.scope).unwrap_or_else(|| unreachable!()),
                ),
                Err(e) => files::UploadSessionFinishBatchResultEntry::Failure(e),
            },
        );
    }
    let result = files::UploadSessionFinishBatchResult::new(results);
    if v1 {
        let status =
            serde_json::to_value(files::UploadSessionFinishBatchJobStatus::Complete(result))
                .map_err(|_| ApiError::Server(500))?;
        return Ok(Reply::Json(new_job(emu, status)));
    }
    to_json(result)
}
