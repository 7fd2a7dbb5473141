//! A slow or silent network, as the engine meets it: one request that stops answering fails
//! that operation only — the rest of the run goes on, the operation is tried again, and the
//! run ends in sync; it is never taken for "offline".

mod common;

use common::*;
use nuvosync_dropbox::{Client, Credential, Endpoints, Secret};
use std::sync::Arc;

fn stalling_client(w: &World, stall: std::time::Duration) -> Client {
    let mut e = Endpoints::single(&w.server.url).unwrap();
    e.ca_file = w.server.ca_file.clone();
    let retry = nuvosync_dropbox::transport::RetryPolicy {
        stall,
        ..Default::default()
    };
    Client::with_policy(
        e,
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
