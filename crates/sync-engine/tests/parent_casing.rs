//! Dropbox's `path_display` is reliably cased only in its last component: "at least the last
//! path component will have the correct casing" (files.stone `Metadata.path_display`). The
//! emulator shows parents the way Dropbox may — in the casing a request used, or the one a
//! folder had before a case-only rename, picked by its seed — so these tests fail for a client
//! that takes a parent's casing from a child's path: a second folder on a case-sensitive disk,
//! a local rename back and forth, a move on Dropbox nobody made.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

/// The parent casings Dropbox shows for the entries under `folder` (relative to ROOT).
async fn parent_casings(w: &World, cursor: Option<&str>, folder: &str) -> BTreeSet<String> {
    let c = w.client();
    let page = match cursor {
        Some(cur) => c.list_continue(cur).await.unwrap(),
        None => c.list_folder(ROOT, true, None).await.unwrap(),
    };
    let prefix = format!("{ROOT}/{folder}/").to_lowercase();
    page.entries
        .iter()
        .filter(|e| !matches!(e, nuvosync_dropbox::Entry::Deleted { .. }))
        .map(|e| e.path_display().to_string())
        .filter(|p| p.to_lowercase().starts_with(&prefix))
        .map(|p| p[ROOT.len() + 1..ROOT.len() + 1 + folder.len()].to_string())
        .collect()
}

/// The next run uploads, downloads and moves nothing, and leaves the folder `a` as it is.
async fn next_run_is_quiet(pair: &sync_engine::Pair, a: &std::path::Path) {
    let before = local_tree(a);
    let report = clean(pair.sync_once().await);
    assert_eq!(
        (report.uploaded, report.downloaded, report.moved),
        (0, 0, 0),
        "{report:?}"
    );
    assert_eq!(local_tree(a), before, "stable on the next run");
}

/// Every local folder name, as it is on disk.
fn local_folders(root: &std::path::Path) -> Vec<String> {
    local_tree(root)
        .into_iter()
        .filter(|(_, h)| h.is_none())
        .map(|(p, _)| p)
        .collect()
}

/// Children written through other casings of their folder arrive with those casings in
/// their parents; they all land in the one local folder named as the folder is, on a
/// case-sensitive disk, and the next runs change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_shown_under_other_parent_casings_land_in_one_folder() {
    let w = World::new().await;
    w.put("/Docs/a.txt", b"a").await;
    for (i, p) in ["docs", "DOCS", "dOCS", "DoCs", "docS"].iter().enumerate() {
        w.put(&format!("/{p}/f{i}.txt"), format!("{i}").as_bytes())
            .await;
    }
    w.put("/DOCS/Inner/c.txt", b"c").await;
    w.put("/docs/INNER/d.txt", b"d").await;
    let shown = parent_casings(&w, None, "docs").await;
    assert!(
        shown.len() >= 3,
        "the listing shows the folder under several casings: {shown:?}"
    );

    let a = w.folder("a");
    let pair = w.pair("a", &a);
    clean(pair.sync_once().await);
    assert_eq!(
        local_folders(&a),
        vec!["/Docs".to_string(), "/Docs/Inner".to_string()]
    );
    assert_eq!(local_tree(&a).len(), 2 + 6 + 2, "{:?}", local_tree(&a));
    assert_same(&w, &a);

    let (moves, uploads) = (w.calls("files/move_v2"), w.calls("files/upload"));
    next_run_is_quiet(&pair, &a).await;
    assert_eq!(w.calls("files/move_v2"), moves, "no move on Dropbox");
    assert_eq!(w.calls("files/upload"), uploads, "nothing uploaded");
}

/// A folder renamed by case on Dropbox (on the web): its children keep showing the old
/// casing in their parents. The local folder is renamed once, in place (same inode), no
/// second folder appears, nothing is downloaded again, and no move goes back to Dropbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_only_rename_on_dropbox_with_children_showing_the_old_casing() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..6 {
        write(&a, &format!("/Proj/f{i}.txt"), format!("{i}").as_bytes());
    }
    write(&a, "/Proj/Sub/x.txt", b"x");
    let pair = w.pair("a", &a);
    clean(pair.sync_once().await);
    let inode = std::fs::metadata(a.join("Proj/f0.txt")).unwrap().ino();
    let cursor = w.client().latest_cursor(ROOT, true).await.unwrap();

    w.mv("/Proj", "/PROJ").await;
    let shown = parent_casings(&w, Some(&cursor), "proj").await;
    assert!(
        shown.contains("Proj"),
        "some child still shows the old casing: {shown:?}"
    );

    let moves = w.calls("files/move_v2");
    let report = clean(pair.sync_once().await);
    assert_eq!(report.downloaded, 0, "renamed in place: {report:?}");
    assert_eq!(
        local_folders(&a),
        vec!["/PROJ".to_string(), "/PROJ/Sub".to_string()]
    );
    assert_eq!(
        std::fs::metadata(a.join("PROJ/f0.txt")).unwrap().ino(),
        inode
    );
    assert_eq!(w.calls("files/move_v2"), moves, "no move back on Dropbox");
    assert_same(&w, &a);

    // A file added here under the folder: its upload answer may show the old casing too.
    write(&a, "/PROJ/new.txt", b"new");
    clean(pair.sync_once().await);
    let before = local_tree(&a);
    let report = clean(pair.sync_once().await);
    assert_eq!((report.uploaded, report.moved), (0, 0), "{report:?}");
    assert_eq!(local_tree(&a), before);
    assert_eq!(
        local_folders(&a),
        vec!["/PROJ".to_string(), "/PROJ/Sub".to_string()]
    );
    assert_eq!(w.calls("files/move_v2"), moves, "no move on Dropbox");
    assert_same(&w, &a);
}

/// A file uploaded here into a folder whose casing on Dropbox changed meanwhile (the request
/// uses the local casing): the answer shows the request's parents. The folder ends up as
/// Dropbox names it, once, with both files in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_into_a_folder_recased_on_dropbox_meanwhile_makes_no_second_folder() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/Data/old.txt", b"old");
    let pair = w.pair("a", &a);
    clean(pair.sync_once().await);
    w.mv("/Data", "/DATA").await;
    for i in 0..4 {
        write(&a, &format!("/Data/new{i}.txt"), format!("{i}").as_bytes());
    }
    clean(pair.sync_once().await);
    clean(pair.sync_once().await);
    assert_eq!(local_folders(&a), vec!["/DATA".to_string()]);
    assert_eq!(local_tree(&a).len(), 1 + 5, "{:?}", local_tree(&a));
    let remote = w.remote_tree();
    assert!(remote.contains_key("/DATA/new3.txt"), "{remote:?}");
    assert_same(&w, &a);
    next_run_is_quiet(&pair, &a).await;
}

/// Two pairs on one account: one renames a folder by case, the other sees its children under
/// both casings; both end up with one folder of the new name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_only_rename_here_reaches_another_computer_as_one_folder() {
    let w = World::new().await;
    let (a, b) = (w.folder("a"), w.folder("b"));
    for i in 0..5 {
        write(&a, &format!("/notes/n{i}.md"), format!("{i}").as_bytes());
    }
    let (pa, pb) = (w.pair("a", &a), w.pair("b", &b));
    clean(pa.sync_once().await);
    clean(pb.sync_once().await);
    std::fs::rename(a.join("notes"), a.join("Notes")).unwrap();
    write(&b, "/notes/from-b.md", b"b");
    clean(pa.sync_once().await);
    clean(pb.sync_once().await);
    clean(pa.sync_once().await);
    clean(pb.sync_once().await);
    assert_eq!(local_folders(&a), vec!["/Notes".to_string()]);
    assert_eq!(local_folders(&b), vec!["/Notes".to_string()]);
    assert_eq!(local_tree(&a), local_tree(&b));
    assert_eq!(local_tree(&a).len(), 1 + 6);
    assert_same(&w, &a);
}
