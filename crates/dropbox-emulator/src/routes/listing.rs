//! `files/list_folder`, `list_folder/continue` and `list_folder/get_latest_cursor`: the snapshot
//! walk, then the journal; and whether a cursor is behind (for longpoll).

use super::paths::{LIST, lookup_error, resolve_read};
use super::{Call, PAGE_LIMIT, Reply, decode, to_json};
use crate::cursor::Cursor;
use crate::ops::OpError;
use crate::state::{Account, Emulator};
use crate::store::lower;
use crate::wire::{self, ApiError, Scope};
use dropbox_sdk::files;

pub(super) fn list_folder(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListFolderArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ListFolderError::Path(lookup_error(e)));
    if let Some(l) = arg.limit {
        if !(1..=2000).contains(&l) {
            return Err(ApiError::bad_arg(
                &call.route,
                "request body: limit",
                format!("{l} is not within range 1..2000"),
            ));
        }
    }
    let account = call.account()?;
    let path = call.path(&arg.path, LIST)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    let root_full = match resolve_read(&ns, &call.scope, &path).map_err(|e| err(&e))? {
        None => call.scope.root.clone(),
        Some(p) => p,
    };
    let root_lower = lower(&root_full);
    if !root_lower.is_empty() {
        match ns.get(&root_lower) {
            None => return Err(err(&OpError::NotFound)),
            Some(n) if n.file().is_some() => return Err(err(&OpError::NotFolder)),
            Some(_) => {}
        }
    }
    let cursor = Cursor {
        account: account.name.clone(),
        root: root_lower,
        scope_root: call.scope.root.clone(),
        recursive: arg.recursive,
        include_deleted: arg.include_deleted,
        limit: arg.limit.map(|l| l as usize).unwrap_or(PAGE_LIMIT),
        seq: ns.seq(),
        epoch: account.epoch.load(std::sync::atomic::Ordering::Relaxed),
        after: Some(String::new()),
    };
    // The folder itself leads a recursive listing of a folder other than the root.
    let mut lead = vec![];
    if arg.recursive && cursor.root != call.scope.root_lower() {
        if let Some(n) = ns.get(&cursor.root) {
            lead.push(wire::metadata(n, &call.scope));
        }
    }
    drop(ns);
    let _ = emu;
    page(account, cursor, &call.scope, lead)
}

pub(super) fn list_folder_continue(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListFolderContinueArg = decode(call)?;
    let account = call.account()?;
    let cursor = Cursor::decode(&arg.cursor)
        .ok_or_else(|| ApiError::bad_arg(&call.route, "request body: cursor", "Invalid cursor"))?;
    if cursor.account != account.name || cursor.scope_root != call.scope.root {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: cursor",
            "Invalid cursor",
        ));
    }
    if cursor.epoch != account.epoch.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::route(files::ListFolderContinueError::Reset));
    }
    // "If the folder itself that the cursor refers to is deleted, the call will return a 409
    // path error" (https://developers.dropbox.com/detecting-changes-guide, "Polling"); a move
    // is a delete at the old path. The journal holds it as one Delete of the listed folder,
    // which a listing of that folder never shows.
    if listed_folder_gone(&account.ns.lock(), &cursor) {
        return Err(ApiError::route(files::ListFolderContinueError::Path(
            files::LookupError::NotFound,
        )));
    }
    page(account, cursor, &call.scope, vec![])
}

pub(super) fn get_latest_cursor(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ListFolderArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ListFolderError::Path(lookup_error(e)));
    let account = call.account()?;
    let path = call.path(&arg.path, LIST)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    let root_full = resolve_read(&ns, &call.scope, &path)
        .map_err(|e| err(&e))?
        .unwrap_or_else(|| call.scope.root.clone());
    let root = lower(&root_full);
    if !root.is_empty() && ns.get(&root).is_none_or(|n| n.file().is_some()) {
        return Err(err(&if ns.get(&root).is_none() {
            OpError::NotFound
        } else {
            OpError::NotFolder
        }));
    }
    let cursor = Cursor {
        account: account.name.clone(),
        root,
        scope_root: call.scope.root.clone(),
        recursive: arg.recursive,
        include_deleted: arg.include_deleted,
        limit: arg.limit.map(|l| l as usize).unwrap_or(PAGE_LIMIT),
        seq: ns.seq(),
        epoch: account.epoch.load(std::sync::atomic::Ordering::Relaxed),
        after: None,
    };
    to_json(files::ListFolderGetLatestCursorResult::new(cursor.encode()))
}

/// One page of a listing: first the snapshot walk (while `after` is set), then the journal.
fn page(
    account: &Account,
    mut cursor: Cursor,
    scope: &Scope,
    mut entries: Vec<files::Metadata>,
) -> Result<Reply, ApiError> {
    let ns = account.ns.lock();
    let limit = cursor.limit.max(1);
    if let Some(after) = cursor.after.clone() {
        // Snapshot phase: walk the current tree (and tombstones if asked) in path order.
        let base = if cursor.root.is_empty() {
            String::new()
        } else {
            cursor.root.clone()
        };
        let start = if after.is_empty() {
            format!("{base}/")
        } else {
            after.clone()
        };
        let end = format!("{base}0");
        let mut last = None;
        let mut more = false;
        let in_scope = |k: &str| cursor.recursive || crate::store::parent(k) == base;
        let mut live = ns
            .nodes
            .range::<String, _>((
                std::ops::Bound::Excluded(start.clone()),
                std::ops::Bound::Excluded(end.clone()),
            ))
            .filter(|(k, _)| in_scope(k))
            .peekable();
        let mut dead = ns
            .tombstones
            .range::<String, _>((
                std::ops::Bound::Excluded(start.clone()),
                std::ops::Bound::Excluded(end),
            ))
            .filter(|(k, _)| cursor.include_deleted && in_scope(k))
            .peekable();
        if after.is_empty() {
            // `start` itself is excluded above; it is `base/`, which no key equals.
        }
        loop {
            if entries.len() >= limit {
                more = live.peek().is_some() || dead.peek().is_some();
                break;
            }
            let take_live = match (live.peek(), dead.peek()) {
                (Some((a, _)), Some((b, _))) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_live {
                let (k, n) = live.next().unwrap_or_else(|| unreachable!());
                entries.push(wire::metadata(n, scope));
                last = Some(k.clone());
            } else {
                let (k, t) = dead.next().unwrap_or_else(|| unreachable!());
                entries.push(wire::deleted_metadata(&t.display, scope));
                last = Some(k.clone());
            }
        }
        if more {
            cursor.after = last;
            return to_json(files::ListFolderResult::new(entries, cursor.encode(), true));
        }
        cursor.after = None;
        // Changes made during the walk are delivered from the journal on the next call.
        let has_more = ns
            .changes_since(cursor.seq, &cursor.root, cursor.recursive)
            .next()
            .is_some();
        return to_json(files::ListFolderResult::new(
            entries,
            cursor.encode(),
            has_more,
        ));
    }
    let mut seq = cursor.seq;
    let mut has_more = false;
    // One entry per path with its latest state, as Dropbox sends them.
    for (s, e) in ns.latest_changes_since(cursor.seq, &cursor.root, cursor.recursive) {
        if entries.len() >= limit {
            has_more = true;
            break;
        }
        entries.push(match &e.node {
            Some(n) => wire::metadata(n, scope),
            None => wire::deleted_metadata(&e.display, scope),
        });
        seq = s;
    }
    cursor.seq = if has_more { seq } else { ns.seq() };
    to_json(files::ListFolderResult::new(
        entries,
        cursor.encode(),
        has_more,
    ))
}

/// Whether the folder a cursor lists (other than the app folder or the whole Dropbox) was
/// deleted or moved away since the cursor's position.
fn listed_folder_gone(ns: &crate::store::Namespace, cursor: &Cursor) -> bool {
    cursor.root != lower(&cursor.scope_root)
        && ns.listed_folder_gone_since(cursor.seq, &cursor.root)
}

/// Whether a cursor's scope has changes after its position (for longpoll).
pub fn cursor_behind(account: &Account, cursor: &Cursor) -> bool {
    let ns = account.ns.lock();
    // A listed folder that went away is a change (continue then answers with the path error).
    cursor.after.is_some()
        || listed_folder_gone(&ns, cursor)
        || ns
            .changes_since(cursor.seq, &cursor.root, cursor.recursive)
            .next()
            .is_some()
}
