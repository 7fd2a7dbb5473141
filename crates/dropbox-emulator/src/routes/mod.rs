//! The Dropbox API v2 routes: argument decoding with the official types, path rules,
//! and each route's results and errors. The route table is in `crate::route_table`, the path rules in
//! `paths.rs`; each family of routes has a file of its own.

mod account;
mod download;
mod edit;
mod listing;
mod paths;
mod revisions;
mod upload;

pub use crate::route_table::{
    Auth, NOAUTH_WITH_HEADER, RouteInfo, Style, route_info, route_source,
};
pub use listing::cursor_behind;
pub use paths::{Forms, PathArg, PathProblem, parse_path};

use account::{current_account, echo};
use download::{download, export, get_metadata};
use edit::{create_folder, create_folder_batch, delete, delete_batch, relocate, relocate_batch};
use listing::{get_latest_cursor, list_folder, list_folder_continue};
use revisions::{list_revisions, restore};
use upload::{
    finish_batch, session_append, session_append_batch, session_finish, session_start,
    session_start_batch, upload,
};

use crate::state::{Account, Emulator};
use crate::wire::{ApiError, RateReason, Scope};
use bytes::Bytes;
use dropbox_sdk::users;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest request body a content route accepts (150 MiB).
pub const MAX_PAYLOAD: u64 = 150 * 1024 * 1024;
/// Upload sessions expire after this long.
pub const SESSION_LIFETIME_SECS: i64 = 7 * 24 * 3600;
/// Concurrent-session appends must be multiples of this.
pub const CONCURRENT_ALIGN: u64 = 4 * 1024 * 1024;
/// Default and maximum `list_folder` page size.
pub const PAGE_LIMIT: usize = 2000;

/// What a route call carries.
pub struct Call {
    /// Route name.
    pub route: String,
    /// The JSON argument as sent (the SDK's types deserialize with borrowed keys, so they
    /// are decoded from the text, not from a `Value`). `null` when there is none.
    pub arg: Bytes,
    /// Request body (content routes).
    pub body: Bytes,
    /// The caller's account (routes with auth).
    pub account: Option<Arc<Account>>,
    /// The caller's root.
    pub scope: Scope,
    /// The token used (for revoke).
    pub token: Option<String>,
    /// `Range` header of a download.
    pub range: Option<String>,
}

/// A route's successful answer.
pub enum Reply {
    /// JSON body.
    Json(Value),
    /// Download: metadata for `Dropbox-API-Result` and the bytes.
    Download {
        /// The untagged FileMetadata.
        meta: Value,
        /// The whole content (the server layer applies Range).
        data: Bytes,
        /// The revision, used as the ETag.
        rev: String,
    },
}

fn decode<T: DeserializeOwned>(call: &Call) -> Result<T, ApiError> {
    let what = if route_info(&call.route).is_some_and(|r| r.style == Style::Rpc) {
        "request body"
    } else {
        "HTTP header \"Dropbox-API-Arg\""
    };
    serde_json::from_slice(&call.arg).map_err(|e| ApiError::bad_arg(&call.route, what, e))
}

/// Bring an argument into the form the SDK's decoders take: a void union member may be
/// sent as a bare string (`"mode": "add"`), and `.tag` may come after the other keys.
pub fn normalize_arg(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if matches!(k.as_str(), "mode" | "session_type" | "reason") {
                    if let Value::String(tag) = child {
                        *child = json!({".tag": tag.clone()});
                    }
                }
                normalize_arg(child);
            }
            if let Some(tag) = map.remove(".tag") {
                let rest = std::mem::take(map);
                map.insert(".tag".into(), tag);
                map.extend(rest);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_arg),
        _ => {}
    }
}

fn to_json(v: impl serde::Serialize) -> Result<Reply, ApiError> {
    serde_json::to_value(v)
        .map(Reply::Json)
        .map_err(|_| ApiError::Server(500))
}

/// Handle one route call (everything but longpoll, which the server awaits separately).
pub fn handle(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    match call.route.as_str() {
        "check/app" | "check/user" => echo(call),
        "users/get_current_account" => current_account(emu, call),
        "users/get_space_usage" => {
            let a = call.account()?;
            let used = a.ns.lock().used;
            to_json(users::SpaceUsage::new(
                used,
                users::SpaceAllocation::Individual(users::IndividualSpaceAllocation::new(
                    emu.config.quota_bytes,
                )),
            ))
        }
        "auth/token/revoke" => {
            if let Some(t) = &call.token {
                emu.revoke(t);
            }
            Ok(Reply::Json(Value::Null))
        }
        "files/list_folder" => list_folder(emu, call),
        "files/list_folder/continue" => list_folder_continue(call),
        "files/list_folder/get_latest_cursor" => get_latest_cursor(call),
        "files/get_metadata" => get_metadata(call),
        "files/download" => download(emu, call),
        "files/export" => export(emu, call),
        "files/upload" => upload(emu, call),
        "files/upload_session/start" => session_start(emu, call),
        "files/upload_session/start_batch" => session_start_batch(emu, call),
        "files/upload_session/append_batch" => session_append_batch(emu, call),
        "files/upload_session/append_v2" | "files/upload_session/append" => {
            session_append(emu, call)
        }
        "files/upload_session/finish" => session_finish(emu, call),
        "files/upload_session/finish_batch_v2" => finish_batch(emu, call, false),
        "files/upload_session/finish_batch" => finish_batch(emu, call, true),
        "files/upload_session/finish_batch/check" => job_check(emu, call),
        "files/delete_v2" | "files/delete" => delete(emu, call),
        "files/delete_batch" => delete_batch(emu, call),
        "files/move_v2" => relocate(emu, call, false),
        "files/copy_v2" => relocate(emu, call, true),
        "files/move_batch_v2" => relocate_batch(emu, call, false),
        "files/copy_batch_v2" => relocate_batch(emu, call, true),
        "files/delete_batch/check" | "files/move_batch/check_v2" | "files/copy_batch/check_v2" => {
            job_check(emu, call)
        }
        "files/create_folder_v2" => create_folder(emu, call),
        "files/create_folder_batch" => create_folder_batch(emu, call),
        "files/create_folder_batch/check" => job_check(emu, call),
        "files/list_revisions" => list_revisions(call),
        "files/restore" => restore(emu, call),
        other => Err(ApiError::unknown_route(other)),
    }
}

/// Store a finished job's status and return the launch answer `{".tag":"async_job_id",...}`.
fn new_job(emu: &Emulator, status: Value) -> Value {
    let id = emu.random_token("dbjid:");
    emu.jobs.lock().insert(id.clone(), status);
    json!({".tag": "async_job_id", "async_job_id": id})
}

fn job_check(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: dropbox_sdk::dbx_async::PollArg = decode(call)?;
    match emu.jobs.lock().get(&arg.async_job_id) {
        Some(status) => Ok(Reply::Json(status.clone())),
        None => Err(ApiError::route(
            dropbox_sdk::dbx_async::PollError::InvalidAsyncJobId,
        )),
    }
}

/// The 429 for namespace lock contention.
pub fn contention() -> ApiError {
    ApiError::RateLimit {
        reason: RateReason::TooManyWriteOperations,
        retry_after: 1,
        text: false,
    }
}

#[cfg(test)]
mod tests;
