//! Files Dropbox cannot download, only export (Paper docs), as read-only local copies when
//! the setting is on (`Tuning::export_documents`; off by default): exported with
//! `files/export` in their `export_as` format, named with its extension, mode 0444; never
//! uploaded; an edit here is kept as a conflicted copy; a new revision is exported again; a
//! document deleted on Dropbox takes its copy to the trash.

mod common;

use common::*;
use nuvosync_test_support::tree::{self, Unlistable};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const HTML: &[u8] = b"<h1>Plan</h1>";

fn exporting(w: &World, name: &str, local: &std::path::Path) -> sync_engine::Pair {
    let t = World::tuning();
    t.export_documents.store(true, Ordering::Relaxed);
    w.pair_with(name, local, t, Arc::new(w.client()))
}

/// The Paper doc on Dropbox: (id, rev, still export-only).
fn paper_on_dropbox(w: &World, rel: &str) -> Option<(String, String, bool)> {
    let acct = w.server.emulator.account("ada").unwrap();
    let ns = acct.ns.lock();
    let k = format!("/apps/nuvolos.cloud{ROOT}{rel}").to_lowercase();
    ns.nodes.get(&k).and_then(|n| {
        n.file()
            .map(|f| (n.id.clone(), f.rev.clone(), !f.is_downloadable()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_a_paper_doc_is_only_a_status_entry() {
    let w = World::new().await;
    let a = w.folder("a");
    w.paper("/Plans/Plan.paper");
    let report = clean(w.pair("a", &a).sync_once().await);
    assert_eq!(
        local_tree(&a).keys().cloned().collect::<Vec<_>>(),
        ["/Plans"]
    );
    assert!(report.issues.iter().any(|i| i.code == "not_downloadable"));
    assert_eq!(w.calls("files/export"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_doc_is_exported_read_only_and_never_uploaded() {
    let w = World::new().await;
    let a = w.folder("a");
    w.put("/Plans/notes.txt", b"n").await;
    w.paper("/Plans/Plan.paper");
    let before = paper_on_dropbox(&w, "/Plans/Plan.paper").unwrap();
    let pair = exporting(&w, "a", &a);
    let report = clean(pair.sync_once().await);
    let copy = a.join("Plans/Plan.html");
    assert_eq!(std::fs::read(&copy).unwrap(), HTML);
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o444
    );
    assert!(
        !report.issues.iter().any(|i| i.code == "not_downloadable"),
        "{:#?}",
        report.issues
    );
    assert_eq!(w.calls("files/export"), 1);
    // Nothing of it goes to Dropbox; the next runs change nothing.
    let uploads = w.calls("files/upload");
    clean(pair.sync_once().await);
    clean(pair.sync_once().await);
    assert_eq!(w.calls("files/upload"), uploads);
    assert_eq!(w.calls("files/export"), 1, "exported once per revision");
    let remote = w.remote_tree();
    assert!(!remote.contains_key("/Plans/Plan.html"), "{remote:?}");
    assert_eq!(paper_on_dropbox(&w, "/Plans/Plan.paper").unwrap(), before);
    // A second computer with the setting on gets its own copy.
    let b = w.folder("b");
    clean(exporting(&w, "b", &b).sync_once().await);
    assert_eq!(std::fs::read(b.join("Plans/Plan.html")).unwrap(), HTML);
    assert_eq!(local_tree(&a), local_tree(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_to_the_exported_copy_is_kept_as_a_conflicted_copy_not_uploaded_over_the_doc() {
    let w = World::new().await;
    let a = w.folder("a");
    w.paper("/Plan.paper");
    let doc = paper_on_dropbox(&w, "/Plan.paper").unwrap();
    let pair = exporting(&w, "a", &a);
    clean(pair.sync_once().await);
    let copy = a.join("Plan.html");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&copy, b"<h1>My edit</h1>").unwrap();
    let report = clean(pair.sync_once().await);
    clean(pair.sync_once().await);
    assert!(report.conflicts >= 1, "{report:?}");
    let local = local_tree(&a);
    let edited: Vec<_> = local
        .iter()
        .filter(|(k, v)| k.contains("conflicted copy") && **v == h(b"<h1>My edit</h1>"))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(edited.len(), 1, "{local:?}");
    assert_eq!(std::fs::read(&copy).unwrap(), HTML, "exported again");
    // The edit reached Dropbox as a file of its own; the Paper doc is untouched.
    let remote = w.remote_tree();
    assert_eq!(
        remote.get(&edited[0]),
        Some(&h(b"<h1>My edit</h1>")),
        "{remote:?}"
    );
    assert!(!remote.contains_key("/Plan.html"));
    assert_eq!(paper_on_dropbox(&w, "/Plan.paper").unwrap(), doc);
    let conflicts = pair.with_index(|ix| ix.conflicts(true).unwrap());
    assert!(
        conflicts.iter().any(|c| c.path == "/Plan.html"),
        "surfaced: {conflicts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_is_exported_again_and_a_deleted_doc_takes_its_copy_to_the_trash() {
    let w = World::new().await;
    let a = w.folder("a");
    w.paper("/Team/Plan.paper");
    let pair = exporting(&w, "a", &a);
    clean(pair.sync_once().await);
    assert_eq!(std::fs::read(a.join("Team/Plan.html")).unwrap(), HTML);

    // A new version (deleted and made again: another revision).
    w.remove("/Team/Plan.paper").await;
    let acct = w.server.emulator.account("ada").unwrap();
    w.server
        .emulator
        .add_export_only(
            &acct,
            &format!("/Apps/nuvolos.cloud{ROOT}/Team/Plan.paper"),
            "<h1>Plan v2</h1>",
            "# Plan v2\n",
        )
        .unwrap();
    clean(pair.sync_once().await);
    assert_eq!(
        std::fs::read(a.join("Team/Plan.html")).unwrap(),
        b"<h1>Plan v2</h1>"
    );
    assert_eq!(w.calls("files/export"), 2);

    // Deleted on Dropbox: the copy goes to the trash.
    w.remove("/Team/Plan.paper").await;
    clean(pair.sync_once().await);
    assert!(!a.join("Team/Plan.html").exists());
    let trash = a.join(".nuvosync/trash");
    let trashed: Vec<_> = walk(&trash)
        .into_iter()
        .filter(|p| p.ends_with("Plan.html"))
        .collect();
    assert_eq!(trashed.len(), 1, "in the pair's trash: {trashed:?}");
    assert_eq!(std::fs::read(&trashed[0]).unwrap(), b"<h1>Plan v2</h1>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_file_in_the_way_is_not_replaced() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/Plan.html", b"mine");
    let pair = exporting(&w, "a", &a);
    clean(pair.sync_once().await);
    w.paper("/Plan.paper");
    let report = clean(pair.sync_once().await);
    assert_eq!(std::fs::read(a.join("Plan.html")).unwrap(), b"mine");
    assert!(
        report
            .issues
            .iter()
            .any(|i| i.code == "export_failed" && i.message.contains("already there")),
        "{:#?}",
        report.issues
    );
    assert_eq!(w.remote_tree().get("/Plan.html"), Some(&h(b"mine")));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    tree::walk(dir, Unlistable::PassOver, |_| false)
        .into_iter()
        .filter(|e| !e.file_type.is_dir())
        .map(|e| e.path)
        .collect()
}

/// A folder deleted on Dropbox with a Paper doc in it: the copy goes to the trash with the
/// rest and the folder is not kept here, nor made again on Dropbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_deleted_on_dropbox_with_a_doc_in_it_goes_whole() {
    let w = World::new().await;
    let a = w.folder("a");
    w.put("/Team/a.txt", b"a").await;
    w.paper("/Team/Plan.paper");
    let pair = exporting(&w, "a", &a);
    clean(pair.sync_once().await);
    assert!(a.join("Team/Plan.html").is_file());
    w.remove("/Team").await;
    clean(pair.sync_once().await);
    clean(pair.sync_once().await);
    assert!(!a.join("Team").exists(), "{:?}", local_tree(&a));
    assert!(w.remote_tree().is_empty(), "{:?}", w.remote_tree());
}

/// The setting turned off: the unchanged copies go to the trash, nothing is uploaded, and the
/// doc is a status entry again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_the_setting_off_takes_the_copies_away() {
    let w = World::new().await;
    let a = w.folder("a");
    w.paper("/Plan.paper");
    let t = World::tuning();
    t.export_documents.store(true, Ordering::Relaxed);
    let pair = w.pair_with("a", &a, t.clone(), Arc::new(w.client()));
    clean(pair.sync_once().await);
    assert!(a.join("Plan.html").is_file());
    t.export_documents.store(false, Ordering::Relaxed);
    let uploads = w.calls("files/upload");
    clean(pair.sync_once().await);
    clean(pair.sync_once().await);
    assert!(!a.join("Plan.html").exists());
    assert_eq!(w.calls("files/upload"), uploads);
    assert!(!w.remote_tree().contains_key("/Plan.html"));
}
