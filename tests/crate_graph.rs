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
