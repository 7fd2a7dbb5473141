//! The running pair as a pipeline: big transfers run in a long-lived stage of their own while
//! rounds (observe → plan → execute the small operations) go on, so a small change anywhere is
//! sent while a big file goes up or comes down — and every safety rule still holds: a path
//! with a transfer in flight is not planned again; an edit of a file being uploaded ends with
//! the newest content on Dropbox; a guard pause stops everything; a stop leaves nothing
//! partial visible, and the transfer goes on at the next start.
//!
//! The emulator's bandwidth cap (one link shared by every request) makes a big transfer take
//! seconds, as it does on a real line.

mod common;

use common::*;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use sync_engine::{PauseReason, Tuning};

const MIB: usize = 1024 * 1024;
/// The link: 2 MB/s, so the big file below takes about 6 s each way.
const LINK: u64 = 2_000_000;
const BIG: usize = 12 * MIB;

fn tuning() -> Tuning {
    Tuning {
        chunk_size: MIB,
        single_request_limit: MIB,
        ..World::tuning()
    }
}

/// The pair `a` syncing the folder `a` with the test's tuning.
fn open_pair(w: &World, a: &Path) -> Arc<sync_engine::Pair> {
    Arc::new(w.pair_with("a", a, tuning(), Arc::new(w.client())))
}

/// A pair with the test's tuning, running and through its first sync.
async fn started() -> (World, std::path::PathBuf, sync_engine::Runner) {
    let w = World::new().await;
    let a = w.folder("a");
    let runner = running(open_pair(&w, &a));
    first_sync(&runner).await;
    (w, a, runner)
}

fn big(seed: u8) -> Vec<u8> {
    (0..BIG)
        .map(|i| ((i * 31 + seed as usize * 7) % 251) as u8)
        .collect()
}

fn bytes_in(w: &World) -> u64 {
    w.server.emulator.stats.bytes_in.load(Ordering::Relaxed)
}

fn bytes_out(w: &World) -> u64 {
    w.server.emulator.stats.bytes_out.load(Ordering::Relaxed)
}

fn cap(w: &World, bytes_per_sec: u64) {
    w.server.emulator.faults.write().bandwidth_bytes_per_sec = bytes_per_sec;
}

/// Cap the link at [`LINK`], write `data` at `rel` and wait until 2 MiB of it went up
/// (`what`). Returns the emulator's bytes in before the write.
async fn start_big_upload(w: &World, a: &Path, rel: &str, data: &[u8], what: &str) -> u64 {
    cap(w, LINK);
    let start = bytes_in(w);
    write(a, rel, data);
    eventually(what, Duration::from_secs(10), || {
        bytes_in(w) >= start + 2 * MIB as u64
    })
    .await;
    start
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_edit_goes_up_while_a_big_upload_runs() {
    let w = World::new().await;
    let a = w.folder("a");
    write(&a, "/docs/notes.txt", b"v1");
    let runner = running(open_pair(&w, &a));
    first_sync(&runner).await;
    eventually(
        "the first sync is on Dropbox",
        Duration::from_secs(10),
        || w.remote_tree().get("/docs/notes.txt") == Some(&h(b"v1")),
    )
    .await;

    let data = big(1);
    start_big_upload(
        &w,
        &a,
        "/media/big.bin",
        &data,
        "the big upload is under way",
    )
    .await;
    write(&a, "/docs/notes.txt", b"v2, a small edit");
    eventually(
        "the small edit reaches Dropbox",
        Duration::from_secs(20),
        || w.remote_tree().get("/docs/notes.txt") == Some(&h(b"v2, a small edit")),
    )
    .await;
    assert!(
        !w.remote_tree().contains_key("/media/big.bin"),
        "the small edit waited for the big upload to end"
    );
    eventually(
        "the big file reaches Dropbox",
        Duration::from_secs(30),
        || w.remote_tree().get("/media/big.bin") == Some(&h(&data)),
    )
    .await;
    cap(&w, 0);
    eventually("in sync", Duration::from_secs(10), || {
        folded(&local_tree(&a)) == folded(&w.remote_tree())
    })
    .await;
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_remote_change_comes_down_while_a_big_download_runs() {
    let (w, a, runner) = started().await;
    let data = big(2);
    cap(&w, LINK);
    let start = bytes_out(&w);
    w.put("/media/big.bin", &data).await;
    eventually(
        "the big download is under way",
        Duration::from_secs(10),
        || bytes_out(&w) >= start + 2 * MIB as u64,
    )
    .await;
    w.put("/docs/small.txt", b"a small change on the web").await;
    eventually("the small change is here", Duration::from_secs(20), || {
        std::fs::read(a.join("docs/small.txt")).ok().as_deref()
            == Some(b"a small change on the web".as_slice())
    })
    .await;
    assert!(
        !a.join("media/big.bin").exists(),
        "the small change waited for the big download to end"
    );
    eventually("the big file is here", Duration::from_secs(30), || {
        a.join("media/big.bin")
            .metadata()
            .is_ok_and(|m| m.len() == BIG as u64)
    })
    .await;
    assert_eq!(std::fs::read(a.join("media/big.bin")).unwrap(), data);
    cap(&w, 0);
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_file_being_uploaded_ends_with_the_newest_content_on_dropbox() {
    let (w, a, runner) = started().await;
    let (v1, v2) = (big(3), big(4));
    let start = start_big_upload(&w, &a, "/big.bin", &v1, "the upload of v1 is under way").await;
    // Written in place, as an editor that saves over the file does.
    write(&a, "/big.bin", &v2);
    eventually("v2 reaches Dropbox", Duration::from_secs(40), || {
        w.remote_tree().get("/big.bin") == Some(&h(&v2))
    })
    .await;
    // It stays so: nothing older lands after it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.remote_tree().get("/big.bin"), Some(&h(&v2)));
    assert_eq!(std::fs::read(a.join("big.bin")).unwrap(), v2);
    let names: Vec<String> = local_tree(&a).into_keys().collect();
    assert_eq!(names, ["/big.bin"], "no conflicted copy, nothing else");
    // The upload of v1 stopped when the file changed instead of running to its end first.
    let sent = bytes_in(&w) - start;
    assert!(
        sent < (BIG + BIG / 2) as u64,
        "{sent} bytes sent for two versions of {BIG} bytes: the stale upload ran on"
    );
    cap(&w, 0);
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_pause_stops_the_big_transfer_and_every_small_operation() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..60 {
        write(
            &a,
            &format!("/f/{i:02}.txt"),
            format!("file {i}").as_bytes(),
        );
    }
    let pair = open_pair(&w, &a);
    let runner = running(pair.clone());
    eventually("the first sync", Duration::from_secs(20), || {
        runner.status().last_sync.is_some() && w.remote_tree().len() >= 61
    })
    .await;
    let data = big(5);
    start_big_upload(&w, &a, "/big.bin", &data, "the big upload is under way").await;
    // Most of the folder goes at once, and a new small file comes with it.
    for i in 0..55 {
        std::fs::remove_file(a.join(format!("f/{i:02}.txt"))).unwrap();
    }
    write(&a, "/new.txt", b"made during the mass delete");
    eventually("the pair pauses", Duration::from_secs(3), || {
        matches!(runner.status().pause, Some(PauseReason::MassDelete { .. }))
    })
    .await;
    // While paused: nothing is deleted, the new file is not sent, the big upload is stopped.
    let paused_at = bytes_in(&w);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let remote = w.remote_tree();
    assert!(
        remote.contains_key("/f/00.txt"),
        "deleted on Dropbox while paused"
    );
    assert!(
        !remote.contains_key("/new.txt"),
        "a new file went up while paused"
    );
    assert!(
        !remote.contains_key("/big.bin"),
        "the big upload went on while paused"
    );
    assert!(
        bytes_in(&w) - paused_at <= 2 * MIB as u64,
        "{} bytes sent while paused",
        bytes_in(&w) - paused_at
    );
    cap(&w, 0);
    runner.resume(true);
    eventually(
        "everything goes after the confirmation",
        Duration::from_secs(30),
        || {
            let r = w.remote_tree();
            r.get("/big.bin") == Some(&h(&data))
                && r.contains_key("/new.txt")
                && !r.contains_key("/f/00.txt")
        },
    )
    .await;
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_big_transfers_leaves_nothing_partial_and_they_go_on_at_the_next_start() {
    let w = World::new().await;
    let a = w.folder("a");
    let open = || open_pair(&w, &a);
    let runner = running(open());
    first_sync(&runner).await;
    let (up, down) = (big(6), big(7));
    // The co-author's file is put next to the pair's folder and moved in once the upload
    // runs, so both transfers are under way at once.
    let c = w.client();
    let beside = "/Acme/Research/down.bin";
    c.upload(
        &nuvosync_dropbox::Commit {
            path: beside.into(),
            mode: nuvosync_dropbox::WriteMode::Add,
            autorename: false,
            strict_conflict: false,
            client_modified: None,
        },
        bytes::Bytes::copy_from_slice(&down),
    )
    .await
    .unwrap();
    cap(&w, LINK);
    let (in0, out0) = (bytes_in(&w), bytes_out(&w));
    write(&a, "/up.bin", &up);
    eventually("the upload is under way", Duration::from_secs(15), || {
        bytes_in(&w) >= in0 + 2 * MIB as u64
    })
    .await;
    c.move_entry(beside, &format!("{ROOT}/down.bin"))
        .await
        .unwrap();
    eventually("the download is under way", Duration::from_secs(15), || {
        bytes_out(&w) >= out0 + 2 * MIB as u64
    })
    .await;
    assert!(
        !a.join("down.bin").exists() && !w.remote_tree().contains_key("/up.bin"),
        "a transfer ended before both were under way: here {:?}, on Dropbox {:?}, in {} out {}",
        a.join("down.bin").exists(),
        w.remote_tree().contains_key("/up.bin"),
        bytes_in(&w) - in0,
        bytes_out(&w) - out0
    );
    let t = Instant::now();
    runner.stop().await;
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "the stop took {:?}",
        t.elapsed()
    );
    let (in_stop, out_stop) = (bytes_in(&w), bytes_out(&w));
    // Nothing partial anywhere: not on Dropbox, not in the folder.
    assert!(!w.remote_tree().contains_key("/up.bin"));
    assert!(
        !a.join("down.bin").exists(),
        "a partial download is visible in the folder"
    );
    assert!(
        in_stop - in0 < BIG as u64 && out_stop - out0 < BIG as u64,
        "the transfers ended before the stop"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bytes_in(&w), in_stop, "uploading after the stop");

    // The next start goes on where they stopped.
    cap(&w, 0);
    let runner = running(open());
    eventually("both files arrive", Duration::from_secs(30), || {
        w.remote_tree().get("/up.bin") == Some(&h(&up))
            && std::fs::read(a.join("down.bin")).ok().as_deref() == Some(down.as_slice())
    })
    .await;
    runner.stop().await;
    let resent = bytes_in(&w) - in0 - BIG as u64;
    let refetched = bytes_out(&w) - out0 - BIG as u64;
    assert!(
        resent <= MIB as u64,
        "{resent} bytes of the upload sent again"
    );
    assert!(
        refetched <= 2 * MIB as u64,
        "{refetched} bytes of the download fetched again"
    );
    assert_same(&w, &a);
}

/// What front ends ask (status counts, conflicts, history) is read while a round holds the
/// index — a round over a million files holds it for seconds, and a status that waited for it
/// left the tray and `nuvosync status` hanging through a first sync. Front ends read through
/// the pair's read-only view of the index, which sees the last committed state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_ends_read_the_index_while_a_round_holds_it() {
    let w = World::new().await;
    let a = w.folder("a");
    std::fs::write(a.join("one.txt"), b"one").unwrap();
    std::fs::write(a.join("two.txt"), b"two!").unwrap();
    let pair = open_pair(&w, &a);
    clean(pair.sync_once().await);

    // A round holds the index until the read below is done (or 20 s went by).
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (read_tx, read_rx) = std::sync::mpsc::channel::<()>();
    let round = {
        let pair = pair.clone();
        std::thread::spawn(move || {
            pair.with_index(|_| {
                held_tx.send(()).unwrap();
                read_rx.recv_timeout(Duration::from_secs(20)).is_ok()
            })
        })
    };
    held_rx.recv().unwrap();
    let (files, bytes) = pair
        .with_reader(|ix| ix.synced_totals())
        .expect("the totals are read");
    let _ = read_tx.send(());
    assert!(
        round.join().unwrap(),
        "the read waited for the round's hold on the index"
    );
    assert_eq!((files, bytes), (2, 7), "what the last sync committed");
}
