//! A slow or silent network, as the engine meets it: one request that stops answering fails
//! that operation only — the rest of the run goes on, the operation is tried again, and the
//! run ends in sync; it is never taken for "offline".

mod common;

use common::*;
use nuvosync_dropbox::{Client, Credential, Secret};
use std::sync::Arc;

fn stalling_client(w: &World, stall: std::time::Duration) -> Client {
    let retry = nuvosync_dropbox::transport::RetryPolicy {
        stall,
        ..Default::default()
    };
    Client::with_policy(
        nuvosync_test_support::emulator::endpoints(&w.server),
        Credential::Either {
            token: Secret::new("tok-ada"),
            app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
        },
        retry,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_silent_request_fails_one_operation_not_the_run() {
    let w = World::new().await;
    let a = w.folder("a");
    for i in 0..3 {
        write(&a, &format!("/f{i}.txt"), format!("file {i}").as_bytes());
    }
    {
        let mut f = w.server.emulator.faults.write();
        f.stall_ms = 30_000;
        f.corrupt.push(dropbox_emulator::faults::Corruption {
            route: "files/upload".into(),
            kind: dropbox_emulator::faults::Corrupt::Stall,
            count: 1,
        });
    }
    let client = stalling_client(&w, std::time::Duration::from_secs(1));
    let pair = w.pair_with("a", &a, World::tuning(), Arc::new(client));
    let t = std::time::Instant::now();
    let report = pair
        .sync_once()
        .await
        .expect("a stalled upload must not end the run as offline");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
    // The silent upload landed although its answer never came: the next round finds the
    // file the same on both sides, so it counts as agreed rather than uploaded.
    assert!(report.uploaded >= 2, "{report:?}");
    assert!(
        report.failed.is_empty() && report.issues.is_empty(),
        "nothing is left failed or flagged: {report:?}"
    );
    assert_same(&w, &a);
    // The stall was really met (the fault was spent).
    assert!(w.server.emulator.faults.read().corrupt.is_empty());
}

/// Bodies that break off once `left` bytes were read through all of them together (a
/// connection lost mid-download, and lost again at every retry of the run).
struct BreaksOff {
    inner: sync_engine::remote::Body,
    left: Arc<std::sync::atomic::AtomicU64>,
}

fn breaking_off(w: &World, budget: u64) -> sync_engine::remote::Hooked {
    let left = Arc::new(std::sync::atomic::AtomicU64::new(budget));
    sync_engine::remote::Hooked::new(Arc::new(w.client()), Box::new(|_| None)).with_body(Box::new(
        move |body| {
            Box::new(BreaksOff {
                inner: body,
                left: left.clone(),
            })
        },
    ))
}

impl futures_util::AsyncRead for BreaksOff {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::sync::atomic::Ordering;
        use std::task::Poll;
        let left = self.left.load(Ordering::SeqCst);
        if left == 0 {
            return Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()));
        }
        let room = (buf.len() as u64).min(left) as usize;
        match std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut buf[..room]) {
            Poll::Ready(Ok(n)) => {
                self.left.fetch_sub(n as u64, Ordering::SeqCst);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

/// An interrupted download goes on where it stopped (a `Range` request) at the next
/// attempt — also in a new process, from what the first one staged — instead of fetching the
/// file again from byte 0; what is placed is proven whole by its content hash. A staged part
/// that does not match (spoiled on disk) is not trusted: the file is fetched again and comes
/// out right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_goes_on_where_it_stopped() {
    use std::sync::atomic::Ordering;
    let w = World::new().await;
    let a = w.folder("a");
    clean(w.pair("a", &a).sync_once().await);
    let big: Vec<u8> = (0..20_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    w.put("/big.bin", &big).await;

    // The first attempt breaks off after 12 MB.
    let pair = w.pair_with(
        "a",
        &a,
        World::tuning(),
        Arc::new(breaking_off(&w, 12_000_000)),
    );
    let report = pair.sync_once().await.unwrap();
    let f = report
        .failed
        .iter()
        .find(|f| f.path == "/big.bin")
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!(f.message.contains("going on from byte"), "{f:?}");
    assert!(!a.join("big.bin").exists(), "nothing partial is visible");
    drop(pair);

    // The next run (a new process, as after a restart) fetches only the rest.
    let sent_before = w.server.emulator.stats.bytes_out.load(Ordering::SeqCst);
    clean(w.pair("a", &a).sync_once().await);
    let sent = w.server.emulator.stats.bytes_out.load(Ordering::SeqCst) - sent_before;
    assert_eq!(std::fs::read(a.join("big.bin")).unwrap(), big);
    assert!(
        sent <= 8_000_000 + 64 * 1024,
        "{sent} bytes sent for the last 8 MB of a 20 MB file"
    );
    assert_eq!(
        std::fs::read_dir(a.join(".nuvosync/tmp")).unwrap().count(),
        0,
        "nothing staged is left"
    );

    // A staged part spoiled on disk: not trusted, the file comes out right.
    let v2: Vec<u8> = big.iter().map(|b| b.wrapping_add(1)).collect();
    w.put("/big.bin", &v2).await;
    let pair = w.pair_with(
        "a",
        &a,
        World::tuning(),
        Arc::new(breaking_off(&w, 5_000_000)),
    );
    let _ = pair.sync_once().await.unwrap();
    drop(pair);
    let staged: Vec<_> = std::fs::read_dir(a.join(".nuvosync/tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&staged[0])
            .unwrap();
        f.write_at(b"spoiled", 1_000_000).unwrap();
    }
    let report = w.pair("a", &a).sync_once().await.unwrap();
    if !report.failed.is_empty() {
        // The spoiled part is found at the end (content hash) and dropped; then it is whole.
        clean(w.pair("a", &a).sync_once().await);
    }
    assert_eq!(std::fs::read(a.join("big.bin")).unwrap(), v2);
}
