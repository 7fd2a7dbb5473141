//! `cargo xtask`: the project's task runner (std only, so it builds in seconds).
//!
//! - `cargo xtask demo` — the main job: the tray app on the built-in emulator when a display
//!   is present and the app is built, else the headless `nuvosync demo`.
//! - `cargo xtask test` — everything CI runs: system packages, formatting, clippy, the Rust
//!   test suites, the emulator conformance suite (official Python SDK, Maestral, rclone) and
//!   the UI tests; prints each runner's summary.
//! - `cargo xtask deps` — install the Debian packages the tests need (as root), or print the
//!   command to run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Debian packages the build and the tests need.
const DEBIAN_PACKAGES: &[&str] = &[
    "pkg-config",
    "libdbus-1-dev",
    "libssl-dev",
    "python3-venv",
    "rclone",
    "sqlite3",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
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

fn run(name: &str, cmd: &mut Command) -> bool {
    eprintln!("==> {name}: {:?}", cmd);
    let start = Instant::now();
    let ok = cmd
        .current_dir(root())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    eprintln!(
        "==> {name}: {} in {:.0} s",
        if ok { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    ok
}

fn missing_packages() -> Vec<&'static str> {
    DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect()
}

fn deps() -> bool {
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
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]).envs(env),
    ) && run(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .envs(env),
    )
}

fn test(args: &[String]) -> bool {
    let quick = args.iter().any(|a| a == "--rust-only");
    let mut ok = deps();
    ok &= run(
        "format",
        Command::new("cargo").args(["fmt", "--all", "--", "--check"]),
    );
    ok &= run(
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
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok &= if nextest {
        run(
            "rust tests",
            Command::new("cargo").args([
                "nextest",
                "run",
                "--workspace",
                "--no-fail-fast",
                "--final-status-level",
                "fail",
            ]),
        )
    } else {
        run(
            "rust tests",
            Command::new("cargo").args(["test", "--workspace", "--no-fail-fast"]),
        )
    };
    if !quick {
        ok &= run(
            "emulator conformance (official Python SDK, Maestral, rclone)",
            Command::new("bash").arg("tests/conformance/run"),
        );
    }
    eprintln!("==> all tests: {}", if ok { "passed" } else { "FAILED" });
    ok
}

fn demo(args: &[String]) -> bool {
    run(
        "demo",
        Command::new("cargo")
            .args(["run", "--quiet", "--package", "nuvosync", "--", "demo"])
            .args(args),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") | Some("ci") => test(&args[1..]),
        Some("deps") => deps(),
        _ => {
            eprintln!("usage: cargo xtask demo | test [--rust-only] | deps");
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
