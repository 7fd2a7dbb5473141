//! The crate graph holds what docs/ARCHITECTURE.md says: the sync model (`sync-core`) does no
//! IO, only the tray app depends on Tauri, the engine knows nothing of front ends, the
//! emulator is never a dependency of the engine or the Dropbox client, and the tests' shared
//! fixtures (`nuvosync-test-support`) are no crate's normal dependency. Read from
//! `cargo metadata` (the declared normal dependencies of each workspace crate).

use std::collections::{BTreeMap, BTreeSet};

/// Run cargo with `args` in the workspace; its standard output (a failure fails the test).
fn cargo(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn normal_deps() -> BTreeMap<String, BTreeSet<String>> {
    let out = cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
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
    for (name, deps) in &g {
        assert!(
            !deps.contains("nuvosync-test-support"),
            "{name} depends on nuvosync-test-support: the tests' fixtures are a dev-dependency only"
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
    let features = features.join(",");
    let mut args = vec![
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
    ];
    if !features.is_empty() {
        args.extend(["--features", features.as_str()]);
    }
    cargo(&args)
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

/// The features `cargo tree` resolves for `package` in the graph of `root` (with `edges`).
fn features_of(root: &str, package: &str, edges: &str) -> BTreeSet<String> {
    let out = cargo(&[
        "tree",
        "--offline",
        "-e",
        edges,
        "--prefix",
        "none",
        "--format",
        "{p} {f}",
        "-p",
        root,
    ]);
    let prefix = format!("{package} v");
    out.lines()
        .filter(|l| l.starts_with(&prefix))
        .flat_map(|l| {
            l.rsplit(' ')
                .find(|w| !w.starts_with('(') && !w.ends_with(')'))
                .unwrap_or("")
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The engine's test hooks (fault injection, a jumping clock, a fake full inotify table,
/// plan traces) are the `testing` feature: on for the engine's own tests, off in what ships.
#[test]
fn the_engine_test_hooks_are_off_in_what_ships() {
    assert!(
        features_of("sync-engine", "sync-engine", "normal,dev").contains("testing"),
        "the engine's tests build it with the `testing` feature"
    );
    for package in ["nuvosync", "nuvosync-app", "nuvosync-api"] {
        let f = features_of(package, "sync-engine", "normal");
        assert!(
            !f.contains("testing"),
            "{package} builds the engine with its test hooks: {f:?}"
        );
    }
}
