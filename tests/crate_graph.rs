//! The crate graph holds what docs/ARCHITECTURE.md says: the sync model (`sync-core`) does no
//! IO, only the tray app depends on Tauri, the engine knows nothing of front ends, and the
//! emulator is never a dependency of the engine or the Dropbox client. Read from
//! `cargo metadata` (the declared normal dependencies of each workspace crate).

use std::collections::{BTreeMap, BTreeSet};

fn normal_deps() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null()) // normal, not dev or build
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn the_crate_graph_holds() {
    let g = normal_deps();
    let core = &g["sync-core"];
    for io in [
        "tokio",
        "reqwest",
        "rusqlite",
        "notify",
        "hyper",
        "nuvosync-dropbox",
    ] {
        assert!(
            !core.contains(io),
            "sync-core must stay pure, but depends on {io}"
        );
    }
    for (name, deps) in &g {
        let tauri: Vec<_> = deps.iter().filter(|d| d.starts_with("tauri")).collect();
        assert!(
            tauri.is_empty() || name == "nuvosync-app",
            "{name} depends on {tauri:?}: only the tray app (src-tauri) may"
        );
    }
    for engine in ["sync-core", "sync-engine", "nuvosync-dropbox"] {
        for front in [
            "nuvosync-api",
            "nuvosync",
            "nuvosync-app",
            "dropbox-emulator",
        ] {
            assert!(
                !g[engine].contains(front),
                "{engine} depends on {front}: the engine and the client know nothing of front ends or the emulator"
            );
        }
    }
}

/// The packages `cargo tree` lists for `package`'s normal dependencies, built with its
/// default features plus `features` (resolved, not compiled).
fn resolved_deps(package: &str, features: &[&str]) -> BTreeSet<String> {
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args([
        "tree",
        "--offline",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "-p",
        package,
    ]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let out = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// What ships (the CLI and the tray app, default features) carries no Dropbox emulator: no
/// server, no certificate maker. The demo is the `demo` feature, and it does bring it.
#[test]
fn the_shipped_binaries_carry_no_emulator() {
    for package in ["nuvosync", "nuvosync-app"] {
        let deps = resolved_deps(package, &[]);
        assert!(
            deps.contains("nuvosync-api"),
            "cargo tree of {package} lists no nuvosync-api: {deps:?}"
        );
        for banned in ["dropbox-emulator", "rcgen"] {
            assert!(
                !deps.contains(banned),
                "{package} (default features) depends on {banned}: the emulator belongs behind the `demo` feature"
            );
        }
        let demo = resolved_deps(package, &[&format!("{package}/demo")]);
        assert!(
            demo.contains("dropbox-emulator"),
            "{package} with the `demo` feature does not bring the emulator: {demo:?}"
        );
    }
}
