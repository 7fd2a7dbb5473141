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
