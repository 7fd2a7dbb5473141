//! Version history and deleted files through the real `nuvosync` binary against the emulator:
//! `history` lists a file's versions newest first (also as JSON), `restore-version` makes an
//! earlier one current and the next sync brings it down while the replaced one stays in the
//! history; `deleted` lists files deleted on Dropbox (not folders, not files that exist again)
//! and `undelete` brings one back; a file made at its place meanwhile is kept.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn revs(p: &Profile, path: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&p.ok(&["history", path, "--json"])).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_versions_and_restore_version_brings_one_back_keeping_the_current() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("notes")).unwrap();
    let file = local.join("notes/draft.txt");
    std::fs::write(&file, b"first draft").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    std::fs::write(&file, b"second draft, longer").unwrap();
    p.ok(&["sync", "--once"]);
    p.put("/notes/draft.txt", b"third draft, from the web")
        .await;
    p.ok(&["sync", "--once"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"third draft, from the web");

    let path = file.to_str().unwrap();
    let list = revs(&p, path);
    assert_eq!(list.len(), 3, "{list:?}");
    let sizes: Vec<u64> = list.iter().map(|r| r["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, vec![25, 20, 11], "newest first");
    let text = p.ok(&["history", path]);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().next().unwrap().contains("(newest)"), "{text}");

    // A relative path from inside the folder names the same file.
    let out = p
        .cmd(&["history", "draft.txt", "--json"])
        .current_dir(local.join("notes"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again, list);

    // Back to the first draft: Dropbox makes it current, sync brings it down, and the
    // third draft is still in the history.
    let first = list[2]["rev"].as_str().unwrap().to_string();
    let said = p.ok(&["restore-version", path, &first]);
    assert!(said.contains("next sync"), "{said}");
    assert_eq!(p.remote_files()["/notes/draft.txt"], b"first draft");
    p.ok(&["sync", "--once"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"first draft");
    let after = revs(&p, path);
    assert_eq!(after.len(), 4, "the replaced version stays: {after:?}");
    assert_eq!(after[1]["size"].as_u64(), Some(25));

    // Wrong input says what to do.
    let out = p.run(&["restore-version", path, "0123456789abcdef"]);
    assert!(!out.status.success());
    let out = p.run(&["history", "/etc/hostname"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nuvosync pair list"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_lists_files_deleted_on_dropbox_and_undelete_brings_one_back() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("old")).unwrap();
    std::fs::write(local.join("old/a.txt"), b"aaa").unwrap();
    std::fs::write(local.join("old/b.txt"), b"bbbbb").unwrap();
    std::fs::write(local.join("keep.txt"), b"kept").unwrap();
    std::fs::write(local.join("again.txt"), b"v1").unwrap();
    p.add_pair(&[]);
    p.ok(&["sync", "--once"]);
    assert!(
        p.ok(&["deleted"]).contains("no deleted files"),
        "nothing deleted yet"
    );

    // Deleted here (and so on Dropbox): a folder of two files, and a file made again later.
    std::fs::remove_dir_all(local.join("old")).unwrap();
    std::fs::remove_file(local.join("again.txt")).unwrap();
    p.ok(&["sync", "--once"]);
    std::fs::write(local.join("again.txt"), b"v2").unwrap();
    p.ok(&["sync", "--once"]);

    let list: Vec<serde_json::Value> = serde_json::from_str(&p.ok(&["deleted", "--json"])).unwrap();
    let mut paths: Vec<&str> = list.iter().map(|d| d["path"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/old/a.txt", "/old/b.txt"], "{list:?}");
    let b = list.iter().find(|d| d["path"] == "/old/b.txt").unwrap();
    assert_eq!(b["size"].as_u64(), Some(5));
    assert!(b["deleted_at"].as_str().unwrap().ends_with('Z'));

    // Bring one back: it syncs down, into its re-made folder.
    let said = p.ok(&["undelete", local.join("old/b.txt").to_str().unwrap()]);
    assert!(said.contains("brought back"), "{said}");
    p.ok(&["sync", "--once"]);
    assert_eq!(std::fs::read(local.join("old/b.txt")).unwrap(), b"bbbbb");
    let list: Vec<serde_json::Value> = serde_json::from_str(&p.ok(&["deleted", "--json"])).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["path"], "/old/a.txt");

    // A file made here at its place meanwhile is kept next to the one brought back.
    std::fs::write(local.join("old/a.txt"), b"new here").unwrap();
    p.ok(&["undelete", local.join("old/a.txt").to_str().unwrap()]);
    p.ok(&["sync", "--once"]);
    let files = local_files(&local.join("old"));
    let contents: std::collections::BTreeSet<&[u8]> =
        files.values().map(|v| v.as_slice()).collect();
    assert!(contents.contains(&b"new here"[..]), "{files:?}");
    assert!(contents.contains(&b"aaa"[..]), "{files:?}");

    // What is not deleted, or never was, is refused with what to do.
    let out = p.run(&["undelete", local.join("keep.txt").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not deleted"), "{}", stderr(&out));
    let out = p.run(&["undelete", local.join("never.txt").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nuvosync deleted"),
        "{}",
        stderr(&out)
    );
}
