//! Shared fixtures: an in-process emulator over HTTPS, pairs on temp folders, and a second
//! Dropbox client acting as a co-author.

#![allow(dead_code)] // each test binary uses a different subset

use bytes::Bytes;
use dropbox_emulator::{Config, TestServer};
use nuvosync_dropbox::{Client, Commit, Credential, Endpoints, Entry, Secret};
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
            accounts: vec![("ada".into(), "tok-ada".into())],
            seed,
            ..Config::default()
        };
        World {
            server: TestServer::start(config, true).await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
            commit_lock: Arc::default(),
        }
    }

    pub fn client(&self) -> Client {
        self.client_with("tok-ada")
    }

    /// A client with another account's token (see `Emulator::add_account`).
    pub fn client_with(&self, token: &str) -> Client {
        let mut e = Endpoints::single(&self.server.url).unwrap();
        e.ca_file = self.server.ca_file.clone();
        Client::new(
            e,
            Credential::Either {
                token: Secret::new(token),
                app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
            },
        )
        .unwrap()
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
        let spec = PairSpec {
            name: name.into(),
            local_root: local.to_path_buf(),
            remote_root: ROOT.into(),
            excluded: vec![],
            index_path: self.dir.path().join("state").join(format!("{name}.db")),
        };
        Pair::open(spec, tuning, remote, self.commit_lock.clone()).unwrap()
    }

    /// A pair that excludes these folders (selective sync).
    pub fn pair_excluding(&self, name: &str, local: &Path, excluded: &[&str]) -> Pair {
        let spec = PairSpec {
            name: name.into(),
            local_root: local.to_path_buf(),
            remote_root: ROOT.into(),
            excluded: excluded.iter().map(|e| e.to_string()).collect(),
            index_path: self.dir.path().join("state").join(format!("{name}.db")),
        };
        Pair::open(
            spec,
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
        let c = self.client();
        let path = format!("{ROOT}{rel}");
        let commit = Commit {
            path,
            mode: nuvosync_dropbox::WriteMode::Overwrite,
            autorename: false,
            strict_conflict: false,
            client_modified: None,
        };
        c.upload(&commit, Bytes::copy_from_slice(data))
            .await
            .unwrap()
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

/// Every file and folder under a local folder (outside `.nuvosync`): path → hash (folders: None).
pub fn local_tree(root: &Path) -> BTreeMap<String, Option<ContentHash>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().to_string_lossy());
            if rel == "/.nuvosync" || rel.starts_with("/.nuvosync/") {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(p);
                out.insert(rel, None);
            } else if ft.is_file() {
                out.insert(rel, Some(ContentHash::of(&std::fs::read(&p).unwrap())));
            }
        }
    }
    out
}

pub fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

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

/// Record in the run's summary that the bad-input case `case` tried `inputs` bad inputs:
/// `$CARGO_TARGET_TMPDIR/summary/bad-inputs.json` is one flat JSON object (the test runner
/// reads flat counters) — `{"bad_inputs": N, "cases": M,` then one line per case,
/// `"case/NAME": n`.
///
/// Tests run as parallel processes, so each case leaves its own file and whoever finishes
/// writes the total again (atomically, and again if another case finished meanwhile).
pub fn record_bad_inputs(case: &str, inputs: u32) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("summary");
    let cases = dir.join("bad-inputs");
    if std::fs::create_dir_all(&cases).is_err() {
        return;
    }
    let _ = std::fs::write(cases.join(case), inputs.to_string());
    let read = || -> BTreeMap<String, u32> {
        std::fs::read_dir(&cases)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = std::fs::read_to_string(e.path())
                            .ok()?
                            .trim()
                            .parse()
                            .ok()?;
                        Some((e.file_name().to_string_lossy().into_owned(), n))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for _ in 0..20 {
        let seen = read();
        let lines: Vec<String> = seen
            .iter()
            .map(|(c, n)| format!("\"case/{c}\": {n}"))
            .collect();
        let text = format!(
            "{{\"bad_inputs\": {}, \"cases\": {},\n{}}}\n",
            seen.values().sum::<u32>(),
            seen.len(),
            lines.join(",\n")
        );
        let tmp = dir.join(format!("bad-inputs.json.{}", std::process::id()));
        if std::fs::write(&tmp, text).is_err()
            || std::fs::rename(&tmp, dir.join("bad-inputs.json")).is_err()
        {
            return;
        }
        if read() == seen {
            return;
        }
    }
}

/// A run that ended without a failed item.
pub fn clean(r: Result<sync_engine::Report, sync_engine::SyncError>) -> sync_engine::Report {
    let report = r.unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    report
}

/// Wait until `f` holds (checked every 20 ms); panics with `what` after `limit`. Returns
/// how long it took.
pub async fn eventually(
    what: &str,
    limit: std::time::Duration,
    mut f: impl FnMut() -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return start.elapsed();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{what}: not within {limit:?}");
}

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
