//! A pair whose folder holds nuvosync's own folders (a pair of the home folder, or
//! `--state-dir` inside the pair): `pair add` says they are never synced, and `sync --once`
//! does not upload nuvosync's index, configuration or logs. A pair inside them is refused.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuvosyncs_own_folders_in_a_pair_are_never_uploaded() {
    let p = Profile::new(true).await;
    // The profile's folder holds config/ and state/ (NUVOSYNC_CONFIG_DIR, NUVOSYNC_STATE_DIR).
    let home = p.dir.path().to_path_buf();
    std::fs::write(home.join("notes.txt"), b"mine").unwrap();
    let inside = home.join("state/lab");
    let refused = p.run(&pair_add_args(&inside));
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("nuvosync's own folder"), "{err}");
    let out = p.ok(&pair_add_args(&home));
    assert!(out.contains("is never synced"), "pair add says so: {out}");
    p.ok(&["sync", "--once"]);
    let remote = p.remote_files();
    assert_eq!(
        remote.get("/notes.txt").map(Vec::as_slice),
        Some(&b"mine"[..])
    );
    assert!(
        remote
            .keys()
            .all(|k| !k.starts_with("/state/") && !k.starts_with("/config/")),
        "nuvosync's own files reached Dropbox: {:?}",
        remote.keys().collect::<Vec<_>>()
    );
    assert!(home.join("state/pairs/lab.db").exists());
}
