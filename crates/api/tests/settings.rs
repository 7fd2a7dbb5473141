//! Settings take effect: bandwidth limits pace the engine's transfers, at once and for every
//! pair, and lifting them is a setting too.

mod common;

use common::Lab;
use nuvosync_api::Daemon;
use nuvosync_api::dto::{Command, SettingsDto, SettingsPatch};
use std::time::{Duration, Instant};

const LIMIT: u64 = 1_000_000; // bytes per second
const SIZE: usize = 3_000_000;

async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within {limit:?}");
}

fn patch(upload: u64, download: u64) -> Command {
    Command::SettingsSet {
        patch: SettingsPatch {
            upload_limit: Some(upload),
            download_limit: Some(download),
            ..SettingsPatch::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_pace_uploads_and_downloads() {
    let lab = Lab::new().await;
    std::fs::create_dir_all(&lab.local).unwrap();
    let d = Daemon::start(lab.service.clone()).await;
    until("the first sync", Duration::from_secs(20), || {
        lab.local.join(".nuvosync").exists()
    })
    .await;
    let s: SettingsDto =
        serde_json::from_value(d.handle(patch(LIMIT, LIMIT)).await.unwrap()).unwrap();
    assert_eq!((s.upload_limit, s.download_limit), (LIMIT, LIMIT));

    // Dropbox → here: 3 MB at 1 MB/s cannot take less than about 3 s.
    let theirs: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let t0 = Instant::now();
    lab.upload("/theirs.bin", &theirs).await;
    until("the download", Duration::from_secs(60), || {
        std::fs::read(lab.local.join("theirs.bin")).is_ok_and(|b| b == theirs)
    })
    .await;
    let down = t0.elapsed();

    // Here → Dropbox: the same.
    let mine: Vec<u8> = (0..SIZE).map(|i| (i % 241) as u8).collect();
    let t0 = Instant::now();
    std::fs::write(lab.local.join("mine.bin"), &mine).unwrap();
    until("the upload", Duration::from_secs(60), || {
        lab.on_dropbox("/mine.bin", &mine)
    })
    .await;
    let up = t0.elapsed();
    eprintln!("3 MB at a 1 MB/s limit: download {down:?}, upload {up:?}");
    let floor = Duration::from_secs_f64(SIZE as f64 / LIMIT as f64 * 0.85);
    assert!(down >= floor, "the download ignored the limit: {down:?}");
    assert!(up >= floor, "the upload ignored the limit: {up:?}");

    // Lifted: the settings say so and the next transfer is not held back to the old pace.
    let s: SettingsDto = serde_json::from_value(d.handle(patch(0, 0)).await.unwrap()).unwrap();
    assert_eq!((s.upload_limit, s.download_limit), (0, 0));
    let more: Vec<u8> = (0..SIZE).map(|i| (i % 239) as u8).collect();
    let t0 = Instant::now();
    lab.upload("/more.bin", &more).await;
    until(
        "the download without a limit",
        Duration::from_secs(60),
        || std::fs::read(lab.local.join("more.bin")).is_ok_and(|b| b == more),
    )
    .await;
    eprintln!("3 MB without a limit: download {:?}", t0.elapsed());
    d.shutdown().await;
}

/// One `sync --once` of the lab pair: the pause message, if a guard paused it.
async fn paused_by(lab: &Lab) -> Option<String> {
    let runs = lab.service.sync_once(Some("lab"), false).await.unwrap();
    match &runs[0].error {
        None => None,
        Some(e) if e.code == nuvosync_api::ErrorCode::Paused => Some(e.message.clone()),
        Some(e) => panic!("sync failed: {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mass_delete_guard_follows_its_settings() {
    let lab = Lab::new().await;
    std::fs::create_dir_all(&lab.local).unwrap();
    for i in 0..40 {
        std::fs::write(lab.local.join(format!("f{i:02}.txt")), format!("{i}")).unwrap();
    }
    assert_eq!(paused_by(&lab).await, None);
    let d = Daemon::idle(lab.service.clone());
    let set = |percent: Option<u32>, min_files: Option<u64>| Command::SettingsSet {
        patch: SettingsPatch {
            mass_delete_percent: percent,
            mass_delete_min_files: min_files,
            ..SettingsPatch::default()
        },
    };

    // The default (more than 50 files) lets 30 of 40 go; with a floor of 10 they pause.
    let s: SettingsDto =
        serde_json::from_value(d.handle(set(None, Some(10))).await.unwrap()).unwrap();
    assert_eq!((s.mass_delete_percent, s.mass_delete_min_files), (50, 10));
    for i in 0..30 {
        std::fs::remove_file(lab.local.join(format!("f{i:02}.txt"))).unwrap();
    }
    let why = paused_by(&lab)
        .await
        .expect("30 of 40 files with a floor of 10");
    assert!(why.contains("30 of 40"), "{why}");
    assert!(
        why.contains("mass-delete-percent"),
        "says which setting: {why}"
    );
    assert!(
        lab.on_dropbox("/f00.txt", b"0"),
        "nothing deleted while paused"
    );

    // A share of 80 % lets these 30 (75 %) go, without a confirmation.
    d.handle(set(Some(80), None)).await.unwrap();
    assert_eq!(paused_by(&lab).await, None);
    assert!(!lab.on_dropbox("/f00.txt", b"0"));
    assert!(lab.on_dropbox("/f35.txt", b"35"));

    // Kept in the configuration file; nonsense is refused with what is allowed.
    let saved = std::fs::read_to_string(lab.service.paths().config_file()).unwrap();
    assert!(saved.contains("mass_delete_percent = 80"), "{saved}");
    assert!(saved.contains("mass_delete_min_files = 10"), "{saved}");
    let err = d.handle(set(Some(150), None)).await.unwrap_err();
    assert!(err.message.contains("0 to 100"), "{}", err.message);
    let s: SettingsDto =
        serde_json::from_value(d.handle(Command::SettingsGet).await.unwrap()).unwrap();
    assert_eq!(s.mass_delete_percent, 80, "a refused value changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snooze_outlasts_a_restart_and_ending_it_does_too() {
    let lab = Lab::new().await;
    let reopen = || {
        let service = nuvosync_api::Service::with_endpoints(
            nuvosync_api::Paths::under(lab.dir.path()),
            common::endpoints(&lab.server),
            sync_engine::Tuning::default(),
        )
        .unwrap();
        Daemon::idle(std::sync::Arc::new(service))
    };
    let snooze = |m: u64| Command::SettingsSet {
        patch: SettingsPatch {
            snooze_minutes: Some(m),
            ..SettingsPatch::default()
        },
    };
    let d = Daemon::idle(lab.service.clone());
    assert!(!d.snoozed());
    let s: SettingsDto = serde_json::from_value(d.handle(snooze(30)).await.unwrap()).unwrap();
    let until = s.snoozed_until.expect("snoozed");
    drop(d);

    // A new process (the app restarted): still snoozed, until the same time.
    let d = reopen();
    assert!(d.snoozed(), "the snooze was forgotten on restart");
    let s: SettingsDto =
        serde_json::from_value(d.handle(Command::SettingsGet).await.unwrap()).unwrap();
    assert_eq!(s.snoozed_until, Some(until));

    // Ended: ended for the next process too.
    d.handle(snooze(0)).await.unwrap();
    assert!(!d.snoozed());
    drop(d);
    assert!(!reopen().snoozed());
}

/// `export-documents`: off by default; set through the daemon, the running pair exports a
/// Paper doc as a read-only copy, and the setting is kept in the config file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_documents_is_a_setting_that_reaches_running_pairs() {
    let lab = Lab::new().await;
    std::fs::create_dir_all(&lab.local).unwrap();
    let acct = lab.server.emulator.account("ada").unwrap();
    lab.server
        .emulator
        .add_export_only(
            &acct,
            &format!("/Apps/nuvolos.cloud{}/Plan.paper", common::ROOT),
            "<h1>Plan</h1>",
            "# Plan\n",
        )
        .unwrap();
    let d = Daemon::start(lab.service.clone()).await;
    until("the first sync", Duration::from_secs(20), || {
        lab.local.join(".nuvosync").exists()
    })
    .await;
    let s: SettingsDto =
        serde_json::from_value(d.handle(Command::SettingsGet).await.unwrap()).unwrap();
    assert_eq!(s.export_documents, Some(false));
    assert!(!lab.local.join("Plan.html").exists());
    let on = Command::SettingsSet {
        patch: SettingsPatch {
            export_documents: Some(true),
            ..SettingsPatch::default()
        },
    };
    let s: SettingsDto = serde_json::from_value(d.handle(on).await.unwrap()).unwrap();
    assert_eq!(s.export_documents, Some(true));
    // The next look at Dropbox (a change there) brings the copy.
    lab.upload("/poke.txt", b"x").await;
    until("the exported copy", Duration::from_secs(30), || {
        std::fs::read(lab.local.join("Plan.html")).is_ok_and(|b| b == b"<h1>Plan</h1>")
    })
    .await;
    let config =
        std::fs::read_to_string(nuvosync_api::config::Paths::under(lab.dir.path()).config_file())
            .unwrap();
    assert!(config.contains("export_documents = true"), "{config}");
}

/// The ignore patterns go into the pair's folder through the engine's checked file layer: a
/// `.nuvosyncignore` that is a link to a file elsewhere is neither shown nor written through —
/// the new patterns replace the link, whole, and what it pointed to stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_patterns_replace_a_link_and_never_write_through_it() {
    use nuvosync_api::dto::PairPatch;
    let lab = Lab::new().await;
    std::fs::create_dir_all(&lab.local).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("notes.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let ignore = lab.local.join(".nuvosyncignore");
    std::os::unix::fs::symlink(&victim, &ignore).unwrap();
    let d = Daemon::start(lab.service.clone()).await;

    let s: SettingsDto =
        serde_json::from_value(d.handle(Command::SettingsGet).await.unwrap()).unwrap();
    assert_eq!(
        s.pairs[0].ignore_patterns, "",
        "the settings showed a file the link points to"
    );
    d.handle(Command::SettingsSet {
        patch: SettingsPatch {
            pairs: vec![PairPatch {
                name: "lab".into(),
                ignore_patterns: Some("build/\n".into()),
                ..PairPatch::default()
            }],
            ..SettingsPatch::default()
        },
    })
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "written through the link"
    );
    assert!(
        std::fs::symlink_metadata(&ignore)
            .unwrap()
            .file_type()
            .is_file(),
        "the link is still there"
    );
    assert_eq!(std::fs::read_to_string(&ignore).unwrap(), "build/\n");
    let s: SettingsDto =
        serde_json::from_value(d.handle(Command::SettingsGet).await.unwrap()).unwrap();
    assert_eq!(s.pairs[0].ignore_patterns, "build/\n");
    d.shutdown().await;
}
