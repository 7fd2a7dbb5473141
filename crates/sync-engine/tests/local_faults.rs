//! What the engine does when it cannot look at something on this computer: a folder that can
//! be listed but not entered, `EIO`/`ESTALE` from a network file system, a file that cannot be
//! read, a scope whose folder became a link. Unknown is never "deleted": what cannot be seen
//! keeps its previous state on both sides and is shown as an `unreadable` issue.
//!
//! The permission case is real: `chmod 644` on a folder, with the engine running as an
//! ordinary user (tests run as root here and in CI, and root reads everything, so the test
//! runs itself again as `nobody` under `setpriv`). The I/O errors of network file systems
//! are injected into the scanner's own calls ([`sync_engine::scan::faults`]).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use sync_engine::scan::faults::{self, Op};

/// Whether this process is the one to run a test's body as an ordinary user. As root, the
/// test runs itself again as `nobody` (uid 65534, no groups, no capabilities), checks that
/// run passed, and this process does nothing more.
fn as_ordinary_user(test: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("TMPDIR", "/tmp")
        .output()
        .expect("setpriv (util-linux) runs the test as nobody");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the test as nobody failed:\n{stdout}\n{stderr}"
    );
    false
}

fn issue<'a>(report: &'a sync_engine::Report, path: &str) -> Option<&'a sync_engine::index::Issue> {
    report.issues.iter().find(|i| i.path == path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_that_cannot_be_entered_is_not_deleted_on_dropbox() {
    if !as_ordinary_user("a_folder_that_cannot_be_entered_is_not_deleted_on_dropbox") {
        record_bad_inputs("unreadable_folder_eacces", 1);
        return;
    }
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/docs/one.txt", b"one");
    write(&a, "/docs/sub/two.txt", b"two");
    write(&a, "/top.txt", b"top");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    let before = w.remote_tree();

    // Listed but not entered: `lstat` of every entry fails with EACCES.
    let docs = a.join("docs");
    std::fs::set_permissions(&docs, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(std::fs::symlink_metadata(docs.join("one.txt")).is_err());
    let report = pair.sync_once().await.unwrap();
    let restore = || std::fs::set_permissions(&docs, std::fs::Permissions::from_mode(0o755));
    assert_eq!(report.deleted_remote, 0, "{report:?}");
    if w.remote_tree() != before {
        restore().unwrap();
        panic!("Dropbox changed: {:?}", w.remote_tree());
    }
    let i = issue(&report, "/docs").unwrap_or_else(|| {
        restore().unwrap();
        panic!("no issue for /docs: {:?}", report.issues)
    });
    assert_eq!(i.code, "unreadable");
    assert!(i.message.contains("permission"), "{}", i.message);
    assert!(
        i.message.contains("chmod"),
        "says what to do: {}",
        i.message
    );

    // A change on Dropbox below waits; one elsewhere syncs.
    w.put("/docs/one.txt", b"one, edited on Dropbox").await;
    w.put("/top.txt", b"top, edited on Dropbox").await;
    pair.sync_once().await.unwrap();
    assert_eq!(
        std::fs::read(a.join("top.txt")).unwrap(),
        b"top, edited on Dropbox"
    );

    // Readable again: the edit comes down, nothing was lost, the issue is gone.
    restore().unwrap();
    let report = pair.sync_once().await.unwrap();
    assert!(issue(&report, "/docs").is_none(), "{:?}", report.issues);
    assert_eq!(
        std::fs::read(a.join("docs/one.txt")).unwrap(),
        b"one, edited on Dropbox"
    );
    assert_eq!(std::fs::read(a.join("docs/sub/two.txt")).unwrap(), b"two");
    assert_same(&w, &a);
    record_bad_inputs("unreadable_folder_eacces", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_errors_of_a_network_share_keep_what_was_there() {
    let w = World::new().await;
    let a = w.folder("a");
    for f in [
        "/net/one.txt",
        "/net/deep/two.txt",
        "/share/three.txt",
        "/mixed/bad.txt",
        "/mixed/good.txt",
        "/mixed/gone.txt",
        "/read/r.txt",
    ] {
        write(&a, f, f.as_bytes());
    }
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    let before = w.remote_tree();

    let eio = || std::io::Error::from_raw_os_error(5); // EIO
    let estale = || std::io::Error::from_raw_os_error(116); // ESTALE
    let (net, share, bad, read) = (
        a.join("net"),
        a.join("share"),
        a.join("mixed/bad.txt"),
        a.join("read/r.txt"),
    );
    let hook: faults::Hook = Arc::new(move |p: &std::path::Path, op: Op| match op {
        // Every entry of /net (and below) fails to stat; /share cannot be listed; one file of
        // /mixed fails to stat; /read/r.txt fails to open.
        Op::Stat if p.starts_with(&net) && p != net => Some(eio()),
        Op::List if p == share => Some(estale()),
        Op::Stat if p == bad => Some(eio()),
        Op::Read if p == read => Some(eio()),
        _ => None,
    });
    let injected = faults::inject(&a, hook);
    // What the user really did meanwhile: an edit that must be hashed (and cannot be read),
    // and a delete next to the file that cannot be looked at.
    write(&a, "/read/r.txt", b"edited, cannot be read");
    std::fs::remove_file(a.join("mixed/gone.txt")).unwrap();
    let report = pair.sync_once().await.unwrap();
    let mut want = before.clone();
    want.remove("/mixed/gone.txt");
    assert_eq!(
        w.remote_tree(),
        want,
        "only the real delete reached Dropbox"
    );
    for (path, what) in [
        ("/net", "error"),
        ("/share", "error"),
        ("/mixed/bad.txt", "error"),
        ("/read/r.txt", "error"),
    ] {
        let i = issue(&report, path).unwrap_or_else(|| panic!("{path}: {:?}", report.issues));
        assert_eq!(i.code, "unreadable", "{path}");
        assert!(i.message.contains(what), "{path}: {}", i.message);
        assert!(
            i.message.contains("nothing here is deleted"),
            "{}",
            i.message
        );
    }
    // A Dropbox edit of the file that cannot be read is not written over it.
    w.put("/read/r.txt", b"edited on Dropbox").await;
    pair.sync_once().await.unwrap();
    assert_eq!(
        std::fs::read(a.join("read/r.txt")).unwrap(),
        b"edited, cannot be read"
    );

    // The share is back: both edits of r.txt are kept (a conflict), nothing else changed.
    drop(injected);
    let report = pair.sync_once().await.unwrap();
    assert!(
        report.issues.iter().all(|i| i.code != "unreadable"),
        "{:?}",
        report.issues
    );
    assert_eq!(report.conflicts, 1);
    let local = local_tree(&a);
    assert_eq!(local["/read/r.txt"], h(b"edited on Dropbox"));
    assert!(
        local.values().any(|v| *v == h(b"edited, cannot be read")),
        "the local edit is kept: {local:?}"
    );
    assert_eq!(local["/net/deep/two.txt"], h(b"/net/deep/two.txt"));
    assert_same(&w, &a);
    // EIO on the stats below /net and of one file, ESTALE on a listing, EIO on a read.
    record_bad_inputs("unreadable_eio_estale", 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_below_a_folder_swapped_for_a_link_does_not_follow_it() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/inner/x.txt", b"synced");
    let pair = w.pair("a", &a);
    pair.sync_once().await.unwrap();
    // Outside the pair, a file of the same name: the link must not lead there.
    let outside = w.dir.path().join("outside");
    write(&outside, "/x.txt", b"secret, outside the pair");
    std::fs::remove_dir_all(a.join("inner")).unwrap();
    std::os::unix::fs::symlink(&outside, a.join("inner")).unwrap();
    // A file event for /inner/x.txt (as the watcher reports it) scans that path alone.
    pair.scan(&["/inner/x.txt".to_string()]).await.unwrap();
    // What was synced there is held (a link is not a delete); the target is not recorded.
    let local = pair.with_index(|ix| ix.local("/inner/x.txt").unwrap());
    assert!(
        local.as_ref().is_none_or(|n| matches!(
            &n.kind,
            sync_core::LocalKind::File { hash, .. } if Some(*hash) == h(b"synced")
        )),
        "the link's target was recorded as /inner/x.txt: {local:?}"
    );
    pair.converge(false).await.unwrap();
    let remote = w.remote_tree();
    assert!(
        !remote
            .values()
            .any(|v| *v == h(b"secret, outside the pair")),
        "{remote:?}"
    );
    assert_eq!(
        std::fs::read(outside.join("x.txt")).unwrap(),
        b"secret, outside the pair"
    );
    record_bad_inputs("scan_below_a_swapped_link", 1);
}
