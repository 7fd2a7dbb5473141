//! `files/get_metadata`, `files/download` and `files/export`: one file's metadata or content,
//! at its path, its id or one of its revisions.

use super::paths::{LOOKUP, PathArg, READ, lookup_error, resolve_read};
use super::{Call, Reply, decode, to_json};
use crate::ops::OpError;
use crate::state::Emulator;
use crate::store::{Namespace, Node, lower};
use crate::wire::{self, ApiError, Scope};
use dropbox_sdk::files;

pub(super) fn get_metadata(call: &Call) -> Result<Reply, ApiError> {
    let arg: files::GetMetadataArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::GetMetadataError::Path(lookup_error(e)));
    let account = call.account()?;
    let path = call.path(&arg.path, READ)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    if let PathArg::Rev(rev) = &path {
        // `rev:` names one version of a file (a ReadPath, as for download).
        let node = revision_node(&ns, &call.scope, rev).map_err(|e| err(&e))?;
        return to_json(wire::metadata(&node, &call.scope));
    }
    let full = resolve_read(&ns, &call.scope, &path)
        .map_err(|e| err(&e))?
        .ok_or_else(|| err(&OpError::NotFound))?;
    let key = lower(&full);
    if let Some(n) = ns.get(&key) {
        return to_json(wire::metadata(n, &call.scope));
    }
    if arg.include_deleted {
        if let Some(t) = ns.tombstones.get(&key) {
            return to_json(wire::deleted_metadata(&t.display, &call.scope));
        }
    }
    Err(err(&OpError::NotFound))
}

/// One version of a file, as a node at the path it had then; it must lie in `scope`.
fn revision_node(ns: &Namespace, scope: &Scope, rev: &str) -> Result<Node, OpError> {
    let r = ns.revisions.get(rev).ok_or(OpError::NotFound)?;
    if !crate::store::within(&lower(&r.display), &scope.root_lower()) {
        return Err(OpError::NotFound);
    }
    Ok(Node {
        id: r.id.clone(),
        display: r.display.clone(),
        written: None,
        kind: crate::store::NodeKind::File(r.version.clone()),
    })
}

pub(super) fn download(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::DownloadArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::DownloadError::Path(lookup_error(e)));
    let account = call.account()?;
    #[allow(deprecated)]
    let path = match &arg.rev {
        Some(rev) if !arg.path.starts_with("rev:") => {
            call.path(&arg.path, READ)?.map_err(|e| err(&e))?;
            PathArg::Rev(rev.clone())
        }
        _ => call.path(&arg.path, READ)?.map_err(|e| err(&e))?,
    };
    let ns = account.ns.lock();
    let (meta, hash, rev) = match &path {
        PathArg::Rev(rev) => {
            let node = revision_node(&ns, &call.scope, rev).map_err(|e| err(&e))?;
            let f = node.file().ok_or(ApiError::Server(500))?;
            if !f.is_downloadable() {
                return Err(ApiError::route(files::DownloadError::UnsupportedFile));
            }
            let hash = f.hash;
            (wire::file_metadata(&node, &call.scope), hash, rev.clone())
        }
        other => {
            let full = resolve_read(&ns, &call.scope, other)
                .map_err(|e| err(&e))?
                .ok_or_else(|| err(&OpError::NotFound))?;
            let n = ns
                .get(&lower(&full))
                .ok_or_else(|| err(&OpError::NotFound))?;
            let f = n.file().ok_or_else(|| err(&OpError::NotFile))?;
            if !f.is_downloadable() {
                // files.stone DownloadError.unsupported_file: "use export instead".
                return Err(ApiError::route(files::DownloadError::UnsupportedFile));
            }
            (wire::file_metadata(n, &call.scope), f.hash, f.rev.clone())
        }
    };
    drop(ns);
    let data = emu.blob(&hash).ok_or(ApiError::Server(500))?;
    let meta = serde_json::to_value(meta).map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Download { meta, data, rev })
}

/// The extension of an export format's file (as rclone maps them: `exportKnownAPIFormats`).
fn export_extension(format: &str) -> &str {
    match format {
        "markdown" => "md",
        other => other,
    }
}

pub(super) fn export(emu: &Emulator, call: &Call) -> Result<Reply, ApiError> {
    let arg: files::ExportArg = decode(call)?;
    let err = |e: &OpError| ApiError::route(files::ExportError::Path(lookup_error(e)));
    let account = call.account()?;
    let path = call.path(&arg.path, LOOKUP)?.map_err(|e| err(&e))?;
    let ns = account.ns.lock();
    let full = resolve_read(&ns, &call.scope, &path)
        .map_err(|e| err(&e))?
        .ok_or_else(|| err(&OpError::NotFound))?;
    let n = ns
        .get(&lower(&full))
        .ok_or_else(|| err(&OpError::NotFound))?;
    let f = n.file().ok_or_else(|| err(&OpError::NotFile))?;
    // Only files that cannot be downloaded export (files.stone, route export: "This route
    // only supports exporting files that cannot be downloaded directly").
    let exports = f
        .export
        .as_ref()
        .ok_or_else(|| ApiError::route(files::ExportError::NonExportable))?;
    let (format, hash, size) = match &arg.export_format {
        None => exports.formats.first(),
        Some(want) => exports.formats.iter().find(|(f, _, _)| f == want),
    }
    .cloned()
    .ok_or_else(|| ApiError::route(files::ExportError::InvalidExportFormat))?;
    let file_metadata = wire::file_metadata(n, &call.scope).ok_or(ApiError::Server(500))?;
    let stem = sync_core::path::split_ext(&file_metadata.name)
        .0
        .to_string();
    let rev = f.rev.clone();
    drop(ns);
    let result = files::ExportResult::new(
        files::ExportMetadata::new(format!("{stem}.{}", export_extension(&format)), size)
            .with_export_hash(hash.to_hex()),
        file_metadata,
    );
    let data = emu.blob(&hash).ok_or(ApiError::Server(500))?;
    let meta = serde_json::to_value(result).map_err(|_| ApiError::Server(500))?;
    Ok(Reply::Download { meta, data, rev })
}
