//! Observing both sides into the index: the scanner, the remote feed, the clashes.

use super::{Pair, PauseReason, SyncError, blocking, lock, now};
use crate::index::{Index, Sig, Sigs, Temp};
use crate::scan::{Found, Previous, Scanner, resolve_clashes};
use nuvosync_dropbox::Error as DbxError;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use sync_core::path::{is_within, key};
use sync_core::{Key, LocalNode};

impl Pair {
    /// Scan the local folder (or some paths in it) into the index. Returns whether anything changed.
    pub async fn scan(&self, scopes: &[String]) -> Result<bool, SyncError> {
        blocking(|| self.scan_now(scopes))
    }

    /// Scan the whole folder (or `scopes`) and, at the same time, fetch Dropbox's changes:
    /// the walk is disk-bound and the listing waits on the network, so they overlap. Returns
    /// whether each found anything.
    pub async fn observe(
        &self,
        scopes: &[String],
    ) -> (Result<bool, SyncError>, Result<bool, SyncError>) {
        match tokio::runtime::Handle::try_current() {
            // The walk runs on a thread of its own while this one drives the listing (a
            // `join!` of the two would not overlap: the walk blocks the task it runs in).
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| {
                    std::thread::scope(|s| {
                        let walk = s.spawn(|| self.scan_now(scopes));
                        let pulled = h.block_on(self.pull());
                        let scanned = walk
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                        (scanned, pulled)
                    })
                })
            }
            _ => (self.scan(scopes).await, self.pull().await),
        }
    }

    fn scan_now(&self, scopes: &[String]) -> Result<bool, SyncError> {
        self.scans.fetch_add(1, Ordering::Relaxed);
        let stage_id = Temp::next_id();
        let root = self.spec.local_root.clone();
        let rules = self.rules();
        let threads = self.tuning.hash_threads;
        let watch = lock(&self.watch).clone();
        // Only the index rows inside the scopes (a scan after a file event looks at a few
        // paths), loaded while the folder is walked.
        let failed: Mutex<Option<SyncError>> = Mutex::new(None);
        let stored = Stored {
            index: &self.index,
            keys: if scopes.is_empty() {
                vec![String::new()]
            } else {
                scopes.iter().map(|s| key(s)).collect()
            },
            failed: &failed,
        };
        // Declared before the index is locked below: dropped after it is unlocked.
        let stage = TempTable {
            index: &self.index,
            table: Temp::Stage(stage_id),
            made: std::sync::atomic::AtomicBool::new(false),
        };
        let result = {
            let index = &self.index;
            // Only a file whose whole signature, ctime included, is the one stored.
            let reuse = |k: &str, sig: &Sig| -> Option<sync_core::ContentHash> {
                lock(index).stored_hash(k, sig).ok().flatten()
            };
            // Past a few thousand found nodes (a first sync), they wait in the index's
            // temporary database rather than in memory (see `Index::stage`).
            let staging = |nodes: Vec<Found>| {
                if lock(&failed).is_some() {
                    return;
                }
                stage.made.store(true, Ordering::Relaxed);
                let staged = lock(index).stage(
                    stage_id,
                    nodes.iter().map(|f| (f.key.as_str(), &f.node, f.ctime_ns)),
                );
                if let Err(e) = staged {
                    lock(&failed).get_or_insert(e.into());
                }
            };
            Scanner {
                root: &root,
                rules: &rules,
                threads,
                watch: watch.as_deref().map(|w| w as &dyn crate::scan::WatchDirs),
            }
            .scan_staging(scopes, &stored, &reuse, &staging, self.tuning.stage_every)?
        };
        if let Some(e) = lock(&failed).take() {
            return Err(e);
        }
        let whole = scopes.is_empty();
        let staged = result.staged > 0;
        let mut ix = lock(&self.index);
        // Staged, only the nodes that may clash come back to be looked at; the rest each own
        // their key, and are written from the stage.
        let found = if staged {
            ix.take_unsettled(stage_id)?
                .into_iter()
                .map(|(key, node, ctime_ns)| Found {
                    key,
                    node,
                    ctime_ns,
                })
                .collect()
        } else {
            result.found
        };
        let (owners, clashes) = {
            let hint = |k: &str| -> Option<String> {
                ix.synced(k)
                    .ok()
                    .flatten()
                    .map(|s| s.path)
                    .or_else(|| ix.local(k).ok().flatten().map(|l| l.path))
            };
            // Something that cannot be looked at is there as far as anyone can tell.
            let gone: HashSet<&str> = result.gone.iter().map(String::as_str).collect();
            let exists = |p: &str| {
                crate::localfs::abs(&root, p).is_ok_and(|p| {
                    !matches!(std::fs::symlink_metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
                }) && !gone.contains(p)
            };
            resolve_clashes(found, &hint, &exists)
        };
        let changed = staged || !owners.is_empty() || !result.gone.is_empty();
        self.barrier()?;
        let mut b = ix.batch()?;
        for g in &result.gone {
            let k = key(g);
            // The owners come sorted by key.
            let owned = owners.binary_search_by(|f| f.key.cmp(&k)).is_ok()
                || (staged && b.is_staged(stage_id, &k)?);
            if !owned {
                b.delete_local_subtree(&k)?;
            }
        }
        for f in &owners {
            b.put_local_scanned(&f.key, &f.node, f.ctime_ns)?;
        }
        if staged {
            b.put_local_staged(stage_id)?;
        }
        b.commit()?;
        // What the scan reports is reported afresh: everywhere after a whole scan, within its
        // scopes after a partial one (so a folder readable again is planned again at once).
        const SCAN_CODES: &[&str] = &[
            "bad_name",
            "not_synced",
            "symlink",
            "special_file",
            "unreadable",
            "clash",
        ];
        if whole {
            ix.clear_issues_with_codes(SCAN_CODES)?;
        } else {
            ix.clear_issues_within(SCAN_CODES, &result.scopes)?;
        }
        if !result.unreadable.is_empty() {
            tracing::warn!(pair = %self.spec.name, paths = ?result.unreadable, "cannot look at some entries: they are kept as they were, and nothing is planned there until they can be read");
        }
        let t = now();
        for i in &result.issues {
            // "A link blocks a Dropbox file" says more than "a link is not synced".
            if ix.issue(&i.path)?.is_some_and(|old| old.code == "blocked") {
                continue;
            }
            ix.set_issue(&i.path, i.code, &i.message, t)?;
        }
        for (c, found) in clashes.iter().zip(scanned_owners(&owners, &clashes)) {
            // The same rule as the planner's: names equal but for case clash on case; else on form.
            let owner = match found {
                Some(o) => Some(o.to_string()),
                None => ix.local(&key(&c.path))?.map(|l| l.path),
            };
            let unicode = owner.is_some_and(|o| o.to_lowercase() != c.path.to_lowercase());
            let message = if unicode {
                "another file here has the same name except for how its accents are encoded (Unicode normalisation), which Dropbox cannot keep apart; it is renamed with \"(unicode conflict)\""
            } else {
                "another file here has the same name except for upper/lower case, which Dropbox cannot keep apart; it is renamed with \"(case conflict)\""
            };
            ix.set_issue(&c.path, "clash", message, t)?;
        }
        drop(ix);
        let mut cl = lock(&self.clashes);
        if whole {
            *cl = clashes;
        } else {
            let kept = std::mem::take(&mut *cl);
            *cl = merge_clashes(kept, scopes, clashes);
        }
        drop(cl);
        if !result.unstable.is_empty() {
            tracing::debug!(pair = %self.spec.name, files = result.unstable.len(), "files still being written; they are picked up when they settle");
        }
        *lock(&self.unstable) = result.unstable;
        tracing::debug!(pair = %self.spec.name, entries = result.entries, hashed = result.hashed, "scanned");
        Ok(changed)
    }

    /// How many scans (whole or partial) the pair has made since it was opened.
    pub fn scans(&self) -> u64 {
        self.scans.load(Ordering::Relaxed)
    }

    /// Files that were being written during the last scan (to look at again shortly).
    pub fn unstable(&self) -> Vec<String> {
        lock(&self.unstable).clone()
    }

    /// Fetch remote changes into the index. Returns whether anything changed.
    pub async fn pull(&self) -> Result<bool, SyncError> {
        self.check_account().await?;
        let cursor = lock(&self.index).meta("cursor")?;
        match cursor {
            Some(c) => match self.pull_from(c).await {
                Err(SyncError::Remote(DbxError::CursorReset)) => {
                    tracing::info!(pair = %self.spec.name, "Dropbox reset the change cursor; listing the folder again");
                    lock(&self.index).del_meta("cursor")?;
                    self.full_listing().await
                }
                // The listed folder itself was deleted or moved: Dropbox answers `continue`
                // with a path error (https://developers.dropbox.com/detecting-changes-guide).
                // A full listing tells whether it is back (same id) or stops the pair.
                Err(SyncError::Remote(DbxError::NotFound)) if !self.root.path.is_empty() => {
                    tracing::warn!(pair = %self.spec.name, "the pair's folder on Dropbox is gone from where it was");
                    lock(&self.index).del_meta("cursor")?;
                    self.full_listing().await
                }
                other => other,
            },
            None => self.full_listing().await,
        }
    }

    async fn pull_from(&self, mut cursor: String) -> Result<bool, SyncError> {
        let mut changed = false;
        loop {
            let page = self.remote.list_continue(&cursor).await?;
            changed |= !page.entries.is_empty();
            self.apply_page(&page.entries, &page.cursor, None)?;
            cursor = page.cursor;
            if !page.has_more {
                return Ok(changed);
            }
        }
    }

    /// The pair's folder on Dropbox is not the one the index knows (`stored`, its id): where
    /// it went, if Dropbox still has it, makes the pause.
    async fn remote_folder_gone(&self, stored: Option<&str>, replaced: bool) -> SyncError {
        let moved_to = match stored {
            // Dropbox's ids read `id:…`, which is also how a path argument names one.
            Some(id) => match self.remote.get_metadata(id).await {
                Ok(Some(e)) if !matches!(e, nuvosync_dropbox::Entry::Deleted { .. }) => {
                    Some(e.path_display().to_string())
                }
                Ok(_) => None,
                Err(e) => return e.into(),
            },
            None => None,
        };
        tracing::warn!(pair = %self.spec.name, ?moved_to, replaced, "the pair's folder on Dropbox moved away");
        SyncError::Paused(PauseReason::RemoteFolderGone {
            path: self.root.path.clone(),
            moved_to,
            replaced,
        })
    }

    async fn full_listing(&self) -> Result<bool, SyncError> {
        // The pair's folder is known by its id once listed: a folder that went away (moved,
        // deleted) is never made again at the old place for a pair that synced, and another
        // folder made there is not taken for it (split brain: two folders, each half synced).
        let (stored_root, synced_before) = {
            let ix = lock(&self.index);
            (ix.meta("root_id")?, ix.count("synced")? > 0)
        };
        let first = match self.remote.list_folder(&self.root.path).await {
            Ok(p) => p,
            Err(DbxError::NotFound)
                if !self.root.path.is_empty() && (stored_root.is_some() || synced_before) =>
            {
                return Err(self.remote_folder_gone(stored_root.as_deref(), false).await);
            }
            Err(DbxError::NotFound) => {
                // A new pair: make its folder on Dropbox.
                if let Err(e) = self.remote.create_folder(&self.root.path).await {
                    if !matches!(e, DbxError::Conflict(_)) {
                        return Err(e.into());
                    }
                }
                self.remote.list_folder(&self.root.path).await?
            }
            Err(e) => return Err(e.into()),
        };
        // A recursive listing of a folder other than the app folder leads with the folder.
        let listed_root = if self.root.path.is_empty() {
            None
        } else {
            let lead = first.entries.iter().find_map(|e| match e {
                nuvosync_dropbox::Entry::Folder(d)
                    if matches!(self.root.relative(&d.path_display), Ok(Some(ref r)) if r.is_empty()) =>
                {
                    Some(d.id.clone())
                }
                _ => None,
            });
            match lead {
                Some(id) => Some(id),
                None => match self.remote.get_metadata(&self.root.path).await? {
                    Some(nuvosync_dropbox::Entry::Folder(d)) => Some(d.id),
                    _ => None,
                },
            }
        };
        if let (Some(stored), Some(listed)) = (&stored_root, &listed_root) {
            if stored != listed {
                return Err(self.remote_folder_gone(Some(stored), true).await);
            }
        }
        let known_before = lock(&self.index).count("synced")?;
        // A full listing reports every odd name on Dropbox again.
        lock(&self.index).clear_issues_with_codes(&["bad_remote_name", "not_downloadable"])?;
        // The keys listed wait in the index (see `Index::start_listed`); the documents Dropbox
        // can only export, few, in memory.
        let listed = lock(&self.index).start_listed()?;
        let _listing = TempTable {
            index: &self.index,
            table: Temp::Listed(listed),
            made: std::sync::atomic::AtomicBool::new(true),
        };
        let mut docs_seen: BTreeSet<Key> = BTreeSet::new();
        let mut page = first;
        let mut entries = 0usize;
        loop {
            entries += page
                .entries
                .iter()
                .filter(|e| matches!(self.root.node(e), Ok(Some(_))))
                .count();
            // The cursor is stored only once the whole listing is in, so an interrupted listing
            // starts over rather than leaving rows unseen.
            self.apply_page(
                &page.entries,
                &page.cursor,
                Some((listed, &mut docs_seen)),
            )?;
            if !page.has_more {
                break;
            }
            page = self.remote.list_continue(&page.cursor).await?;
        }
        if entries == 0 && known_before > 0 && !self.deletes_confirmed.load(Ordering::SeqCst) {
            lock(&self.index).del_meta("cursor")?;
            return Err(SyncError::Paused(PauseReason::EmptyRemote {
                known: known_before,
            }));
        }
        // Rows not seen in a full listing are gone.
        crate::export::forget_unseen(&mut lock(&self.index), &docs_seen)?;
        let mut ix = lock(&self.index);
        ix.note_listed(listed, &docs_seen)?;
        let stale: Vec<Key> = ix.unlisted_remote_keys(listed)?;
        let mut b = ix.batch()?;
        for k in &stale {
            b.delete_remote_subtree(k)?;
        }
        b.set_meta("cursor", &page.cursor)?;
        if let (None, Some(id)) = (&stored_root, &listed_root) {
            b.set_meta("root_id", id)?;
        }
        b.commit()?;
        Ok(true)
    }

    fn apply_page(
        &self,
        entries: &[nuvosync_dropbox::Entry],
        cursor: &str,
        mut listing: Option<(u64, &mut BTreeSet<Key>)>,
    ) -> Result<(), SyncError> {
        // A path that could lead out of the folder means the answer is garbled: none of the
        // page is applied and its cursor is not stored, so it is fetched again.
        // So is an entry outside the folder: a listing of a folder holds only what is in it.
        let mut placed = Vec::with_capacity(entries.len());
        for e in entries {
            let bad = match self.root.relative(e.path_display()) {
                Err(bad) if bad.is_garbled() => Some(bad),
                Ok(None) => Some(crate::remote::BadRemotePath::Escapes {
                    path: e.path_display().to_string(),
                    problem: "it is not in the folder listed",
                }),
                _ => None,
            };
            if let Some(bad) = bad {
                tracing::warn!(pair = %self.spec.name, "{bad}");
                return Err(SyncError::Remote(bad.into()));
            }
            placed.push((e, self.root.node(e)));
        }
        crate::export::note_entries(
            &mut lock(&self.index),
            &self.root,
            entries,
            listing.as_mut().map(|(_, docs)| &mut **docs),
        )?;
        let mut odd_names = vec![];
        let mut gone = vec![];
        let mut ix = lock(&self.index);
        let placed = recase_parents(placed, &ix)?;
        let mut b = ix.batch()?;
        for (e, node) in placed {
            match (e, node) {
                (nuvosync_dropbox::Entry::Deleted { path_display, .. }, _) => {
                    match self.root.relative(path_display) {
                        Ok(Some(rel)) => {
                            b.delete_remote_subtree(&key(&rel))?;
                            gone.push(key(&rel));
                        }
                        Err(bad) => odd_names.push((bad, false)),
                        Ok(None) => {}
                    }
                }
                (_, Ok(Some((k, node)))) => {
                    b.put_remote(&k, &node)?;
                    if let Some((id, _)) = &listing {
                        b.note_listed(*id, &k)?;
                    }
                }
                (_, Ok(None)) => {}
                (_, Err(bad)) => odd_names.push((bad, true)),
            }
        }
        if listing.is_none() {
            b.set_meta("cursor", cursor)?;
        }
        b.commit()?;
        // What went from Dropbox no longer stays there: its status entry goes too.
        if !gone.is_empty() {
            for issue in ix.issues()? {
                let k = key(&issue.path);
                if issue.code == "not_downloadable" && gone.iter().any(|g| is_within(&k, g)) {
                    ix.clear_issue(&issue.path)?;
                }
            }
        }
        // A name Dropbox should not have, or a file it cannot download: that entry stays
        // there, reported once; the rest syncs.
        for (bad, present) in odd_names {
            if present {
                ix.set_issue(bad.path(), bad.code(), &bad.to_string(), now())?;
            } else {
                ix.clear_issue(bad.path())?;
            }
        }
        Ok(())
    }
}

/// A temporary table in the index — a scan's stage, a listing's keys — dropped however the
/// work ends, if it was made. Must not be dropped while the index is locked.
struct TempTable<'a> {
    index: &'a Mutex<Index>,
    table: Temp,
    made: std::sync::atomic::AtomicBool,
}

impl Drop for TempTable<'_> {
    fn drop(&mut self) {
        if !*self.made.get_mut() {
            return;
        }
        if let Err(e) = lock(self.index).drop_temp(self.table) {
            tracing::debug!(error = %e, table = ?self.table, "could not drop a temporary table (it goes when the index is closed)");
        }
    }
}

/// What the index holds for the scopes of a scan; a failure to read it is kept for the scan
/// to return (what was read so far is not taken for all there is).
struct Stored<'a> {
    index: &'a Mutex<Index>,
    keys: Vec<Key>,
    failed: &'a Mutex<Option<SyncError>>,
}

impl Previous for Stored<'_> {
    fn sigs(&self) -> Sigs {
        lock(self.index)
            .local_sigs_within(&self.keys)
            .unwrap_or_else(|e| {
                *lock(self.failed) = Some(e.into());
                Sigs::default()
            })
    }

    fn paths(&self, each: &mut dyn FnMut(&str)) {
        if let Err(e) = lock(self.index).local_paths_within(&self.keys, each) {
            *lock(self.failed) = Some(e.into());
        }
    }
}

/// A placed page entry: the entry, and the node it describes (or why it has none).
type Placed<'a> = (
    &'a nuvosync_dropbox::Entry,
    Result<Option<(String, sync_core::RemoteNode)>, crate::remote::BadRemotePath>,
);

/// Give each node of a page its parents' names as Dropbox last sent them for the parents
/// themselves. Only the last component of `path_display` is reliably cased ("the casing of
/// the parent folders may not be correct", files.stone `Metadata.path_display`): a folder
/// `Docs` may list its children as `/docs/a.txt` or `/DOCS/b.txt`, and a local folder made
/// from such a parent component would be a second folder on a case-sensitive disk. A parent's
/// name comes from its own entry in the page, else from the index, else (unknown) as sent.
fn recase_parents<'a>(placed: Vec<Placed<'a>>, ix: &Index) -> Result<Vec<Placed<'a>>, SyncError> {
    let last = |p: &str| p.rsplit('/').next().unwrap_or("").to_string();
    let mut names: HashMap<Key, String> = placed
        .iter()
        .filter_map(|(_, n)| match n {
            Ok(Some((k, node))) => Some((k.clone(), last(&node.path))),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(placed.len());
    for (e, n) in placed {
        let n = match n {
            Ok(Some((k, mut node))) => {
                let comps: Vec<&str> = node.path.trim_start_matches('/').split('/').collect();
                let mut path = String::new();
                for (i, comp) in comps.iter().enumerate() {
                    path.push('/');
                    if i + 1 == comps.len() {
                        path.push_str(comp);
                        break;
                    }
                    let pk = key(&format!("{path}{comp}"));
                    let name = match names.get(&pk) {
                        Some(n) => n.clone(),
                        None => {
                            let known = ix.remote(&pk)?.map(|r| last(&r.path));
                            let n = known.unwrap_or_else(|| comp.to_string());
                            names.insert(pk, n.clone());
                            n
                        }
                    };
                    path.push_str(&name);
                }
                node.path = path;
                Ok(Some((k, node)))
            }
            other => other,
        };
        out.push((e, n));
    }
    Ok(out)
}

/// For each clash, the name that kept its key in this scan, if the scan found one. `owners`
/// come sorted by key (from `resolve_clashes`): a binary search per clash, so a burst of clashes
/// is not compared with every file found, and nothing is built for the owners (a map of them
/// took 66 MB of a first sync of 1,000,000 files, most often for no clash at all).
fn scanned_owners<'a>(owners: &'a [Found], clashes: &[LocalNode]) -> Vec<Option<&'a str>> {
    debug_assert!(owners.windows(2).all(|w| w[0].key < w[1].key));
    clashes
        .iter()
        .map(|c| {
            let k = key(&c.path);
            owners
                .binary_search_by(|o| o.key.as_str().cmp(k.as_str()))
                .ok()
                .map(|i| owners[i].node.path.as_str())
        })
        .collect()
}

/// The clashes known after a scan of `scopes`: the ones known before outside every scope,
/// then the ones this scan found. Each clash looks its own folders up in the set of scopes
/// (as deep as its path, not as many as there are scopes).
fn merge_clashes(kept: Vec<LocalNode>, scopes: &[String], found: Vec<LocalNode>) -> Vec<LocalNode> {
    let scoped: HashSet<Key> = scopes.iter().map(|s| key(s)).collect();
    let within_a_scope = |path: &str| {
        let mut k = key(path);
        loop {
            if scoped.contains(&k) {
                return true;
            }
            match k.rfind('/') {
                Some(i) => k.truncate(i),
                None => return false,
            }
        }
    };
    let mut out: Vec<LocalNode> = kept
        .into_iter()
        .filter(|c| !within_a_scope(&c.path))
        .collect();
    out.extend(found);
    out
}

#[cfg(test)]
mod tests {
    use super::{merge_clashes, scanned_owners};
    use crate::scan::Found;
    use sync_core::path::key;
    use sync_core::{LocalKind, LocalNode};

    fn node(path: String) -> LocalNode {
        LocalNode {
            path,
            inode: 1,
            kind: LocalKind::Folder,
        }
    }

    #[test]
    fn a_burst_of_clashes_is_handled_in_linear_time() {
        // n files found, half of them with a clashing twin; as many clashes known from
        // earlier scans, and a partial scan of n/100 folders.
        let time = |n: usize| {
            let mut owners: Vec<Found> = (0..n)
                .map(|i| {
                    let path = format!("/d{}/F{i}", i % 97);
                    Found {
                        key: key(&path),
                        node: node(path),
                        ctime_ns: None,
                    }
                })
                .collect();
            // As `resolve_clashes` hands them over.
            owners.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            let clashes: Vec<LocalNode> = (0..n / 2)
                .map(|i| node(format!("/d{}/f{}", (2 * i) % 97, 2 * i)))
                .collect();
            let known: Vec<LocalNode> = (0..n / 2)
                .map(|i| node(format!("/s{}/x{i}", i % (n / 50))))
                .collect();
            let scopes: Vec<String> = (0..n / 100).map(|j| format!("/S{j}")).collect();
            crate::timing::best_of(3, || {
                let t = std::time::Instant::now();
                let found = scanned_owners(&owners, &clashes);
                let merged = merge_clashes(known.clone(), &scopes, clashes.clone());
                let took = t.elapsed();
                assert!(found.iter().all(Option::is_some));
                assert_eq!(found[1], Some("/d2/F2"));
                assert_eq!(found[n / 2 - 1], Some(format!("/d{}/F{}", (n - 2) % 97, n - 2).as_str()));
                assert_eq!(scanned_owners(&owners, &[node("/d0/nobody".into())]), [None]);
                // Half of the earlier clashes lie in a scanned folder.
                assert_eq!(merged.len(), n / 4 + n / 2);
                took
            })
        };
        // Linear: about 10 times for ten times the files (up to 30 here, where the larger
        // sets leave the CPU caches); n²: 100.
        crate::timing::assert_scales(time(10_000), time(100_000), 30.0);
    }
}
