//! Logging of the nuvosync programs: to stderr at the level asked for (`NUVOSYNC_LOG`, else
//! the program's default), and — with `NUVOSYNC_LOG_DIR` set — a copy of every line at debug
//! level in `<dir>/<program>-<pid>.log` (for a daemon's history, and for the test suite, which
//! searches every such file for secrets). Secrets are never logged at any level.
//!
//! In a container, log collectors read a process's standard output line by line: with
//! [`LogFormat::Json`] (`--log-format json`, `NUVOSYNC_LOG_FORMAT=json`) every line is one JSON
//! object (`timestamp`, `level`, `fields.message`, the event's other fields, and the spans), and
//! a program whose standard output carries nothing else (the daemon) writes them there.

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The copy's filter: everything of ours, the libraries' debug lines but not their wire traces.
const COPY_FILTER: &str =
    "debug,dropbox_sdk=off,hyper=info,hyper_util=info,h2=info,rustls=info,tokio_util=info";

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?} — use `text` or `json`"
            )),
        }
    }
}

/// Where log lines go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error (the default: standard output carries command results).
    #[default]
    Stderr,
    /// Standard output (a daemon in a container, whose standard output is its log).
    Stdout,
}

fn copy_file() -> Option<std::fs::File> {
    let dir = std::env::var_os("NUVOSYNC_LOG_DIR").filter(|v| !v.is_empty())?;
    open_copy(std::path::Path::new(&dir)).ok()
}

/// The log copy of this process in `dir`: the lines name the user's files, so the file is
/// the user's only (0600) and a folder made for it too (0700), whatever the umask.
fn open_copy(dir: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "nuvosync".into());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.join(format!("{program}-{}.log", std::process::id())))
}

/// Install the program's logging. `default` is the stderr filter without `NUVOSYNC_LOG`.
pub fn init(default: &str) {
    init_with(default, LogFormat::Text, LogTarget::Stderr)
}

/// [`init`] with a line format and a target.
pub fn init_with(default: &str, format: LogFormat, target: LogTarget) {
    let filter = std::env::var("NUVOSYNC_LOG").unwrap_or_else(|_| default.to_string());
    let filter =
        || tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "warn".into());
    let writer = move || -> Box<dyn std::io::Write> {
        match target {
            LogTarget::Stderr => Box::new(std::io::stderr()),
            LogTarget::Stdout => Box::new(std::io::stdout()),
        }
    };
    let main: Box<dyn Layer<_> + Send + Sync> = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(false)
            .with_ansi(target == LogTarget::Stderr)
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .with_current_span(false)
            .with_filter(filter())
            .boxed(),
    };
    let copy = copy_file().map(|f| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_filter(tracing_subscriber::EnvFilter::new(COPY_FILTER))
    });
    let _ = tracing_subscriber::registry()
        .with(main)
        .with(copy)
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    /// The log copy and the folder made for it are private under the most open umask (this
    /// test runs in a process of its own).
    #[test]
    fn log_copies_are_private_whatever_the_umask() {
        let old = rustix::process::umask(rustix::fs::Mode::empty());
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs/deeper");
        let f = super::open_copy(&dir);
        rustix::process::umask(old);
        let f = f.unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(dir.parent().unwrap()), 0o700);
    }
}
