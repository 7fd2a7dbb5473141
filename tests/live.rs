//! The two-way scenarios against a real Dropbox account, or against the emulator.
//!
//! With `NUVOSYNC_LIVE_APP_KEY` and `NUVOSYNC_LIVE_REFRESH_TOKEN` set (an app of one's own, see
//! the README's "Use your own Dropbox app", and a refresh token of a link made with it), the
//! suite runs against the real Dropbox, inside a folder of its own (`/nuvosync-live-…` in the
//! app's folder) that it removes afterwards; it touches nothing else. Without them it says
//! that the live run was skipped and why, and runs the same scenarios on the emulator — which
//! is what CI does.
//!
//! One `nuvosync daemon` runs through every scenario with a rescan interval of an hour, so
//! that a remote change that arrives was brought by the longpoll, not by a rescan:
//! create, edit and delete both ways; a local rename; a conflict (both sides edited while the
//! pair is paused: both versions kept); a 20 MiB file (above the 8 MiB single-request limit:
//! an upload session); names outside the Basic Multilingual Plane (emoji) both ways.

mod common;

use nuvosync_dropbox::{Client, Credential, Endpoints, Entry, Secret};
use nuvosync_test_support::emulator;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use sync_core::ContentHash;

/// Where the scenarios run.
struct Backend {
    /// `emulator` or `live Dropbox`.
    name: &'static str,
    /// The emulator (kept alive while the suite runs).
    server: Option<dropbox_emulator::TestServer>,
    /// The environment `nuvosync` needs for this backend.
    env: Vec<(&'static str, String)>,
    /// A co-author's client on the same account and app folder.
    client: Client,
    /// The longest wait for one change to arrive.
    patience: Duration,
}

const LIVE_KEY: &str = "NUVOSYNC_LIVE_APP_KEY";
const LIVE_TOKEN: &str = "NUVOSYNC_LIVE_REFRESH_TOKEN";

async fn backend() -> Backend {
    let key = std::env::var(LIVE_KEY).ok().filter(|v| !v.is_empty());
    let token = std::env::var(LIVE_TOKEN).ok().filter(|v| !v.is_empty());
    if let (Some(key), Some(token)) = (key, token) {
        eprintln!("live suite: running against the real Dropbox (app key {key})");
        let client = Client::new(
            Endpoints::dropbox(),
            Credential::Refresh {
                refresh_token: Secret::new(token.clone()),
                app_key: key.clone(),
            },
        )
        .unwrap();
        return Backend {
            name: "live Dropbox",
            server: None,
            env: vec![("NUVOSYNC_TOKEN", token), ("NUVOSYNC_APP_KEY", key)],
            client,
            patience: Duration::from_secs(180),
        };
    }
    eprintln!(
        "live suite: the run against the real Dropbox was SKIPPED — {LIVE_KEY} and {LIVE_TOKEN} \
         are not both set (README: \"Testing\", the live suite); running the same scenarios on \
         the emulator"
    );
    let server = emulator::start(emulator::config()).await;
    let client = emulator::colleague(&server);
    Backend {
        name: "emulator",
        env: vec![
            ("NUVOSYNC_TOKEN", "tok-ada".into()),
            ("NUVOSYNC_DROPBOX_URL", server.url.clone()),
            (
                "NUVOSYNC_CA_FILE",
                server.ca_file.as_ref().unwrap().display().to_string(),
            ),
        ],
        server: Some(server),
        client,
        patience: Duration::from_secs(20),
    }
}

/// One run: a profile, the pair's folders, and the daemon.
struct Run {
    b: Backend,
    dir: tempfile::TempDir,
    /// The pair's folder on Dropbox (under the app folder): `/{org}/suite/run`.
    root: String,
    /// The folder the suite made and removes: `/{org}`.
    org: String,
}

impl Run {
    fn local(&self) -> PathBuf {
        self.dir.path().join("pair")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nuvosync"));
        c.args(args)
            .env("NUVOSYNC_CONFIG_DIR", self.dir.path().join("config"))
            .env("NUVOSYNC_STATE_DIR", self.dir.path().join("state"))
            .env("NUVOSYNC_KEYRING", "off")
            .env("NUVOSYNC_NO_OS_TRASH", "1")
            .env_remove("NUVOSYNC_DROPBOX_URL")
            .env_remove("NUVOSYNC_CA_FILE")
            .env_remove("NUVOSYNC_TOKEN")
            .env_remove("NUVOSYNC_APP_KEY")
            .env_remove("NUVOSYNC_LOG");
        for (k, v) in &self.b.env {
            c.env(k, v);
        }
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "nuvosync {args:?} failed on the {}: {}\n{}",
            self.b.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn remote(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    /// The remote file's content hash, if a file is there.
    async fn remote_hash(&self, rel: &str) -> Option<ContentHash> {
        match self.b.client.get_metadata(&self.remote(rel), false).await {
            Ok(Some(Entry::File(f))) => Some(f.content_hash),
            Ok(_) => None,
            Err(e) => panic!("get_metadata {rel} on the {}: {e}", self.b.name),
        }
    }

    async fn put(&self, rel: &str, data: &[u8]) {
        emulator::upload(&self.b.client, &self.remote(rel), data).await;
    }

    /// Wait until `f` holds; returns how long it took.
    async fn until<F, Fut>(&self, what: &str, mut f: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while start.elapsed() < self.b.patience {
            if f().await {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(if self.b.server.is_some() {
                50
            } else {
                1000
            }))
            .await;
        }
        panic!(
            "{what}: not within {:?} on the {}",
            self.b.patience, self.b.name
        );
    }

    async fn arrives_remote(&self, rel: &str, data: &[u8]) -> Duration {
        let want = ContentHash::of(data);
        self.until(&format!("{rel} reaches Dropbox"), || async {
            self.remote_hash(rel).await == Some(want)
        })
        .await
    }

    async fn gone_remote(&self, rel: &str) {
        self.until(&format!("{rel} leaves Dropbox"), || async {
            self.remote_hash(rel).await.is_none()
        })
        .await;
    }

    async fn arrives_local(&self, rel: &str, data: &[u8]) -> Duration {
        let path = self.local().join(rel);
        self.until(&format!("{rel} arrives here"), || async {
            std::fs::read(&path).ok().as_deref() == Some(data)
        })
        .await
    }

    async fn gone_local(&self, rel: &str) {
        let path = self.local().join(rel);
        self.until(&format!("{rel} leaves this computer"), || async {
            !path.exists()
        })
        .await;
    }
}

fn write(dir: &Path, rel: &str, data: &[u8]) {
    // Written beside and renamed into place, as editors do, so that the watcher sees one
    // whole file.
    let tmp = dir.join(format!(".{}.tmp", rel.replace('/', "_")));
    std::fs::write(&tmp, data).unwrap();
    std::fs::rename(&tmp, dir.join(rel)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_way_scenarios() {
    let b = backend().await;
    let unique = format!(
        "nuvosync-live-{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
        std::process::id()
    );
    let run = std::sync::Arc::new(Run {
        root: format!("/{unique}/suite/run"),
        org: format!("/{unique}"),
        dir: tempfile::tempdir().unwrap(),
        b,
    });
    let name = run.b.name;
    let started = Instant::now();
    // The scenarios in a task of their own, so that the folder is removed even when one fails.
    let outcome = tokio::spawn(scenarios(run.clone())).await;
    if run.b.server.is_none() {
        match run.b.client.delete(&run.org, None).await {
            Ok(_) => eprintln!("live suite: removed {} from Dropbox", run.org),
            Err(e) => eprintln!(
                "live suite: could not remove {} from Dropbox ({e}) — remove it by hand",
                run.org
            ),
        }
    }
    match outcome {
        Ok(()) => eprintln!(
            "live suite: every scenario passed on the {name} in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

async fn scenarios(run: std::sync::Arc<Run>) {
    let local = run.local();
    let org = run.org.trim_start_matches('/');
    run.ok(&[
        "pair",
        "add",
        "--local",
        local.to_str().unwrap(),
        "--org",
        org,
        "--space",
        "suite",
        "--instance",
        "run",
        "--name",
        "live",
        "--rescan-interval",
        "3600",
    ]);
    let log = std::fs::File::create(run.dir.path().join("daemon.log")).unwrap();
    let daemon: Child = run
        .cmd(&["daemon"])
        .env("NUVOSYNC_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // The daemon is stopped however the scenarios end.
    struct Stop(Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            if matches!(self.0.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &self.0.id().to_string()])
                    .status();
                let _ = self.0.wait();
            }
        }
    }
    let mut daemon = Stop(daemon);
    run.until("the daemon answers", || async {
        run.cmd(&["status"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    })
    .await;

    // Create, edit, delete: this computer → Dropbox.
    write(&local, "mine.txt", b"one");
    let t = run.arrives_remote("mine.txt", b"one").await;
    eprintln!("  local create reached Dropbox in {t:?}");
    write(&local, "mine.txt", b"two, longer");
    run.arrives_remote("mine.txt", b"two, longer").await;
    std::fs::remove_file(local.join("mine.txt")).unwrap();
    run.gone_remote("mine.txt").await;

    // Create, edit, delete: Dropbox → this computer, by the longpoll (the rescan is an hour
    // away): how long a remote change takes to arrive is the longpoll's latency.
    run.put("theirs.txt", b"from the web").await;
    let t = run.arrives_local("theirs.txt", b"from the web").await;
    eprintln!("  remote create arrived by longpoll in {t:?}");
    run.put("theirs.txt", b"edited on the web").await;
    let t = run.arrives_local("theirs.txt", b"edited on the web").await;
    eprintln!("  remote edit arrived by longpoll in {t:?}");
    run.b
        .client
        .delete(&run.remote("theirs.txt"), None)
        .await
        .unwrap();
    run.gone_local("theirs.txt").await;

    // A rename here is a rename there.
    write(&local, "old name.txt", b"renamed");
    run.arrives_remote("old name.txt", b"renamed").await;
    std::fs::rename(local.join("old name.txt"), local.join("new name.txt")).unwrap();
    run.arrives_remote("new name.txt", b"renamed").await;
    run.gone_remote("old name.txt").await;

    // Names outside the BMP, both ways (UTF-16 surrogate pairs in Dropbox-API-Arg).
    write(&local, "party 🎉.txt", b"emoji here");
    run.arrives_remote("party 🎉.txt", b"emoji here").await;
    match run
        .b
        .client
        .get_metadata(&run.remote("party 🎉.txt"), false)
        .await
        .unwrap()
    {
        Some(Entry::File(f)) => assert!(f.path_display.ends_with("/party 🎉.txt"), "{f:?}"),
        other => panic!("party 🎉.txt on Dropbox: {other:?}"),
    }
    run.put("🚀 rocket 𝄞.txt", b"emoji there").await;
    run.arrives_local("🚀 rocket 𝄞.txt", b"emoji there").await;

    // 20 MiB: more than one request takes, so an upload session.
    let big: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    write(&local, "big.bin", &big);
    let t = run.arrives_remote("big.bin", &big).await;
    eprintln!("  20 MiB reached Dropbox in {t:?}");
    if let Some(server) = &run.b.server {
        let stats = serde_json::to_string(&server.emulator.stats).unwrap();
        assert!(
            stats.contains("upload_session/finish"),
            "20 MiB went without an upload session: {stats}"
        );
    }

    // A conflict: both sides edit the same file while the pair is paused; on resume both
    // versions are kept.
    write(&local, "both.txt", b"base");
    run.arrives_remote("both.txt", b"base").await;
    run.ok(&["pause"]);
    write(&local, "both.txt", b"edited here");
    run.put("both.txt", b"edited there").await;
    run.ok(&["resume"]);
    run.until("the conflict is recorded", || async {
        let out = run.ok(&["conflicts", "--json"]);
        out.contains("both")
    })
    .await;
    run.until("both versions are kept here", || async {
        let mut found = (false, false);
        for e in std::fs::read_dir(&local).unwrap().flatten() {
            if !e.file_name().to_string_lossy().starts_with("both") {
                continue;
            }
            let data = std::fs::read(e.path()).unwrap_or_default();
            found.0 |= data == b"edited here";
            found.1 |= data == b"edited there";
        }
        found == (true, true)
    })
    .await;

    run.ok(&["stop"]);
    let _ = daemon.0.wait();
}
