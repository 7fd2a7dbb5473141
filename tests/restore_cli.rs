//! The restore hazard through the real `nuvosync` binary: a restored snapshot makes
//! `sync --once` exit 3 and name `nuvosync restore`; `restore --plan --json` previews;
//! `restore --continue` without `--yes` only shows what it would do; `restore --apply` makes
//! the snapshot the truth and keeps Dropbox's former folder as a backup; then sync is quiet.
//! And a mass delete made on purpose exits 3 until `sync --once --confirm-deletes`, and its
//! threshold is a setting that works without a daemon.

mod common;

use common::*;
use nuvosync_test_support::tree::copy_tree;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_snapshot_exits_3_and_restore_apply_makes_it_the_truth() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("thesis.tex"), b"chapter 1").unwrap();
    std::fs::write(local.join("data.csv"), b"1,2,3").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    let snapshot = p.dir.path().join("snapshot");
    copy_tree(&local, &snapshot);

    // Newer work, synced; then the snapshot comes back.
    std::fs::write(local.join("thesis.tex"), b"chapter 1 and 2").unwrap();
    std::fs::write(local.join("later.txt"), b"after the snapshot").unwrap();
    p.ok(&["sync", "--once"]);
    std::fs::remove_dir_all(&local).unwrap();
    copy_tree(&snapshot, &local);

    let out = p.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nuvosync restore"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        p.remote_files()["/thesis.tex"],
        b"chapter 1 and 2",
        "Dropbox untouched"
    );
    assert_eq!(
        std::fs::read(local.join("thesis.tex")).unwrap(),
        b"chapter 1",
        "and so is the snapshot"
    );

    // The preview, machine-readable.
    let plan: serde_json::Value =
        serde_json::from_str(&p.ok(&["restore", "--plan", "--json"])).unwrap();
    assert_eq!(plan["detected"], true);
    assert_eq!(plan["replaced"][0]["path"], "/thesis.tex");
    assert_eq!(plan["removed"][0]["path"], "/later.txt");
    let backup = plan["backup_folder"].as_str().unwrap().to_string();
    assert!(
        backup.starts_with("/Acme/Research/Lab (before restore "),
        "{backup}"
    );

    // "Not a restore" without --yes only shows what it would overwrite.
    let out = p.run(&["restore", "--continue"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/thesis.tex"));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(
        p.run(&["sync", "--once"]).status.code(),
        Some(3),
        "still paused"
    );

    // The restore.
    let said = p.ok(&["restore", "--apply"]);
    assert!(said.contains("before restore"), "{said}");
    let remote = p.remote_files();
    assert_eq!(remote["/thesis.tex"], b"chapter 1");
    assert!(!remote.contains_key("/later.txt"));
    p.ok(&["sync", "--once"]);
    let out = p.ok(&["sync", "--once", "--json"]);
    assert!(
        out.contains("\"uploaded\":0") || out.contains("\"uploaded\": 0"),
        "quiet: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_delete_exits_3_until_confirmed() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();
    for i in 0..60 {
        std::fs::write(local.join(format!("f{i:02}.txt")), format!("{i}")).unwrap();
    }
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    for i in 0..60 {
        std::fs::remove_file(local.join(format!("f{i:02}.txt"))).unwrap();
    }
    let out = p.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("60 of 60"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--confirm-deletes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(p.remote_files().len(), 60, "nothing deleted yet");

    // As the message says: confirmed, the deletions go ahead.
    assert!(
        stderr(&out).contains("`nuvosync sync --once --confirm-deletes`"),
        "the way on for a one-shot run: {}",
        stderr(&out)
    );
    p.ok(&["sync", "--once", "--confirm-deletes"]);
    assert!(p.remote_files().is_empty(), "deleted once confirmed");

    // The threshold is a setting: with a floor of 100 files, 60 go without asking.
    for i in 0..60 {
        std::fs::write(local.join(format!("g{i:02}.txt")), format!("{i}")).unwrap();
    }
    p.ok(&["sync", "--once"]);
    p.ok(&["settings", "set", "mass-delete-min-files", "100"]);
    let shown = p.ok(&["settings", "get"]);
    assert!(shown.contains("more than 100 files"), "{shown}");
    for i in 0..60 {
        std::fs::remove_file(local.join(format!("g{i:02}.txt"))).unwrap();
    }
    p.ok(&["sync", "--once"]);
    assert!(p.remote_files().is_empty(), "deleted within the threshold");
}
