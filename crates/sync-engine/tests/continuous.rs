//! Continuous sync: changes on either side show up on the other by themselves — through
//! file events, Dropbox's longpoll, or (with watching off) the periodic rescan.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use sync_engine::{RunOptions, Runner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_flow_both_ways_while_running() {
    let w = World::new().await;
    let a = w.folder("a");
    let runner = running(Arc::new(w.pair("a", &a)));
    first_sync(&runner).await;

    write(&a, "/new.txt", b"made here");
    let up = eventually(
        "a local file reaches Dropbox",
        Duration::from_secs(10),
        || w.remote_tree().get("/new.txt") == Some(&h(b"made here")),
    )
    .await;
    w.put("/remote.txt", b"made there").await;
    let down = eventually(
        "a Dropbox file reaches the disk",
        Duration::from_secs(10),
        || a.join("remote.txt").exists(),
    )
    .await;
    assert_eq!(std::fs::read(a.join("remote.txt")).unwrap(), b"made there");
    eprintln!("local → Dropbox {up:?}, Dropbox → local {down:?}");

    std::fs::rename(a.join("new.txt"), a.join("renamed.txt")).unwrap();
    eventually("a rename reaches Dropbox", Duration::from_secs(10), || {
        w.remote_tree().contains_key("/renamed.txt") && !w.remote_tree().contains_key("/new.txt")
    })
    .await;
    std::fs::remove_file(a.join("remote.txt")).unwrap();
    eventually("a delete reaches Dropbox", Duration::from_secs(10), || {
        !w.remote_tree().contains_key("/remote.txt")
    })
    .await;
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_means_idle_the_engine_does_not_wake_itself() {
    // The engine's own scans and uploads open every folder and file they look at; the
    // watcher must not take those opens for changes (else each scan sets off the next).
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..20 {
        write(
            &a,
            &format!("/d{}/f{i}.txt", i % 4),
            format!("file {i}").as_bytes(),
        );
    }
    let pair = Arc::new(w.pair("a", &a));
    let runner = running(pair.clone());
    eventually("first sync", Duration::from_secs(10), || {
        runner.status().last_sync.is_some() && w.remote_tree().len() >= 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = pair.scans();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = pair.scans();
    assert_eq!(
        after,
        before,
        "the pair scanned {} times in 2 s with nothing changing",
        after - before
    );
    // ...and a real change still wakes it.
    write(&a, "/d0/late.txt", b"late");
    eventually(
        "a change after idling reaches Dropbox",
        Duration::from_secs(10),
        || w.remote_tree().contains_key("/d0/late.txt"),
    )
    .await;
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_folder_full_of_files_arrives_as_it_is_no_clashes() {
    // The watcher reports the folder and each file in it; the scan of that burst must see
    // every file once (seen twice, a file was taken for a case clash with itself).
    let w = World::new().await;
    let a = w.folder("a");
    let runner = running(Arc::new(w.pair("a", &a)));
    first_sync(&runner).await;
    std::fs::create_dir(a.join("bulk")).unwrap();
    let want: Vec<String> = (0..60).map(|i| format!("/bulk/file-{i:02}.txt")).collect();
    for p in &want {
        write(&a, p, p.as_bytes());
    }
    eventually("60 files on Dropbox", Duration::from_secs(20), || {
        want.iter()
            .all(|p| w.remote_tree().get(p) == Some(&h(p.as_bytes())))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut on_disk: Vec<String> = std::fs::read_dir(a.join("bulk"))
        .unwrap()
        .map(|e| format!("/bulk/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, want, "files renamed on disk");
    let mut remote: Vec<String> = w
        .remote_tree()
        .into_keys()
        .filter(|k| k.starts_with("/bulk/"))
        .collect();
    remote.sort();
    assert_eq!(remote, want, "extra files on Dropbox");
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_file_events_the_rescan_finds_files_written_behind_its_back() {
    let w = World::new().await;
    let a = w.folder("a");
    let opts = RunOptions {
        watch: false,
        rescan_interval: Duration::from_secs(2),
        longpoll_secs: 30,
        paused: false,
        ..RunOptions::default()
    };
    let runner = Runner::spawn(Arc::new(w.pair("a", &a)), opts);
    first_sync(&runner).await;
    assert!(!runner.status().watching);
    // Another host on a network file system writes a file: no event reaches us.
    write(&a, "/from-another-host.dat", b"nfs");
    let t = eventually("the rescan picks it up", Duration::from_secs(8), || {
        w.remote_tree().contains_key("/from-another-host.dat")
    })
    .await;
    assert!(
        t <= Duration::from_secs(5),
        "within the rescan interval: {t:?}"
    );
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_authors_change_arrives_by_longpoll_not_by_the_rescan() {
    // Longpoll is a no-auth route (files.stone): Dropbox, and the emulator, refuse it with a
    // 400 when it carries an Authorization header. With no file events and no rescan within
    // the test's time, only a working longpoll brings the change in.
    let w = World::new().await;
    let a = w.folder("a");
    let opts = RunOptions {
        watch: false,
        rescan_interval: Duration::from_secs(3600),
        longpoll_secs: 30,
        paused: false,
        ..RunOptions::default()
    };
    let runner = Runner::spawn(Arc::new(w.pair("a", &a)), opts);
    first_sync(&runner).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the longpoll is waiting
    w.put("/from-a-co-author.txt", b"written on the web").await;
    let t = eventually("the change arrives", Duration::from_secs(5), || {
        a.join("from-a-co-author.txt").exists()
    })
    .await;
    eprintln!("co-author's change on disk after {t:?}");
    let routes = w.server.emulator.stats.routes.lock().unwrap().clone();
    assert!(
        routes
            .get("files/list_folder/longpoll")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_transfers_and_resume_catches_up() {
    let w = World::new().await;
    let a = w.folder("a");
    let runner = running(Arc::new(w.pair("a", &a)));
    first_sync(&runner).await;
    runner.pause();
    write(&a, "/while-paused.txt", b"p");
    w.put("/remote-while-paused.txt", b"r").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !w.remote_tree().contains_key("/while-paused.txt"),
        "nothing moves while paused"
    );
    assert!(!a.join("remote-while-paused.txt").exists());
    runner.resume(false);
    eventually("resume catches up", Duration::from_secs(10), || {
        w.remote_tree().contains_key("/while-paused.txt")
            && a.join("remote-while-paused.txt").exists()
    })
    .await;
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_pressed_during_a_step_outlasts_the_step() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..40 {
        write(&a, &format!("/f{i}.txt"), format!("{i}").as_bytes());
    }
    // Slow Dropbox: the first step takes a while.
    w.server.emulator.faults.write().latency_ms = 60;
    let runner = running(Arc::new(w.pair("a", &a)));
    // Pause once uploads are under way, i.e. in the middle of the first step.
    eventually(
        "the first uploads to start",
        Duration::from_secs(10),
        || {
            let routes = w.server.emulator.stats.routes.lock().unwrap();
            routes.keys().any(|r| r.starts_with("files/upload"))
        },
    )
    .await;
    runner.pause();
    eventually("the step to end", Duration::from_secs(30), || {
        runner.status().last_sync.is_some()
    })
    .await;
    let s = runner.status();
    assert_eq!(s.state, sync_engine::PairState::Paused, "{s:?}");
    assert_eq!(s.code.as_deref(), Some("user"));
    w.server.emulator.faults.write().latency_ms = 0;
    runner.resume(false);
    eventually("up to date after resuming", Duration::from_secs(20), || {
        runner.status().state == sync_engine::PairState::UpToDate
    })
    .await;
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_pauses_the_running_pair_until_resumed_with_confirmation() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..70 {
        write(&a, &format!("/data/f{i}"), b"x");
    }
    for i in 0..60 {
        write(&a, &format!("/more/g{i}"), b"y");
    }
    let runner = running(Arc::new(w.pair("a", &a)));
    eventually("first sync", Duration::from_secs(20), || {
        w.remote_tree().len() == 132 && runner.status().last_sync.is_some()
    })
    .await;
    // Someone deletes the folder on dropbox.com.
    w.remove("/data").await;
    eventually("the guard pauses", Duration::from_secs(10), || {
        runner.status().code.as_deref() == Some("mass_delete")
    })
    .await;
    assert_eq!(local_tree(&a).len(), 132, "nothing deleted locally");
    assert_eq!(
        runner.status().state,
        sync_engine::PairState::Attention,
        "a guard's pause waits for the user"
    );
    runner.resume(true);
    eventually(
        "confirmed deletes go ahead",
        Duration::from_secs(10),
        || !a.join("data").exists(),
    )
    .await;
    // Deletions trickling in one by one are counted together: at most the guard's floor
    // goes before it pauses.
    for i in 0..60 {
        w.remove(&format!("/more/g{i}")).await;
    }
    eventually("the guard pauses again", Duration::from_secs(10), || {
        runner.status().code.as_deref() == Some("mass_delete")
    })
    .await;
    let left = local_tree(&a).len();
    assert!(
        left >= 60 - 50,
        "at most 50 files went before the pause, {} are left",
        left
    );
    runner.stop().await;
}

/// The inodes of the folders this process watches for file events (every inotify instance
/// it has), as the kernel lists them in `/proc/self/fdinfo`.
fn watched_inodes() -> std::collections::BTreeSet<u64> {
    let mut out = std::collections::BTreeSet::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let inotify = std::fs::read_link(fd.path())
            .is_ok_and(|t| t.to_string_lossy() == "anon_inode:inotify");
        if !inotify {
            continue;
        }
        let info =
            std::fs::read_to_string(std::path::Path::new("/proc/self/fdinfo").join(fd.file_name()))
                .unwrap_or_default();
        // "inotify wd:1 ino:2a0041 sdev:800021 mask:..." — the inode in hex.
        for line in info.lines().filter(|l| l.starts_with("inotify ")) {
            if let Some(ino) = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("ino:"))
                .and_then(|h| u64::from_str_radix(h, 16).ok())
            {
                out.insert(ino);
            }
        }
    }
    out
}

fn inode(p: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().ino()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_synced_is_not_watched_and_new_folders_are() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/docs/sub/a.txt", b"a");
    write(&a, "/big/inner/huge.bin", b"excluded");
    write(&a, "/build/out/x.o", b"ignored");
    write(&a, "/.nuvosyncignore", b"build/\n");
    let pair = Arc::new(w.pair_excluding("a", &a, &["/big"]));
    let runner = running(pair);
    first_sync(&runner).await;
    assert!(runner.status().watching);
    std::fs::create_dir_all(a.join(".nuvosync/tmp")).unwrap();
    let watched = watched_inodes();
    for p in ["", "docs", "docs/sub"] {
        assert!(watched.contains(&inode(&a.join(p))), "/{p} is not watched");
    }
    for p in [".nuvosync", "big", "big/inner", "build", "build/out"] {
        assert!(
            !watched.contains(&inode(&a.join(p))),
            "/{p} is watched, though it is not synced"
        );
    }
    // A folder made while running is watched, with what was made in it at once: a file
    // written into it later arrives by its event (the periodic rescan is a minute away).
    std::fs::create_dir_all(a.join("docs/new/deeper")).unwrap();
    write(&a, "/docs/new/deeper/first.txt", b"1");
    eventually(
        "the new folder's file on Dropbox",
        Duration::from_secs(10),
        || w.remote_tree().contains_key("/docs/new/deeper/first.txt"),
    )
    .await;
    assert!(watched_inodes().contains(&inode(&a.join("docs/new/deeper"))));
    write(&a, "/docs/new/deeper/second.txt", b"2");
    eventually(
        "a file written later arrives too",
        Duration::from_secs(5),
        || w.remote_tree().contains_key("/docs/new/deeper/second.txt"),
    )
    .await;
    runner.stop().await;
}

/// A watched folder renamed while running is watched under its new name (a file written deep
/// in it later arrives by its event, not at the periodic rescan), and a folder moved out of
/// the pair's folder takes its watches with it: what this process watches is exactly the
/// folders the pair syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_folder_stays_watched_and_one_moved_out_is_not() {
    let w = World::new().await;
    let a = w.folder("a");
    let outside = w.folder("outside");
    write(&a, "/proj/sub/deep/a.txt", b"a");
    write(&a, "/other/o.txt", b"o");
    let before = watched_inodes();
    let runner = Runner::spawn(
        Arc::new(w.pair("a", &a)),
        RunOptions {
            rescan_interval: Duration::from_secs(3600),
            ..RunOptions::default()
        },
    );
    first_sync(&runner).await;
    let ours = |w: &std::collections::BTreeSet<u64>| w.difference(&before).count();
    assert_eq!(ours(&watched_inodes()), 5, "/, proj, sub, deep, other");
    std::fs::rename(a.join("proj"), a.join("renamed")).unwrap();
    eventually("the rename on Dropbox", Duration::from_secs(10), || {
        w.remote_tree().contains_key("/renamed/sub/deep/a.txt")
    })
    .await;
    write(&a, "/renamed/sub/deep/b.txt", b"b");
    eventually(
        "a file written in the renamed folder arrives by its event",
        Duration::from_secs(10),
        || w.remote_tree().contains_key("/renamed/sub/deep/b.txt"),
    )
    .await;
    for p in ["renamed", "renamed/sub", "renamed/sub/deep"] {
        assert!(
            watched_inodes().contains(&inode(&a.join(p))),
            "/{p} is not watched"
        );
    }
    // Moved out of the pair's folder: deleted on Dropbox, and no longer watched.
    std::fs::rename(a.join("renamed"), outside.join("gone")).unwrap();
    eventually("the move out on Dropbox", Duration::from_secs(10), || {
        !w.remote_tree().contains_key("/renamed/sub/deep/a.txt")
    })
    .await;
    eventually(
        "only the pair's folders watched",
        Duration::from_secs(5),
        || ours(&watched_inodes()) == 2,
    )
    .await;
    // What happens out there now sets nothing off.
    let scans = runner.pair().scans();
    write(&outside, "/gone/sub/deep/c.txt", b"c");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        runner.pair().scans(),
        scans,
        "a change outside set off a scan"
    );
    runner.stop().await;
}

/// Past the watch limit (a small `max_watches` stands in for a full inotify table) the pair
/// keeps working: the folders it could not watch are rescanned on their own, soon — not at the
/// next full rescan, an hour away here — and the status says so and how to raise the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_past_the_watch_limit_are_rescanned_on_their_own() {
    let w = World::new().await;
    let a = w.folder("a");
    for d in ["one", "two", "three", "four"] {
        write(&a, &format!("/{d}/deep/start.txt"), b"s");
    }
    let before = watched_inodes();
    let opts = RunOptions {
        rescan_interval: Duration::from_secs(3600),
        max_watches: Some(3),
        unwatched_rescan: Duration::from_millis(500),
        ..RunOptions::default()
    };
    let runner = Runner::spawn(Arc::new(w.pair("a", &a)), opts);
    first_sync(&runner).await;
    let st = runner.status();
    assert!(
        st.watching,
        "the folders within the limit are still watched"
    );
    assert_eq!(
        st.watch_problem.as_deref(),
        Some(sync_engine::runner::WATCH_LIMIT_HINT)
    );
    let ours: Vec<u64> = watched_inodes().difference(&before).copied().collect();
    assert_eq!(ours.len(), 3, "exactly the limit is watched: {ours:?}");
    // Every folder gets a new file: each arrives soon, watched or not.
    for d in ["one", "two", "three", "four"] {
        write(&a, &format!("/{d}/deep/later.txt"), b"l");
    }
    let t = eventually("every new file on Dropbox", Duration::from_secs(20), || {
        let tree = w.remote_tree();
        ["one", "two", "three", "four"]
            .iter()
            .all(|d| tree.contains_key(&format!("/{d}/deep/later.txt")))
    })
    .await;
    eprintln!("files in unwatched folders on Dropbox after {t:?}");
    runner.stop().await;
}

/// A hand edit of `.nuvosyncignore` applies at once, without a restart: a newly ignored file
/// stays here (and what was synced of it stays on Dropbox), and a folder no longer ignored is
/// synced and watched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_the_ignore_file_applies_without_a_restart() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/keep.txt", b"k");
    write(&a, "/build/out.o", b"object");
    write(&a, "/.nuvosyncignore", b"build/\n");
    let runner = running(Arc::new(w.pair("a", &a)));
    first_sync(&runner).await;
    assert!(!w.remote_tree().contains_key("/build/out.o"));

    // Logs are ignored from now on; build/ is synced again.
    write(&a, "/.nuvosyncignore", b"*.log\n");
    eventually("build/ is synced", Duration::from_secs(10), || {
        w.remote_tree().contains_key("/build/out.o")
    })
    .await;
    write(&a, "/run.log", b"noise");
    write(&a, "/build/more.o", b"more");
    eventually(
        "a file in the folder no longer ignored arrives by its event",
        Duration::from_secs(10),
        || w.remote_tree().contains_key("/build/more.o"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !w.remote_tree().contains_key("/run.log"),
        "a newly ignored name is not uploaded"
    );
    assert!(a.join("run.log").exists());
    runner.stop().await;
}
