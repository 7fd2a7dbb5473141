//! A faithful Dropbox API v2 server for tests, demos and benchmarks.
//!
//! It speaks the api, content and notify routes a sync client uses, plus `/oauth2/*`, over
//! HTTP/1.1 and HTTPS (HTTP/2 by ALPN) on one listener, under a per-account load model
//! ([`load`]), with the wire shapes of the official `dropbox-sdk`
//! types. Start one in-process on port 0 with [`TestServer::start`] (or [`serve`] with your
//! own listener and shutdown signal); the `dropbox-emulator` binary wraps the same code.
//! See the crate README for what is emulated and what is not.

pub mod admin;
pub mod apps;
pub mod cursor;
pub mod faults;
pub mod load;
pub mod logs;
pub mod oauth;
pub mod ops;
pub mod route_table;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod wire;

pub use faults::Faults;
pub use server::serve;
pub use state::{Config, Emulator, NUVOSYNC_APP_FOLDER, NUVOSYNC_APP_KEY};

use std::path::PathBuf;
use std::sync::Arc;

/// An emulator running in this process; it stops when dropped.
pub struct TestServer {
    /// Base URL, `https://127.0.0.1:PORT` (or `http://` without TLS).
    pub url: String,
    /// The CA certificate to trust (with TLS).
    pub ca_file: Option<PathBuf>,
    /// The state, for direct inspection and fault settings.
    pub emulator: Arc<Emulator>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _tls_dir: Option<tempfile_dir::TempDir>,
}

mod tempfile_dir {
    //! A directory removed on drop (kept tiny to avoid a dependency).
    use std::path::{Path, PathBuf};

    /// A temporary directory.
    pub struct TempDir(pub PathBuf);
    impl TempDir {
        /// Make a fresh one under the system temp dir.
        pub fn new() -> std::io::Result<TempDir> {
            let base = std::env::temp_dir();
            for i in 0..1000u32 {
                let p = base.join(format!(
                    "dbx-emu-{}-{}-{i}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos())
                        .unwrap_or(0)
                ));
                if std::fs::create_dir(&p).is_ok() {
                    return Ok(TempDir(p));
                }
            }
            Err(std::io::Error::other("no temp dir"))
        }
        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestServer {
    /// Start on 127.0.0.1 port 0, with TLS (a fresh test CA) when `tls` is true. Must be
    /// called inside a tokio runtime.
    pub async fn start(config: Config, tls: bool) -> anyhow::Result<TestServer> {
        logs::capture_for_tests();
        let emulator = Emulator::new(config)?;
        let (tls_cfg, ca_file, dir) = if tls {
            let dir = tempfile_dir::TempDir::new()?;
            let t = tls::load_or_create(dir.path(), &[])?;
            (Some(t.config), Some(t.ca_file), Some(dir))
        } else {
            (None, None, None)
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let emu = emulator.clone();
        tokio::spawn(async move {
            serve(listener, emu, tls_cfg, async {
                let _ = stopped.await;
            })
            .await;
        });
        let scheme = if tls { "https" } else { "http" };
        Ok(TestServer {
            url: format!("{scheme}://{addr}"),
            ca_file,
            emulator,
            stop: Some(stop),
            _tls_dir: dir,
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
