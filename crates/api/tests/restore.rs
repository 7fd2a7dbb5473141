//! The hazard the original system warned about, reproduced: a snapshot of the folder is
//! restored after newer edits were synced. nuvosync must stop before Dropbox's newer copies
//! overwrite anything, and the guided restore must make Dropbox equal the snapshot while
//! keeping every replaced or removed Dropbox version in a backup folder.

mod common;

use common::ROOT;
use dropbox_emulator::TestServer;
use nuvosync_api::dto::{Command, PairPatch, RestorePlanDto, RestoreResultDto, SettingsPatch};
use nuvosync_api::{Daemon, ErrorCode};
use nuvosync_dropbox::Client;
use nuvosync_test_support::emulator;
use nuvosync_test_support::tree::{copy_tree, local_files as files};
use std::collections::BTreeMap;
use std::sync::Arc;

struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
    daemon: Arc<Daemon>,
    local: std::path::PathBuf,
}

async fn setup() -> Setup {
    let lab = common::Lab::new().await;
    let daemon = Daemon::idle(lab.service.clone());
    Setup {
        server: lab.server,
        dir: lab.dir,
        daemon,
        local: lab.local,
    }
}

fn colleague(s: &Setup) -> Client {
    emulator::colleague(&s.server)
}

async fn upload(s: &Setup, rel: &str, data: &[u8]) {
    emulator::upload(&colleague(s), &format!("{ROOT}{rel}"), data).await;
}

/// Files (path → content) under a Dropbox folder of the app folder.
fn dropbox(s: &Setup, folder: &str) -> BTreeMap<String, Vec<u8>> {
    emulator::files_under(&s.server, folder)
}

async fn sync(s: &Setup) -> Result<(), nuvosync_api::ApiError> {
    let results = s.daemon.service().sync_once(Some("lab"), false).await?;
    match &results[0].error {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

/// Ask the daemon, decode its answer.
async fn ask<T: serde::de::DeserializeOwned>(s: &Setup, cmd: Command) -> T {
    serde_json::from_value(s.daemon.handle(cmd).await.unwrap()).unwrap()
}

/// A connection to the index of the pair "lab".
fn index(d: &Daemon) -> sync_engine::index::Index {
    sync_engine::index::Index::open(&d.service().paths().index_file("lab")).unwrap()
}

/// The paths of a preview's entries.
fn paths(v: &[nuvosync_api::dto::RestoreItemDto]) -> Vec<String> {
    v.iter().map(|i| i.path.clone()).collect()
}

/// Sync, snapshot, newer edits on both sides, restore the snapshot (optionally without its
/// marker folder). Returns the snapshot's files and Dropbox's files just before the restore.
async fn hazard(
    s: &Setup,
    drop_marker: bool,
) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
    std::fs::create_dir_all(s.local.join("results")).unwrap();
    std::fs::write(s.local.join("analysis.py"), b"v1 analysis").unwrap();
    std::fs::write(s.local.join("results/table.csv"), b"v1 table").unwrap();
    std::fs::write(s.local.join("notes.md"), b"v1 notes").unwrap();
    sync(s).await.unwrap();

    let snapshot = s.dir.path().join("snapshot");
    copy_tree(&s.local, &snapshot);
    if drop_marker {
        std::fs::remove_dir_all(snapshot.join(".nuvosync")).unwrap();
    }
    let snap_files = files(&snapshot);

    // Newer work, synced: an edit here, an edit by a colleague, a delete, a new file.
    std::fs::write(s.local.join("analysis.py"), b"v2 analysis (newer, local)").unwrap();
    upload(s, "/results/table.csv", b"v2 table (newer, colleague)").await;
    std::fs::remove_file(s.local.join("notes.md")).unwrap();
    std::fs::write(s.local.join("later.txt"), b"written after the snapshot").unwrap();
    sync(s).await.unwrap();
    let before = dropbox(s, ROOT);
    assert_eq!(before["/results/table.csv"], b"v2 table (newer, colleague)");
    assert!(!before.contains_key("/notes.md"));

    // The snapshot comes back.
    std::fs::remove_dir_all(&s.local).unwrap();
    copy_tree(&snapshot, &s.local);
    (snap_files, before)
}

async fn check_paused_and_untouched(
    s: &Setup,
    snap: &BTreeMap<String, Vec<u8>>,
    before: &BTreeMap<String, Vec<u8>>,
) {
    let err = sync(s).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Paused, "{}", err.message);
    assert!(
        err.message.contains("nuvosync restore"),
        "the message names the way out: {}",
        err.message
    );
    assert_eq!(
        &files(&s.local),
        snap,
        "not one restored file was overwritten or deleted"
    );
    assert_eq!(&dropbox(s, ROOT), before, "nothing changed on Dropbox");
    // Status says so too.
    let plan: RestorePlanDto = ask(s, Command::RestorePlan { pair: "lab".into() }).await;
    assert!(plan.detected);
    assert_eq!(
        paths(&plan.replaced),
        ["/analysis.py", "/results/table.csv"],
        "the restored versions replace these"
    );
    assert_eq!(
        paths(&plan.removed),
        ["/later.txt"],
        "these leave the instance folder"
    );
    assert_eq!(
        paths(&plan.uploaded),
        ["/notes.md"],
        "these come back from the snapshot"
    );
    assert!(
        plan.backup_folder
            .starts_with("/Acme/Research/Lab (before restore "),
        "{}",
        plan.backup_folder
    );
}

async fn apply_and_check(
    s: &Setup,
    snap: &BTreeMap<String, Vec<u8>>,
    before: &BTreeMap<String, Vec<u8>>,
) {
    let r: RestoreResultDto = ask(s, Command::RestoreApply { pair: "lab".into() }).await;
    assert_eq!(
        &dropbox(s, ROOT),
        snap,
        "Dropbox's instance folder equals the snapshot"
    );
    assert_eq!(&files(&s.local), snap, "and so does the local folder");
    let backup = dropbox(s, &r.backup_folder);
    assert_eq!(
        &backup, before,
        "every replaced or removed Dropbox version is in the backup folder"
    );
    assert!(
        r.backup_url.contains("before%20restore"),
        "{}",
        r.backup_url
    );
    // Back to normal: the next sync is quiet and a new edit flows.
    sync(s).await.unwrap();
    std::fs::write(s.local.join("after.txt"), b"after the restore").unwrap();
    sync(s).await.unwrap();
    assert_eq!(dropbox(s, ROOT)["/after.txt"], b"after the restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_snapshot_is_detected_and_the_guided_restore_keeps_everything() {
    let s = setup().await;
    let (snap, before) = hazard(&s, false).await;
    check_paused_and_untouched(&s, &snap, &before).await;
    apply_and_check(&s, &snap, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_without_the_marker_folder_is_detected_too() {
    let s = setup().await;
    let (snap, before) = hazard(&s, true).await;
    check_paused_and_untouched(&s, &snap, &before).await;
    apply_and_check(&s, &snap, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_a_restore_continues_normally_after_showing_what_it_overwrites() {
    let s = setup().await;
    // Two more files the snapshot and Dropbox agree on.
    std::fs::write(s.local.join("keep.txt"), b"v1 keep").unwrap();
    std::fs::create_dir_all(s.local.join("old")).unwrap();
    std::fs::write(s.local.join("old/a.txt"), b"a").unwrap();
    std::fs::write(s.local.join("old/b.txt"), b"b").unwrap();
    let (snap, _before) = hazard(&s, false).await;
    assert_eq!(sync(&s).await.unwrap_err().code, ErrorCode::Paused);
    // While it waits, the colleague edits what the snapshot has unchanged, deletes a folder,
    // and edits a file the snapshot has in an older version.
    upload(&s, "/keep.txt", b"v2 keep (colleague, after the pause)").await;
    colleague(&s)
        .delete(&format!("{ROOT}/old"), None)
        .await
        .unwrap();
    upload(
        &s,
        "/analysis.py",
        b"v3 analysis (colleague, after the pause)",
    )
    .await;

    let preview: RestorePlanDto =
        ask(&s, Command::RestoreContinuePreview { pair: "lab".into() }).await;
    assert_eq!(
        paths(&preview.replaced),
        ["/results/table.csv"],
        "Dropbox versions normal sync would overwrite"
    );
    assert_eq!(
        paths(&preview.removed),
        ["/later.txt"],
        "deleted on Dropbox"
    );
    assert_eq!(paths(&preview.uploaded), ["/notes.md"]);
    assert_eq!(
        paths(&preview.overwritten_here),
        ["/keep.txt"],
        "local files Dropbox's versions would replace"
    );
    assert_eq!(paths(&preview.deleted_here), ["/old"], "deleted here");
    assert_eq!(preview.deleted_here[0].size, Some(2), "a folder of 2 files");
    assert_eq!(
        paths(&preview.conflicts),
        ["/analysis.py"],
        "changed on both sides: kept as a conflicted copy"
    );
    // Only a preview: nothing changed yet.
    assert_eq!(files(&s.local), snap);

    s.daemon
        .handle(Command::RestoreContinue { pair: "lab".into() })
        .await
        .unwrap();
    sync(&s).await.unwrap();
    let here = files(&s.local);
    assert_eq!(here["/keep.txt"], b"v2 keep (colleague, after the pause)");
    assert!(!here.contains_key("/old/a.txt"));
    assert_eq!(
        here["/analysis.py"],
        b"v3 analysis (colleague, after the pause)"
    );
    assert!(
        here.iter()
            .any(|(k, v)| k.contains("conflicted copy") && v == b"v1 analysis"),
        "the restored version survives as a conflicted copy: {:?}",
        here.keys()
    );
    assert_eq!(dropbox(&s, ROOT), here, "both sides agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_pair_does_not_sync_stays_in_the_instance_folder() {
    let s = setup().await;
    // A folder kept only on Dropbox (selective sync), with files deeper in it.
    s.daemon
        .handle(Command::SettingsSet {
            patch: SettingsPatch {
                pairs: vec![PairPatch {
                    name: "lab".into(),
                    excluded: Some(vec!["/Big Data".into()]),
                    ..PairPatch::default()
                }],
                ..SettingsPatch::default()
            },
        })
        .await
        .unwrap();
    upload(&s, "/Big Data/raw.bin", b"only on Dropbox").await;
    upload(&s, "/Big Data/deep/more.bin", b"more of it").await;
    let (snap, before) = hazard(&s, false).await;
    assert!(before.contains_key("/Big Data/raw.bin"));
    assert!(!files(&s.local).contains_key("/Big Data/raw.bin"));

    let plan: RestorePlanDto = ask(&s, Command::RestorePlan { pair: "lab".into() }).await;
    assert_eq!(
        paths(&plan.not_synced),
        ["/Big Data"],
        "one entry for the whole folder"
    );
    assert_eq!(
        paths(&plan.removed),
        ["/later.txt"],
        "not the excluded files"
    );

    let r: RestoreResultDto = ask(&s, Command::RestoreApply { pair: "lab".into() }).await;
    // The instance folder: the snapshot, and the excluded folder where it was.
    let mut expected = snap.clone();
    for rel in ["/Big Data/raw.bin", "/Big Data/deep/more.bin"] {
        expected.insert(rel.to_string(), before[rel].clone());
    }
    assert_eq!(dropbox(&s, ROOT), expected);
    // The backup: everything else Dropbox had.
    let mut kept = before.clone();
    kept.retain(|k, _| !k.starts_with("/Big Data/"));
    assert_eq!(dropbox(&s, &r.backup_folder), kept);
    assert_eq!(files(&s.local), snap, "nothing excluded came down");
    sync(&s).await.unwrap();
    assert_eq!(dropbox(&s, ROOT), expected, "and the next sync leaves it");
}

/// A restore of the hazard that was interrupted once Dropbox's folder had been moved aside
/// (`uploaded`: after these restored files were uploaded again, too); then `--apply` again.
async fn resume_an_interrupted_restore(uploaded: &[&str]) {
    let s = setup().await;
    let (snap, before) = hazard(&s, false).await;
    let plan: RestorePlanDto = ask(&s, Command::RestorePlan { pair: "lab".into() }).await;
    // The pair's index, as the first step left it (beside the pair's own connection).
    s.daemon.service().pair("lab").unwrap();
    index(&s.daemon)
        .set_meta("restore_backup", &plan.backup_folder)
        .unwrap();
    colleague(&s)
        .move_entry(ROOT, &plan.backup_folder)
        .await
        .unwrap();
    for rel in uploaded {
        upload(&s, rel, &snap[*rel]).await;
    }
    let r: RestoreResultDto = ask(&s, Command::RestoreApply { pair: "lab".into() }).await;
    assert_eq!(r.backup_folder, plan.backup_folder);
    assert_eq!(dropbox(&s, ROOT), snap);
    assert_eq!(dropbox(&s, &r.backup_folder), before);
    assert_eq!(files(&s.local), snap);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_restore_resumes() {
    // The first step (moving Dropbox's folder aside) happened, then the process died.
    resume_an_interrupted_restore(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_interrupted_while_uploading_resumes() {
    // ...and part of the restored state was uploaded again.
    resume_an_interrupted_restore(&["/analysis.py"]).await;
}
