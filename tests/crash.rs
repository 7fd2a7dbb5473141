//! The real `nuvosync daemon` killed with SIGKILL at random moments, again and again, while
//! both sides change and a large file goes up in many chunks. Whatever is visible in the
//! synced folder is always a complete version; after a final `sync --once` both sides are
//! identical, every last write survived, and the index passes SQLite's integrity check.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

const CYCLES: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let p = Profile::with_faults(
        true,
        dropbox_emulator::Faults {
            latency_ms: 2,
            bandwidth_bytes_per_sec: 20_000_000,
            ..Default::default()
        },
    )
    .await;
    p.add_pair(&[]);
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();
    // Every complete version ever written, by anyone (a visible file must be one of them).
    let mut versions: BTreeSet<Vec<u8>> = BTreeSet::new();
    // The last write to each path, on either side (it must survive somewhere).
    let mut last_local: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut last_remote: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let big: Vec<u8> = (0..6_500_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(local.join("big.bin"), &big).unwrap();
    versions.insert(big.clone());
    last_local.insert("/big.bin".into(), big.clone());

    let visible_ok = |versions: &BTreeSet<Vec<u8>>| {
        for (path, data) in local_files(&p.local()) {
            assert!(
                versions.contains(&data),
                "a partial or unknown file is visible: {path} ({} bytes)",
                data.len()
            );
        }
    };
    let mut kills = 0;
    for cycle in 0..CYCLES {
        let mut d = p
            .cmd(&["daemon"])
            .env("NUVOSYNC_CHUNK_SIZE", "1048576")
            .env("NUVOSYNC_TRANSFERS", "4")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Edits on both sides while it runs.
        for _ in 0..rng.random_range(1..4) {
            let name = format!("/f{}.txt", rng.random_range(0..6));
            let data = format!(
                "cycle {cycle} local {} {}",
                rng.random::<u32>(),
                "x".repeat(rng.random_range(0..5000))
            )
            .into_bytes();
            std::fs::write(local.join(name.trim_start_matches('/')), &data).unwrap();
            versions.insert(data.clone());
            last_local.insert(name, data);
        }
        if rng.random_bool(0.6) {
            let name = format!("/r{}.txt", rng.random_range(0..4));
            let data = format!("cycle {cycle} remote {}", rng.random::<u32>()).into_bytes();
            p.put(&name, &data).await;
            versions.insert(data.clone());
            last_remote.insert(name, data);
        }
        if cycle == CYCLES / 2 {
            // A second large file, to be cut in the middle too.
            let big2: Vec<u8> = big.iter().rev().copied().collect();
            std::fs::write(local.join("big2.bin"), &big2).unwrap();
            versions.insert(big2.clone());
            last_local.insert("/big2.bin".into(), big2);
        }
        tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(30..700))).await;
        std::process::Command::new("kill")
            .args(["-KILL", &d.id().to_string()])
            .status()
            .unwrap();
        let _ = d.wait();
        kills += 1;
        // Downloads may also have landed: they are complete remote versions.
        visible_ok(&versions);
    }
    assert!(kills >= 20);

    // A final converging run.
    let out = p.run(&["sync", "--once"]);
    assert!(
        out.status.success(),
        "final sync: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    visible_ok(&versions);
    let local_now = local_files(&p.local());
    let remote_now = p.remote_files();
    let fold = |m: &BTreeMap<String, Vec<u8>>| {
        m.iter()
            .map(|(k, v)| (sync_core::path::key(k), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(fold(&local_now), fold(&remote_now), "both sides identical");
    let present: BTreeSet<&Vec<u8>> = local_now.values().collect();
    for (path, data) in last_local.iter().chain(last_remote.iter()) {
        assert!(
            present.contains(data),
            "the last write to {path} did not survive"
        );
    }
    // No leftovers of interrupted downloads anywhere visible, and a sound index.
    assert!(
        std::fs::read_dir(p.local().join(".nuvosync/tmp"))
            .map(|r| r.count())
            .unwrap_or(0)
            == 0
    );
    let ix = sync_engine::index::Index::open(&p.state_dir().join("pairs/lab.db")).unwrap();
    assert_eq!(ix.integrity_check().unwrap(), "ok");
    eprintln!(
        "crash test: {kills} SIGKILLs, {} versions written, 0 lost",
        versions.len()
    );
    // For the run's one-screen summary (`cargo xtask test`).
    nuvosync_test_support::summary::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        "daemon-crash.json",
        &format!(
            "{{\"daemon_sigkills\":{kills},\"daemon_versions\":{}}}",
            versions.len()
        ),
    );
}
