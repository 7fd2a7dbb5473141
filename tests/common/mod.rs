//! Fixtures for tests of the real `nuvosync` binary: an emulator in this process (HTTPS), and
//! a profile (config and state folders) every command of a test shares.

#![allow(dead_code)] // each test binary uses a different subset

use dropbox_emulator::{Config, Faults, TestServer};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const ROOT: &str = "/Acme/Research/Lab";

pub struct Profile {
    pub server: TestServer,
    pub dir: tempfile::TempDir,
    /// Use the fixed account token (NUVOSYNC_TOKEN) rather than a link.
    pub use_token: bool,
}

impl Profile {
    pub async fn new(use_token: bool) -> Profile {
        Self::with_faults(use_token, Faults::default()).await
    }

    pub async fn with_faults(use_token: bool, faults: Faults) -> Profile {
        let config = Config {
            accounts: vec![("ada".into(), "tok-ada".into())],
            faults,
            ..Config::default()
        };
        Profile {
            server: TestServer::start(config, true).await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
            use_token,
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn local(&self) -> PathBuf {
        self.dir.path().join("lab")
    }

    /// A `nuvosync` command with this profile's environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nuvosync"));
        c.args(args)
            .env("NUVOSYNC_CONFIG_DIR", self.config_dir())
            .env("NUVOSYNC_STATE_DIR", self.state_dir())
            .env("NUVOSYNC_DROPBOX_URL", &self.server.url)
            .env("NUVOSYNC_CA_FILE", self.server.ca_file.as_ref().unwrap())
            .env("NUVOSYNC_KEYRING", "off")
            .env("NUVOSYNC_NO_OS_TRASH", "1")
            .env_remove("NUVOSYNC_TOKEN")
            .env_remove("NUVOSYNC_LOG");
        if self.use_token {
            c.env("NUVOSYNC_TOKEN", "tok-ada");
        }
        c
    }

    /// Run to completion, capturing output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "nuvosync {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Add the pair `lab` (local folder [`Profile::local`], Dropbox [`ROOT`]).
    pub fn add_pair(&self, extra: &[&str]) {
        let local = self.local();
        let mut args = vec![
            "pair",
            "add",
            "--local",
            local.to_str().unwrap(),
            "--org",
            "Acme",
            "--space",
            "Research",
            "--instance",
            "Lab",
            "--name",
            "lab",
        ];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    /// Start the daemon (stderr to a file in the profile).
    pub fn daemon(&self, log_level: Option<&str>) -> Child {
        let log = std::fs::File::create(
            self.dir
                .path()
                .join(format!("daemon-{}.log", std::process::id())),
        )
        .unwrap();
        let mut c = self.cmd(&["daemon"]);
        if let Some(l) = log_level {
            c.env("NUVOSYNC_LOG", l);
        }
        c.stdout(Stdio::null()).stderr(log).spawn().unwrap()
    }

    /// Wait until the daemon answers.
    pub async fn wait_ready(&self) {
        for _ in 0..200 {
            if self.run(&["status"]).status.success() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the daemon did not come up");
    }

    /// Every file under ROOT on Dropbox: relative path → content.
    pub fn remote_files(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let acct = self.server.emulator.account("ada").unwrap();
        let ns = acct.ns.lock();
        let prefix = format!("/apps/nuvolos.cloud{}/", ROOT.to_lowercase());
        ns.nodes
            .iter()
            .filter(|(k, n)| k.starts_with(&prefix) && n.file().is_some())
            .map(|(_, n)| {
                let rel = n.display.split('/').skip(6).collect::<Vec<_>>().join("/");
                (
                    format!("/{rel}"),
                    self.server
                        .emulator
                        .blob(&n.file().unwrap().hash)
                        .unwrap()
                        .to_vec(),
                )
            })
            .collect()
    }

    /// Upload as a co-author.
    pub async fn put(&self, rel: &str, data: &[u8]) {
        let mut e = nuvosync_dropbox::Endpoints::single(&self.server.url).unwrap();
        e.ca_file = self.server.ca_file.clone();
        let c = nuvosync_dropbox::Client::new(
            e,
            nuvosync_dropbox::Credential::Access(nuvosync_dropbox::Secret::new("tok-ada")),
        )
        .unwrap();
        let commit = nuvosync_dropbox::Commit {
            path: format!("{ROOT}{rel}"),
            mode: nuvosync_dropbox::WriteMode::Overwrite,
            autorename: false,
            strict_conflict: false,
            client_modified: None,
        };
        c.upload(&commit, bytes::Bytes::copy_from_slice(data))
            .await
            .unwrap();
    }
}

/// Every file under `root`, outside `.nuvosync`.
pub fn local_files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().to_string_lossy());
            if rel.starts_with("/.nuvosync") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

pub async fn eventually(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < secs {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {secs} s");
}

/// Record in the run's summary that the bad-input case `case` tried `inputs` bad inputs:
/// `$CARGO_TARGET_TMPDIR/summary/bad-inputs.json` is one flat JSON object (the test runner
/// reads flat counters) — `{"bad_inputs": N, "cases": M,` then one line per case,
/// `"case/NAME": n`.
///
/// Tests run as parallel processes, so each case leaves its own file and whoever finishes
/// writes the total again (atomically, and again if another case finished meanwhile).
pub fn record_bad_inputs(case: &str, inputs: u32) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("summary");
    let cases = dir.join("bad-inputs");
    if std::fs::create_dir_all(&cases).is_err() {
        return;
    }
    let _ = std::fs::write(cases.join(case), inputs.to_string());
    let read = || -> std::collections::BTreeMap<String, u32> {
        std::fs::read_dir(&cases)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = std::fs::read_to_string(e.path())
                            .ok()?
                            .trim()
                            .parse()
                            .ok()?;
                        Some((e.file_name().to_string_lossy().into_owned(), n))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for _ in 0..20 {
        let seen = read();
        let lines: Vec<String> = seen
            .iter()
            .map(|(c, n)| format!("\"case/{c}\": {n}"))
            .collect();
        let text = format!(
            "{{\"bad_inputs\": {}, \"cases\": {},\n{}}}\n",
            seen.values().sum::<u32>(),
            seen.len(),
            lines.join(",\n")
        );
        let tmp = dir.join(format!("bad-inputs.json.{}", std::process::id()));
        if std::fs::write(&tmp, text).is_err()
            || std::fs::rename(&tmp, dir.join("bad-inputs.json")).is_err()
        {
            return;
        }
        if read() == seen {
            return;
        }
    }
}
