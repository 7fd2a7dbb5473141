//! Log capture for test processes: with `NUVOSYNC_LOG_DIR` set, a process that starts a
//! [`crate::TestServer`] writes every log line of the engine, the client and the emulator
//! (debug level and up) to `<dir>/<program>-<pid>.log`. `cargo xtask test` sets it and then
//! searches all of them for secrets (tokens, codes), which must never be logged.

use std::path::PathBuf;

/// Where log copies go, if anywhere.
pub fn dir() -> Option<PathBuf> {
    std::env::var_os("NUVOSYNC_LOG_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The filter for log copies: everything of ours, the libraries' debug lines but not their
/// wire traces.
pub const COPY_FILTER: &str =
    "debug,hyper=info,hyper_util=info,h2=info,rustls=info,tokio_util=info";

/// A log file of this process in `dir`, created on first use.
pub fn file_in(dir: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "process".into());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{program}-{}.log", std::process::id())))
}

/// Install the capture once per process (no-op without `NUVOSYNC_LOG_DIR`, or when the
/// process already has a subscriber).
pub fn capture_for_tests() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(dir) = dir() else { return };
        let Ok(file) = file_in(&dir) else { return };
        let _ = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new(COPY_FILTER))
            .try_init();
    });
}
