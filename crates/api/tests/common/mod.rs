//! A lab for the API tests: an emulator with one account, a profile with one pair
//! (`lab`, local folder `<tmp>/lab`, Dropbox folder `/Acme/Research/Lab`), and a co-author
//! who writes to Dropbox with their own (unthrottled) client.

#![allow(dead_code)]

use dropbox_emulator::TestServer;
use nuvosync_api::service::AddPair;
use nuvosync_api::{Paths, Service};
use nuvosync_dropbox::{Client, Credential, Secret};
use nuvosync_test_support::emulator;
use std::path::PathBuf;
use std::sync::Arc;

/// The pair's folder on Dropbox (inside the app folder).
pub const ROOT: &str = "/Acme/Research/Lab";

/// Everything a test needs.
pub struct Lab {
    pub server: TestServer,
    pub dir: tempfile::TempDir,
    pub service: Arc<Service>,
    pub local: PathBuf,
}

pub use nuvosync_test_support::emulator::endpoints;

impl Lab {
    /// A linked profile with the pair `lab` (watching its folder).
    pub async fn new() -> Lab {
        let server = emulator::start(emulator::config()).await;
        let dir = tempfile::tempdir().unwrap();
        let tuning = sync_engine::Tuning {
            os_trash: false,
            host: "lab-pc".into(),
            ..sync_engine::Tuning::default()
        };
        let service = Arc::new(
            Service::with_endpoints(Paths::under(dir.path()), endpoints(&server), tuning).unwrap(),
        );
        service.set_credential(Credential::Either {
            token: Secret::new("tok-ada"),
            app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
        });
        let local = dir.path().join("lab");
        service
            .add_pair(AddPair {
                local: local.clone(),
                organization: "Acme".into(),
                space: "Research".into(),
                instance: "Lab".into(),
                name: Some("lab".into()),
                watch: true,
                ..AddPair::default()
            })
            .unwrap();
        Lab {
            server,
            dir,
            service,
            local,
        }
    }

    /// The co-author's own client.
    pub fn colleague(&self) -> Client {
        emulator::colleague(&self.server)
    }

    /// The co-author writes `rel` (relative to the pair's folder) on Dropbox.
    pub async fn upload(&self, rel: &str, data: &[u8]) {
        emulator::upload(&self.colleague(), &format!("{ROOT}{rel}"), data).await;
    }

    /// Whether Dropbox has `rel` (relative to the pair's folder) with exactly `data`.
    pub fn on_dropbox(&self, rel: &str, data: &[u8]) -> bool {
        emulator::holds(&self.server, &format!("{ROOT}{rel}"), data)
    }
}
