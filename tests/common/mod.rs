//! Fixtures for tests of the real `nuvosync` binary: an emulator in this process (HTTPS), and
//! a profile (config and state folders) every command of a test shares.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use dropbox_emulator::{Config, Faults, TestServer};
use nuvosync_test_support::emulator;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

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
            faults,
            ..emulator::config()
        };
        Self::with_config(use_token, config).await
    }

    /// A profile whose emulator runs with `config`.
    pub async fn with_config(use_token: bool, config: Config) -> Profile {
        Profile {
            server: emulator::start(config).await,
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
        let mut args = pair_add_args(&local);
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
        emulator::files_under(&self.server, ROOT)
    }

    /// Upload as a co-author.
    pub async fn put(&self, rel: &str, data: &[u8]) {
        emulator::upload(
            &emulator::colleague(&self.server),
            &format!("{ROOT}{rel}"),
            data,
        )
        .await;
    }
}

/// `nuvosync link` running with its standard streams piped, up to the consent page's address.
pub struct Linking {
    pub child: Child,
    /// Its standard output after the address.
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
    /// What it printed up to the address (the address the last line).
    pub printed: String,
}

impl Linking {
    /// Start `cmd` (a `link` command) and read its output up to the consent page's address.
    pub fn start(mut cmd: Command) -> Linking {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        let mut line = String::new();
        while !line.contains("/oauth2/authorize") {
            line.clear();
            assert!(
                std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0,
                "link printed no address: {printed}"
            );
            printed.push_str(&line);
        }
        Linking {
            child,
            stdout,
            printed,
        }
    }

    /// The consent page's address.
    pub fn authorize_url(&self) -> &str {
        self.printed.lines().last().unwrap().trim()
    }

    /// Paste `code` and wait for the end: how it ended, and what it printed after the address.
    pub fn paste(mut self, code: &str) -> (Output, String) {
        use std::io::Write;
        writeln!(self.child.stdin.take().unwrap(), "{code}").unwrap();
        let out = self.child.wait_with_output().unwrap();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        (out, rest)
    }
}

/// The arguments of `pair add` for the pair `lab` (local folder `local`, Dropbox [`ROOT`]).
pub fn pair_add_args(local: &Path) -> Vec<&str> {
    vec![
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
    ]
}

pub use nuvosync_test_support::local_files;

/// Wait until `f` holds (checked every 50 ms); panics with `what` after `secs` seconds.
pub async fn eventually(what: &str, secs: u64, f: impl FnMut() -> bool) {
    nuvosync_test_support::eventually_every(
        what,
        Duration::from_secs(secs),
        Duration::from_millis(50),
        f,
    )
    .await;
}

/// Record in the run's summary that the bad-input case `case` tried `inputs` bad inputs
/// (see [`nuvosync_test_support::record_bad_inputs`]).
pub fn record_bad_inputs(case: &str, inputs: u32) {
    nuvosync_test_support::record_bad_inputs(Path::new(env!("CARGO_TARGET_TMPDIR")), case, inputs);
}
