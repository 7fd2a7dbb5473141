//! Power cuts: a twin of the file layer ([`PowerCut`]) under the engine, cut at a random disk
//! operation of a step (the seeded runs) or at every operation of one round (the sweep).

use super::*;

/// Power cuts of a seed: their own random stream, and scratch space for the twins.
pub(crate) struct Power {
    rng: SmallRng,
    /// The twins' scratch folders (on the same file system as the pairs' folders, outside
    /// the world's folder, which must hold nothing but the pairs and the state).
    scratch: tempfile::TempDir,
    twins: u64,
}

impl Power {
    pub(crate) fn new(seed: u64) -> Power {
        Power {
            rng: SmallRng::seed_from_u64(seed ^ 0x504f_5745_5243_5554),
            scratch: tempfile::tempdir().unwrap(),
            twins: 0,
        }
    }
}

/// A power cut planned for one engine step.
pub(crate) struct PlannedCut {
    /// The file layer of the step: the real disk, recording what is durable.
    pub(crate) twin: Arc<PowerCut>,
    /// The power goes off right before this disk operation of the step.
    at: u64,
    /// Of the changes to folders not yet synced when it does, this many stay (in the order
    /// they were made, as a journal keeps them); the rest are undone.
    keep: usize,
}

impl Sim {
    /// Whether the next engine step loses power, and where: at a random disk operation
    /// (data written, a file or folder created, a rename, a sync, the point before the index
    /// records something).
    pub(crate) fn power_cut_plan(&mut self, allowed: bool) -> Option<PlannedCut> {
        if !allowed || !self.power.rng.random_bool(0.5) {
            return None;
        }
        let at = self.power.rng.random_range(0..16);
        let keep = [0, 1, usize::MAX][self.power.rng.random_range(0..3)];
        self.power.twins += 1;
        let twin = Arc::new(
            PowerCut::new(&self.power.scratch.path().join(self.power.twins.to_string())).unwrap(),
        );
        twin.arm(Some(at));
        Some(PlannedCut { twin, at, keep })
    }

    /// The power went off during machine `m`'s step (its engine is gone): the disk goes back
    /// to what a journaling file system keeps. Nothing partial may be visible then — every
    /// file in the folder is a version someone wrote, whole.
    pub(crate) fn power_cut(&mut self, m: usize, c: PlannedCut) {
        let cut = c.twin.cut(c.keep);
        STATS.power_cuts.fetch_add(1, Ordering::Relaxed);
        STATS.local_faults.fetch_add(1, Ordering::Relaxed);
        let name = self.machines[m].name.clone();
        self.note(format!(
            "{name} power cut before disk operation {} (armed at {}): {} pending folder changes kept, {} undone, {} files' unsynced data lost",
            cut.ops, c.at, cut.kept, cut.undone, cut.files_reset
        ));
        if !cut.lost_found.is_empty() {
            self.fail(format!(
                "a folder was not durable before something durable was put in it: {:?}",
                cut.lost_found
            ));
        }
        let root = self.machines[m].root.clone();
        for (p, dir) in files_under(&root) {
            if dir {
                continue;
            }
            let Ok(data) = std::fs::read(&p) else {
                continue;
            };
            if !self.written.contains(&ContentHash::of(&data)) {
                self.fail(format!(
                    "after a power cut {} holds {} bytes that are no version anyone wrote (a partial file)",
                    p.display(),
                    data.len()
                ));
            }
        }
    }
}

/// Every point of a sync round where the power can go off — each disk operation of its
/// downloads (a new file, a replaced file, new folders), local delete (to the trash), move,
/// conflict (set aside) and of the restore marker's update, and each point before the
/// index records something — with the folders' pending changes all undone or all kept: at
/// none of them is a partial file visible, a restore taken for one, or a version lost, and
/// the next run converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_power_cut_point_of_a_round_is_safe() {
    SHARD.store(300, Ordering::Relaxed);
    let versions: &[&[u8]] = &[
        b"stays",
        b"edit v1",
        b"edit v2 from Dropbox",
        b"to be deleted",
        b"moves",
        b"new from Dropbox",
        b"clash base",
        b"clash: theirs",
        b"clash: mine",
        b"new here",
    ];
    let mut points = 0;
    'points: for at in 0.. {
        for keep in [0, usize::MAX] {
            let w = World::new().await;
            let a = w.folder("a");
            write(&a, "/stays.txt", b"stays");
            write(&a, "/edit.txt", b"edit v1");
            write(&a, "/gone.txt", b"to be deleted");
            write(&a, "/moveme.txt", b"moves");
            write(&a, "/dir/inside.txt", b"stays");
            write(&a, "/clash.txt", b"clash base");
            w.pair("a", &a).sync_once().await.unwrap();
            // Dropbox: an edit, a new file in new folders, a delete, a move, a clashing edit.
            w.put("/edit.txt", b"edit v2 from Dropbox").await;
            w.put("/new/deep/n.txt", b"new from Dropbox").await;
            w.remove("/gone.txt").await;
            w.mv("/moveme.txt", "/dir/moved.txt").await;
            w.put("/clash.txt", b"clash: theirs").await;
            // Here: the clashing edit, and a new file to upload.
            write(&a, "/clash.txt", b"clash: mine");
            write(&a, "/up.txt", b"new here");
            let scratch = tempfile::tempdir().unwrap();
            let twin = Arc::new(PowerCut::new(scratch.path()).unwrap());
            twin.arm(Some(at));
            let tuning = Tuning {
                transfers: 1,
                small_transfers: 1,
                fs: twin.clone(),
                ..World::tuning()
            };
            let pair = w.pair_with("a", &a, tuning, Arc::new(w.client()));
            let finished = tokio::select! {
                biased;
                _ = twin.went_off() => false,
                // An engine that met the power cut may also end by itself, with an error.
                r = pair.sync_once() => {
                    if !twin.is_off() {
                        r.unwrap();
                    }
                    !twin.is_off()
                }
            };
            drop(pair);
            if finished {
                // The round had fewer disk operations than `at`: every point was tried.
                break 'points;
            }
            let cut = twin.cut(keep);
            points += 1;
            STATS.power_cuts.fetch_add(1, Ordering::Relaxed);
            STATS.local_faults.fetch_add(1, Ordering::Relaxed);
            let when =
                format!("power cut before disk operation {at} (pending kept: {keep}): {cut:?}");
            assert!(cut.lost_found.is_empty(), "{when}");
            // Nothing partial is visible.
            let known: BTreeSet<ContentHash> =
                versions.iter().map(|v| ContentHash::of(v)).collect();
            for (path, h) in local_tree(&a) {
                if let Some(h) = h {
                    assert!(
                        known.contains(&h),
                        "{when}: {path} is no version anyone wrote"
                    );
                }
            }
            // The next run neither takes the folder for a restored snapshot nor loses
            // anything, and converges.
            for run in 0..3 {
                match w.pair("a", &a).sync_once().await {
                    Ok(_) => {}
                    Err(e) => panic!("{when}: run {run} after the cut: {e}"),
                }
            }
            assert_same(&w, &a);
            // And it is the round's result: nothing undone on disk was recorded as done (a
            // deleted file would come back, an old version would go up as the newest).
            let mut tree = local_tree(&a);
            let copy = tree
                .iter()
                .find(|(p, _)| p.contains("conflicted copy"))
                .map(|(p, h)| (p.clone(), *h));
            let Some((copy, mine)) = copy else {
                panic!("{when}: no conflicted copy in {tree:#?}");
            };
            assert_eq!(mine, h(b"clash: mine"), "{when}: {copy}");
            tree.remove(&copy);
            let expected: BTreeMap<String, Option<ContentHash>> = [
                ("/stays.txt", h(b"stays")),
                ("/edit.txt", h(b"edit v2 from Dropbox")),
                ("/dir", None),
                ("/dir/inside.txt", h(b"stays")),
                ("/dir/moved.txt", h(b"moves")),
                ("/new", None),
                ("/new/deep", None),
                ("/new/deep/n.txt", h(b"new from Dropbox")),
                ("/clash.txt", h(b"clash: theirs")),
                ("/up.txt", h(b"new here")),
            ]
            .into_iter()
            .map(|(p, h)| (p.to_string(), h))
            .collect();
            assert_eq!(tree, expected, "{when}");
            let mut kept: BTreeSet<ContentHash> = BTreeSet::new();
            for (_, h) in local_tree(&a)
                .into_iter()
                .chain(local_tree(&a.join(".nuvosync/trash")))
            {
                kept.extend(h);
            }
            {
                let acct = w.server.emulator.account("ada").unwrap();
                let ns = acct.ns.lock();
                kept.extend(ns.revisions.values().map(|r| r.version.hash));
            }
            for v in versions {
                assert!(
                    kept.contains(&ContentHash::of(v)),
                    "{when}: {:?} was lost",
                    String::from_utf8_lossy(v)
                );
            }
        }
    }
    assert!(
        points > 20,
        "only {points} cut points: the round did less than expected"
    );
    eprintln!("{points} power-cut points of one round tried, each safe");
    write_summary();
}
