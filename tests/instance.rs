//! One nuvosync per profile, with real processes: while a daemon runs, a second daemon and a
//! `sync --once` of the same profile are refused — naming the daemon's pid and what to do —
//! even when they look for the control socket elsewhere (another `XDG_RUNTIME_DIR`, so the
//! socket cannot tell them). Once the daemon stops, the one-shot sync runs.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `nuvosync` command of the profile that finds its folders by flags, not by
/// `NUVOSYNC_STATE_DIR` (which would also place the socket with them), and its socket under
/// `runtime`.
fn cmd(p: &Profile, runtime: &Path, args: &[&str]) -> Command {
    let mut c = p.cmd(&[]);
    c.env_remove("NUVOSYNC_STATE_DIR")
        .env_remove("NUVOSYNC_CONFIG_DIR")
        .env("XDG_RUNTIME_DIR", runtime)
        .arg("--state-dir")
        .arg(p.state_dir())
        .arg("--config-dir")
        .arg(p.config_dir())
        .args(args);
    c
}

/// Run to completion, but no longer than `secs` (a second daemon that is not refused would
/// run forever): `None` if it was still running.
fn run_for(mut c: Command, secs: u64) -> Option<Output> {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_is_refused_whatever_socket_it_looks_for() {
    let p = Profile::new(true).await;
    p.add_pair(&[]);
    write_file(&p.local().join("a.txt"), b"hello");
    let (run1, run2) = (p.dir.path().join("run1"), p.dir.path().join("run2"));
    for d in [&run1, &run2] {
        std::fs::create_dir_all(d).unwrap();
    }
    let log = std::fs::File::create(p.dir.path().join("daemon.log")).unwrap();
    let mut daemon = cmd(&p, &run1, &["daemon"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = daemon.id();
    // The daemon is up once its socket is there (bound after it took the lock).
    let start = Instant::now();
    while !run1.join("nuvosync/nuvosync.sock").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the daemon did not come up: {}",
            std::fs::read_to_string(p.dir.path().join("daemon.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A second daemon looking for its socket elsewhere is refused at once.
    let second = run_for(cmd(&p, &run2, &["daemon"]), 15)
        .expect("a second daemon started next to the first one");
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let msg = stderr(&second);
    assert!(msg.contains(&format!("pid {pid}")), "{msg}");
    assert!(msg.contains("nuvosync daemon"), "{msg}");
    assert!(msg.contains("nuvosync stop"), "{msg}");
    let lock = std::fs::read_to_string(p.state_dir().join("nuvosync.lock")).unwrap();
    assert!(lock.starts_with(&format!("{pid}\n")), "{lock}");

    // So is a one-shot sync that cannot see the daemon's socket.
    let once = run_for(cmd(&p, &run2, &["sync", "--once"]), 60).expect("sync --once hung");
    assert_eq!(once.status.code(), Some(1), "{}", stderr(&once));
    assert!(
        stderr(&once).contains(&format!("pid {pid}")),
        "{}",
        stderr(&once)
    );

    // The daemon stops (SIGTERM): the lock goes with it, and the sync runs.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = daemon.wait().unwrap();
    assert!(status.success(), "the daemon stops cleanly");
    let once = run_for(cmd(&p, &run2, &["sync", "--once"]), 60).expect("sync --once hung");
    assert_eq!(once.status.code(), Some(0), "{}", stderr(&once));
    assert_eq!(
        p.remote_files().get("/a.txt").map(Vec::as_slice),
        Some(&b"hello"[..])
    );
}

fn write_file(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}
