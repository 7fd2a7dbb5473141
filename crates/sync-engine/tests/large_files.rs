//! Large files: multi-chunk upload sessions, and a restart mid-session that resumes at
//! Dropbox's offset without sending finished chunks again.

mod common;

use common::*;
use nuvosync_dropbox::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use sync_engine::Tuning;

const MIB: usize = 1024 * 1024;

fn small_chunks() -> Tuning {
    Tuning {
        chunk_size: MIB,
        single_request_limit: MIB,
        ..World::tuning()
    }
}

fn big_file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_goes_up_in_chunks_and_comes_down_verified() {
    let w = World::new().await;
    let a = w.folder("a");
    let data = big_file(5 * MIB + 12345);
    write(&a, "/big.bin", &data);
    let pair = w.pair_with("a", &a, small_chunks(), Arc::new(w.client()));
    pair.sync_once().await.unwrap();
    assert_eq!(w.remote_tree()["/big.bin"], h(&data));
    let b = w.folder("b");
    w.pair_with("b", &b, small_chunks(), Arc::new(w.client()))
        .sync_once()
        .await
        .unwrap();
    assert_eq!(std::fs::read(b.join("big.bin")).unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_session_resumes_without_resending_finished_chunks() {
    let w = World::new().await;
    let a = w.folder("a");
    let data = big_file(8 * MIB);
    write(&a, "/huge.bin", &data);
    let bytes_in = || w.server.emulator.stats.bytes_in.load(Ordering::Relaxed) as usize;

    // First run: the first chunk starts the session, three appends land, then the "crash".
    let appends_left = AtomicUsize::new(3);
    let hook: sync_engine::remote::Hook = Box::new(move |call| {
        if call == "session_append"
            && appends_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            return Some(Error::Network("simulated crash".into()));
        }
        None
    });
    let dying = Arc::new(sync_engine::remote::Hooked::new(Arc::new(w.client()), hook));
    let pair = w.pair_with("a", &a, small_chunks(), dying);
    let err = pair.sync_once().await.unwrap_err();
    assert!(err.to_string().contains("simulated crash"), "{err}");
    let sent_before = bytes_in();
    assert_eq!(
        sent_before,
        4 * MIB,
        "start + three appends reached Dropbox"
    );
    let stored = pair
        .with_index(|ix| ix.session("/huge.bin").unwrap())
        .expect("the session is stored");
    assert_eq!(stored.offset, 4 * MIB as u64);
    drop(pair);

    // Second run (a new process, same index): continues at 4 MiB.
    let pair = w.pair_with("a", &a, small_chunks(), Arc::new(w.client()));
    pair.sync_once().await.unwrap();
    assert_eq!(w.remote_tree()["/huge.bin"], h(&data));
    let resent = bytes_in() - sent_before - (data.len() - 4 * MIB);
    assert_eq!(resent, 0, "no finished chunk was sent again");
    assert!(
        pair.with_index(|ix| ix.session("/huge.bin").unwrap())
            .is_none(),
        "the finished session is forgotten"
    );
}
