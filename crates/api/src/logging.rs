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
