//! The tray follows the engine: its model is computed from the same status the tray app
//! reads, so each engine state shows its own icon, status line and toggles.

mod common;

use common::{Lab, ROOT};
use dropbox_emulator::Faults;
use nuvosync_api::Daemon;
use nuvosync_api::dto::{Command, Event, EventDto, Resolution, StatusDto};
use nuvosync_api::tray::TrayModel;
use std::sync::Arc;
use std::time::Duration;

async fn tray(d: &Daemon) -> TrayModel {
    let s: StatusDto = d.status().await.unwrap();
    TrayModel::from_status(&s)
}

async fn wait_icon(d: &Daemon, icon: &str) -> TrayModel {
    for _ in 0..400 {
        let t = tray(d).await;
        if t.icon == icon {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the tray never showed {icon}; it shows {:?}", tray(d).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_shows_each_engine_state() {
    let lab = Lab::new().await;
    let (server, local) = (&lab.server, lab.local.clone());
    std::fs::write(local.join("f.txt"), b"v1").unwrap();
    let d = Daemon::start(lab.service.clone()).await;
    // What the tray's notifier and the UI hear: the engine's events, through the daemon.
    let seen = Arc::new(std::sync::Mutex::new(Vec::<EventDto>::new()));
    let mut rx = d.subscribe();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok(e) = rx.recv().await {
            log.lock().unwrap().push(e);
        }
    });

    let t = wait_icon(&d, "up_to_date").await;
    assert_eq!(t.status_line, "nuvosync: Up to date");
    assert_eq!(t.pause_label, "Pause syncing");
    assert_eq!(t.link_label, "Unlink Dropbox");
    assert!(
        t.web_url
            .unwrap()
            .ends_with(&format!("/home/Apps/nuvolos.cloud{ROOT}"))
    );

    d.handle(Command::Pause { pair: None }).await.unwrap();
    let t = wait_icon(&d, "paused").await;
    assert_eq!(t.pause_label, "Resume syncing");
    d.handle(Command::Resume {
        pair: None,
        confirm_deletes: false,
    })
    .await
    .unwrap();
    wait_icon(&d, "up_to_date").await;

    // A conflict needs attention until it is resolved.
    d.handle(Command::Pause { pair: None }).await.unwrap();
    std::fs::write(local.join("f.txt"), b"mine").unwrap();
    let client = d.service().client().unwrap();
    let commit = nuvosync_dropbox::Commit {
        path: format!("{ROOT}/f.txt"),
        mode: nuvosync_dropbox::WriteMode::Overwrite,
        autorename: false,
        strict_conflict: false,
        client_modified: None,
    };
    client
        .upload(&commit, bytes::Bytes::from_static(b"theirs"))
        .await
        .unwrap();
    d.handle(Command::Resume {
        pair: None,
        confirm_deletes: false,
    })
    .await
    .unwrap();
    let t = wait_icon(&d, "attention").await;
    assert!(t.status_line.contains("conflict"), "{}", t.status_line);
    {
        let events = seen.lock().unwrap().clone();
        let synced = |e: &EventDto| matches!(e, EventDto::Pair(Event::Synced { pair, path, .. }) if pair == "lab" && path == "/f.txt");
        let conflict = |e: &EventDto| matches!(e, EventDto::Pair(Event::Conflict { pair, path, .. }) if pair == "lab" && path == "/f.txt");
        let paused =
            |e: &EventDto| matches!(e, EventDto::Pair(Event::State { pair, .. }) if pair == "lab");
        assert!(
            events.iter().any(synced),
            "no Synced event for /f.txt: {events:?}"
        );
        assert!(
            events.iter().any(conflict),
            "no Conflict event for /f.txt: {events:?}"
        );
        assert!(
            events.iter().any(paused),
            "no State event for the pair: {events:?}"
        );
    }
    let conflicts: Vec<nuvosync_api::dto::ConflictDto> = serde_json::from_value(
        d.handle(Command::Conflicts {
            include_resolved: false,
        })
        .await
        .unwrap(),
    )
    .unwrap();
    d.handle(Command::Resolve {
        pair: "lab".into(),
        id: conflicts[0].id,
        choice: Resolution::KeepBoth,
    })
    .await
    .unwrap();
    wait_icon(&d, "up_to_date").await;

    // Dropbox unreachable: offline, retrying.
    *server.emulator.faults.write() = Faults {
        p_server_error: 1.0,
        ..Faults::default()
    };
    d.handle(Command::SyncNow { pair: None }).await.unwrap();
    let t = wait_icon(&d, "offline").await;
    assert!(t.status_line.contains("Offline"), "{}", t.status_line);
    *server.emulator.faults.write() = Faults::default();
    d.handle(Command::SyncNow { pair: None }).await.unwrap();
    wait_icon(&d, "up_to_date").await;

    // Unlinked: an error that says to link again.
    d.handle(Command::Unlink).await.unwrap();
    let t = tray(&d).await;
    assert_eq!(t.icon, "error");
    assert_eq!(t.link_label, "Link Dropbox…");
    assert_eq!(t.status_line, "nuvosync: Not linked to Dropbox");
    d.shutdown().await;
}
