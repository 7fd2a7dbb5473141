//! What a seed must end with: every computer's tree the same as Dropbox's, and no version
//! any actor wrote lost.

use super::*;

impl Sim {
    pub(crate) fn tree(root: &Path) -> BTreeMap<String, Option<ContentHash>> {
        folded(&local_tree(root))
    }

    pub(crate) fn converged(&self) -> bool {
        let r = folded(&self.w.remote_tree());
        self.machines.iter().all(|m| Self::tree(&m.root) == r)
    }

    pub(crate) fn fail(&self, what: String) -> ! {
        // The counts so far (versions lost among them) reach the run's summary too.
        write_summary();
        let log = self.log.join("\n  ");
        let replay = if self.exact {
            "it replays exactly: same calls, same order"
        } else {
            "it replays the same script; transfers run concurrently, so timings may differ"
        };
        panic!(
            "seed {} failed: {what}\n  re-run with SIM_SEED={} ({replay})\n  {log}",
            self.seed, self.seed
        );
    }

    pub(crate) fn check(&self) {
        let remote = folded(&self.w.remote_tree());
        for m in &self.machines {
            let t = Self::tree(&m.root);
            if t != remote {
                self.fail(format!(
                    "{} did not converge:\n local  {t:?}\n remote {remote:?}",
                    m.name
                ));
            }
        }
        // Every version an actor wrote and did not itself replace is somewhere.
        let mut kept: BTreeSet<ContentHash> = BTreeSet::new();
        for m in &self.machines {
            kept.extend(hashes_under(&m.root));
            kept.extend(hashes_under(&m.root.join(".nuvosync/trash")));
        }
        {
            let acct = self.w.server.emulator.account("ada").unwrap();
            let ns = acct.ns.lock();
            kept.extend(ns.revisions.values().map(|r| r.version.hash));
        }
        let lost: Vec<&ContentHash> = self
            .written
            .iter()
            .filter(|h| !self.retired.contains(h) && !kept.contains(h))
            .collect();
        if !lost.is_empty() {
            STATS.lost.fetch_add(lost.len() as u64, Ordering::Relaxed);
            let which: Vec<String> = lost
                .iter()
                .map(|h| self.names.get(*h).cloned().unwrap_or_default())
                .collect();
            self.fail(format!("{} versions lost: {which:?}", lost.len()));
        }
        // Nothing outside the pairs' folders was written or deleted: not where the links
        // swapped in pointed,
        if let Err(e) = self.local.outside_intact() {
            self.fail(e);
        }
        // nor beside the pairs' folders and the state folder.
        for e in std::fs::read_dir(self.w.dir.path()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if !["m1", "m2", "state"].contains(&n.as_str()) {
                self.fail(format!(
                    "something was written outside the pairs and the state folder: {n}"
                ));
            }
        }
        for m in &self.machines {
            let ix = sync_engine::index::Index::open(
                &self
                    .w
                    .dir
                    .path()
                    .join("state")
                    .join(format!("{}.db", m.name)),
            )
            .unwrap();
            assert_eq!(
                ix.integrity_check().unwrap(),
                "ok",
                "seed {}: index integrity",
                self.seed
            );
        }
    }
}
