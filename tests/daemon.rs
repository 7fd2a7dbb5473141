//! The real `nuvosync daemon` process against the emulator: changes flow both ways, a
//! `--no-watch` pair finds files written behind its back, pause stops and resume catches up,
//! SIGTERM mid-transfer leaves no partial file and the next start finishes the work, the
//! control socket answers truthfully and refuses other users.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

fn kill(child: &mut std::process::Child, sig: &str) {
    std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_syncs_both_ways_and_answers_on_its_socket() {
    let p = Profile::new(true).await;
    p.add_pair(&[]);
    let mut d = p.daemon(Some("info"));
    p.wait_ready().await;
    let local = p.local();

    // Local create, edit, rename, delete reach Dropbox.
    std::fs::write(local.join("a.txt"), b"one").unwrap();
    eventually("create", 10, || {
        p.remote_files().get("/a.txt").map(Vec::as_slice) == Some(b"one".as_slice())
    })
    .await;
    std::fs::write(local.join("a.txt"), b"two").unwrap();
    eventually("edit", 10, || {
        p.remote_files().get("/a.txt").map(Vec::as_slice) == Some(b"two".as_slice())
    })
    .await;
    std::fs::rename(local.join("a.txt"), local.join("b.txt")).unwrap();
    eventually("rename", 10, || {
        p.remote_files().contains_key("/b.txt") && !p.remote_files().contains_key("/a.txt")
    })
    .await;
    std::fs::remove_file(local.join("b.txt")).unwrap();
    eventually("delete", 10, || !p.remote_files().contains_key("/b.txt")).await;

    // A co-author's upload arrives.
    p.put("/from-colleague.csv", b"1,2").await;
    eventually("download", 10, || local.join("from-colleague.csv").exists()).await;

    // The socket tells the truth.
    let status: serde_json::Value = serde_json::from_str(&p.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["pairs"][0]["name"], "lab");
    eventually("up to date", 10, || {
        let s: serde_json::Value = serde_json::from_str(&p.ok(&["status", "--json"])).unwrap();
        s["pairs"][0]["state"] == "up_to_date" && s["pairs"][0]["files"] == 1
    })
    .await;
    assert_eq!(
        p.ok(&[
            "filestatus",
            local.join("from-colleague.csv").to_str().unwrap()
        ])
        .trim(),
        "up to date"
    );
    std::fs::write(local.join("desktop.ini"), b"x").unwrap();
    assert_eq!(
        p.ok(&["filestatus", local.join("desktop.ini").to_str().unwrap()])
            .trim(),
        "ignored"
    );
    assert_eq!(p.ok(&["filestatus", "/etc/hostname"]).trim(), "unwatched");
    let conflicts: serde_json::Value =
        serde_json::from_str(&p.ok(&["conflicts", "--json"])).unwrap();
    assert_eq!(conflicts.as_array().unwrap().len(), 0);

    // Only the owner can reach the socket: a private folder and a private socket...
    let sock = p.state_dir().join("run/nuvosync.sock");
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(sock.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // ...and another user is refused.
    let script = format!(
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?})",
        sock.display().to_string()
    );
    let other = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "python3",
            "-c",
            &script,
        ])
        .output();
    if let Ok(out) = other {
        assert!(
            !out.status.success(),
            "user nobody could connect to the control socket"
        );
    }

    assert!(p.ok(&["stop"]).contains("stopping"));
    let status = d.wait().unwrap();
    assert!(status.success());
    let out = p.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nuvosync daemon"),
        "without a daemon, status says what to run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_watch_pair_finds_files_written_behind_its_back_and_pause_holds_everything() {
    let p = Profile::new(true).await;
    p.add_pair(&["--no-watch", "--rescan-interval", "2"]);
    let mut d = p.daemon(None);
    p.wait_ready().await;
    let started = std::time::Instant::now();
    std::fs::write(p.local().join("nfs.dat"), b"written by another host").unwrap();
    eventually("the rescan finds it", 10, || {
        p.remote_files().contains_key("/nfs.dat")
    })
    .await;
    assert!(
        started.elapsed().as_secs() <= 6,
        "within the rescan interval (plus start-up)"
    );

    p.ok(&["pause", "lab"]);
    std::fs::write(p.local().join("held.txt"), b"h").unwrap();
    p.put("/held-remote.txt", b"r").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        !p.remote_files().contains_key("/held.txt") && !p.local().join("held-remote.txt").exists(),
        "paused: nothing moves"
    );
    let s: serde_json::Value = serde_json::from_str(&p.ok(&["status", "--json"])).unwrap();
    assert_eq!(s["pairs"][0]["state"], "paused");
    p.ok(&["resume", "lab"]);
    eventually("resume catches up", 10, || {
        p.remote_files().contains_key("/held.txt") && p.local().join("held-remote.txt").exists()
    })
    .await;
    kill(&mut d, "-TERM");
    assert!(d.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_download_leaves_no_partial_file_and_the_next_start_finishes() {
    // 1 MB/s: an 8 MB download takes several seconds.
    let p = Profile::with_faults(
        true,
        dropbox_emulator::Faults {
            bandwidth_bytes_per_sec: 1_000_000,
            ..Default::default()
        },
    )
    .await;
    p.add_pair(&[]);
    let big: Vec<u8> = (0..8_000_000u32).map(|i| (i % 253) as u8).collect();
    p.put("/big.bin", &big).await;
    let mut d = p.daemon(None);
    p.wait_ready().await;
    // Wait until the download is under way (a temp file in nuvosync's private folder).
    let tmp = p.local().join(".nuvosync/tmp");
    eventually("the download starts", 20, || {
        std::fs::read_dir(&tmp)
            .map(|mut r| r.next().is_some())
            .unwrap_or(false)
    })
    .await;
    kill(&mut d, "-TERM");
    let status = d.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop");
    assert!(
        !p.local().join("big.bin").exists(),
        "no partial file where the user looks"
    );
    assert!(local_files(&p.local()).is_empty());
    // The next start finishes the work (and clears the leftover temp file).
    let mut d = p.daemon(None);
    p.wait_ready().await;
    eventually("the download completes", 30, || {
        std::fs::read(p.local().join("big.bin"))
            .map(|b| b == big)
            .unwrap_or(false)
    })
    .await;
    assert!(
        std::fs::read_dir(&tmp).map(|r| r.count()).unwrap_or(0) == 0,
        "no temp file left"
    );
    kill(&mut d, "-INT");
    assert!(d.wait().unwrap().success());
}
