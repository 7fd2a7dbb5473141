//! `nuvosync doctor` against the emulator: every check comes back with a verdict, a skewed
//! server clock, a missing account, a grant without the scopes nuvosync needs and an unsafe
//! state folder are each reported with what to do, and a problem makes the exit code 1.

mod common;

use common::Profile;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

/// Run `doctor --json`: (exit code, the checks by id).
fn doctor(p: &Profile) -> (i32, std::collections::BTreeMap<String, Value>) {
    let out = p.run(&["doctor", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let checks = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()))
        .collect();
    (out.status.code().unwrap(), checks)
}

fn verdict(checks: &std::collections::BTreeMap<String, Value>, id: &str) -> String {
    checks[id]["verdict"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sound_setup_passes_every_check() {
    let p = Profile::new(true).await;
    p.add_pair(&[]);
    std::fs::create_dir_all(p.local().join("a/b")).unwrap();
    let (code, checks) = doctor(&p);
    let ids: Vec<&str> = checks.keys().map(String::as_str).collect();
    for id in [
        "account",
        "scopes",
        "host_api",
        "host_content",
        "host_notify",
        "clock",
        "inotify",
        "keyring",
        "state_folder",
    ] {
        assert!(ids.contains(&id), "no check {id}: {ids:?}");
    }
    for (id, c) in &checks {
        assert_eq!(c["verdict"], "ok", "{id}: {c}");
    }
    assert_eq!(code, 0);
    // nuvosync made the state folder, readable by its owner only.
    let mode = std::fs::metadata(p.state_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "state folder mode {mode:o}");
    assert!(
        checks["state_folder"]["detail"]
            .as_str()
            .unwrap()
            .contains("mode 700")
    );
    assert!(checks["account"]["detail"].as_str().unwrap().contains('@'));
    assert!(
        checks["scopes"]["detail"]
            .as_str()
            .unwrap()
            .contains("files.content.write")
    );
    assert!(
        checks["keyring"]["detail"]
            .as_str()
            .unwrap()
            .contains("NUVOSYNC_KEYRING=off")
    );
    if std::path::Path::new("/proc/sys/fs/inotify/max_user_watches").exists() {
        // The pair's folder, a and a/b.
        let d = checks["inotify"]["detail"].as_str().unwrap().to_string();
        assert!(d.starts_with("3 folders in 1 watched pair"), "{d}");
    }
    // The words a person reads.
    let text = p.ok(&["doctor"]);
    assert!(text.contains("ok       Clock: within 60 s"), "{text}");
    assert!(text.contains("0 problem(s)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skewed_clock_is_a_warning_then_a_problem() {
    let p = Profile::new(true).await;
    p.server.emulator.advance_clock(10 * 60);
    let (code, checks) = doctor(&p);
    assert_eq!(verdict(&checks, "clock"), "warning", "{}", checks["clock"]);
    assert!(
        checks["clock"]["detail"]
            .as_str()
            .unwrap()
            .contains("10 min behind"),
        "{}",
        checks["clock"]
    );
    assert_eq!(code, 0, "a warning alone is not a failure");

    p.server.emulator.advance_clock(-(2 * 3600 + 10 * 60));
    let (code, checks) = doctor(&p);
    assert_eq!(verdict(&checks, "clock"), "problem", "{}", checks["clock"]);
    assert!(
        checks["clock"]["detail"]
            .as_str()
            .unwrap()
            .contains("2 h ahead"),
        "{}",
        checks["clock"]
    );
    assert!(
        checks["clock"]["fix"]
            .as_str()
            .unwrap()
            .contains("network time")
    );
    assert_eq!(code, 1);
    let out = p.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PROBLEM  Clock:"), "{text}");
    assert!(text.contains("→ set the clock right"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_linked_account_is_a_problem_and_the_hosts_are_still_checked() {
    let p = Profile::new(false).await;
    let (code, checks) = doctor(&p);
    assert_eq!(code, 1);
    assert_eq!(verdict(&checks, "account"), "problem");
    assert!(
        checks["account"]["fix"]
            .as_str()
            .unwrap()
            .contains("nuvosync link")
    );
    for id in ["host_api", "host_content", "host_notify", "clock"] {
        assert_eq!(verdict(&checks, id), "ok", "{}", checks[id]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_without_a_needed_scope_is_a_problem() {
    let p = Profile::new(false).await;
    p.server.emulator.tokens.lock().refresh.insert(
        "rt-narrow".into(),
        dropbox_emulator::state::RefreshGrant {
            account: "ada".into(),
            app_key: None,
            scopes: Some(vec![
                "account_info.read".into(),
                "files.metadata.read".into(),
                "files.content.read".into(),
            ]),
            public: true,
        },
    );
    let out = p
        .cmd(&["doctor", "--json"])
        .env("NUVOSYNC_TOKEN", "rt-narrow")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scopes = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "scopes")
        .unwrap()
        .clone();
    assert_eq!(scopes["verdict"], "problem", "{scopes}");
    assert!(
        scopes["detail"]
            .as_str()
            .unwrap()
            .starts_with("missing files.content.write"),
        "{scopes}"
    );
    assert!(scopes["fix"].as_str().unwrap().contains("Permissions"));
    // The token never reaches the output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rt-narrow"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsafe_state_folder_is_a_problem() {
    let p = Profile::new(true).await;
    let state = p.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, checks) = doctor(&p);
    assert_eq!(code, 1);
    assert_eq!(verdict(&checks, "state_folder"), "problem");
    assert!(
        checks["state_folder"]["fix"]
            .as_str()
            .unwrap()
            .contains("chmod 700")
    );

    // A link in its place.
    let real = p.dir.path().join("elsewhere");
    std::fs::rename(&state, &real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, &state).unwrap();
    let (code, checks) = doctor(&p);
    assert_eq!(code, 1);
    assert!(
        checks["state_folder"]["detail"]
            .as_str()
            .unwrap()
            .contains("symbolic link"),
        "{}",
        checks["state_folder"]
    );
}
