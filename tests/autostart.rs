//! `settings set autostart` writes the system's entry wherever it is asked — the CLI without
//! a daemon, or the daemon through its socket — and `false` removes it; `autostart
//! enable|disable` is the same setting.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A command of this profile whose per-user configuration folder is `home/config` and that
/// finds no `systemctl` (the entry is written; the user is told how to enable it).
fn with_home(p: &Profile, home: &Path, args: &[&str]) -> Command {
    let mut c = p.cmd(args);
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("PATH", home);
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unit(home: &Path) -> PathBuf {
    home.join("config/systemd/user/nuvosync.service")
}

fn autostart_setting(p: &Profile, home: &Path) -> bool {
    let s: serde_json::Value =
        serde_json::from_str(&ok(with_home(p, home, &["settings", "get", "--json"]))).unwrap();
    s["autostart"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setting_writes_and_removes_the_entry_without_a_daemon() {
    let p = Profile::new(true).await;
    let home = p.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    ok(with_home(
        &p,
        &home,
        &["settings", "set", "autostart", "true"],
    ));
    let text = std::fs::read_to_string(unit(&home)).expect("the unit is written");
    assert!(text.contains(" daemon"), "{text}");
    assert!(
        text.contains(&format!("--state-dir '{}'", p.state_dir().display())),
        "the unit runs this profile: {text}"
    );
    assert!(autostart_setting(&p, &home));

    ok(with_home(
        &p,
        &home,
        &["settings", "set", "autostart", "false"],
    ));
    assert!(!unit(&home).exists(), "the unit is removed");
    assert!(!autostart_setting(&p, &home));

    // `autostart enable|disable` is the same setting.
    let said = ok(with_home(&p, &home, &["autostart", "enable"]));
    assert!(said.contains("systemctl --user"), "{said}");
    assert!(unit(&home).exists());
    assert!(autostart_setting(&p, &home));
    ok(with_home(&p, &home, &["autostart", "disable"]));
    assert!(!unit(&home).exists());
    assert!(!autostart_setting(&p, &home));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_writes_and_removes_the_entry_when_asked_through_its_socket() {
    let p = Profile::new(true).await;
    p.add_pair(&[]);
    // The daemon's own configuration folder; the CLI's points elsewhere, so only the daemon
    // can have written what appears there.
    let daemon_home = p.dir.path().join("daemon-home");
    let cli_home = p.dir.path().join("cli-home");
    for h in [&daemon_home, &cli_home] {
        std::fs::create_dir_all(h).unwrap();
    }
    let mut d = with_home(&p, &daemon_home, &["daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    p.wait_ready().await;

    ok(with_home(
        &p,
        &cli_home,
        &["settings", "set", "autostart", "true"],
    ));
    assert!(unit(&daemon_home).exists(), "the daemon wrote the unit");
    assert!(!unit(&cli_home).exists());
    ok(with_home(
        &p,
        &cli_home,
        &["settings", "set", "autostart", "false"],
    ));
    assert!(!unit(&daemon_home).exists(), "the daemon removed the unit");

    // (Its answer can race the shutdown: only the stop matters here.)
    let _ = p.run(&["stop"]);
    let _ = d.wait();
}
