//! The daemon as a container runs it: an empty environment (no `HOME` to write to, no D-Bus,
//! no keyring, no systemd, no `XDG_RUNTIME_DIR`), the folders given by flags, the refresh
//! token in a file, JSON log lines on standard output — and it syncs both ways, answers
//! `status --json`, and stops cleanly on SIGTERM.

mod common;

use common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

/// A `nuvosync` command with nothing from this process's environment but what a container
/// would set: the emulator's address and CA (the container's network), the token file, and a
/// home folder that must stay untouched.
fn bare(p: &Profile, home: &std::path::Path, token_file: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nuvosync"));
    c.env_clear()
        .arg("--config-dir")
        .arg(p.config_dir())
        .arg("--state-dir")
        .arg(p.state_dir())
        .env("HOME", home)
        .env("NUVOSYNC_DROPBOX_URL", &p.server.url)
        .env("NUVOSYNC_CA_FILE", p.server.ca_file.as_ref().unwrap())
        .env("NUVOSYNC_TOKEN_FILE", token_file)
        .env("NUVOSYNC_NO_OS_TRASH", "1");
    if let Some(d) = std::env::var_os("NUVOSYNC_LOG_DIR") {
        c.env("NUVOSYNC_LOG_DIR", d);
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_runs_in_an_empty_environment_and_logs_json() {
    let p = Profile::new(false).await;
    let home = p.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let secrets = p.dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let token_file = secrets.join("dropbox-refresh-token");
    std::fs::write(&token_file, "tok-ada\n").unwrap();
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();

    let out = bare(&p, &home, &token_file)
        .args(pair_add_args(&local))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pair add: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut daemon = bare(&p, &home, &token_file)
        .args(["--log-format", "json", "daemon"])
        .env("NUVOSYNC_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = daemon.stdout.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(l);
            }
        })
    };
    let status = |c: &mut Command| -> Option<serde_json::Value> {
        let o = c.args(["status", "--json"]).output().ok()?;
        o.status
            .success()
            .then(|| serde_json::from_slice(&o.stdout).ok())
            .flatten()
    };
    eventually("the daemon answers", 20, || {
        status(&mut bare(&p, &home, &token_file)).is_some()
    })
    .await;

    // Both ways.
    std::fs::write(local.join("from-container.txt"), b"made here").unwrap();
    p.put("/from-web.txt", b"made on the web").await;
    eventually("synced both ways", 20, || {
        p.remote_files()
            .get("/from-container.txt")
            .map(Vec::as_slice)
            == Some(b"made here".as_slice())
            && std::fs::read(local.join("from-web.txt")).ok().as_deref()
                == Some(b"made on the web".as_slice())
    })
    .await;
    eventually("status says up to date", 20, || {
        status(&mut bare(&p, &home, &token_file))
            .is_some_and(|s| s["pairs"][0]["state"] == "up_to_date" && s["linked"] == true)
    })
    .await;

    // SIGTERM: a clean, prompt exit, the socket gone.
    let t = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    let code = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed().as_secs() < 15,
            "the daemon did not stop on SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut daemon.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(code.success(), "exit {code:?}; stderr: {stderr}");
    assert!(!p.state_dir().join("run/nuvosync.sock").exists());

    // Every line of standard output is one JSON object a log collector can read; the start
    // and the stop are among them; the token is in none.
    let lines = lines.lock().unwrap().clone();
    assert!(!lines.is_empty(), "no log lines; stderr: {stderr}");
    let mut messages = vec![];
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{l}");
        messages.push(
            v["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        assert!(!l.contains("tok-ada"), "the token reached the log: {l}");
    }
    assert!(
        messages.iter().any(|m| m.contains("daemon running")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("SIGTERM")),
        "{messages:?}"
    );
    assert!(!stderr.contains("tok-ada"));

    // Nothing was written to the home folder (it may be read-only in a container).
    let written: Vec<_> = std::fs::read_dir(&home).unwrap().flatten().collect();
    assert!(written.is_empty(), "written to $HOME: {written:?}");
}

#[test]
fn a_missing_or_empty_token_file_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n\n").unwrap();
    for (file, says) in [
        (dir.path().join("missing"), "cannot read the token file"),
        (empty, "is empty"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nuvosync"))
            .env_clear()
            .arg("--config-dir")
            .arg(dir.path().join("config"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .env("NUVOSYNC_TOKEN_FILE", &file)
            .args(["account"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(says) && stderr.contains("NUVOSYNC_TOKEN_FILE"),
            "{stderr}"
        );
    }
}
