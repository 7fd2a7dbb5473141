//! Demo mode (`--demo`): the built-in Dropbox emulator with a demo pair, in builds with the
//! `demo` feature (`cargo xtask demo`). What ships leaves the emulator out; there `--demo`
//! says how to get a build that has it.

use nuvosync_api::{ApiError, Service};
use std::path::PathBuf;
use std::sync::Arc;

/// A running demo; the emulator lives as long as this does.
#[cfg_attr(not(feature = "demo"), allow(dead_code))]
pub struct Demo {
    /// The line scripts and tests read: where everything is.
    pub ready_line: serde_json::Value,
    /// The emulator's address (`https://127.0.0.1:PORT`).
    pub origin: String,
    /// The demo profile's service.
    pub service: Arc<Service>,
    #[cfg(feature = "demo")]
    _demo: nuvosync_api::demo::Demo,
}

/// Start the demo in `dir` (a new temporary folder when `None`).
#[cfg(feature = "demo")]
pub async fn start(dir: Option<PathBuf>, unlinked: bool) -> Result<Demo, ApiError> {
    let d = nuvosync_api::demo::start(nuvosync_api::demo::DemoOptions {
        dir,
        latency_ms: 0,
        unlinked,
    })
    .await?;
    Ok(Demo {
        ready_line: d.ready_line(None),
        origin: d.server.url.trim_end_matches('/').to_string(),
        service: d.service.clone(),
        _demo: d,
    })
}

/// Start the demo: not in this build.
#[cfg(not(feature = "demo"))]
pub async fn start(_dir: Option<PathBuf>, _unlinked: bool) -> Result<Demo, ApiError> {
    Err(ApiError::new(
        nuvosync_api::ErrorCode::InvalidArgument,
        "this build of the app has no demo (it leaves the built-in Dropbox emulator out); run \
         `cargo xtask demo` in the source tree, or build with \
         `cargo build -p nuvosync-app --features demo` and start it with --demo again",
    ))
}
