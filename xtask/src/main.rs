//! `cargo xtask`: the project's task runner (std only, so it builds in seconds).
//!
//! - `cargo xtask demo` — the main job: the tray app on the built-in emulator when a display
//!   is present, else the headless `nuvosync demo` (continuous sync; Ctrl-C stops).
//! - `cargo xtask test` — everything CI runs: system packages, the UI build, formatting,
//!   clippy, the Rust test suites, the emulator conformance suite (official Python SDK,
//!   Maestral, rclone), the UI unit and browser tests, the tray app driven through WebDriver,
//!   a smoke run of the benchmarks (`bench/run --quick`); then each runner's summary and the
//!   reliability summary.
//! - `cargo xtask deps` — install the Debian packages the build and tests need (as root), or
//!   print the command to run.
//! - `cargo xtask bench [ARGS]` — the benchmarks (`bench/run`).
//! - `cargo xtask secrets [DIR]` — search log files for secrets (what `test` does last with
//!   every stage's output and the programs' log copies, `NUVOSYNC_LOG_DIR`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Debian packages the build and the tests need.
const DEBIAN_PACKAGES: &[&str] = &[
    // build
    "build-essential",
    "pkg-config",
    "libdbus-1-dev",
    "libssl-dev",
    "libwebkit2gtk-4.1-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "file",
    // tests
    "python3-venv",
    "rclone",
    "sqlite3",
    "chromium",
    "xvfb",
    "xauth",
    "dbus-x11",
    "webkit2gtk-driver",
    "util-linux",
    "haskell-status-notifier-item-utils",
    "nodejs",
    "npm",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Cargo's target folder: `CARGO_TARGET_DIR` if set (relative to the repository), else `target`.
fn target() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root().join(d),
        _ => root().join("target"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One stage of the run and how it went.
struct Stage {
    name: String,
    ok: bool,
    secs: f64,
}

/// Where every stage's output and the programs' log copies go (`NUVOSYNC_LOG_DIR`), to be
/// searched for secrets at the end.
fn logs_dir() -> PathBuf {
    target().join("tmp/logs")
}

fn run(stages: &mut Vec<Stage>, name: &str, cmd: &mut Command) -> bool {
    eprintln!("\n==> {name}");
    let start = Instant::now();
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    let n = stages.len();
    let ok = tee(cmd, &logs_dir().join(format!("stage-{n:02}.log")));
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "==> {name}: {} in {secs:.0} s",
        if ok { "ok" } else { "FAILED" }
    );
    stages.push(Stage {
        name: name.to_string(),
        ok,
        secs,
    });
    ok
}

/// Run `cmd` with its output shown as usual and copied to `log`; the programs it starts
/// keep their own log copies next to it.
fn tee(cmd: &mut Command, log: &Path) -> bool {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let _ = std::fs::create_dir_all(logs_dir());
    // Unless the stage says otherwise (the benchmarks measure without log copies).
    if !cmd.get_envs().any(|(k, _)| k == "NUVOSYNC_LOG_DIR") {
        cmd.env("NUVOSYNC_LOG_DIR", logs_dir());
    }
    let Ok(file) = std::fs::File::create(log) else {
        return cmd.status().map(|s| s.success()).unwrap_or(false);
    };
    let file = std::sync::Arc::new(std::sync::Mutex::new(file));
    let Ok(mut child) = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() else {
        return false;
    };
    fn copy(
        mut from: impl Read,
        mut to: impl Write,
        file: std::sync::Arc<std::sync::Mutex<std::fs::File>>,
    ) {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = to.write_all(&buf[..n]);
            let _ = to.flush();
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(&buf[..n]);
            }
        }
    }
    let out = child.stdout.take().map(|o| {
        let f = file.clone();
        std::thread::spawn(move || copy(o, std::io::stdout(), f))
    });
    let err = child.stderr.take().map(|e| {
        let f = file.clone();
        std::thread::spawn(move || copy(e, std::io::stderr(), f))
    });
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    for t in [out, err].into_iter().flatten() {
        let _ = t.join();
    }
    ok
}

/// Kinds of secret the test suites use, by how they begin: what the emulator issues
/// (`sl.` access tokens, `rt.` refresh tokens, `ac.` authorization codes, each followed by
/// 32 random characters) and the suites' fixed test tokens (`tok-…`).
const SECRET_PREFIXES: &[(&str, usize)] = &[("sl.", 32), ("rt.", 32), ("ac.", 32), ("tok-", 3)];

/// Secrets found in one text: (line number, the secret's kind). Never the secret itself.
fn secrets_in(text: &[u8]) -> Vec<(usize, &'static str)> {
    let token_char = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let mut found = vec![];
    for (i, line) in text.split(|&c| c == b'\n').enumerate() {
        for (prefix, min) in SECRET_PREFIXES {
            let p = prefix.as_bytes();
            let mut at = 0;
            while let Some(pos) = line[at..].windows(p.len()).position(|w| w == p) {
                let start = at + pos;
                let before_ok = start == 0 || !token_char(line[start - 1]);
                let tail = line[start + p.len()..]
                    .iter()
                    .take_while(|c| token_char(**c))
                    .count();
                if before_ok && tail >= *min {
                    found.push((i + 1, *prefix));
                }
                at = start + p.len();
            }
        }
    }
    found
}

/// The secrets stage: search every captured output and log copy under `dir`.
fn no_secrets_in(stages: &mut Vec<Stage>, dir: PathBuf) -> bool {
    eprintln!("\n==> no secret in any log");
    let start = Instant::now();
    let (mut files, mut lines, mut hits) = (0usize, 0usize, vec![]);
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(text) = std::fs::read(&p) else {
                continue;
            };
            files += 1;
            lines += text.iter().filter(|&&c| c == b'\n').count();
            for (line, kind) in secrets_in(&text) {
                hits.push(format!(
                    "{}:{line}: a secret beginning {kind:?}",
                    p.display()
                ));
            }
        }
    }
    for h in hits.iter().take(20) {
        eprintln!("  {h}");
    }
    eprintln!(
        "secrets: {} found in {files} log files ({lines} lines)",
        hits.len()
    );
    let ok = hits.is_empty() && files > 0;
    stages.push(Stage {
        name: "no secret in any log".into(),
        ok,
        secs: start.elapsed().as_secs_f64(),
    });
    ok
}

fn missing_packages() -> Vec<&'static str> {
    DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            // Node.js may come from elsewhere than Debian (the machine's own install).
            if (*p == "nodejs" && have("node")) || (*p == "npm" && have("npm")) {
                return false;
            }
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect()
}

fn deps(stages: &mut Vec<Stage>) -> bool {
    let missing = missing_packages();
    if missing.is_empty() {
        return true;
    }
    if !have("apt-get") {
        eprintln!(
            "==> deps: not a Debian system; make sure these are installed: {}",
            missing.join(" ")
        );
        return true;
    }
    if !is_root() {
        eprintln!(
            "==> deps: missing Debian packages; run:\n    sudo apt-get install -y {}",
            missing.join(" ")
        );
        return false;
    }
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    run(
        stages,
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]).envs(env),
    ) && run(
        stages,
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .envs(env),
    )
}

/// `npm` run on the UI package. `--prefix` names the package folder explicitly, so npm never
/// settles on another folder by walking up from its working directory.
fn npm(args: &[&str]) -> Command {
    let ui = root().join("ui");
    let mut cmd = Command::new("npm");
    cmd.arg("--prefix").arg(&ui).args(args).current_dir(&ui);
    cmd
}

/// What npm saw, printed when an npm stage fails (the next run's reader needs it).
fn npm_diagnostics() {
    let ui = root().join("ui");
    eprintln!("==> npm diagnostics: ui folder {}", ui.display());
    for (what, cmd) in [
        ("node", "node --version"),
        ("npm", "npm --version"),
        ("ui folder", "ls -la ui"),
        ("npm environment", "env | grep -i '^npm_\\|^node_' || true"),
        (
            "newest npm log",
            "tail -n 30 \"$(ls -t ~/.npm/_logs/*.log 2>/dev/null | head -n 1)\" 2>/dev/null || true",
        ),
    ] {
        eprintln!("--- {what}");
        let _ = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(root())
            .status();
    }
}

/// Install the UI's packages and build it (the tray app embeds `ui/dist`).
fn ui_build(stages: &mut Vec<Stage>) -> bool {
    let ui = root().join("ui");
    if !ui.join("package.json").is_file() {
        eprintln!("==> ui: {} is missing", ui.join("package.json").display());
        npm_diagnostics();
        return false;
    }
    let install = ui.join("node_modules").is_dir()
        || run(
            stages,
            "ui: npm ci",
            &mut npm(&["ci", "--no-audit", "--no-fund"]),
        );
    let ok = install && run(stages, "ui: build", &mut npm(&["run", "build"]));
    if !ok {
        npm_diagnostics();
    }
    ok
}

fn test(args: &[String]) -> bool {
    let rust_only = args.iter().any(|a| a == "--rust-only");
    let start = Instant::now();
    let mut stages = vec![];
    let _ = std::fs::remove_dir_all(logs_dir());
    let mut ok = deps(&mut stages);
    ok &= ui_build(&mut stages);
    ok &= run(
        &mut stages,
        "format",
        Command::new("cargo").args(["fmt", "--all", "--", "--check"]),
    );
    ok &= run(
        &mut stages,
        "clippy",
        Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    );
    // The demo code (the `demo` feature of the CLI and the app) too.
    ok &= run(
        &mut stages,
        "clippy (demo feature)",
        Command::new("cargo").args([
            "clippy",
            "-p",
            "nuvosync",
            "-p",
            "nuvosync-app",
            "--all-targets",
            "--features",
            "nuvosync/demo,nuvosync-app/demo",
            "--",
            "-D",
            "warnings",
        ]),
    );
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let summary_dir = target().join("tmp/summary");
    let _ = std::fs::remove_dir_all(&summary_dir);
    ok &= if nextest {
        run(
            &mut stages,
            "rust tests",
            Command::new("cargo")
                .args([
                    "nextest",
                    "run",
                    "--workspace",
                    "--no-fail-fast",
                    "--final-status-level",
                    "fail",
                ])
                .env("NUVOSYNC_KEYRING", "off")
                // The bad-input catalogue's 100,000 files in one folder (2–3 minutes).
                .env("NUVOSYNC_BIG_FOLDER", "1"),
        )
    } else {
        run(
            &mut stages,
            "rust tests",
            Command::new("cargo")
                .args(["test", "--workspace", "--no-fail-fast"])
                .env("NUVOSYNC_KEYRING", "off")
                .env("NUVOSYNC_BIG_FOLDER", "1"),
        )
    };
    if !rust_only {
        ok &= run(
            &mut stages,
            "emulator conformance (official Python SDK, Maestral, rclone)",
            Command::new("bash").arg("tests/conformance/run"),
        );
        ok &= run(&mut stages, "ui: type check", &mut npm(&["run", "check"]));
        ok &= run(&mut stages, "ui: unit tests (Vitest)", &mut npm(&["test"]));
        // The browser tests run `nuvosync demo`: the CLI with the `demo` feature (the Rust
        // tests above built it without, as it ships).
        ok &= run(
            &mut stages,
            "build the CLI with the demo (cargo build -p nuvosync --features demo)",
            Command::new("cargo").args(["build", "-p", "nuvosync", "--features", "demo"]),
        ) && run(
            &mut stages,
            "ui: browser tests (Playwright, Chromium)",
            npm(&["run", "e2e"]).env("NUVOSYNC_BIN", target().join("debug/nuvosync")),
        );
        if root().join("tests/app/run").exists() {
            ok &= run(
                &mut stages,
                "tray app through WebDriver (tauri-driver, Xvfb)",
                Command::new("bash").arg("tests/app/run"),
            );
        }
        // The benchmark harness still works: `--quick` on the debug binaries the tests built
        // (its figures are not comparable with a full run's; `cargo xtask bench` makes those).
        ok &= run(
            &mut stages,
            "benchmark smoke (bench/run --quick)",
            Command::new("bash")
                .args(["bench/run", "--quick", "--cap", "60", "--out"])
                .arg(root().join("target/bench-quick"))
                .env("BENCH_PROFILE", "debug")
                .env_remove("NUVOSYNC_LOG_DIR"),
        );
    }
    ok &= no_secrets_in(&mut stages, logs_dir());
    print_summary(&stages, &summary_dir, start.elapsed().as_secs_f64(), ok);
    ok
}

/// The bad-input catalogue's cases that are faults of this computer's disk (rather than of
/// Dropbox's answers), by kind.
const LOCAL_BAD_INPUTS: &[(&str, &[&str])] = &[
    (
        "unreadable (EACCES, EIO, ESTALE)",
        &[
            "unreadable_folder_eacces",
            "unreadable_eio_estale",
            "permission_denied_read",
        ],
    ),
    (
        "links",
        &[
            "symlinks",
            "folder_replaced_by_a_link",
            "links_swapped_mid_run",
            "state_folder_planted_link",
            "state_folder_link_or_foreign",
            "excluded_free_through_links",
            "synced_path_replaced_by_a_link",
            "scan_below_a_swapped_link",
        ],
    ),
    (
        "edits keeping size and time",
        &["edit_keeping_size_and_time"],
    ),
    (
        "other (full disk, read-only, FIFOs, locks, modes, state files)",
        &[
            "disk_full",
            "permission_denied_write",
            "read_only_root",
            "fifos_and_sockets",
            "locked_files",
            "modes_kept",
            "deleted_index",
            "marker_newer_than_index",
            "local_only_data_in_deleted_folder",
        ],
    ),
];

/// The one-screen summary: every stage, then what the reliability suites counted.
fn print_summary(stages: &[Stage], summary_dir: &Path, total: f64, ok: bool) {
    eprintln!("\n================ summary ================");
    for s in stages {
        eprintln!(
            "  {:<62} {:>6}  {:>5.0} s",
            s.name,
            if s.ok { "ok" } else { "FAILED" },
            s.secs
        );
    }
    let mut totals: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(summary_dir) {
        for e in rd.flatten() {
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            // Flat JSON objects of counters: {"seeds": 50, ...}
            for part in text.trim_matches(|c| c == '{' || c == '}').split(',') {
                if let Some((k, v)) = part.split_once(':')
                    && let Ok(n) = v.trim().parse::<u64>()
                {
                    *totals
                        .entry(k.trim().trim_matches('"').to_string())
                        .or_insert(0) += n;
                }
            }
        }
    }
    if !totals.is_empty() {
        let get = |k: &str| totals.get(k).copied().unwrap_or(0);
        eprintln!(
            "  reliability: {} seeds, {} engine steps, {} crashes ({} dropped mid-flight), {} clock jumps, {} server faults and {} local faults injected ({} power cuts, {} EACCES, {} EIO, {} edits keeping size and time, {} links swapped in), {} bad inputs tried, {} versions written, {} versions lost",
            get("seeds"),
            get("steps"),
            get("crashes"),
            get("dropped_mid_flight"),
            get("clock_jumps"),
            get("faults"),
            get("local_faults"),
            get("power_cuts"),
            get("local_eacces"),
            get("local_eio"),
            get("local_coarse_times"),
            get("local_link_swaps"),
            get("bad_inputs"),
            get("versions"),
            get("lost")
        );
        // The bad-input catalogue's cases that are faults of this computer's disk, by kind.
        let local: Vec<String> = LOCAL_BAD_INPUTS
            .iter()
            .map(|(kind, cases)| {
                let n: u64 = cases.iter().map(|c| get(&format!("case/{c}"))).sum();
                format!("{n} {kind}")
            })
            .collect();
        eprintln!("  bad inputs of this computer's disk: {}", local.join(", "));
        if totals.contains_key("daemon_sigkills") {
            eprintln!(
                "  process crashes: the daemon killed with SIGKILL {} times mid-sync, {} versions written, none lost",
                get("daemon_sigkills"),
                get("daemon_versions")
            );
        }
    }
    eprintln!(
        "  all tests: {} in {:.0} min",
        if ok { "passed" } else { "FAILED" },
        total / 60.0
    );
}

fn demo(args: &[String]) -> bool {
    let mut stages = vec![];
    let display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if display && deps(&mut stages) && ui_build(&mut stages) {
        eprintln!("==> a display is present: starting the tray app on the built-in emulator");
        if run(
            &mut stages,
            "tray app (demo)",
            Command::new("cargo")
                .args([
                    "run",
                    "--quiet",
                    "--package",
                    "nuvosync-app",
                    "--features",
                    "demo",
                    "--",
                    "--demo",
                ])
                .args(args),
        ) {
            return true;
        }
        eprintln!("==> the tray app could not run here; falling back to the headless demo");
    }
    run(
        &mut stages,
        "demo",
        Command::new("cargo")
            .args([
                "run",
                "--quiet",
                "--package",
                "nuvosync",
                "--features",
                "demo",
                "--",
                "demo",
            ])
            .args(args),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") | Some("ci") => test(&args[1..]),
        Some("deps") => deps(&mut vec![]),
        Some("bench") => run(
            &mut vec![],
            "bench",
            Command::new("bash")
                .arg("bench/run")
                .args(&args[1..])
                .env_remove("NUVOSYNC_LOG_DIR"),
        ),
        Some("secrets") => no_secrets_in(
            &mut vec![],
            args.get(1).map(PathBuf::from).unwrap_or_else(logs_dir),
        ),
        _ => {
            eprintln!(
                "usage: cargo xtask demo | test [--rust-only] | deps | bench [ARGS] | secrets [LOG-DIR]"
            );
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::secrets_in;

    #[test]
    fn secrets_are_found_by_their_kind_and_line_and_not_in_other_words() {
        let token = "sl.AbCdEfGhIjKlMnOpQrStUvWxYz012345";
        let text = format!(
            "starting\nAuthorization: Bearer {token}\nrefresh=rt.{0}\nok\ncode ac.{0} and tok-ada\n",
            "x".repeat(32)
        );
        assert_eq!(
            secrets_in(text.as_bytes()),
            vec![(2, "sl."), (3, "rt."), (5, "ac."), (5, "tok-")]
        );
        // Too short, or the tail of another word: not a secret. After a dot or a slash: one.
        let long = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
        let clean = format!("sl.short\nmysl.{long}\ntok-\nstock-ada\n");
        assert_eq!(secrets_in(clean.as_bytes()), vec![]);
        let after_dot = format!("url=x.sl.{long}");
        assert_eq!(secrets_in(after_dot.as_bytes()), vec![(1, "sl.")]);
    }
}
