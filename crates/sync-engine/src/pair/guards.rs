//! The guards: the folder is there and is the state last synced, the index belongs to the
//! linked account, and no round deletes more than a share of either side.

use super::{Pair, PauseReason, SyncError, lock};
use crate::marker::{self, Marker, Verdict};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use sync_core::{Plan, Trees};

/// Deletions within this window count together for the mass-delete guard.
pub const DELETE_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);

impl Pair {
    /// Check that the local folder is there and is the state nuvosync last synced; open it
    /// through the file layer for this run (its state folder checked).
    pub fn check_folder(&self) -> Result<(), SyncError> {
        let root = self.root();
        // Gone, or an empty folder where synced files and nuvosync's marker were — not even
        // `.nuvosync` in it: the mount point of a drive that is not mounted, far more likely
        // than a restore (which the marker check would report, and whose fix would take the
        // empty folder for the truth).
        let empty = std::fs::read_dir(root).map(|mut d| d.next().is_none());
        let gone = match empty {
            Err(_) => true,
            Ok(true) => {
                let ix = lock(&self.index);
                ix.meta("generation")?.is_some() && ix.count("local")? > 0
            }
            Ok(false) => false,
        };
        if gone {
            return Err(SyncError::Paused(PauseReason::MissingRoot {
                path: root.to_path_buf(),
            }));
        }
        let files = self.open_files()?;
        let (expected, pending) = {
            let ix = lock(&self.index);
            (
                ix.meta("generation")?.and_then(|g| g.parse().ok()),
                ix.meta("pending_generation")?.and_then(|g| g.parse().ok()),
            )
        };
        let found = marker::read_at(&files).map_err(|source| SyncError::Io {
            what: format!(
                "reading the pair's marker {}",
                marker::marker_path(root).display()
            ),
            source,
        })?;
        let pair_id = lock(&self.pair_id).clone();
        match marker::verdict(found.as_ref(), pair_id.as_deref(), expected, pending) {
            Verdict::Fresh => Ok(()),
            Verdict::Consistent => {
                // A bump interrupted by a crash: complete it (the marker has the pending
                // generation) or forget it (the marker kept the old one).
                if let (Some(p), Some(m)) = (pending, &found) {
                    self.settle_generation((m.generation == p).then_some(p))?;
                }
                Ok(())
            }
            Verdict::IndexBehind { found, expected } => {
                tracing::warn!(pair = %self.spec.name, found, expected, "the index is older than the folder's marker (restored from a backup?): it takes the marker's generation; the folder is not a restored snapshot");
                self.settle_generation(Some(found))?;
                Ok(())
            }
            Verdict::Restored { found, expected } => {
                Err(SyncError::Paused(PauseReason::RestoreDetected {
                    found,
                    expected,
                }))
            }
            Verdict::IndexMissing { found } => {
                Err(SyncError::Paused(PauseReason::IndexMissing { found }))
            }
        }
    }

    /// The file layer's barrier before the index records what the disk holds (a power-cut
    /// twin stops the engine here once the power is off; the real disk passes).
    pub(crate) fn barrier(&self) -> Result<(), SyncError> {
        self.tuning.fs.barrier().map_err(|source| SyncError::Io {
            what: "recording the folder's state".into(),
            source,
        })
    }

    /// Drop the pending generation, making `generation` the current one if given — one
    /// transaction.
    fn settle_generation(&self, generation: Option<u64>) -> Result<(), SyncError> {
        self.tuning.fs.barrier().map_err(|source| SyncError::Io {
            what: "recording the pair's generation".into(),
            source,
        })?;
        let mut ix = lock(&self.index);
        let mut b = ix.batch()?;
        if let Some(g) = generation {
            b.set_meta("generation", &g.to_string())?;
        }
        b.del_meta("pending_generation")?;
        b.commit()?;
        Ok(())
    }

    /// Record that the folder's state moved on: marker and index generation + 1, in the
    /// order that survives a power cut at any point (see [`crate::marker`]).
    pub(crate) fn bump_generation(&self) -> Result<(), SyncError> {
        let fs_err = |what: &str| {
            let what = what.to_string();
            move |source| SyncError::Io { what, source }
        };
        let files = self.files()?;
        let (pair_id, next) = {
            let mut ix = lock(&self.index);
            let current: u64 = ix
                .meta("generation")?
                .and_then(|g| g.parse().ok())
                .unwrap_or(0);
            let mut id = lock(&self.pair_id);
            let fresh = id.is_none().then(|| {
                format!(
                    "{:016x}{:016x}",
                    rand::random::<u64>(),
                    rand::random::<u64>()
                )
            });
            let next = current + 1;
            // 1. The index: the pending generation (and a new pair's id), durably.
            self.tuning
                .fs
                .barrier()
                .map_err(fs_err("recording the pair's generation"))?;
            let mut b = ix.batch()?;
            if let Some(f) = &fresh {
                b.set_meta("pair_id", f)?;
            }
            b.set_meta("pending_generation", &next.to_string())?;
            b.commit()?;
            if let Some(f) = fresh {
                *id = Some(f);
            }
            (id.clone().unwrap_or_default(), next)
        };
        // 2. The marker, durably.
        marker::write(
            &files,
            &Marker {
                pair_id,
                generation: next,
            },
        )
        .map_err(fs_err("writing the pair marker"))?;
        // 3. The index: the new generation, the pending one dropped — one transaction.
        self.settle_generation(Some(next))
    }

    /// The index belongs to one Dropbox account: the first time it meets one, it keeps its
    /// id; after that, a pair opened with another account linked stops here (a cursor, ids and
    /// revisions of one account mean nothing in another, and syncing would merge the two).
    /// Asked once per opening of the pair.
    pub async fn check_account(&self) -> Result<(), SyncError> {
        if self.account_checked.load(Ordering::SeqCst) {
            return Ok(());
        }
        let linked = self.remote.account().await?;
        let stored = {
            let ix = lock(&self.index);
            (ix.meta("account_id")?, ix.meta("account_email")?)
        };
        match stored {
            (Some(id), _) if id == linked.account_id => {}
            (Some(id), email) => {
                let name = |email: Option<String>, id: &str| match email {
                    Some(e) if !e.is_empty() => e,
                    _ => id.to_string(),
                };
                return Err(SyncError::Paused(PauseReason::AccountChanged {
                    synced_with: name(email, &id),
                    linked: name(Some(linked.email.clone()), &linked.account_id),
                }));
            }
            (None, _) => {
                // A new index (or one from before accounts were kept): it is this account's.
                let mut ix = lock(&self.index);
                let mut b = ix.batch()?;
                b.set_meta("account_id", &linked.account_id)?;
                b.set_meta("account_email", &linked.email)?;
                b.commit()?;
            }
        }
        self.account_checked.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// The mass-delete guard: files a plan deletes on each side, plus what was deleted in the
    /// last [`DELETE_WINDOW`] (so a mass delete arriving in pieces still counts as one),
    /// against what is there.
    pub fn check_deletes(&self, plan: &Plan) -> Result<(), SyncError> {
        let mut window = lock(&self.recent_deletes);
        let cutoff = std::time::Instant::now() - DELETE_WINDOW;
        window.retain(|_, (t, _)| *t >= cutoff);
        let deletes = plan.ops.iter().any(|op| {
            matches!(
                op,
                sync_core::Op::DeleteLocal { .. } | sync_core::Op::DeleteRemote { .. }
            )
        });
        // A confirmation approves the deletions the user was shown — the next plan that has
        // any — not whatever else is deleted later while this run goes on (a co-author's
        // deletions arriving meanwhile are counted afresh).
        if deletes && self.deletes_confirmed.swap(false, Ordering::SeqCst) {
            window.clear();
            return Ok(());
        }
        let ix = lock(&self.index);
        // The synced files a delete takes away (a folder without any counts none).
        let count_files = |k: &str| -> Result<u64, SyncError> {
            let mut t = Trees::default();
            ix.load_subtree(k, &mut t)?;
            Ok(t.synced.values().filter(|s| !s.is_folder()).count() as u64)
        };
        let (total, _) = ix.synced_totals()?;
        let mut planned: Vec<(bool, String, u64)> = vec![];
        for op in &plan.ops {
            match op {
                sync_core::Op::DeleteLocal { key, .. } => {
                    planned.push((true, key.clone(), count_files(key)?))
                }
                sync_core::Op::DeleteRemote { key, .. } => {
                    planned.push((false, key.clone(), count_files(key)?))
                }
                _ => {}
            }
        }
        drop(ix);
        for (side, is_local) in [("local", true), ("remote", false)] {
            let n: u64 = planned
                .iter()
                .filter(|(l, _, _)| *l == is_local)
                .map(|(_, _, n)| n)
                .sum();
            if n == 0 {
                continue;
            }
            let earlier = earlier_deletes(&window, &planned, is_local);
            let burst = n + earlier;
            // Against what was there before the burst began.
            let base = total + earlier;
            if self.tuning.delete_guard.trips(burst, base) {
                return Err(SyncError::Paused(PauseReason::MassDelete {
                    side: side.into(),
                    count: burst,
                    total: base,
                }));
            }
        }
        let now = std::time::Instant::now();
        for (l, k, n) in planned {
            window.insert((l, k), (now, n));
        }
        Ok(())
    }
}

/// What the guard's window holds: (local side, key) → (when, files deleted).
pub(crate) type DeleteWindow = HashMap<(bool, String), (std::time::Instant, u64)>;

/// Files deleted on one side earlier in this burst, each key once (not the ones planned
/// again now). One lookup per entry: a burst of deletes arriving in rounds of thousands must
/// not compare every earlier delete with every new one.
fn earlier_deletes(window: &DeleteWindow, planned: &[(bool, String, u64)], is_local: bool) -> u64 {
    let now: std::collections::HashSet<(bool, &str)> =
        planned.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
    window
        .iter()
        .filter(|((l, k), _)| *l == is_local && !now.contains(&(*l, k.as_str())))
        .map(|(_, (_, n))| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::earlier_deletes;
    use crate::pair::DeleteGuard;

    #[test]
    fn earlier_deletes_of_a_burst_are_counted_in_linear_time() {
        // A burst of n deletes: half already in the window from earlier rounds, the other
        // half (and a few of the earlier ones again) planned now.
        let time = |n: usize| {
            let t0 = std::time::Instant::now();
            let window: super::DeleteWindow = (0..n / 2)
                .map(|i| ((true, format!("/d{}/f{i}", i % 97)), (t0, 1)))
                .collect();
            let planned: Vec<(bool, String, u64)> = (n / 2 - 10..n)
                .map(|i| (true, format!("/d{}/f{i}", i % 97), 1))
                .collect();
            crate::timing::best_of(3, || {
                let t = std::time::Instant::now();
                let local = earlier_deletes(&window, &planned, true);
                let remote = earlier_deletes(&window, &planned, false);
                let took = t.elapsed();
                assert_eq!((local, remote), ((n / 2 - 10) as u64, 0));
                took
            })
        };
        // Linear: about 10 times for ten times the deletes (up to 30 here, where the larger
        // sets leave the CPU caches); n²: 100.
        crate::timing::assert_scales(time(10_000), time(100_000), 50.0);
    }

    #[test]
    fn the_delete_guard_needs_both_the_share_and_the_count() {
        let g = DeleteGuard::default();
        assert!(!g.trips(50, 60), "50 files is the floor, not above it");
        assert!(g.trips(51, 60));
        assert!(!g.trips(51, 102), "exactly half is not more than half");
        assert!(g.trips(52, 102));
        g.set(90, 10);
        assert!(!g.trips(80, 100));
        assert!(g.trips(91, 100));
        assert!(
            !g.trips(10, 10),
            "10 files is not more than the floor of 10"
        );
        g.set(100, 0);
        assert!(!g.trips(99, 100));
        assert!(
            g.trips(100, 100),
            "at 100 % only deleting everything pauses"
        );
        g.set(250, 0);
        assert_eq!(g.get(), (100, 0), "a share above 100 % is 100 %");
    }
}
