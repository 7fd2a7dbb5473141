//! One configuration, several writers: the CLI and a running daemon (or app) both change
//! config.toml, and no change one of them made is lost to the other's next save. The file
//! stays private (mode 0600) and whole.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

fn pair_names(p: &Profile) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&p.ok(&["pair", "list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_added_while_the_daemon_runs_survives_a_settings_change() {
    let p = Profile::new(true).await;
    p.add_pair(&[]);
    let mut d = p.daemon(None);
    p.wait_ready().await;

    // A second pair, from the command line, while the daemon runs...
    let second = p.dir.path().join("second");
    p.ok(&[
        "pair",
        "add",
        "--local",
        second.to_str().unwrap(),
        "--org",
        "Acme",
        "--space",
        "Research",
        "--instance",
        "Second",
        "--name",
        "second",
    ]);
    // ...then a setting changed through the daemon.
    p.ok(&["settings", "set", "upload-limit", "1000000"]);

    let config = p.config_dir().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("name = \"second\""),
        "the pair added by the CLI was lost to the daemon's save:\n{text}"
    );
    assert!(text.contains("upload_limit = 1000000"), "{text}");
    assert_eq!(pair_names(&p), ["lab", "second"]);
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600,
        "config.toml is private"
    );
    // The daemon knows the new pair: its status lists it.
    let status: serde_json::Value = serde_json::from_str(&p.ok(&["status", "--json"])).unwrap();
    let names: Vec<_> = status["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["lab", "second"], "{status}");

    // Removing it from the command line holds too.
    p.ok(&["pair", "remove", "second"]);
    p.ok(&["settings", "set", "upload-limit", "0"]);
    assert_eq!(pair_names(&p), ["lab"]);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("name = \"second\""), "{text}");

    // (Its answer can race the shutdown: only the stop matters here.)
    let _ = p.run(&["stop"]);
    let _ = d.wait();
}
