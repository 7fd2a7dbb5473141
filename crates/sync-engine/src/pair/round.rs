//! One round and the loop: plan, execute, converge, report.

use super::{Pair, Report, SyncError, lock, now, today};
use crate::events::{Event, PairState};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use sync_core::path::key;
use sync_core::{Key, Plan, Settings, Trees};

impl Pair {
    /// Load the trees for the dirty keys (and move partners) and plan.
    pub fn plan(&self) -> Result<(Trees, Plan, Vec<Key>), SyncError> {
        let rules = self.rules();
        let given_up: BTreeSet<Key> = lock(&self.failures)
            .iter()
            .filter(|(_, n)| **n >= self.tuning.max_failures)
            .map(|(k, _)| k.clone())
            .collect();
        // A name that clashes with another's (by case or Unicode form) is the planner's.
        let clashing: BTreeSet<Key> = lock(&self.clashes).iter().map(|c| key(&c.path)).collect();
        let mut ix = lock(&self.index);
        // What is already the same on both sides needs no plan (nor the trees in memory).
        self.barrier()?;
        ix.agree_where_equal(&|p| {
            !rules.skips_path(p) && (clashing.is_empty() || !clashing.contains(&key(p)))
        })?;
        let dirty = ix.dirty()?;
        // What the scanner could not look at is unknown, not deleted nor unchanged: nothing is
        // planned there (no delete on Dropbox, no download over it) until it can be read. The
        // keys stay dirty and are planned once the issue is gone.
        let unreadable: Vec<Key> = ix
            .issue_paths("unreadable")?
            .iter()
            .map(|p| key(p))
            .collect();
        // Nor where a big transfer is in flight (at, above or below it): its observations
        // stay dirty and are planned once it ended (see `crate::stage`).
        let given_up: Vec<Key> = given_up.into_iter().collect();
        let below = within_any(&given_up, &unreadable);
        let held = |k: &str| below(k) || self.stage.holds(k);
        let mut keys: BTreeSet<Key> = dirty.iter().filter(|k| !held(k)).cloned().collect();
        let mut trees = Trees::default();
        ix.load_keys(&keys, &mut trees)?;
        // Move partners: where a new local inode or remote id was synced before.
        let mut extra = ix.synced_by_inodes_or_ids(
            trees
                .local
                .iter()
                .filter(|(k, _)| !trees.synced.contains_key(*k))
                .map(|(_, l)| l.inode),
            trees
                .remote
                .iter()
                .filter(|(k, _)| !trees.synced.contains_key(*k))
                .map(|(_, r)| r.id.as_str()),
        )?;
        extra.retain(|k| !keys.contains(k) && !held(k));
        ix.load_keys(&extra, &mut trees)?;
        keys.extend(extra);
        drop(ix);
        // What the rules skip is not planned on either side.
        trees.local.retain(|_, n| !rules.skips_path(&n.path));
        trees.remote.retain(|_, n| !rules.skips_path(&n.path));
        trees.synced.retain(|_, n| !rules.skips_path(&n.path));
        trees.clashes = lock(&self.clashes)
            .iter()
            .filter(|c| !rules.skips_path(&c.path))
            .cloned()
            .collect();
        let settings = Settings {
            host: self.tuning.host.clone(),
            date: today(),
            // nuvosync's own folders are as untouchable as excluded ones.
            excluded: rules
                .excluded()
                .iter()
                .chain(rules.private())
                .cloned()
                .collect(),
        };
        let plan = sync_core::plan(&trees, &settings);
        Ok((trees, plan, keys.into_iter().collect()))
    }

    /// Get ready for a run: the folder must be there (and not a restored snapshot); leftovers
    /// of interrupted downloads go; counters and failures start afresh.
    pub fn begin(&self) -> Result<(), SyncError> {
        self.check_folder()?;
        let files = self.files()?;
        files.clean_temp();
        self.prune();
        // Operations blocked last time are tried again; they say so again if still blocked.
        lock(&self.index).clear_issues_with_codes(&["blocked"])?;
        lock(&self.failures).clear();
        self.counters.reset();
        Ok(())
    }

    /// Keep the pair's trash and its activity history within their limits (at most once an
    /// hour; a failure is logged, never stops a run).
    fn prune(&self) {
        {
            let mut last = lock(&self.pruned);
            if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(3600)) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        self.prune_now();
    }

    /// Prune the pair's trash and its history now (see [`Retention`](super::Retention)).
    pub fn prune_now(&self) {
        let t = now();
        let day = 86_400i64;
        let (trash_days, trash_mb, history_days, history_entries) = self.tuning.retention.get();
        if let Ok(files) = self.files() {
            match files.prune_trash(
                t,
                i64::from(trash_days) * day,
                trash_mb.saturating_mul(1 << 20),
            ) {
                Ok((0, _)) => {}
                Ok((n, bytes)) => {
                    tracing::info!(pair = %self.spec.name, batches = n, bytes, "old deletions removed from the pair's trash")
                }
                Err(e) => {
                    tracing::warn!(pair = %self.spec.name, "cannot prune the pair's trash: {e}")
                }
            }
        }
        let before = t - i64::from(history_days) * day;
        let mut ix = lock(&self.index);
        if let Err(e) = ix
            .prune_history(before)
            .and_then(|_| ix.cap_history(history_entries))
        {
            tracing::warn!(pair = %self.spec.name, "cannot prune the history: {e}");
        }
    }

    /// Plan and execute until nothing is left. With `settle` (one-shot runs, called right
    /// after a full scan), a full rescan and a pull at the end make sure nothing changed
    /// while operations ran; the rescan is skipped when nothing ran since the last one, so
    /// a run with nothing to do walks the folder once. Otherwise the watcher and the
    /// longpoll report later changes. Returns the number of rounds.
    pub async fn converge(&self, settle: bool) -> Result<u64, SyncError> {
        // Exported copies of documents gone from Dropbox go first, so that a folder deleted
        // there with a document in it is not kept here for the copy alone.
        crate::export::sync_exports(&self.ctx()).await?;
        let mut rounds = 0u64;
        let mut quiet = 0;
        let mut executed_since_scan = false;
        loop {
            rounds += 1;
            if rounds > 500 {
                return Err(SyncError::NoProgress(rounds as usize));
            }
            let (_, plan, considered) = self.plan()?;
            if plan.is_empty() {
                lock(&self.index).clear_dirty(&considered)?;
                quiet += 1;
                let unstable = self.unstable();
                if !unstable.is_empty() && quiet <= 10 {
                    // Files were being written: give them a moment, then look again.
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    self.scan(&unstable).await?;
                    continue;
                }
                if rounds == 1 {
                    // Nothing to do on what the caller has just observed on both sides.
                    break;
                }
                let local = if settle && std::mem::take(&mut executed_since_scan) {
                    self.scan(&[]).await?
                } else {
                    false
                };
                let remote = self.pull().await?;
                if (!local && !remote) || quiet > 3 {
                    let (_, again, considered) = self.plan()?;
                    if again.is_empty() {
                        lock(&self.index).clear_dirty(&considered)?;
                        break;
                    }
                }
                continue;
            }
            quiet = 0;
            #[cfg(feature = "testing")]
            if std::env::var_os("NUVOSYNC_TRACE_PLANS").is_some() {
                eprintln!("[{}] round {rounds}: {:?}", self.spec.name, plan.ops);
            }
            tracing::debug!(pair = %self.spec.name, round = rounds, ops = plan.ops.len(), "executing a plan");
            self.check_deletes(&plan)?;
            let executed = crate::exec::execute(&self.ctx(), plan).await;
            executed_since_scan = true;
            if executed.changed {
                self.bump_generation()?;
            }
            if let Some(e) = executed.fatal {
                return Err(e);
            }
            self.pull().await?;
        }
        self.deletes_confirmed.store(false, Ordering::SeqCst);
        crate::export::sync_exports(&self.ctx()).await?;
        if lock(&self.index).meta("generation")?.is_none() {
            self.bump_generation()?;
        }
        Ok(rounds)
    }

    /// Converge once: observe both sides, then plan and execute until nothing is left.
    pub async fn sync_once(&self) -> Result<Report, SyncError> {
        let r = self.sync_once_open().await;
        self.release_files();
        r
    }

    async fn sync_once_open(&self) -> Result<Report, SyncError> {
        self.begin()?;
        // Before the walk and the listing overlap (where the run cannot be cut off).
        self.check_account().await?;
        self.events.send(Event::State {
            pair: self.spec.name.clone(),
            state: PairState::Syncing,
        });
        let (scanned, pulled) = self.observe(&[]).await;
        scanned?;
        pulled?;
        let rounds = self.converge(true).await?;
        let report = self.report(rounds)?;
        self.events.send(Event::State {
            pair: self.spec.name.clone(),
            state: PairState::UpToDate,
        });
        Ok(report)
    }

    /// Let go of the pair's folder between runs (the next run opens and checks it again): an
    /// open folder keeps the drive it is on from being unmounted.
    pub fn release_files(&self) {
        *lock(&self.files) = None;
    }

    /// What the current run did so far.
    pub fn report(&self, rounds: u64) -> Result<Report, SyncError> {
        let c = &self.counters;
        let ix = lock(&self.index);
        let issues = ix.issues()?;
        let given_up: BTreeSet<Key> = lock(&self.failures)
            .iter()
            .filter(|(_, n)| **n >= self.tuning.max_failures)
            .map(|(k, _)| k.clone())
            .collect();
        let failed = issues
            .iter()
            .filter(|i| given_up.contains(&key(&i.path)))
            .cloned()
            .collect();
        Ok(Report {
            uploaded: c.uploaded.load(Ordering::Relaxed),
            downloaded: c.downloaded.load(Ordering::Relaxed),
            deleted_remote: c.deleted_remote.load(Ordering::Relaxed),
            deleted_local: c.deleted_local.load(Ordering::Relaxed),
            moved: c.moved.load(Ordering::Relaxed),
            folders: c.folders.load(Ordering::Relaxed),
            conflicts: c.conflicts.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            rounds,
            failed,
            issues,
        })
    }
}

/// Whether a key lies at or below one of `a` or `b`: each ancestor of the key is looked up in a
/// set (a scan of the lists for every dirty key was dirty × held).
fn within_any<'a>(a: &'a [Key], b: &'a [Key]) -> impl Fn(&str) -> bool + 'a {
    let (a, b) = (crate::scan::PathSet::new(a), crate::scan::PathSet::new(b));
    move |k| a.holds(k) || b.holds(k)
}

#[cfg(test)]
mod tests {
    use super::within_any;

    #[test]
    fn holding_back_dirty_keys_takes_linear_time() {
        // n dirty keys against n/2 keys given up and n/2 unreadable folders.
        let time = |n: usize| {
            let dirty: Vec<String> = (0..n).map(|i| format!("/d{}/f{i}", i % 997)).collect();
            let given_up: Vec<String> = (0..n / 2)
                .map(|i| format!("/d{}/f{}", i % 997, i))
                .collect();
            let unreadable: Vec<String> = (0..n / 2).map(|i| format!("/u{i}")).collect();
            crate::timing::best_of(3, || {
                let t = std::time::Instant::now();
                let held = within_any(&given_up, &unreadable);
                let kept = dirty.iter().filter(|k| !held(k)).count();
                let took = t.elapsed();
                assert_eq!(kept, n - n / 2);
                assert!(held("/u7/deep/below") && !held("/u"));
                took
            })
        };
        // Linear: about 10 times for ten times the keys (up to 30 where the larger sets leave
        // the CPU caches); a scan of the lists per key: 100.
        crate::timing::assert_scales(time(10_000), time(100_000), 30.0);
    }
}
