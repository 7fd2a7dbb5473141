//! The actors of a seed: the engines' world (two computers, one account), and the random
//! edits, deletes, renames and moves made on each computer and on Dropbox.

use super::*;

impl Sim {
    pub(crate) async fn new(seed: u64) -> Sim {
        // Each seed starts with this computer's clock where it really is.
        sync_engine::pair::shift_clock(-sync_engine::pair::shift_clock(0));
        let w = World::seeded(seed).await;
        let w_dir = w.dir.path().to_path_buf();
        let machines = ["m1", "m2"]
            .iter()
            .map(|n| Machine {
                name: n.to_string(),
                root: w.folder(n),
            })
            .collect();
        Sim {
            seed,
            exact: seed % 2 == 0,
            rng: SmallRng::seed_from_u64(seed),
            w,
            machines,
            written: BTreeSet::new(),
            retired: BTreeSet::new(),
            counter: 0,
            log: vec![],
            names: BTreeMap::new(),
            power: Power::new(seed),
            local: Local::new(seed, &w_dir),
        }
    }

    pub(crate) fn content(&mut self) -> Vec<u8> {
        self.counter += 1;
        let len = match self.rng.random_range(0..10) {
            0 => 0,
            1..=7 => self.rng.random_range(1..300),
            _ => self.rng.random_range(60_000..200_000), // past the small chunk size: upload sessions
        };
        let mut data = format!("seed {} version {}\n", self.seed, self.counter).into_bytes();
        data.extend((0..len).map(|i| (i as u8).wrapping_mul(self.counter as u8)));
        data
    }

    /// A version now exists (written to a disk or accepted by Dropbox).
    pub(crate) fn record(&mut self, data: &[u8]) {
        self.written.insert(ContentHash::of(data));
        self.names
            .insert(ContentHash::of(data), format!("version {}", self.counter));
        STATS.versions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retire_tree(&mut self, p: &Path) {
        if p.is_dir() {
            for h in hashes_under(p) {
                self.retired.insert(h);
            }
        } else if let Ok(b) = std::fs::read(p) {
            self.retired.insert(ContentHash::of(&b));
        }
    }

    pub(crate) fn random_dir(&mut self, root: &Path) -> PathBuf {
        let dirs: Vec<PathBuf> = std::iter::once(root.to_path_buf())
            .chain(
                files_under(root)
                    .into_iter()
                    .filter(|(_, d)| *d)
                    .map(|(p, _)| p),
            )
            .collect();
        if self.rng.random_bool(0.3) {
            let parent = dirs[self.rng.random_range(0..dirs.len())].clone();
            return parent.join(DIRS[self.rng.random_range(0..DIRS.len())]);
        }
        dirs[self.rng.random_range(0..dirs.len())].clone()
    }

    pub(crate) fn local_op(&mut self, m: usize) {
        let root = self.machines[m].root.clone();
        let entries = files_under(&root);
        let pick = |rng: &mut SmallRng, want_dir: Option<bool>| -> Option<PathBuf> {
            let c: Vec<&PathBuf> = entries
                .iter()
                .filter(|(_, d)| want_dir.is_none_or(|w| *d == w))
                .map(|(p, _)| p)
                .collect();
            (!c.is_empty()).then(|| c[rng.random_range(0..c.len())].clone())
        };
        match self.rng.random_range(0..10) {
            0..=3 => {
                let dir = self.random_dir(&root);
                let path = dir.join(NAMES[self.rng.random_range(0..NAMES.len())]);
                if path.is_dir() || std::fs::create_dir_all(&dir).is_err() {
                    return;
                }
                if path.exists() {
                    self.retire_tree(&path);
                }
                let data = self.content();
                if std::fs::write(&path, &data).is_ok() {
                    self.record(&data);
                }
                self.note(format!(
                    "{} write {} (version {})",
                    self.machines[m].name,
                    path.display(),
                    self.counter
                ));
            }
            4..=5 => {
                if let Some(p) = pick(&mut self.rng, Some(false)) {
                    self.retire_tree(&p);
                    let data = self.content();
                    if std::fs::write(&p, &data).is_ok() {
                        self.record(&data);
                    }
                    self.note(format!(
                        "{} edit {} (version {})",
                        self.machines[m].name,
                        p.display(),
                        self.counter
                    ));
                }
            }
            6 => {
                if let Some(p) = pick(&mut self.rng, None) {
                    self.retire_tree(&p);
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    self.note(format!("{} delete {}", self.machines[m].name, p.display()));
                }
            }
            7..=8 => {
                if let Some(p) = pick(&mut self.rng, None) {
                    let dir = self.random_dir(&root);
                    let to = dir.join(NAMES[self.rng.random_range(0..NAMES.len())]);
                    if to.exists() || to.starts_with(&p) || std::fs::create_dir_all(&dir).is_err() {
                        return;
                    }
                    let _ = std::fs::rename(&p, &to);
                    self.note(format!(
                        "{} move {} -> {}",
                        self.machines[m].name,
                        p.display(),
                        to.display()
                    ));
                }
            }
            _ => {
                if let Some(p) = pick(&mut self.rng, None) {
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    let flipped: String = name
                        .chars()
                        .map(|c| {
                            if c.is_lowercase() {
                                c.to_ascii_uppercase()
                            } else {
                                c.to_ascii_lowercase()
                            }
                        })
                        .collect();
                    let to = p.with_file_name(flipped);
                    if to != p && !to.exists() {
                        let _ = std::fs::rename(&p, &to);
                        self.note(format!(
                            "{} case-rename {}",
                            self.machines[m].name,
                            p.display()
                        ));
                    }
                }
            }
        }
    }

    pub(crate) async fn remote_op(&mut self) {
        let c = self.w.client();
        let existing: Vec<(String, Option<ContentHash>)> =
            self.w.remote_tree().into_iter().collect();
        match self.rng.random_range(0..6) {
            0..=2 => {
                let dir = if existing.is_empty() || self.rng.random_bool(0.4) {
                    format!("/{}", DIRS[self.rng.random_range(0..DIRS.len())])
                } else {
                    let (p, h) = &existing[self.rng.random_range(0..existing.len())];
                    if h.is_none() {
                        p.clone()
                    } else {
                        sync_core::path::parent(p).to_string()
                    }
                };
                let path = format!("{dir}/{}", NAMES[self.rng.random_range(0..NAMES.len())]);
                if let Some((_, Some(h))) = existing
                    .iter()
                    .find(|(p, _)| sync_core::path::key(p) == sync_core::path::key(&path))
                {
                    self.retired.insert(*h);
                }
                let data = self.content();
                let commit = Commit {
                    path: format!("{ROOT}{path}"),
                    mode: WriteMode::Overwrite,
                    autorename: false,
                    strict_conflict: false,
                    client_modified: None,
                };
                let r = c.upload(&commit, bytes::Bytes::from(data.clone())).await;
                if r.is_ok() {
                    self.record(&data);
                }
                self.note(format!(
                    "dropbox upload {path} (version {}): {:?}",
                    self.counter,
                    r.as_ref().map(|_| ())
                ));
            }
            3 => {
                if existing.is_empty() {
                    return;
                }
                let (p, _) = existing[self.rng.random_range(0..existing.len())].clone();
                for (q, h) in &existing {
                    if let (true, Some(h)) = (
                        sync_core::path::is_within(
                            &sync_core::path::key(q),
                            &sync_core::path::key(&p),
                        ),
                        h,
                    ) {
                        self.retired.insert(*h);
                    }
                }
                let r = c.delete(&format!("{ROOT}{p}"), None).await;
                self.note(format!("dropbox delete {p}: {:?}", r.map(|_| ())));
            }
            _ => {
                if existing.is_empty() {
                    return;
                }
                let (p, _) = existing[self.rng.random_range(0..existing.len())].clone();
                let to = format!(
                    "/{}/{}",
                    DIRS[self.rng.random_range(0..DIRS.len())],
                    NAMES[self.rng.random_range(0..NAMES.len())]
                );
                let r = c
                    .move_entry(&format!("{ROOT}{p}"), &format!("{ROOT}{to}"))
                    .await;
                self.note(format!("dropbox move {p} -> {to}: {:?}", r.map(|_| ())));
            }
        }
    }

    pub(crate) fn client(&self) -> Client {
        let mut e = Endpoints::single(&self.w.server.url).unwrap();
        e.ca_file = self.w.server.ca_file.clone();
        let retry = nuvosync_dropbox::transport::RetryPolicy {
            attempts: 6,
            rate_limit_attempts: 10,
            base: std::time::Duration::from_millis(5),
            max: std::time::Duration::from_millis(50),
            max_retry_after: std::time::Duration::from_secs(2),
            ..nuvosync_dropbox::transport::RetryPolicy::default()
        };
        Client::with_policy(
            e,
            Credential::Either {
                token: Secret::new("tok-ada"),
                app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
            },
            retry,
        )
        .unwrap()
    }

    pub(crate) fn tuning(&self) -> Tuning {
        let transfers = if self.exact { 1 } else { 4 };
        Tuning {
            chunk_size: 64 * 1024,
            single_request_limit: 64 * 1024,
            transfers,
            small_transfers: transfers,
            ..World::tuning()
        }
    }
}
