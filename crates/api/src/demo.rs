//! The demo: the built-in Dropbox emulator (HTTPS, in this process) with a demo account, and
//! a demo pair with a few files on each side. Used by `nuvosync demo` and by the tray app's
//! demo mode, so both show the same thing. (Feature `demo`.)

use crate::Paths;
use crate::error::{ApiError, ErrorCode};
use crate::service::{AddPair, Service};
use dropbox_emulator::{Config, Faults, TestServer};
use nuvosync_dropbox::{Client, Commit, Credential, Endpoints, Secret, WriteMode};
use std::path::PathBuf;
use std::sync::Arc;

/// The demo account's fixed token (it works as access and refresh token on the emulator).
pub const DEMO_TOKEN: &str = "demo-token";
/// The demo pair's folder on Dropbox.
pub const DEMO_ROOT: &str = "/Demo Org/Demo Space/Demo Instance";

/// How to start the demo.
#[derive(Clone, Debug, Default)]
pub struct DemoOptions {
    /// Where everything lives (default: a new temporary folder).
    pub dir: Option<PathBuf>,
    /// Latency the emulator adds to each request.
    pub latency_ms: u64,
    /// Start without a linked account (link through the UI or `nuvosync link`).
    pub unlinked: bool,
}

/// A running demo.
pub struct Demo {
    /// The emulator.
    pub server: TestServer,
    /// The service of the demo profile.
    pub service: Arc<Service>,
    /// The demo profile's folders.
    pub paths: Paths,
    /// The demo folder.
    pub dir: PathBuf,
    /// The demo pair's local folder.
    pub local: PathBuf,
    /// The emulator's admin token.
    pub admin_token: String,
}

fn err(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        format!("the demo could not start: {e}"),
    )
}

impl Demo {
    /// A Dropbox client of the demo account (to seed and inspect the emulator).
    pub fn dropbox(&self) -> Result<Client, ApiError> {
        let mut endpoints = Endpoints::single(&self.server.url).map_err(err)?;
        endpoints.ca_file = self.server.ca_file.clone();
        Ok(Client::new(
            endpoints,
            Credential::Either {
                token: Secret::new(DEMO_TOKEN),
                app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
            },
        )?)
    }

    /// The line scripts and tests read: where everything is.
    pub fn ready_line(&self, ui: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "emulator": self.server.url,
            "ca_file": self.server.ca_file,
            "admin_token": self.admin_token,
            "token": DEMO_TOKEN,
            "local": self.local,
            "config_dir": self.paths.config_dir,
            "state_dir": self.paths.state_dir,
            "ui": ui,
        })
    }
}

/// Start the emulator and the demo profile (state kept in the demo folder, so a second run
/// continues the first).
pub async fn start(opts: DemoOptions) -> Result<Demo, ApiError> {
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("nuvosync-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let dir = dir.canonicalize().map_err(err)?;
    let admin_token = format!("admin-{:016x}", rand::random::<u64>());
    let config = Config {
        accounts: vec![("demo".into(), DEMO_TOKEN.into())],
        data_dir: Some(dir.join("emulator")),
        admin_token: Some(admin_token.clone()),
        faults: Faults {
            latency_ms: opts.latency_ms,
            ..Faults::default()
        },
        ..Config::default()
    };
    let server = TestServer::start(config, true).await.map_err(err)?;
    let mut endpoints = Endpoints::single(&server.url).map_err(err)?;
    endpoints.ca_file = server.ca_file.clone();
    let paths = Paths::under(&dir);
    let service = Arc::new(Service::with_endpoints(
        paths.clone(),
        endpoints,
        sync_engine::Tuning::default(),
    )?);
    // The demo's start-at-login entry stays in its folder; the user's login is not touched.
    if let Some(mut a) = crate::autostart::Autostart::for_this_process(&paths) {
        a.config_home = dir.join("xdg-config");
        a.systemd = false;
        service.set_autostart(a);
    }
    if !opts.unlinked {
        service.set_credential(Credential::Either {
            token: Secret::new(DEMO_TOKEN),
            app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
        });
    }
    let local = dir.join("Instance");
    let demo = Demo {
        server,
        service,
        paths,
        dir,
        local: local.clone(),
        admin_token,
    };
    if demo.service.config().pair("demo").is_none() {
        std::fs::create_dir_all(local.join("notebooks")).map_err(err)?;
        std::fs::write(
            local.join("README.md"),
            "# Demo instance\n\nFiles here are mirrored to Dropbox.\n",
        )
        .map_err(err)?;
        std::fs::write(
            local.join("notebooks/analysis.py"),
            "print('hello from nuvosync')\n",
        )
        .map_err(err)?;
        demo.service.add_pair(AddPair {
            local,
            organization: "Demo Org".into(),
            space: "Demo Space".into(),
            instance: "Demo Instance".into(),
            name: Some("demo".into()),
            watch: true,
            rescan_interval_secs: Some(30),
            ..AddPair::default()
        })?;
        // A co-author's file, already on Dropbox.
        let commit = Commit {
            path: format!("{DEMO_ROOT}/From Dropbox.txt"),
            mode: WriteMode::Overwrite,
            autorename: false,
            strict_conflict: false,
            client_modified: None,
        };
        demo.dropbox()?
            .upload(
                &commit,
                bytes::Bytes::from_static(b"This file was uploaded to Dropbox by a co-author.\n"),
            )
            .await?;
    }
    // Where everything is, for scripts that cannot read our stdout (the app under WebDriver).
    let _ = std::fs::write(
        demo.dir.join("ready.json"),
        demo.ready_line(None).to_string(),
    );
    Ok(demo)
}
