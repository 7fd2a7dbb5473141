//! A lab for the API tests: an emulator with one account, a profile with one pair
//! (`lab`, local folder `<tmp>/lab`, Dropbox folder `/Acme/Research/Lab`), and a co-author
//! who writes to Dropbox with their own (unthrottled) client.

#![allow(dead_code)]

use bytes::Bytes;
use dropbox_emulator::{Config, TestServer};
use nuvosync_api::service::AddPair;
use nuvosync_api::{Paths, Service};
use nuvosync_dropbox::{Client, Commit, Credential, Endpoints, Secret, WriteMode};
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

/// Endpoints of the emulator.
pub fn endpoints(server: &TestServer) -> Endpoints {
    let mut e = Endpoints::single(&server.url).unwrap();
    e.ca_file = server.ca_file.clone();
    e
}

impl Lab {
    /// A linked profile with the pair `lab` (watching its folder).
    pub async fn new() -> Lab {
        let server = TestServer::start(
            Config {
                accounts: vec![("ada".into(), "tok-ada".into())],
                ..Config::default()
            },
            true,
        )
        .await
        .unwrap();
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
        Client::new(
            endpoints(&self.server),
            Credential::Access(Secret::new("tok-ada")),
        )
        .unwrap()
    }

    /// The co-author writes `rel` (relative to the pair's folder) on Dropbox.
    pub async fn upload(&self, rel: &str, data: &[u8]) {
        let commit = Commit {
            path: format!("{ROOT}{rel}"),
            mode: WriteMode::Overwrite,
            autorename: false,
            strict_conflict: false,
            client_modified: None,
        };
        self.colleague()
            .upload(&commit, Bytes::copy_from_slice(data))
            .await
            .unwrap();
    }

    /// Whether Dropbox has `rel` (relative to the pair's folder) with exactly `data`.
    pub fn on_dropbox(&self, rel: &str, data: &[u8]) -> bool {
        let acct = self.server.emulator.account("ada").unwrap();
        let ns = acct.ns.lock();
        let key = format!("/apps/nuvolos.cloud{ROOT}{rel}").to_lowercase();
        ns.nodes
            .get(&key)
            .and_then(|n| n.file())
            .is_some_and(|f| f.hash == sync_core::ContentHash::of(data))
    }
}
