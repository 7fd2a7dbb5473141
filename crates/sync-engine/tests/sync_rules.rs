//! Every sync rule, end to end: the real engine against the in-process emulator over HTTPS.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

/// The pair paused because its folder is gone (or an empty mount point).
fn assert_missing_root(err: &sync_engine::SyncError) {
    assert!(
        matches!(
            err,
            sync_engine::SyncError::Paused(sync_engine::PauseReason::MissingRoot { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_uploads_a_tree_and_a_second_pair_downloads_it() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/notes.txt", b"hello");
    write(&a, "/data/2026/run1.csv", b"1,2,3");
    std::fs::create_dir_all(a.join("empty/dir")).unwrap();
    let pair = w.pair("a", &a);
    let report = pair.sync_once().await.unwrap();
    assert_eq!(report.uploaded, 2);
    assert_same(&w, &a);
    assert_eq!(
        w.remote_tree().get("/empty/dir"),
        Some(&None),
        "empty folders are created too"
    );

    let b = w.folder("b");
    let report = w.pair("b", &b).sync_once().await.unwrap();
    assert_eq!(report.downloaded, 2);
    assert_eq!(local_tree(&a), local_tree(&b));
    // A second run has nothing to do.
    let again = pair.sync_once().await.unwrap();
    assert_eq!((again.uploaded, again.downloaded), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sided_edits_propagate_both_ways() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/f.txt", b"v1");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    write(&a, "/f.txt", b"v2 local");
    pair.sync_once().await.unwrap();
    assert_eq!(w.remote_tree()["/f.txt"], h(b"v2 local"));
    w.put("/f.txt", b"v3 remote").await;
    pair.sync_once().await.unwrap();
    assert_eq!(std::fs::read(a.join("f.txt")).unwrap(), b"v3 remote");
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_content_on_both_sides_is_recorded_without_transfer() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/same.txt", b"identical");
    w.put("/same.txt", b"identical").await;
    let report = w.pair("a", &a).sync_once().await.unwrap();
    assert_eq!(
        (report.uploaded, report.downloaded, report.conflicts),
        (0, 0, 0)
    );
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_keeps_both_versions_on_both_sides() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/report.docx", b"base");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    write(&a, "/report.docx", b"mine");
    w.put("/report.docx", b"theirs").await;
    let report = pair.sync_once().await.unwrap();
    assert_eq!(report.conflicts, 1);
    let today = sync_engine::pair::today();
    let copy = format!("/report (conflicted copy from testhost {today}).docx");
    let local = local_tree(&a);
    assert_eq!(
        local["/report.docx"],
        h(b"theirs"),
        "Dropbox's version keeps the name"
    );
    assert_eq!(
        local[&copy],
        h(b"mine"),
        "the local version is kept as a conflicted copy"
    );
    assert_same(&w, &a);
    let conflicts = pair.with_index(|ix| ix.conflicts(false).unwrap());
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].copy_path, copy);

    // A second conflict on the same day is numbered.
    write(&a, "/report.docx", b"mine again");
    w.put("/report.docx", b"theirs again").await;
    pair.sync_once().await.unwrap();
    let numbered = format!("/report (conflicted copy from testhost {today} 2).docx");
    assert_eq!(local_tree(&a)[&numbered], h(b"mine again"));
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_beats_a_delete_on_either_side() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/keep-local.txt", b"1");
    write(&a, "/keep-remote.txt", b"1");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    // Deleted on Dropbox, edited here: the edit comes back to Dropbox.
    w.remove("/keep-local.txt").await;
    write(&a, "/keep-local.txt", b"edited here");
    // Deleted here, edited on Dropbox: the edit comes back here.
    std::fs::remove_file(a.join("keep-remote.txt")).unwrap();
    w.put("/keep-remote.txt", b"edited there").await;
    pair.sync_once().await.unwrap();
    assert_eq!(w.remote_tree()["/keep-local.txt"], h(b"edited here"));
    assert_eq!(
        std::fs::read(a.join("keep-remote.txt")).unwrap(),
        b"edited there"
    );
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_propagate_and_local_deletes_go_to_the_trash() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/dir/x.txt", b"x");
    write(&a, "/y.txt", b"y");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    std::fs::remove_dir_all(a.join("dir")).unwrap();
    pair.sync_once().await.unwrap();
    assert!(!w.remote_tree().contains_key("/dir/x.txt"));
    w.remove("/y.txt").await;
    let report = pair.sync_once().await.unwrap();
    assert_eq!(report.deleted_local, 1);
    assert!(!a.join("y.txt").exists());
    assert_eq!(
        std::fs::read(
            a.join(".nuvosync/trash")
                .read_dir()
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
                .join("y.txt")
        )
        .unwrap(),
        b"y"
    );
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_and_folder_moves_are_moves_also_between_runs() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..5 {
        write(
            &a,
            &format!("/project/src/f{i}.rs"),
            format!("fn f{i}() {{}}").as_bytes(),
        );
    }
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    let id_before = w
        .client()
        .get_metadata(&format!("{ROOT}/project/src/f0.rs"), false)
        .await
        .unwrap();
    // Offline (engine not running): rename the folder and a file.
    std::fs::rename(a.join("project"), a.join("Project 2")).unwrap();
    std::fs::rename(
        a.join("Project 2/src/f1.rs"),
        a.join("Project 2/f1-moved.rs"),
    )
    .unwrap();
    let report = pair.sync_once().await.unwrap();
    assert_eq!(report.uploaded, 0, "moves are not re-uploads");
    assert!(report.moved >= 2, "{report:?}");
    let id_after = w
        .client()
        .get_metadata(&format!("{ROOT}/Project 2/src/f0.rs"), false)
        .await
        .unwrap();
    let id = |e: Option<nuvosync_dropbox::Entry>| match e {
        Some(nuvosync_dropbox::Entry::File(f)) => f.id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        id(id_before),
        id(id_after),
        "a folder move keeps the Dropbox ids"
    );
    assert_same(&w, &a);

    // A move on Dropbox is a rename here (same inode).
    let inode = std::fs::metadata(a.join("Project 2/src/f2.rs"))
        .unwrap()
        .ino();
    w.mv("/Project 2/src/f2.rs", "/Project 2/f2-remote.rs")
        .await;
    pair.sync_once().await.unwrap();
    assert_eq!(
        std::fs::metadata(a.join("Project 2/f2-remote.rs"))
            .unwrap()
            .ino(),
        inode
    );
    assert_same(&w, &a);
}

/// Dropbox renames `/readme.md` → `/README.md` in one `move_v2` (Maestral's
/// `test_case_change_local` against the real Dropbox): no detour through a temporary name that
/// a co-author would see, the item keeps its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_only_renames_go_through_in_one_move() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/readme.md", b"# hi");
    write(&a, "/docs/x.txt", b"x");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    let moves = || w.calls("files/move_v2");
    let before = moves();
    std::fs::rename(a.join("readme.md"), a.join("README.md")).unwrap();
    std::fs::rename(a.join("docs"), a.join("DOCS")).unwrap();
    pair.sync_once().await.unwrap();
    let remote = w.remote_tree();
    assert!(remote.contains_key("/README.md"), "{remote:?}");
    assert!(remote.contains_key("/DOCS"), "{remote:?}");
    assert!(!remote.contains_key("/readme.md") && !remote.contains_key("/docs"));
    assert_eq!(moves() - before, 2, "one move per case-only rename");
    pair.sync_once().await.unwrap();
    assert!(a.join("DOCS/x.txt").is_file());
    assert_same(&w, &a);
}

/// A case-only rename made on Dropbox (`/folder` → `/FOLDER`, a file too) arrives as the same
/// items with new names; the local folder is renamed, its content stays, nothing is
/// downloaded again (Maestral's `test_case_change_remote` against the real Dropbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_only_renames_on_dropbox_rename_locally() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/folder/Subfolder/x.txt", b"x");
    write(&a, "/note.txt", b"n");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    let inode = std::fs::metadata(a.join("folder/Subfolder/x.txt"))
        .unwrap()
        .ino();
    w.mv("/folder", "/FOLDER").await;
    w.mv("/note.txt", "/Note.TXT").await;
    pair.sync_once().await.unwrap();
    let local = local_tree(&a);
    assert!(local.contains_key("/FOLDER/Subfolder/x.txt"), "{local:?}");
    assert!(local.contains_key("/Note.TXT"), "{local:?}");
    assert!(
        !local.contains_key("/folder") && !local.contains_key("/note.txt"),
        "{local:?}"
    );
    assert_eq!(
        std::fs::metadata(a.join("FOLDER/Subfolder/x.txt"))
            .unwrap()
            .ino(),
        inode,
        "renamed in place, not downloaded again"
    );
    pair.sync_once().await.unwrap();
    assert_same(&w, &a);
    assert!(w.remote_tree().contains_key("/FOLDER/Subfolder/x.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_names_that_clash_on_dropbox_are_renamed_not_merged() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/Data.csv", b"upper");
    write(&a, "/data.csv", b"lower");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    let local = local_tree(&a);
    assert_eq!(local.len(), 2);
    assert!(
        local.keys().any(|k| k.contains("(case conflict)")),
        "{local:?}"
    );
    let remote = w.remote_tree();
    let mut contents: Vec<_> = remote.values().cloned().collect();
    contents.sort();
    let mut want = vec![h(b"upper"), h(b"lower")];
    want.sort();
    assert_eq!(contents, want, "both versions reach Dropbox");
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_account_converge() {
    let w = World::new().await;
    let (a, b) = (w.folder("a"), w.folder("b"));
    let (pa, pb) = (w.pair("a", &a), w.pair("b", &b));
    write(&a, "/from-a.txt", b"a");
    write(&b, "/from-b.txt", b"b");
    write(&a, "/shared.txt", b"a's");
    write(&b, "/shared.txt", b"b's");
    for _ in 0..2 {
        pa.sync_once().await.unwrap();
        pb.sync_once().await.unwrap();
    }
    assert_eq!(local_tree(&a), local_tree(&b));
    assert_same(&w, &a);
    assert_eq!(local_tree(&a).len(), 4, "{:?}", local_tree(&a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_synced_is_reported_and_left_alone() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/ok.txt", b"ok");
    write(&a, "/desktop.ini", b"[x]");
    write(&a, "/trailing ", b"t");
    write(&a, "/~$lock.docx", b"l");
    std::os::unix::fs::symlink("ok.txt", a.join("link")).unwrap();
    write(&a, "/.nuvosyncignore", b"*.tmp\n");
    write(&a, "/scratch.TMP", b"s");
    let pair = w.pair("a", &a);
    let report = pair.sync_once().await.unwrap();
    assert_eq!(
        w.remote_tree().keys().cloned().collect::<Vec<_>>(),
        ["/ok.txt"]
    );
    let codes: Vec<_> = report
        .issues
        .iter()
        .map(|i| (i.path.as_str(), i.code.as_str()))
        .collect();
    assert!(codes.contains(&("/link", "symlink")), "{codes:?}");
    assert!(codes.contains(&("/trailing ", "bad_name")), "{codes:?}");
    assert!(
        a.join("desktop.ini").exists() && a.join("scratch.TMP").exists(),
        "skipped files stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_folder_pauses_instead_of_deleting() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/x.txt", b"x");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    std::fs::rename(&a, w.dir.path().join("unmounted")).unwrap();
    let err = pair.sync_once().await.unwrap_err();
    assert_missing_root(&err);
    assert_eq!(
        w.remote_tree()["/x.txt"],
        h(b"x"),
        "nothing deleted on Dropbox"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_mount_point_pauses_instead_of_deleting() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/x.txt", b"x");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    // The drive is not mounted: what is left is the empty folder it mounts on.
    std::fs::rename(&a, w.dir.path().join("the drive")).unwrap();
    std::fs::create_dir(&a).unwrap();
    let err = pair.sync_once().await.unwrap_err();
    assert_missing_root(&err);
    assert_eq!(w.remote_tree()["/x.txt"], h(b"x"), "nothing deleted");
    assert_eq!(std::fs::read_dir(&a).unwrap().count(), 0, "nothing written");
    // Mounted again: in sync, nothing to do.
    std::fs::remove_dir(&a).unwrap();
    std::fs::rename(w.dir.path().join("the drive"), &a).unwrap();
    pair.sync_once().await.unwrap();
    assert_eq!(w.remote_tree()["/x.txt"], h(b"x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_that_goes_away_mid_run_is_not_recreated_nor_taken_for_deleted() {
    // The drive is unmounted after Dropbox's news came in and before it is written: the
    // downloads must not bring the folder back with only the new files in it — the rescan
    // at the end of the run would take everything else for deleted.
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..10 {
        write(&a, &format!("/d/f{i}.txt"), format!("{i}").as_bytes());
    }
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    w.put("/d/new.txt", b"from a co-author").await;
    w.put("/other/deep.txt", b"deep").await;
    pair.pull().await.unwrap();
    std::fs::rename(&a, w.dir.path().join("unmounted")).unwrap();
    let err = pair.converge(true).await.unwrap_err();
    assert_missing_root(&err);
    assert!(!a.exists(), "the folder was created again");
    let remote = w.remote_tree();
    for i in 0..10 {
        assert_eq!(
            remote[&format!("/d/f{i}.txt")],
            h(format!("{i}").as_bytes()),
            "nothing deleted on Dropbox"
        );
    }
    // Back again: everything syncs, nothing was given up on.
    std::fs::rename(w.dir.path().join("unmounted"), &a).unwrap();
    pair.sync_once().await.unwrap();
    assert_eq!(
        std::fs::read(a.join("d/new.txt")).unwrap(),
        b"from a co-author"
    );
    assert_eq!(std::fs::read(a.join("other/deep.txt")).unwrap(), b"deep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_delete_pauses_until_confirmed() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..60 {
        write(&a, &format!("/f{i}.txt"), format!("{i}").as_bytes());
    }
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    for i in 0..60 {
        std::fs::remove_file(a.join(format!("f{i}.txt"))).unwrap();
    }
    let err = pair.sync_once().await.unwrap_err();
    assert!(
        matches!(
            err,
            sync_engine::SyncError::Paused(sync_engine::PauseReason::MassDelete { count: 60, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        w.remote_tree().len(),
        60,
        "nothing deleted before confirmation"
    );
    pair.confirm_deletes();
    pair.sync_once().await.unwrap();
    assert!(w.remote_tree().is_empty());
}

/// Write `data` into the file in place (same inode) and put its mtime back, as tools that
/// restore timestamps do (`touch -r`, some editors and sync tools; coarse FAT/SMB clocks
/// give the same result).
fn edit_keeping_mtime(path: &std::path::Path, data: &[u8]) {
    use std::io::Write;
    let before = std::fs::metadata(path).unwrap();
    assert_eq!(before.len(), data.len() as u64, "the edit keeps the size");
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all(data).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(
        (after.ino(), after.len(), after.mtime(), after.mtime_nsec()),
        (
            before.ino(),
            before.len(),
            before.mtime(),
            before.mtime_nsec()
        ),
        "size, mtime and inode are as they were"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_that_keeps_size_and_mtime_is_uploaded_not_overwritten() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/alone.txt", b"version 1");
    write(&a, "/both.txt", b"version 1");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    // Past the window in which a file's timestamps are too fresh to be trusted
    // (`scan::RACY`): from now on only the signature tells an edit apart.
    tokio::time::sleep(sync_engine::scan::RACY + std::time::Duration::from_millis(100)).await;
    let report = pair.sync_once().await.unwrap();
    assert_eq!((report.uploaded, report.downloaded), (0, 0));

    edit_keeping_mtime(&a.join("alone.txt"), b"version 2");
    edit_keeping_mtime(&a.join("both.txt"), b"version L");
    // Dropbox's next edit of one of them comes down while the local edit is there.
    w.put("/both.txt", b"version D (Dropbox)").await;
    let report = pair.sync_once().await.unwrap();
    // The edit of alone.txt, and the conflicted copy of both.txt.
    assert_eq!(report.uploaded, 2, "{report:?}");
    assert_eq!(w.remote_tree()["/alone.txt"], h(b"version 2"));
    assert_eq!(report.conflicts, 1, "the local edit is not overwritten");
    let local = local_tree(&a);
    assert_eq!(local["/both.txt"], h(b"version D (Dropbox)"));
    assert!(
        local.values().any(|v| *v == h(b"version L")),
        "the local edit is kept as a conflicted copy: {local:?}"
    );
    assert_same(&w, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuvosyncs_own_folders_inside_the_pair_are_never_synced() {
    // A state folder inside the pair's folder (`--state-dir` there, or a pair of $HOME),
    // reached through another spelling of the path, and a configuration folder inside it.
    let w = World::new().await;
    let a = w.folder("home");
    write(&a, "/notes.txt", b"mine");
    write(&a, "/.config/nuvosync/config.toml", b"[settings]");
    std::os::unix::fs::symlink(&a, w.dir.path().join("home-link")).unwrap();
    let spec = sync_engine::PairSpec {
        name: "home".into(),
        local_root: a.clone(),
        remote_root: ROOT.into(),
        excluded: vec![],
        index_path: w
            .dir
            .path()
            .join("home-link/.local/state/nuvosync/pairs/home.db"),
    };
    let pair = sync_engine::Pair::open(
        spec,
        World::tuning(),
        Arc::new(w.client()),
        w.commit_lock.clone(),
    )
    .unwrap();
    // The index's own folder is never synced by itself; the rest the application says.
    pair.set_private_folders(&[
        w.dir.path().join("home-link/.local/state/nuvosync"),
        a.join(".config/nuvosync"),
    ]);
    pair.sync_once().await.unwrap();
    assert!(a.join(".local/state/nuvosync/pairs/home.db").exists());
    let remote: Vec<String> = w.remote_tree().into_keys().collect();
    assert!(remote.contains(&"/notes.txt".to_string()), "{remote:?}");
    assert!(
        !remote
            .iter()
            .any(|p| p.starts_with("/.local/state/nuvosync") || p.starts_with("/.config/nuvosync")),
        "nuvosync's own files reached Dropbox: {remote:?}"
    );
    // Nor does Dropbox's copy of such a folder come down.
    w.put("/.config/nuvosync/config.toml", b"from elsewhere")
        .await;
    pair.sync_once().await.unwrap();
    assert_eq!(
        std::fs::read(a.join(".config/nuvosync/config.toml")).unwrap(),
        b"[settings]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_opened_with_another_account_linked_stops_and_mixes_nothing() {
    let w = World::new().await;
    w.server.emulator.add_account("bob", "tok-bob");
    let a = w.folder("a");
    write(&a, "/ada.txt", b"ada's file");
    w.pair("a", &a).sync_once().await.unwrap();
    // Bob is linked now (a relink with another account); his Dropbox has the same folder.
    let bob = Arc::new(w.client_with("tok-bob"));
    bob.upload(
        &nuvosync_dropbox::Commit {
            path: format!("{ROOT}/bob.txt"),
            mode: nuvosync_dropbox::WriteMode::Add,
            autorename: false,
            strict_conflict: false,
            client_modified: None,
        },
        bytes::Bytes::from_static(b"bob's file"),
    )
    .await
    .unwrap();
    let bob_tree = |w: &World| {
        let acct = w.server.emulator.account("bob").unwrap();
        let ns = acct.ns.lock();
        ns.nodes.keys().cloned().collect::<Vec<_>>()
    };
    let bob_before = bob_tree(&w);
    let open = || w.pair_with("a", &a, World::tuning(), bob.clone());
    let pair = open();
    for _ in 0..2 {
        let err = pair.sync_once().await.unwrap_err();
        let sync_engine::SyncError::Paused(
            reason @ sync_engine::PauseReason::AccountChanged { .. },
        ) = &err
        else {
            panic!("{err:?}");
        };
        let said = reason.describe(true);
        assert!(said.contains("ada@") && said.contains("bob@"), "{said}");
        assert!(said.contains("nuvosync link"), "says what to do: {said}");
    }
    // Rebuilding the index does not make it another account's either.
    pair.with_index(|ix| ix.reset_trees()).unwrap();
    drop(pair);
    let err = open().sync_once().await.unwrap_err();
    assert!(
        matches!(
            err,
            sync_engine::SyncError::Paused(sync_engine::PauseReason::AccountChanged { .. })
        ),
        "{err:?}"
    );
    assert_eq!(bob_tree(&w), bob_before, "nothing reached bob's Dropbox");
    assert!(
        !a.join("bob.txt").exists(),
        "nothing came from bob's Dropbox"
    );
    // Ada linked again: the pair goes on.
    w.pair("a", &a).sync_once().await.unwrap();
    assert_same(&w, &a);
}

/// The pair's folder on Dropbox, or `None`: (display path, id).
fn remote_root(w: &World, path: &str) -> Option<(String, String)> {
    let acct = w.server.emulator.account("ada").unwrap();
    let ns = acct.ns.lock();
    let k = sync_core::path::key(&format!("/apps/nuvolos.cloud{path}"));
    ns.nodes.get(&k).map(|n| (n.display.clone(), n.id.clone()))
}

fn folder_gone(err: &sync_engine::SyncError) -> (Option<String>, bool, String) {
    match err {
        sync_engine::SyncError::Paused(
            r @ sync_engine::PauseReason::RemoteFolderGone {
                path,
                moved_to,
                replaced,
            },
        ) => {
            assert_eq!(path, ROOT);
            (moved_to.clone(), *replaced, r.describe(true))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_whose_dropbox_folder_was_moved_stops_and_never_makes_it_again() {
    const MOVED: &str = "/Acme/Research/Inst (old)";
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/notes.txt", b"v1");
    write(&a, "/sub/deep.txt", b"deep");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    // Renamed on the web.
    w.client().move_entry(ROOT, MOVED).await.unwrap();
    // Seen through the cursor (Dropbox's path error), then by a new opening's listing, and
    // after a local edit: always the same pause, the old folder never made again.
    let err = pair.sync_once().await.unwrap_err();
    let (moved_to, replaced, said) = folder_gone(&err);
    assert_eq!((moved_to.as_deref(), replaced), (Some(MOVED), false));
    assert!(said.contains(MOVED) && said.contains("move"), "{said}");
    assert!(said.contains("nuvosync pair remove"), "{said}");
    write(&a, "/notes.txt", b"v2, edited while it was away");
    for p in [&pair, &w.pair("a", &a)] {
        let err = p.sync_once().await.unwrap_err();
        assert_eq!(folder_gone(&err).0.as_deref(), Some(MOVED));
    }
    assert_eq!(remote_root(&w, ROOT), None, "the old folder was made again");
    assert_eq!(
        local_tree(&a).len(),
        3,
        "nothing here is deleted: {:?}",
        local_tree(&a)
    );
    // Moved back: sync goes on where it was, and the edit goes up.
    w.client().move_entry(MOVED, ROOT).await.unwrap();
    let report = pair.sync_once().await.unwrap();
    assert_eq!(report.uploaded, 1, "{report:?}");
    assert_same(&w, &a);
    assert_eq!(
        w.remote_tree()["/notes.txt"],
        h(b"v2, edited while it was away")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_whose_dropbox_folder_was_deleted_or_replaced_stops() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/notes.txt", b"v1");
    w.pair("a", &a).sync_once().await.unwrap();
    let before = local_tree(&a);
    w.client().delete(ROOT, None).await.unwrap();
    let err = w.pair("a", &a).sync_once().await.unwrap_err();
    let (moved_to, replaced, said) = folder_gone(&err);
    assert_eq!((moved_to, replaced), (None, false));
    assert!(said.contains("deleted"), "{said}");
    assert_eq!(remote_root(&w, ROOT), None);
    // Another folder made in its place is not taken for it: nothing goes into it, nothing
    // comes out of it, nothing here is deleted.
    w.client().create_folder(ROOT).await.unwrap();
    w.put("/theirs.txt", b"someone else's").await;
    let err = w.pair("a", &a).sync_once().await.unwrap_err();
    let (moved_to, replaced, said) = folder_gone(&err);
    assert_eq!((moved_to, replaced), (None, true));
    assert!(said.contains("not the one"), "{said}");
    assert_eq!(local_tree(&a), before);
    assert_eq!(w.remote_tree().len(), 1, "{:?}", w.remote_tree());
}

/// A folder deleted here is deleted on Dropbox only if nothing in it is news: a co-author's
/// upload into it that arrives after the plan was made (here: right before the executor looks
/// at the folder) stops the delete — the folder and the upload stay on Dropbox, and the next
/// round brings the upload here instead of deleting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_delete_on_dropbox_spares_an_upload_that_arrived_meanwhile() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/proj/one.txt", b"1");
    write(&a, "/proj/two.txt", b"2");
    write(&a, "/keep.txt", b"k");
    w.pair("a", &a).sync_once().await.unwrap();
    std::fs::remove_dir_all(a.join("proj")).unwrap();

    // The co-author's upload lands at the engine's first look at Dropbox's folder before
    // deleting it (or, without that look, right before the delete).
    let emu = w.server.emulator.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let hook: sync_engine::remote::Hook = Box::new(move |name| {
        if (name == "list_folder" || name == "delete")
            && !d.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let data = bytes::Bytes::from_static(b"the co-author's new file");
            let hash = sync_core::ContentHash::of(&data);
            emu.put_blob(hash, data.clone()).unwrap();
            let acct = emu.account("ada").unwrap();
            emu.mutate(&acct, |rec| {
                rec.commit(
                    &format!("/Apps/nuvolos.cloud{ROOT}/proj/new.txt"),
                    &dropbox_emulator::ops::Mode::Add,
                    false,
                    false,
                    None,
                    hash,
                    data.len() as u64,
                )
                .unwrap();
            });
        }
        None
    });
    let remote = sync_engine::remote::Hooked::new(Arc::new(w.client()), hook);
    let pair = w.pair_with("a", &a, World::tuning(), Arc::new(remote));
    pair.sync_once().await.unwrap();
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst),
        "the hook ran"
    );
    let remote = w.remote_tree();
    assert!(
        remote.contains_key("/proj/new.txt"),
        "the co-author's upload was deleted: {remote:?}"
    );
    assert_eq!(
        std::fs::read(a.join("proj/new.txt")).unwrap(),
        b"the co-author's new file"
    );
    assert!(!remote.contains_key("/proj/one.txt") && !remote.contains_key("/proj/two.txt"));
    assert!(remote.contains_key("/keep.txt"));
}
