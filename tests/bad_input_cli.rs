//! The bad-input catalogue, the cases that need the real binary: permissions (which root
//! ignores, so the binary runs as user `nobody` through `setpriv`), a revoked token as the
//! CLI and `status --json` show it, and the emulator *process* killed and restarted while
//! the daemon uploads. The engine-level cases are in `crates/sync-engine/tests/bad_input.rs`.
//!
//! Each case ends with an entry that says what is wrong and what to do (`sync --once
//! --json`'s report, its stderr and exit code, or `status --json`), and nothing lost.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NOBODY: &str = "65534";

fn sh(cmd: &str, args: &[&str]) {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `nuvosync ARGS` as user nobody, with the profile's environment.
fn as_nobody(p: &Profile, args: &[&str]) -> Command {
    let inner = p.cmd(args);
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
    ])
    .arg(inner.get_program())
    .args(inner.get_args())
    .env("HOME", p.dir.path())
    .stdin(Stdio::null());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// Make the profile nobody's; `false` (saying why the case is skipped) where nobody could
/// not run the binary or read the emulator's CA.
fn hand_to_nobody(p: &Profile) -> bool {
    std::fs::create_dir_all(p.local()).unwrap();
    sh(
        "chown",
        &[
            "-R",
            &format!("{NOBODY}:{NOBODY}"),
            p.dir.path().to_str().unwrap(),
        ],
    );
    let bin = env!("CARGO_BIN_EXE_nuvosync");
    let ca = p.server.ca_file.as_ref().unwrap();
    for (test, path) in [("-x", Path::new(bin)), ("-r", ca.as_path())] {
        let ok = Command::new("setpriv")
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "test",
                test,
            ])
            .arg(path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!(
                "SKIPPED: user nobody cannot {} {} (setpriv missing, or a folder on the way is closed to others) — this case needs the binary run as another user",
                if test == "-x" { "run" } else { "read" },
                path.display()
            );
            return false;
        }
    }
    true
}

/// `sync --once --json` as nobody: (exit code, the pair's result, stderr).
fn sync_as_nobody(p: &Profile) -> (i32, Value, String) {
    let o = as_nobody(p, &["sync", "--once", "--json"])
        .output()
        .unwrap();
    let out: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (
        o.status.code().unwrap_or(-1),
        out[0].clone(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A child process that is killed (SIGKILL) if the test ends without waiting for it, so a
/// failing test leaves no daemon or emulator behind.
struct Reaped(std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn entry<'a>(list: &'a Value, path: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|i| i["path"] == path))
        .unwrap_or_else(|| panic!("nothing about {path} in {list:#}"))
}

fn add_pair_as_nobody(p: &Profile) {
    let local = p.local();
    let o = as_nobody(p, &pair_add_args(&local)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
}

// ------------------------------------------------------------------ 6. permissions

/// A file nobody may read (mode 000) and a folder nobody may list: reported as unreadable,
/// not uploaded, not taken as deleted, and left exactly as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_on_read_is_reported_and_nothing_is_lost() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("closed")).unwrap();
    std::fs::write(local.join("ok.txt"), b"ok").unwrap();
    std::fs::write(local.join("secret.txt"), b"mode 000").unwrap();
    std::fs::write(local.join("closed/inner.txt"), b"in a closed folder").unwrap();
    if !hand_to_nobody(&p) {
        record_bad_inputs("permission_denied_read", 0);
        return;
    }
    chmod(&local.join("secret.txt"), 0o000);
    chmod(&local.join("closed"), 0o000);
    add_pair_as_nobody(&p);
    let (code, result, stderr) = sync_as_nobody(&p);
    assert_eq!(
        code, 0,
        "unreadable files are issues, not failures: {stderr}"
    );
    let issues = &result["report"]["issues"];
    for path in ["/secret.txt", "/closed"] {
        let i = entry(issues, path);
        assert_eq!(i["code"], "unreadable", "{i}");
        assert!(
            i["message"]
                .as_str()
                .unwrap()
                .contains("check its permissions"),
            "{i}"
        );
    }
    let remote = p.remote_files();
    assert_eq!(
        remote.keys().cloned().collect::<Vec<_>>(),
        ["/ok.txt"],
        "nothing unreadable was uploaded"
    );
    assert_eq!(mode(&local.join("secret.txt")), 0o000, "left as it was");
    assert_eq!(mode(&local.join("closed")), 0o000);
    // Readable again: it goes up, and the issue goes away.
    chmod(&local.join("secret.txt"), 0o644);
    chmod(&local.join("closed"), 0o755);
    let (code, result, stderr) = sync_as_nobody(&p);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        result["report"]["issues"].as_array().unwrap().is_empty(),
        "{result:#}"
    );
    assert_eq!(p.remote_files()["/secret.txt"], b"mode 000");
    assert_eq!(p.remote_files()["/closed/inner.txt"], b"in a closed folder");
    record_bad_inputs("permission_denied_read", 2);
}

/// A folder nobody may write (mode 555) where Dropbox's changes must land — an edit, a new
/// file, a delete: each fails with what to do, the local files stay as they were, and
/// Dropbox keeps its versions; once writable, everything catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_on_write_is_reported_and_the_originals_kept() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(local.join("shared")).unwrap();
    std::fs::write(local.join("shared/a.txt"), b"a v1").unwrap();
    std::fs::write(local.join("shared/b.txt"), b"b v1").unwrap();
    if !hand_to_nobody(&p) {
        record_bad_inputs("permission_denied_write", 0);
        return;
    }
    add_pair_as_nobody(&p);
    let (code, _, stderr) = sync_as_nobody(&p);
    assert_eq!(code, 0, "{stderr}");
    chmod(&local.join("shared"), 0o555);
    p.put("/shared/a.txt", b"a v2 from dropbox").await;
    p.put("/shared/new.txt", b"new from dropbox").await;
    nuvosync_test_support::emulator::colleague(&p.server)
        .delete(&format!("{ROOT}/shared/b.txt"), None)
        .await
        .unwrap();
    let (code, result, stderr) = sync_as_nobody(&p);
    assert_eq!(code, 4, "some files could not be synced: {stderr}");
    assert!(stderr.contains("could not be synced"), "{stderr}");
    let failed = &result["report"]["failed"];
    for path in ["/shared/a.txt", "/shared/new.txt", "/shared/b.txt"] {
        let f = entry(failed, path);
        assert_eq!(f["code"], "permission_denied", "{f}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("check the permissions"),
            "{f}"
        );
    }
    assert_eq!(std::fs::read(local.join("shared/a.txt")).unwrap(), b"a v1");
    assert_eq!(std::fs::read(local.join("shared/b.txt")).unwrap(), b"b v1");
    assert!(!local.join("shared/new.txt").exists());
    let remote = p.remote_files();
    assert_eq!(
        remote["/shared/a.txt"], b"a v2 from dropbox",
        "Dropbox keeps its version"
    );
    assert!(!remote.contains_key("/shared/b.txt"));
    // Writable again: everything comes down; the deleted file goes to nuvosync's trash.
    chmod(&local.join("shared"), 0o755);
    let (code, _, stderr) = sync_as_nobody(&p);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(local_files(&local), p.remote_files());
    let trashed = find_file(&local.join(".nuvosync/trash"), "b.txt").expect("b.txt in the trash");
    assert_eq!(std::fs::read(trashed).unwrap(), b"b v1");
    record_bad_inputs("permission_denied_write", 3);
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if e.file_type().ok()?.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if e.file_name() == name {
            return Some(p);
        }
    }
    None
}

// ------------------------------------------------------------------ 16. a revoked token

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_shown_with_what_to_do_and_nothing_is_deleted() {
    let p = Profile::new(true).await;
    p.add_pair(&[]);
    std::fs::create_dir_all(p.local()).unwrap();
    std::fs::write(p.local().join("a.txt"), b"a").unwrap();
    std::fs::write(p.local().join("b.txt"), b"b").unwrap();
    p.ok(&["sync", "--once"]);
    p.server.emulator.revoke("tok-ada");
    std::fs::remove_file(p.local().join("b.txt")).unwrap();
    let o = p.run(&["sync", "--once"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nuvosync link"), "{stderr}");
    assert!(!stderr.contains("tok-ada"));
    // The daemon: status says it, in words and as a code.
    let mut d = Reaped(p.daemon(None));
    p.wait_ready().await;
    let mut status = Value::Null;
    eventually("status shows the revoked link", 20, || {
        status = serde_json::from_str(&p.ok(&["status", "--json"])).unwrap();
        status["pairs"][0]["code"] == "auth"
    })
    .await;
    let pair = &status["pairs"][0];
    assert_eq!(pair["state"], "error", "{pair:#}");
    assert!(
        pair["message"].as_str().unwrap().contains("nuvosync link"),
        "{pair:#}"
    );
    Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status()
        .unwrap();
    assert!(d.wait().unwrap().success());
    // Nothing deleted on either side because of it.
    assert_eq!(std::fs::read(p.local().join("a.txt")).unwrap(), b"a");
    let remote = p.remote_files();
    assert_eq!(remote["/a.txt"], b"a");
    assert_eq!(
        remote["/b.txt"], b"b",
        "the local delete was not carried out"
    );
    record_bad_inputs("revoked_token_cli", 1);
}

// ------------------------------------------------------------------ 17. the server restarts

/// The `dropbox-emulator` binary beside `nuvosync`, built if it is not there yet.
fn emulator_binary() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_nuvosync")).with_file_name("dropbox-emulator");
    if !bin.exists() {
        let o = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "dropbox-emulator",
                "--bin",
                "dropbox-emulator",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    bin
}

/// The emulator as a process with its state in `dir`: started on `port` (0: any), ready when
/// it prints its URL.
fn start_emulator(dir: &Path, port: u16) -> (Reaped, String, PathBuf) {
    let mut child = Command::new(emulator_binary())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--tls-dir")
        .arg(dir.join("tls"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--account", "ada:tok-ada", "--admin-token", "adm"])
        .args(["--bandwidth", "3000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (
        Reaped(child),
        ready["url"].as_str().unwrap().to_string(),
        PathBuf::from(ready["ca_file"].as_str().unwrap()),
    )
}

async fn admin(url: &str, ca: &Path, route: &str) -> Option<Value> {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(ca).ok()?).ok()?;
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .ok()?;
    let r = client
        .get(format!("{url}/admin/{route}"))
        .bearer_auth("adm")
        .send()
        .await
        .ok()?;
    serde_json::from_slice(&r.bytes().await.ok()?).ok()
}

/// The emulator process is killed (SIGKILL) while the daemon uploads a large file, and
/// started again on the same port from its data folder. Its upload sessions are gone: the
/// daemon, offline meanwhile (and saying so), starts the upload over and commits the whole
/// file, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_and_restarted_mid_upload_gets_the_whole_file() {
    let p = Profile::new(true).await; // its in-process emulator is not used here
    let dir = p.dir.path().join("emulator");
    let (mut emu, url, ca) = start_emulator(&dir, 0);
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let cmd = |args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("NUVOSYNC_DROPBOX_URL", &url)
            .env("NUVOSYNC_CA_FILE", &ca)
            .env("NUVOSYNC_CHUNK_SIZE", "1048576")
            .stdin(Stdio::null());
        c
    };
    let local = p.local();
    let o = cmd(&pair_add_args(&local)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir_all(p.local()).unwrap();
    let big: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(p.local().join("big.bin"), &big).unwrap();
    let mut d = Reaped(
        cmd(&["daemon"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Mid-upload: 3 MiB of 8 are in.
    let t0 = std::time::Instant::now();
    loop {
        let n = admin(&url, &ca, "stats")
            .await
            .map(|s| s["bytes_in"].as_u64().unwrap_or(0));
        if n.unwrap_or(0) >= 3 * 1024 * 1024 {
            break;
        }
        assert!(t0.elapsed().as_secs() < 30, "the upload did not start");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    emu.kill().unwrap(); // SIGKILL
    emu.wait().unwrap();
    // While it is down, status says so.
    let mut offline = None;
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs() < 15 {
        let o = cmd(&["status", "--json"]).output().unwrap();
        if let Ok(s) = serde_json::from_slice::<Value>(&o.stdout) {
            if s["pairs"][0]["state"] == "offline" {
                offline = Some(s["pairs"][0]["message"].as_str().unwrap_or("").to_string());
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let offline = offline.expect("status shows the pair offline while the server is down");
    assert!(offline.contains("cannot reach Dropbox"), "{offline}");
    let (mut emu, url2, _) = start_emulator(&dir, port);
    assert_eq!(url2, url);
    // The whole file arrives, once.
    let hash = sync_core::ContentHash::of(&big).to_hex();
    let t0 = std::time::Instant::now();
    loop {
        let tree = admin(&url, &ca, "tree?account=ada").await;
        let found = tree.as_ref().and_then(|t| {
            t["entries"]
                .as_array()?
                .iter()
                .find(|e| e["path"].as_str().is_some_and(|p| p.ends_with("/big.bin")))
                .cloned()
        });
        if let Some(e) = found {
            assert_eq!(e["content_hash"], hash.as_str(), "never a partial file");
            break;
        }
        assert!(t0.elapsed().as_secs() < 90, "the upload did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stats = admin(&url, &ca, "stats").await.unwrap();
    assert!(
        stats["bytes_in"].as_u64().unwrap() >= big.len() as u64,
        "the upload started over: {stats}"
    );
    let routes = &stats["routes"];
    assert!(
        routes["files/upload_session/start"].as_u64().unwrap_or(0) >= 1,
        "a new session: {routes}"
    );
    Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status()
        .unwrap();
    let _ = d.wait();
    emu.kill().unwrap();
    let _ = emu.wait();
    assert_eq!(std::fs::read(p.local().join("big.bin")).unwrap(), big);
    record_bad_inputs("server_process_restart", 1);
}
