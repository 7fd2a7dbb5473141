//! Logging of the nuvosync programs: to stderr at the level asked for (`NUVOSYNC_LOG`, else
//! the program's default), and — with `NUVOSYNC_LOG_DIR` set — a copy of every line at debug
//! level in `<dir>/<program>-<pid>.log` (for a daemon's history, and for the test suite, which
//! searches every such file for secrets). Secrets are never logged at any level.

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The copy's filter: everything of ours, the libraries' debug lines but not their wire traces.
const COPY_FILTER: &str =
    "debug,dropbox_sdk=off,hyper=info,hyper_util=info,h2=info,rustls=info,tokio_util=info";

fn copy_file() -> Option<std::fs::File> {
    let dir = std::env::var_os("NUVOSYNC_LOG_DIR").filter(|v| !v.is_empty())?;
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).ok()?;
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "nuvosync".into());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{program}-{}.log", std::process::id())))
        .ok()
}

/// Install the program's logging. `default` is the stderr filter without `NUVOSYNC_LOG`.
pub fn init(default: &str) {
    let filter = std::env::var("NUVOSYNC_LOG").unwrap_or_else(|_| default.to_string());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "warn".into()),
        );
    let copy = copy_file().map(|f| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_filter(tracing_subscriber::EnvFilter::new(COPY_FILTER))
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(copy)
        .try_init();
}
