//! Shared fixtures: an in-process emulator over HTTPS, pairs on temp folders, and a second
//! Dropbox client acting as a co-author.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use dropbox_emulator::{Config, TestServer};
use nuvosync_dropbox::{Client, Credential, Entry, Secret};
use nuvosync_test_support::emulator;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sync_core::ContentHash;
use sync_engine::{Pair, PairSpec, Remote, Tuning};

/// The pair's folder on Dropbox in every test.
pub const ROOT: &str = "/Acme/Research/Inst";

pub struct World {
    pub server: TestServer,
    pub dir: tempfile::TempDir,
    pub commit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl World {
    pub async fn new() -> World {
        World::seeded(0).await
    }

    /// Calls of a route the emulator has answered so far.
    pub fn calls(&self, route: &str) -> u64 {
        self.server
            .emulator
            .stats
            .routes
            .lock()
            .unwrap()
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// A world whose emulator draws its ids, revisions and fault decisions from `seed`.
    pub async fn seeded(seed: u64) -> World {
        let config = Config {
            seed,
            ..emulator::config()
        };
        World {
            server: emulator::start(config).await,
            dir: tempfile::tempdir().unwrap(),
            commit_lock: Arc::default(),
        }
    }

    pub fn client(&self) -> Client {
        self.client_with("tok-ada")
    }

    /// A client with another account's token (see `Emulator::add_account`).
    pub fn client_with(&self, token: &str) -> Client {
        emulator::client(
            &self.server,
            Credential::Either {
                token: Secret::new(token),
                app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
            },
        )
    }

    /// A local folder for a pair.
    pub fn folder(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn tuning() -> Tuning {
        Tuning {
            host: "testhost".into(),
            os_trash: false,
            // Scans of more than a few nodes go through the index's stage, as a first sync
            // of many files does.
            stage_every: 8,
            ..Tuning::default()
        }
    }

    /// A pair syncing `local` with [`ROOT`], its index in the world's state dir.
    pub fn pair(&self, name: &str, local: &Path) -> Pair {
        self.pair_with(name, local, Self::tuning(), Arc::new(self.client()))
    }

    pub fn pair_with(
        &self,
        name: &str,
        local: &Path,
        tuning: Tuning,
        remote: Arc<dyn Remote>,
    ) -> Pair {
        let spec = self.spec(name, local, &[]);
        Pair::open(spec, tuning, remote, self.commit_lock.clone()).unwrap()
    }

    /// The spec of a pair syncing `local` with [`ROOT`] but `excluded`, its index in the
    /// world's state dir.
    fn spec(&self, name: &str, local: &Path, excluded: &[&str]) -> PairSpec {
        PairSpec {
            name: name.into(),
            local_root: local.to_path_buf(),
            remote_root: ROOT.into(),
            excluded: excluded.iter().map(|e| e.to_string()).collect(),
            index_path: self.dir.path().join("state").join(format!("{name}.db")),
        }
    }

    /// A pair that excludes these folders (selective sync).
    pub fn pair_excluding(&self, name: &str, local: &Path, excluded: &[&str]) -> Pair {
        Pair::open(
            self.spec(name, local, excluded),
            Self::tuning(),
            Arc::new(self.client()),
            self.commit_lock.clone(),
        )
        .unwrap()
    }

    /// Every file under ROOT on Dropbox: relative path → content hash (folders: None).
    pub fn remote_tree(&self) -> BTreeMap<String, Option<ContentHash>> {
        let acct = self.server.emulator.account("ada").unwrap();
        let ns = acct.ns.lock();
        let prefix = format!("/apps/nuvolos.cloud{}", ROOT.to_lowercase());
        ns.nodes
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{prefix}/")))
            .map(|(_, n)| {
                let rel = n.display.split('/').skip(6).collect::<Vec<_>>().join("/");
                (format!("/{rel}"), n.file().map(|f| f.hash))
            })
            .collect()
    }

    /// Upload as another client.
    pub async fn put(&self, rel: &str, data: &[u8]) -> nuvosync_dropbox::FileEntry {
        emulator::upload(&self.client(), &format!("{ROOT}{rel}"), data).await
    }

    pub async fn remove(&self, rel: &str) {
        self.client()
            .delete(&format!("{ROOT}{rel}"), None)
            .await
            .unwrap();
    }

    /// A Paper doc at `rel` (Dropbox lists it, cannot download it, only export it).
    pub fn paper(&self, rel: &str) {
        let acct = self.server.emulator.account("ada").unwrap();
        self.server
            .emulator
            .add_export_only(
                &acct,
                &format!("/Apps/nuvolos.cloud{ROOT}{rel}"),
                "<h1>Plan</h1>",
                "# Plan\n",
            )
            .unwrap();
    }

    pub async fn mv(&self, from: &str, to: &str) -> Entry {
        self.client()
            .move_entry(&format!("{ROOT}{from}"), &format!("{ROOT}{to}"))
            .await
            .unwrap()
    }
}

pub use nuvosync_test_support::{local_tree, write};

pub fn h(data: &[u8]) -> Option<ContentHash> {
    Some(ContentHash::of(data))
}

/// Case-insensitive view of a tree (Dropbox's), for comparing with a local one.
pub fn folded(t: &BTreeMap<String, Option<ContentHash>>) -> BTreeMap<String, Option<ContentHash>> {
    t.iter()
        .map(|(k, v)| (sync_core::path::key(k), *v))
        .collect()
}

/// Assert local and remote trees are the same (case-insensitively).
pub fn assert_same(w: &World, root: &Path) {
    let l = folded(&local_tree(root));
    let r = folded(&w.remote_tree());
    assert_eq!(l, r, "local and Dropbox differ");
}

/// Record in the run's summary that the bad-input case `case` tried `inputs` bad inputs
/// (see [`nuvosync_test_support::record_bad_inputs`]).
pub fn record_bad_inputs(case: &str, inputs: u32) {
    nuvosync_test_support::record_bad_inputs(Path::new(env!("CARGO_TARGET_TMPDIR")), case, inputs);
}

/// A run that ended without a failed item.
pub fn clean(r: Result<sync_engine::Report, sync_engine::SyncError>) -> sync_engine::Report {
    let report = r.unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    report
}

pub use nuvosync_test_support::eventually;

/// The pair running continuously, answering Dropbox's longpoll within 30 s.
pub fn running(pair: Arc<Pair>) -> sync_engine::Runner {
    sync_engine::Runner::spawn(
        pair,
        sync_engine::RunOptions {
            longpoll_secs: 30,
            ..sync_engine::RunOptions::default()
        },
    )
}

/// Wait for the runner's first sync.
pub async fn first_sync(runner: &sync_engine::Runner) {
    eventually("first sync", std::time::Duration::from_secs(10), || {
        runner.status().last_sync.is_some()
    })
    .await;
}
