//! The CLI commands that had no test, through the real binary against the emulator and
//! without a daemon (a headless user runs `sync --once` from cron): `excluded` (and its
//! `--json`), `filestatus --json`, `activity --no-follow --json`, `conflicts`/`resolve`,
//! `rebuild-index` and `autostart`.

mod common;

use common::*;

fn json(p: &Profile, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&p.ok(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_folders_stop_syncing_and_sync_again_when_included() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("data")).unwrap();
    std::fs::write(local.join("data/big.csv"), b"v1").unwrap();
    std::fs::write(local.join("notes.txt"), b"n").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    assert_eq!(
        json(&p, &["excluded", "list", "--json"]),
        serde_json::json!([])
    );

    p.ok(&["excluded", "add", "data"]);
    let list = json(&p, &["excluded", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(
        list[0].as_str().unwrap().trim_start_matches('/') == "data",
        "{list}"
    );
    // Changes inside stay here, and Dropbox's copy stays as it was; the local copy is kept.
    std::fs::write(local.join("data/big.csv"), b"v2, only here").unwrap();
    std::fs::write(local.join("data/new.csv"), b"new").unwrap();
    p.ok(&["sync", "--once"]);
    let remote = p.remote_files();
    assert_eq!(remote["/data/big.csv"], b"v1");
    assert!(!remote.contains_key("/data/new.csv"));
    assert_eq!(
        std::fs::read(local.join("data/big.csv")).unwrap(),
        b"v2, only here"
    );

    // Included again: both sides meet (the local edit is not lost).
    p.ok(&["excluded", "remove", "data"]);
    assert!(p.ok(&["excluded", "list"]).contains("nothing is excluded"));
    p.ok(&["sync", "--once"]);
    let remote = p.remote_files();
    assert_eq!(remote["/data/new.csv"], b"new");
    let kept: Vec<&Vec<u8>> = remote.values().collect();
    assert!(kept.contains(&&b"v2, only here".to_vec()), "{remote:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filestatus_and_activity_speak_json() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("a.txt"), b"a").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);

    let s = json(
        &p,
        &[
            "filestatus",
            local.join("a.txt").to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(s["status"], "up_to_date", "{s}");
    assert_eq!(s["pair"], "lab");
    let s = json(&p, &["filestatus", "/etc/hostname", "--json"]);
    assert_eq!(s["status"], "unwatched", "{s}");
    assert!(s["pair"].is_null());
    // Plain text too.
    assert_eq!(
        p.ok(&["filestatus", local.join("a.txt").to_str().unwrap()])
            .trim(),
        "up to date"
    );

    let a = json(&p, &["activity", "--no-follow", "--json"]);
    let history = a["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["path"] == "/a.txt" && h["action"] == "uploaded"),
        "{a}"
    );
    assert!(a["transfers"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_listed_and_resolved_without_a_daemon() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("plan.txt"), b"base").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    std::fs::write(local.join("plan.txt"), b"mine, edited here").unwrap();
    p.put("/plan.txt", b"theirs, edited on Dropbox").await;
    p.ok(&["sync", "--once"]);

    let list = json(&p, &["conflicts", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap();
    let copy = list[0]["mine"]["path"].as_str().unwrap().to_string();
    assert!(local.join(copy.trim_start_matches('/')).exists());

    // Keep mine: my version under the original name, here and (after a sync) on Dropbox.
    p.ok(&["resolve", &id.to_string(), "keep-mine"]);
    assert_eq!(
        std::fs::read(local.join("plan.txt")).unwrap(),
        b"mine, edited here"
    );
    assert!(!local.join(copy.trim_start_matches('/')).exists());
    p.ok(&["sync", "--once"]);
    assert_eq!(p.remote_files()["/plan.txt"], b"mine, edited here");
    assert!(p.ok(&["conflicts"]).contains("no conflicts"));
    let all = json(&p, &["conflicts", "--all", "--json"]);
    assert_eq!(all[0]["resolved"], true, "{all}");

    // A conflict that does not exist says where to look.
    let out = p.run(&["resolve", "999", "keep-both"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nuvosync conflicts"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_index_forgets_the_index_and_loses_nothing() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("d")).unwrap();
    std::fs::write(local.join("d/one.txt"), b"1").unwrap();
    std::fs::write(local.join("two.txt"), b"2").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    // Each side changes one file while the index is being rebuilt.
    std::fs::write(local.join("two.txt"), b"2, edited here").unwrap();
    p.put("/d/one.txt", b"1, edited on Dropbox").await;
    p.ok(&["rebuild-index"]);
    p.ok(&["sync", "--once"]);
    let remote = p.remote_files();
    let here = local_files(&local);
    for content in [&b"2, edited here"[..], &b"1, edited on Dropbox"[..]] {
        assert!(
            remote.values().any(|v| v == content),
            "{content:?} on Dropbox: {remote:?}"
        );
        assert!(
            here.values().any(|v| v == content),
            "{content:?} here: {here:?}"
        );
    }
    p.ok(&["sync", "--once"]);
    assert_eq!(local_files(&local), p.remote_files(), "both sides agree");
}

#[test]
fn autostart_writes_and_removes_a_systemd_user_unit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |action: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nuvosync"))
            .args([
                "--state-dir",
                "/tmp/nuvosync-autostart-state",
                "autostart",
                action,
            ])
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            // No user systemd here: the unit is written and the user told how to enable it.
            .env("PATH", dir.path())
            .output()
            .unwrap()
    };
    let unit = dir.path().join("config/systemd/user/nuvosync.service");
    let out = run("enable");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains("ExecStart="), "{text}");
    assert!(text.contains(" daemon"), "{text}");
    assert!(
        text.contains("--state-dir '/tmp/nuvosync-autostart-state'"),
        "the unit runs the same profile: {text}"
    );
    assert!(text.contains("WantedBy=default.target"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("systemctl --user"), "{said}");
    let out = run("disable");
    assert!(out.status.success(), "{out:?}");
    assert!(!unit.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluding_with_remove_local_frees_the_space_and_including_brings_it_back() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("data/raw")).unwrap();
    std::fs::write(local.join("data/raw/a.bin"), vec![1u8; 50_000]).unwrap();
    std::fs::write(local.join("data/b.bin"), vec![2u8; 30_000]).unwrap();
    std::fs::write(local.join("data/edited.txt"), b"synced").unwrap();
    std::fs::write(local.join("notes.txt"), b"n").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    // Changed here after the sync, and one never synced: both must stay.
    std::fs::write(local.join("data/edited.txt"), b"edited here, not synced").unwrap();
    p.ok(&["excluded", "add", "data"]);
    std::fs::write(local.join("data/new-here.txt"), b"only here").unwrap();

    let said = p.ok(&["excluded", "add", "data", "--remove-local"]);
    assert!(said.contains("2 files"), "{said}");
    assert!(
        said.contains("/data/edited.txt") && said.contains("/data/new-here.txt"),
        "{said}"
    );
    assert!(!local.join("data/raw/a.bin").exists());
    assert!(
        !local.join("data/raw").exists(),
        "the emptied folder went too"
    );
    assert!(!local.join("data/b.bin").exists());
    assert_eq!(
        std::fs::read(local.join("data/edited.txt")).unwrap(),
        b"edited here, not synced"
    );
    assert_eq!(
        std::fs::read(local.join("data/new-here.txt")).unwrap(),
        b"only here"
    );
    // Into the trash (this profile's pair trash: NUVOSYNC_NO_OS_TRASH), never deleted.
    let trashed = local_files(&local.join(".nuvosync/trash"));
    assert_eq!(trashed.len(), 2, "{:?}", trashed.keys());
    // Dropbox keeps everything, and a sync deletes nothing there.
    p.ok(&["sync", "--once"]);
    let remote = p.remote_files();
    assert_eq!(remote["/data/raw/a.bin"].len(), 50_000);
    assert_eq!(remote["/data/b.bin"].len(), 30_000);
    assert_eq!(remote["/data/edited.txt"], b"synced");

    // Included again: Dropbox's copy comes down, and what stayed here syncs as it would have
    // (the edit goes up as the newer version, the earlier one stays in its history).
    p.ok(&["excluded", "remove", "data"]);
    p.ok(&["sync", "--once"]);
    assert_eq!(
        std::fs::read(local.join("data/raw/a.bin")).unwrap().len(),
        50_000
    );
    assert_eq!(
        std::fs::read(local.join("data/b.bin")).unwrap().len(),
        30_000
    );
    assert_eq!(local_files(&local), p.remote_files(), "both sides agree");
    assert_eq!(
        p.remote_files()["/data/edited.txt"],
        b"edited here, not synced"
    );
    assert_eq!(p.remote_files()["/data/new-here.txt"], b"only here");

    // Only an excluded folder's copy can go.
    let out = p.run(&["excluded", "add", "notes", "--remove-local"]);
    assert!(
        out.status.success(),
        "a folder that does not exist is excluded: nothing to free"
    );
}

/// A build without the `demo` feature (what ships) has no emulator to run: `nuvosync demo`
/// says so and how to get a build that has one, and exits 1.
#[cfg(not(feature = "demo"))]
#[test]
fn demo_without_the_feature_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nuvosync"))
        .args(["demo", "--once", "--dir"])
        .arg(dir.path())
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no demo"), "{said}");
    assert!(said.contains("cargo xtask demo"), "{said}");
    assert!(said.contains("--features demo"), "{said}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was made in the demo folder"
    );
}
