//! The crate graph holds what docs/ARCHITECTURE.md says: the sync model (`sync-core`) does no
//! IO, only the tray app depends on Tauri, the engine knows nothing of front ends, the
//! emulator is never a dependency of the engine or the Dropbox client, and the tests' shared
//! fixtures (`nuvosync-test-support`) are no crate's normal dependency. Read from
//! `cargo metadata` (the declared normal dependencies of each workspace crate). And the front
//! ends use the engine through its façade only: read from their sources.

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

/// The modules of the engine that are its façade: front ends name these, or what the crate's
/// root re-exports, and nothing else of the engine. `platform` is the one place that speaks
/// to the operating system (a front end's start-at-login entry and browser go through it too).
const FACADE: &[&str] = &["engine", "events", "platform"];

/// What a front end names of the engine past its façade, in `text` (Rust source): a module
/// path `sync_engine::module::` (also inside a `use sync_engine::{…}` group) other than the
/// façade's, or the raw `sync_engine::Pair`. Each as (line, what); comments are skipped.
fn past_the_facade(text: &str) -> Vec<(usize, String)> {
    let code: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut out = vec![];
    let needle = "sync_engine::";
    for (at, _) in code.match_indices(needle) {
        if at > 0 {
            let before = code[..at].chars().next_back().unwrap();
            if before.is_ascii_alphanumeric() || before == '_' {
                continue; // another crate whose name ends so
            }
        }
        let rest = &code[at + needle.len()..];
        // The paths named here: one, or the items of a `{…}` group at its top level.
        let mut paths: Vec<(usize, &str)> = vec![];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        paths.push((start, &group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths.push((start, &group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            paths = paths
                .into_iter()
                .map(|(s, p)| {
                    let lead = p.len() - p.trim_start().len();
                    (at + needle.len() + 1 + s + lead, p.trim_start())
                })
                .collect();
        } else {
            paths.push((at, rest));
        }
        for (pos, p) in paths {
            let first = ident(p);
            let module = p[first.len()..].starts_with("::")
                && first.starts_with(|c: char| c.is_ascii_lowercase())
                && !FACADE.contains(&first.as_str());
            if module || first == "Pair" {
                out.push((line_of(pos), format!("sync_engine::{first}")));
            }
        }
    }
    out
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The front ends (the API, the CLI, the tray app) use the engine through its façade only:
/// `sync_engine::engine::*` (the `Engine` and its `PairHandle`s), `sync_engine::events::*`,
/// `sync_engine::platform::*` and what the crate's root re-exports — never its index, scanner, file layer or a raw `Pair`.
/// The engine's internal modules are public only with its `testing` feature (its tests and
/// those of front ends); this check also keeps the front ends' own sources off them.
#[test]
fn front_ends_use_the_engine_through_its_facade() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in ["crates/api/src", "src", "src-tauri/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 20,
        "the front ends' sources are found: {files:?}"
    );
    let mut found = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (line, what) in past_the_facade(&text) {
            let f = f.strip_prefix(root).unwrap_or(f);
            found.push(format!("{}:{line}: {what}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "{} use(s) of the engine past its façade (use `sync_engine::engine::*`, `sync_engine::events::*`, `sync_engine::platform::*` or a root re-export; add a `PairHandle` method for what is missing):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_facade_check_sees_paths_and_groups() {
    let text = "use sync_engine::{Event, index::Issue,\n    engine::FileState};\n// sync_engine::scan::x\nlet t = sync_engine::pair::now();\nlet p: sync_engine::Pair = todo();\nlet h: sync_engine::PairHandle;\nmy_sync_engine::x::y();\nuse sync_engine::events::Events;";
    assert_eq!(
        past_the_facade(text),
        [
            (1, "sync_engine::index".to_string()),
            (4, "sync_engine::pair".to_string()),
            (5, "sync_engine::Pair".to_string()),
        ]
    );
}
