//! `daemon`: run every pair continuously and serve the control socket.

use super::{fail, paths};
use crate::args::Cli;
use nuvosync_api::{ApiError, Daemon, ErrorCode, Service};
use std::sync::Arc;

/// `daemon`: run every pair continuously, serve the control socket, stop on SIGTERM/SIGINT or
/// `nuvosync stop`.
pub async fn daemon(cli: &Cli) -> i32 {
    let paths = match paths(cli) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let service = match Service::open(paths.clone()) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(&e),
    };
    // One nuvosync per profile, whatever socket path another one listens on.
    if let Err(e) = service.claim() {
        return fail(&e);
    }
    let listener = match nuvosync_api::socket::bind(&paths.socket()).await {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    if let Err(e) = service.credential() {
        tracing::warn!("{e}; pairs start once an account is linked");
    }
    let daemon = Daemon::start(service).await;
    // One of the daemon's tasks: it ends when the daemon shuts down, which waits for it.
    daemon.spawn(nuvosync_api::socket::serve(listener, daemon.clone()));
    let _ = sd_notify::notify(
        false,
        &[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status("syncing"),
        ],
    );
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_micros(usec / 2)).await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
    tracing::info!(
        "nuvosync daemon running; control socket {}",
        paths.socket().display()
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(e) => {
            return fail(&ApiError::new(
                ErrorCode::Io,
                format!("cannot handle signals: {e}"),
            ));
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = daemon.stopped() => tracing::info!("stop requested"),
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    daemon.shutdown().await;
    let _ = std::fs::remove_file(paths.socket());
    0
}
