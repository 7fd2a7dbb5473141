//! Files Dropbox cannot download, only export (Paper docs: `is_downloadable: false`,
//! `export_info`), as read-only local copies — when the user turns it on
//! ([`crate::Tuning::export_documents`]; off by default, as rclone's `--dropbox-export-formats`
//! is a choice).
//!
//! The change feed records every such file ([`note_entries`]), on or off. With the setting on,
//! [`sync_exports`] fetches each through `files/export` in its `export_as` format and places it
//! next to where the document is, named with the format's extension (`Plan.paper` →
//! `Plan.html`), mode 0444. The planner never sees these copies ([`crate::rules::Rules`] skips
//! their keys), so nothing of them is ever uploaded: a copy edited here is renamed to a
//! conflicted copy (which then syncs as a file of its own) and exported again; a new revision on
//! Dropbox replaces an unchanged copy; a document deleted on Dropbox (or the setting turned off)
//! sends its unchanged copy to the trash.

use crate::clock::now;
use crate::exec::Ctx;
use crate::outcome::SyncError;
use crate::sync_lock::lock;
use futures_util::AsyncReadExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::Ordering;
use sync_core::path::{is_within, key, name, parent};
use sync_core::{ContentHash, ContentHasher, Key};

/// Index metadata: the export-only files Dropbox lists (key → [`Doc`]).
const DOCS: &str = "export_docs";
/// Index metadata: the copies placed here (document key → [`Copy`]).
const COPIES: &str = "export_copies";

/// An export-only file as Dropbox lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    /// Path relative to the pair's root (only its last component is reliably cased).
    pub path: String,
    /// Revision.
    pub rev: String,
    /// Dropbox's default export format.
    pub export_as: Option<String>,
}

/// A local copy of an exported document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    /// Its path relative to the pair's folder.
    pub file: String,
    /// The document's revision it was exported from.
    pub rev: String,
    /// The content hash of what was written.
    pub hash: ContentHash,
}

fn load<T: for<'de> Deserialize<'de> + Default>(
    ix: &crate::index::Index,
    k: &str,
) -> Result<T, SyncError> {
    Ok(ix
        .meta(k)?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

fn store<T: Serialize>(ix: &mut crate::index::Index, k: &str, v: &T) -> Result<(), SyncError> {
    ix.set_meta(k, &serde_json::to_string(v).unwrap_or_default())?;
    Ok(())
}

/// The keys of the copies placed here (never synced as files).
pub fn copy_keys(ix: &crate::index::Index) -> Vec<Key> {
    load::<BTreeMap<Key, Copy>>(ix, COPIES)
        .unwrap_or_default()
        .values()
        .map(|c| key(&c.file))
        .collect()
}

/// Record the export-only files of a page of the change feed and forget those deleted (a
/// deleted folder takes what was below it). In a whole listing, `seen` collects their keys
/// (see [`forget_unseen`]).
pub fn note_entries(
    ix: &mut crate::index::Index,
    root: &crate::remote::RemoteRoot,
    entries: &[nuvosync_dropbox::Entry],
    mut seen: Option<&mut BTreeSet<Key>>,
) -> Result<(), SyncError> {
    let mut docs: BTreeMap<Key, Doc> = load(ix, DOCS)?;
    let before = docs.clone();
    for e in entries {
        let Ok(Some(rel)) = root.relative(e.path_display()) else {
            continue;
        };
        let k = key(&rel);
        match e {
            nuvosync_dropbox::Entry::ExportOnly(x) => {
                if let Some(s) = seen.as_deref_mut() {
                    s.insert(k.clone());
                }
                docs.insert(
                    k,
                    Doc {
                        path: rel,
                        rev: x.rev.clone(),
                        export_as: x.export_as.clone(),
                    },
                );
            }
            // A deletion, or a file or folder now at the path: no document there any more.
            _ => docs.retain(|d, _| !is_within(d, &k)),
        }
    }
    if docs != before {
        store(ix, DOCS, &docs)?;
    }
    Ok(())
}

/// After a whole listing: the documents it did not hold are gone.
pub fn forget_unseen(ix: &mut crate::index::Index, seen: &BTreeSet<Key>) -> Result<(), SyncError> {
    let mut docs: BTreeMap<Key, Doc> = load(ix, DOCS)?;
    let n = docs.len();
    docs.retain(|k, _| seen.contains(k));
    if docs.len() != n {
        store(ix, DOCS, &docs)?;
    }
    Ok(())
}

/// The file extension of an export format (rclone's `exportKnownAPIFormats`: html → `html`,
/// markdown → `md`; another format is its own extension).
fn extension(format: &str) -> &str {
    match format {
        "markdown" => "md",
        f => f,
    }
}

/// The local name of a document's copy: `.paper`/`.papert` replaced by the format's extension.
fn copy_name(doc_name: &str, format: &str) -> String {
    let stem = [".paper", ".papert"]
        .iter()
        .find_map(|x| {
            doc_name
                .len()
                .checked_sub(x.len())
                .filter(|&i| doc_name.is_char_boundary(i) && doc_name[i..].eq_ignore_ascii_case(x))
                .map(|i| &doc_name[..i])
        })
        .unwrap_or(doc_name);
    format!("{stem}.{}", extension(format))
}

/// Where a document's copy goes: its folder as it is here (Dropbox's parent casing is not
/// trusted), then the copy's name.
fn target(cx: &Ctx<'_>, doc: &Doc, format: &str) -> Result<String, SyncError> {
    let ix = lock(cx.index);
    let p = parent(&doc.path);
    let folder = if p.is_empty() {
        String::new()
    } else {
        match ix.local(&key(p))? {
            Some(l) => l.path,
            None => match ix.remote(&key(p))? {
                Some(r) => r.path,
                None => p.to_string(),
            },
        }
    };
    Ok(format!("{folder}/{}", copy_name(name(&doc.path), format)))
}

/// Make the local copies agree with the documents Dropbox lists and the setting.
pub async fn sync_exports(cx: &Ctx<'_>) -> Result<(), SyncError> {
    let on = cx.tuning.export_documents.load(Ordering::Relaxed);
    let (docs, mut copies) = {
        let ix = lock(cx.index);
        (
            load::<BTreeMap<Key, Doc>>(&ix, DOCS)?,
            load::<BTreeMap<Key, Copy>>(&ix, COPIES)?,
        )
    };
    if !on && copies.is_empty() {
        return Ok(());
    }
    let root = cx.host.files()?;
    let before = copies.clone();
    // The copies placed earlier: kept, set aside (edited here), or taken away.
    for (k, c) in before.iter() {
        let doc = docs.get(k).filter(|_| on);
        let current = match root.open_read(&c.file) {
            Ok(f) => Some(hash_of(f)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(cx = %cx.name, path = %c.file, "cannot read an exported copy: {e}");
                continue;
            }
        };
        match current {
            None => {
                copies.remove(k);
            }
            Some(h) if h != c.hash => {
                // Edited here: never uploaded over the document; kept as a conflicted copy,
                // which syncs as a file of its own.
                set_aside(cx, &root, &c.file)?;
                copies.remove(k);
            }
            Some(_) => match doc {
                Some(d) if d.rev == c.rev => {}
                Some(_) => {} // replaced below, in place
                None => {
                    let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
                    let os = cx.host.os_trash();
                    match root.to_trash(&c.file, &stamp, os.as_ref()) {
                        Ok(_) => {
                            copies.remove(k);
                        }
                        Err(e) => {
                            tracing::warn!(cx = %cx.name, path = %c.file, "cannot move an exported copy to the trash: {e}");
                        }
                    }
                }
            },
        }
    }
    if on {
        // A doc with its copy here is no "stays on Dropbox only" entry (a whole listing
        // reports every such doc again).
        let reported: BTreeMap<Key, String> = lock(cx.index)
            .issues()?
            .into_iter()
            .filter(|i| i.code == "not_downloadable")
            .map(|i| (key(&i.path), i.path))
            .collect();
        for (k, doc) in &docs {
            if copies.get(k).is_some_and(|c| c.rev == doc.rev) {
                if let Some(path) = reported.get(k) {
                    lock(cx.index).clear_issue(path)?;
                }
                continue;
            }
            match export_one(cx, &root, doc, copies.get(k)).await {
                Ok(None) => {}
                Ok(Some(c)) => {
                    copies.insert(k.clone(), c);
                    let mut ix = lock(cx.index);
                    ix.clear_issue(&doc.path)?;
                    if let Some(path) = reported.get(k) {
                        ix.clear_issue(path)?;
                    }
                }
                Err(message) => {
                    tracing::warn!(cx = %cx.name, path = %doc.path, "{message}");
                    lock(cx.index).set_issue(&doc.path, "export_failed", &message, now())?;
                }
            }
        }
    }
    if copies != before {
        store(&mut lock(cx.index), COPIES, &copies)?;
    }
    // Only the copies that are here are skipped (not one whose export failed).
    let keys: BTreeSet<Key> = copies.values().map(|c| key(&c.file)).collect();
    cx.host.set_exported(&keys.into_iter().collect::<Vec<_>>());
    Ok(())
}

fn hash_of(mut f: std::fs::File) -> Result<ContentHash, SyncError> {
    use std::io::Read;
    let mut h = ContentHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|source| SyncError::Io {
            what: "cannot read an exported copy".into(),
            source,
        })?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

fn set_aside(cx: &Ctx<'_>, root: &crate::localfs::Root, file: &str) -> Result<(), SyncError> {
    let (host, date) = (cx.tuning.host.clone(), crate::clock::today());
    let original = name(file).to_string();
    let dir = parent(file);
    let to = (1..10_000)
        .map(|n| {
            format!(
                "{dir}/{}",
                sync_core::path::conflicted_copy_name(&original, &host, &date, n)
            )
        })
        .find(|p| !root.exists(p))
        .unwrap_or_else(|| format!("{dir}/{original} (local copy)"));
    root.rename(file, &to, true)
        .map_err(|source| SyncError::Io {
            what: format!("cannot rename the edited exported copy {file} aside"),
            source,
        })?;
    let _ = lock(cx.index).add_conflict(now(), file, &to, "conflict");
    cx.counters.conflicts.fetch_add(1, Ordering::Relaxed);
    cx.events.send(crate::Event::Conflict {
        pair: cx.name.to_string(),
        path: file.to_string(),
        copy_path: to,
    });
    Ok(())
}

/// Export one document into place (replacing `old`, an unchanged earlier copy).
async fn export_one(
    cx: &Ctx<'_>,
    root: &crate::localfs::Root,
    doc: &Doc,
    old: Option<&Copy>,
) -> Result<Option<Copy>, String> {
    let format = doc.export_as.clone().unwrap_or_else(|| "html".into());
    let file = target(cx, doc, &format).map_err(|e| e.to_string())?;
    let folder = parent(&file);
    if !folder.is_empty() && !root.exists(folder) {
        // Its folder is not here yet: the plan makes it, the copy follows.
        return Ok(None);
    }
    let replace = old.is_some_and(|c| key(&c.file) == key(&file));
    if !replace {
        // What is there already is the user's, or a synced file: it wins.
        let k = key(&file);
        let taken = root.exists(&file) || {
            let ix = lock(cx.index);
            ix.remote(&k).ok().flatten().is_some() || ix.synced(&k).ok().flatten().is_some()
        };
        if taken {
            return Err(format!(
                "{} is not exported: {file} is already there — rename one of them",
                doc.path
            ));
        }
    }
    root.check_parents(&file).map_err(|e| e.to_string())?;
    // Skipped by the planner before it appears.
    let mut keys = cx.host.rules().exported().to_vec();
    keys.push(key(&file));
    cx.host.set_exported(&keys);
    let dropbox_path = cx.root.dropbox_path(&doc.path);
    let (entry, _name, expect, mut body) = cx
        .remote
        .export(&dropbox_path, Some(&format))
        .await
        .map_err(|e| format!("{} could not be exported: {e}", doc.path))?;
    let temp = root
        .temp_file()
        .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    let mut hasher = ContentHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let written = async {
        loop {
            let n = body
                .read(&mut buf)
                .await
                .map_err(|e| format!("the export was interrupted ({e}); it is tried again"))?;
            if n == 0 {
                return Ok::<(), String>(());
            }
            hasher.update(&buf[..n]);
            (&temp.file)
                .write_all(&buf[..n])
                .map_err(|e| format!("cannot write the exported file: {e}"))?;
        }
    }
    .await;
    let hash = hasher.finish();
    let checked = written.and_then(|()| match expect {
        Some(h) if h != hash => Err(format!(
            "the export of {} does not match its export_hash; nothing was written — it is tried again",
            doc.path
        )),
        _ => Ok(()),
    });
    let placed = checked.and_then(|()| {
        crate::platform::set_mode(&temp.file, 0o444)
            .and_then(|()| root.place_temp(&temp, &file, replace))
            .map_err(|e| format!("cannot place the exported copy {file}: {e}"))
    });
    if let Err(e) = placed {
        root.remove_temp(temp);
        return Err(e);
    }
    cx.counters.downloaded.fetch_add(1, Ordering::Relaxed);
    Ok(Some(Copy {
        file,
        rev: entry.rev,
        hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::copy_name;

    #[test]
    fn copies_are_named_with_the_format_extension() {
        assert_eq!(copy_name("Plan.paper", "html"), "Plan.html");
        assert_eq!(copy_name("Plan.PAPER", "markdown"), "Plan.md");
        assert_eq!(copy_name("Tmpl.papert", "html"), "Tmpl.html");
        assert_eq!(copy_name("Sheet.gsheet", "xlsx"), "Sheet.gsheet.xlsx");
    }
}
