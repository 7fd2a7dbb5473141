//! The emulator as a test sees it: one account, endpoints that trust its CA, a client of
//! one's own (a co-author), and what Dropbox holds under a folder.

use bytes::Bytes;
use dropbox_emulator::{Config, TestServer};
use nuvosync_dropbox::{Client, Commit, Credential, Endpoints, FileEntry, Secret, WriteMode};
use std::collections::BTreeMap;

/// The emulator's one account in the tests.
pub const ACCOUNT: &str = "ada";
/// Its access token.
pub const TOKEN: &str = "tok-ada";

/// An emulator configuration with the one account ([`ACCOUNT`], [`TOKEN`]).
pub fn config() -> Config {
    Config {
        accounts: vec![(ACCOUNT.into(), TOKEN.into())],
        ..Config::default()
    }
}

/// An emulator over HTTPS with `config`.
pub async fn start(config: Config) -> TestServer {
    TestServer::start(config, true).await.unwrap()
}

/// Endpoints of the emulator, trusting its CA.
pub fn endpoints(server: &TestServer) -> Endpoints {
    let mut e = Endpoints::single(&server.url).unwrap();
    e.ca_file = server.ca_file.clone();
    e
}

/// A Dropbox client of the emulator with `credential`.
pub fn client(server: &TestServer, credential: Credential) -> Client {
    Client::new(endpoints(server), credential).unwrap()
}

/// A co-author's own client: the account's access token.
pub fn colleague(server: &TestServer) -> Client {
    client(server, Credential::Access(Secret::new(TOKEN)))
}

/// Write `data` at `path` on Dropbox with `client`, overwriting what is there.
pub async fn upload(client: &Client, path: &str, data: &[u8]) -> FileEntry {
    let commit = Commit {
        path: path.into(),
        mode: WriteMode::Overwrite,
        autorename: false,
        strict_conflict: false,
        client_modified: None,
    };
    client
        .upload(&commit, Bytes::copy_from_slice(data))
        .await
        .unwrap()
}

/// The key under which the emulator keeps `path` of the app folder (lower case).
fn key(path: &str) -> String {
    format!("/apps/nuvolos.cloud{path}").to_lowercase()
}

/// Every file under `folder` of the app folder on Dropbox: path relative to it → content.
pub fn files_under(server: &TestServer, folder: &str) -> BTreeMap<String, Vec<u8>> {
    let acct = server.emulator.account(ACCOUNT).unwrap();
    let ns = acct.ns.lock();
    let prefix = format!("{}/", key(folder));
    ns.nodes
        .iter()
        .filter(|(k, n)| k.starts_with(&prefix) && n.file().is_some())
        .map(|(_, n)| {
            (
                n.display[prefix.len() - 1..].to_string(),
                server
                    .emulator
                    .blob(&n.file().unwrap().hash)
                    .unwrap()
                    .to_vec(),
            )
        })
        .collect()
}

/// Whether Dropbox has `path` (of the app folder) with exactly `data`.
pub fn holds(server: &TestServer, path: &str, data: &[u8]) -> bool {
    let acct = server.emulator.account(ACCOUNT).unwrap();
    let ns = acct.ns.lock();
    ns.nodes
        .get(&key(path))
        .and_then(|n| n.file())
        .is_some_and(|f| f.hash == sync_core::ContentHash::of(data))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
