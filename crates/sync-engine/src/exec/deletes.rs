//! Deletes: on Dropbox only at the revision planned on; locally to the trash, only what is
//! proven unchanged, and never what the pair does not sync.

use super::Ctx;
use super::{Done, Fail, bad_remote, from_dbx, io_fail, place, prove};
use crate::clock::now;
use crate::sync_lock::lock;
use nuvosync_dropbox::Error as DbxError;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use sync_core::path::key;
use sync_core::{Key, LocalNode, Outcome, RemoteNode, Trees};

pub(super) async fn delete_remote(
    cx: &Ctx<'_>,
    key: String,
    remote: RemoteNode,
) -> Result<Done, Fail> {
    let dbx = cx.root.dropbox_path(&remote.path);
    if remote.is_folder() {
        // Dropbox cannot delete a folder conditionally: make sure nothing in it is news to us.
        let mut known = Trees::default();
        lock(cx.index)
            .load_subtree(&key, &mut known)
            .map_err(|e| Fail::Fatal(e.into()))?;
        let mut page = cx.remote.list_folder(&dbx).await.map_err(from_dbx)?;
        loop {
            for e in &page.entries {
                if let Some((k, n)) = cx.root.node(e).map_err(bad_remote)? {
                    let same = known
                        .remote
                        .get(&k)
                        .is_some_and(|r| r.id == n.id && r.rev() == n.rev());
                    if !same {
                        return Err(Fail::Stale(None));
                    }
                }
            }
            if !page.has_more {
                break;
            }
            page = cx
                .remote
                .list_continue(&page.cursor)
                .await
                .map_err(from_dbx)?;
        }
    }
    match cx.remote.delete(&dbx, remote.rev()).await {
        Ok(_) | Err(DbxError::NotFound) => {}
        Err(e) => return Err(from_dbx(e)),
    }
    cx.counters.deleted_remote.fetch_add(1, Ordering::Relaxed);
    Ok(Done::new(
        Outcome::RemoteDeleted { key },
        "deleted on Dropbox",
        &remote.path,
        None,
    ))
}

pub(super) fn delete_local(cx: &Ctx<'_>, key: String, local: LocalNode) -> Result<Done, Fail> {
    let root = place(cx, &local.path)?;
    if !root.matches(&local.path, &local) {
        return Err(Fail::Stale(Some(local.path.clone())));
    }
    let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
    let os = cx.host.os_trash();
    let trash = |rel: &str| {
        root.to_trash(rel, &stamp, os.as_ref())
            .map_err(|e| io_fail("cannot move the file to the trash", e))
    };
    let mut kept = Kept::default();
    if local.is_folder() {
        // Every entry below must be one we know, unchanged — proven by content; anything
        // new or edited stops it. What the pair does not sync (excluded folders, ignored
        // names, links, special files, names Dropbox refuses) is not the pair's to delete:
        // it stays, and only the synced files go to the trash.
        let mut known = Trees::default();
        lock(cx.index)
            .load_subtree(&key, &mut known)
            .map_err(|e| Fail::Fatal(e.into()))?;
        let rules = cx.host.rules();
        let entries = root
            .walk(&local.path)
            .map_err(|e| io_fail("cannot look into the folder", e))?;
        let mut files = vec![];
        let mut folders = vec![];
        for crate::localfs::Walked { rel, md, utf8 } in entries {
            if kept.covers(&rel) {
                continue;
            }
            let ft = md.file_type();
            let named = utf8
                && rel.rsplit('/').next().is_some_and(|n| {
                    sync_core::path::check_os_name(std::ffi::OsStr::new(n)).is_ok()
                });
            if rules.skips_path(&rel) || !(ft.is_file() || ft.is_dir()) || !named {
                kept.push(rel);
                continue;
            }
            let Some(n) = known.local.get(&key_of(&rel)).filter(|n| n.path == rel) else {
                return Err(Fail::Stale(Some(local.path.clone())));
            };
            if md.is_dir() {
                if !root.matches(&rel, n) {
                    return Err(Fail::Stale(Some(local.path.clone())));
                }
                folders.push(rel);
            } else {
                prove(cx, &root, &key_of(&rel), &rel, n)?;
                files.push(rel);
            }
        }
        if kept.is_empty() {
            trash(&local.path)?;
        } else {
            for f in &files {
                trash(f)?;
            }
            // Deepest first; a folder that holds something kept stays.
            folders.sort_by_key(|f| std::cmp::Reverse(f.len()));
            for d in &folders {
                if !kept.holds_within(d) {
                    // Emptied: its files are in the trash.
                    root.remove_dir(d)
                        .map_err(|e| io_fail("cannot remove the emptied folder", e))?;
                }
            }
            tracing::info!(path = %local.path, kept = ?kept.paths, "deleted on Dropbox: the synced files went to the trash; what is not synced stays");
        }
    } else {
        prove(cx, &root, &key, &local.path, &local)?;
        trash(&local.path)?;
    }
    cx.counters.deleted_local.fetch_add(1, Ordering::Relaxed);
    let mut done = Done::new(
        Outcome::LocalDeleted { key },
        "deleted locally (moved to the trash)",
        &local.path,
        None,
    );
    if !kept.is_empty() {
        done.action = "deleted locally (moved to the trash; what is not synced stays)";
        done.rescan = vec![local.path.clone()];
    }
    Ok(done)
}

fn key_of(rel: &str) -> Key {
    key(rel)
}

/// `path` is `folder` or inside it (display paths, as on disk).
/// What a folder's delete leaves in place: the entries the pair does not sync, and so
/// everything below them. Each lookup walks the components of one path, so a folder of n
/// entries is sorted out in O(n × depth), not n².
#[derive(Debug, Default)]
struct Kept {
    /// In the order found (for the log).
    paths: Vec<String>,
    kept: HashSet<String>,
    /// Every folder above something kept.
    holders: HashSet<String>,
}

impl Kept {
    fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Keep `rel` and what lies below it.
    fn push(&mut self, rel: String) {
        for (i, _) in rel.rmatch_indices('/') {
            // The folders above are noted once: one already there has its own above it.
            if !self.holders.insert(rel[..i].to_string()) {
                break;
            }
        }
        self.kept.insert(rel.clone());
        self.paths.push(rel);
    }

    /// `rel` is kept, or lies below something kept.
    fn covers(&self, rel: &str) -> bool {
        !self.kept.is_empty()
            && std::iter::once(rel)
                .chain(rel.rmatch_indices('/').map(|(i, _)| &rel[..i]))
                .any(|a| self.kept.contains(a))
    }

    /// Something kept is the folder `dir` or lies below it.
    fn holds_within(&self, dir: &str) -> bool {
        self.kept.contains(dir) || self.holders.contains(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    #[test]
    fn what_a_folder_delete_keeps_is_looked_up_in_linear_time() {
        // A folder of n entries in n/10 subfolders, a tenth of the entries not the pair's to
        // delete (ignored names, links): each entry is checked against what is kept so far,
        // each subfolder against all that is kept. Comparing with every kept path would take
        // n² steps.
        let set = |n: usize| {
            let dirs: Vec<String> = (0..n / 10).map(|d| format!("/top/d{d}")).collect();
            let entries: Vec<String> = (0..n)
                .map(|i| format!("/top/d{}/f{i}", i % (n / 10)))
                .collect();
            (dirs, entries)
        };
        let (small, large) = (set(10_000), set(100_000));
        let time = |(dirs, entries): &(Vec<String>, Vec<String>), runs: u32| {
            let n = entries.len();
            let t = std::time::Instant::now();
            for _ in 0..runs {
                let mut kept = Kept::default();
                let mut trashed = 0;
                for (i, rel) in entries.iter().enumerate() {
                    if kept.covers(rel) {
                        continue;
                    }
                    if i % 10 == 0 {
                        kept.push(rel.clone());
                    } else {
                        trashed += 1;
                    }
                }
                let emptied = dirs.iter().filter(|d| !kept.holds_within(d)).count();
                assert_eq!((trashed, emptied), (n - n / 10, n / 10 - n / 100));
            }
            t.elapsed() / runs
        };
        // Ten runs of the small set against one of the large, so that both take about as
        // long and a busy host slows both alike; the best of three of each, taken in turn.
        let (mut ts, mut tl) = (std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..3 {
            ts = ts.min(time(&small, 10));
            tl = tl.min(time(&large, 1));
        }
        // Linear: about 10 times for ten times the entries; n²: 100.
        crate::timing::assert_scales(ts, tl, 30.0);
    }

    #[test]
    fn what_is_kept_covers_its_subtree_and_holds_its_folders() {
        let mut kept = Kept::default();
        assert!(kept.is_empty() && !kept.covers("/a"));
        kept.push("/a/b".into());
        assert!(kept.covers("/a/b") && kept.covers("/a/b/c"));
        assert!(!kept.covers("/a/bc") && !kept.covers("/a"));
        assert!(kept.holds_within("/a") && kept.holds_within("/a/b"));
        assert!(!kept.holds_within("/a/b/c") && !kept.holds_within("/ab"));
    }
}
