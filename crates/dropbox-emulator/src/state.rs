//! The emulator's shared state: accounts with their trees, tokens and OAuth codes, content
//! blobs, upload sessions, async jobs, the clock, faults and the persistence log.
//!
//! Locks are short: each account's tree has its own mutex, and content is hashed and
//! copied outside of it.

use crate::faults::{FaultRng, Faults};
use crate::ops::{IdSource, Recorder};
use crate::store::{Change, Namespace};
use base64::Engine as _;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use sync_core::ContentHash;

pub use crate::apps::{NUVOSYNC_APP_FOLDER, NUVOSYNC_APP_KEY};

/// The default [`Config::parent_casing_seed`].
pub const DEFAULT_PARENT_CASING_SEED: u64 = 0x0dd_ca5e;

/// Static settings of an emulator instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Accounts to create at start: (name, long-lived token).
    pub accounts: Vec<(String, String)>,
    /// The registered apps (as in Dropbox's App Console): only these may sign users in or
    /// refresh tokens. By default nuvosync's own key; a later entry with the same key wins.
    pub apps: Vec<crate::apps::RegisteredApp>,
    /// Seed for ids, revisions and fault decisions.
    pub seed: u64,
    /// Seed for which entries show their parents in another casing (a request's, or one a
    /// parent had before a case-only rename), as Dropbox's `path_display` may: always on,
    /// as Dropbox, with a fixed seed by default ([`crate::wire::shown_display`]).
    pub parent_casing_seed: u64,
    /// Persist state here (crash-safe); in memory when `None`.
    pub data_dir: Option<PathBuf>,
    /// Lifetime of access tokens issued by `/oauth2/token`, in seconds.
    pub token_lifetime_secs: u64,
    /// Space allocated to each account, in bytes.
    pub quota_bytes: u64,
    /// Initial fault settings.
    pub faults: Faults,
    /// Token for the admin endpoint; `None` disables it.
    pub admin_token: Option<String>,
    /// The per-account load model (on by default, as on Dropbox).
    pub load: crate::load::LoadModel,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            accounts: vec![],
            apps: vec![crate::apps::RegisteredApp::nuvosync()],
            seed: 0,
            parent_casing_seed: DEFAULT_PARENT_CASING_SEED,
            data_dir: None,
            token_lifetime_secs: 14_400,
            quota_bytes: 2 << 40,
            faults: Faults::default(),
            admin_token: None,
            load: crate::load::LoadModel::default(),
        }
    }
}

/// Where a token may look.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// Confined to `/Apps/<name>`.
    AppFolder(String),
    /// The whole Dropbox.
    Full,
}

/// A Dropbox account.
pub struct Account {
    /// Short name given on the command line.
    pub name: String,
    /// `dbid:...`.
    pub account_id: String,
    /// Root namespace id.
    pub namespace_id: String,
    /// The file tree.
    pub ns: Mutex<Namespace>,
    /// Latest journal sequence number, for longpoll waiters.
    pub changed: tokio::sync::watch::Sender<u64>,
    /// Cursor epoch: cursors from another epoch get `reset`.
    pub epoch: AtomicU64,
    /// The namespace write lock (see [`Faults::write_lock_ms`]).
    pub write_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Account {
    /// Email address shown in account info.
    pub fn email(&self) -> String {
        format!("{}@example.com", self.name.to_lowercase())
    }

    /// Given name shown in account info (the short name, capitalised): `ada` → `Ada`.
    pub fn given_name(&self) -> String {
        let mut c = self.name.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    }
}

/// An access token's grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grant {
    /// Account name.
    pub account: String,
    /// What it may access.
    pub access: Access,
    /// Expiry (seconds since the epoch), `None` for long-lived tokens.
    pub expires_at: Option<i64>,
    /// The refresh token it was issued from, if any (revocation cascades through it).
    pub family: Option<String>,
    /// The scopes it carries; `None` for every scope (the accounts' fixed tokens).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// A refresh token's grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// Account name.
    pub account: String,
    /// The app key it was issued to (`None` for the accounts' fixed tokens, which any app may refresh).
    pub app_key: Option<String>,
    /// The scopes granted; `None` for every scope.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Issued through PKCE, so refreshed without the app's secret.
    #[serde(default = "yes")]
    pub public: bool,
}

fn yes() -> bool {
    true
}

/// A pending authorization code.
#[derive(Clone, Debug)]
pub struct AuthCode {
    /// Account that consented.
    pub account: String,
    /// App key.
    pub client_id: String,
    /// Redirect URI given at authorize time, which the exchange must repeat.
    pub redirect_uri: Option<String>,
    /// PKCE challenge and method.
    pub challenge: Option<(String, String)>,
    /// Offline access asked for (a refresh token is issued).
    pub offline: bool,
    /// Expiry (seconds since the epoch).
    pub expires_at: i64,
    /// Set once exchanged; a replay revokes what it issued, as OAuth 2.0 recommends.
    pub used_by: Option<String>,
    /// Scopes asked for (`None`: all of the app's).
    pub scopes: Option<Vec<String>>,
}

/// Tokens and codes.
#[derive(Default)]
pub struct Tokens {
    /// Access tokens.
    pub access: HashMap<String, Grant>,
    /// Refresh tokens.
    pub refresh: HashMap<String, RefreshGrant>,
    /// Authorization codes.
    pub codes: HashMap<String, AuthCode>,
}

/// An upload session.
pub struct Session {
    /// Account name.
    pub account: String,
    /// Concurrent sessions take 4 MiB-aligned appends in any order.
    pub concurrent: bool,
    /// Sequential data.
    pub data: Vec<u8>,
    /// Concurrent parts by offset.
    pub parts: std::collections::BTreeMap<u64, Bytes>,
    /// Bytes received (sequential) — the next expected offset.
    pub offset: u64,
    /// No more appends are accepted.
    pub closed: bool,
    /// Creation time (seconds since the epoch), for the 7-day expiry.
    pub created: i64,
}

/// Request counters, for benchmarks and tests.
#[derive(Default, Serialize)]
pub struct Stats {
    /// Requests handled.
    pub requests: AtomicU64,
    /// Of those, requests that came over HTTP/2.
    pub http2_requests: AtomicU64,
    /// Requests refused by the load model ([`crate::load`]) with 429 `too_many_requests`.
    pub load_refused: AtomicU64,
    /// Request body bytes received on content routes.
    pub bytes_in: AtomicU64,
    /// Response body bytes sent on download routes, counted as they go out (a body cut short
    /// counts what was sent).
    pub bytes_out: AtomicU64,
    /// Faults injected.
    pub faults: AtomicU64,
    /// Calls per API route (`files/upload` → n), whatever their outcome.
    pub routes: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Stats {
    /// Count one call of `route`.
    pub fn count_route(&self, route: &str) {
        if let Ok(mut routes) = self.routes.lock() {
            *routes.entry(route.to_string()).or_default() += 1;
        }
    }
}

/// One record of the persistence log.
#[derive(Serialize, Deserialize)]
enum Record {
    Change { account: String, change: Change },
    Access { token: String, grant: Grant },
    Refresh { token: String, grant: RefreshGrant },
    RevokeAccess { token: String },
    RevokeRefresh { token: String },
}

/// The whole emulator.
pub struct Emulator {
    /// Static settings.
    pub config: Config,
    /// Current fault settings.
    pub faults: RwLock<Faults>,
    /// The seeded generator.
    pub rng: Mutex<FaultRng>,
    /// Accounts by name.
    pub accounts: RwLock<HashMap<String, Arc<Account>>>,
    /// Tokens and codes.
    pub tokens: Mutex<Tokens>,
    blobs: RwLock<HashMap<ContentHash, Bytes>>,
    /// Upload sessions by id.
    pub sessions: Mutex<HashMap<String, Arc<Mutex<Session>>>>,
    /// Finished async jobs: id → JSON result.
    pub jobs: Mutex<HashMap<String, serde_json::Value>>,
    counter: AtomicU64,
    id_prefix: [u8; 8],
    clock_offset: AtomicI64,
    log: Option<Mutex<std::fs::File>>,
    /// Counters.
    pub stats: Stats,
    /// Bandwidth bucket: the instant (ns since start) at which the shared link is next free.
    pub link_free_at: Mutex<Option<tokio::time::Instant>>,
    /// The load model's per-account counters ([`Config::load`]).
    pub load: crate::load::Load,
}

impl IdSource for Emulator {
    fn new_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&self.id_prefix);
        raw[8..].copy_from_slice(&n.to_be_bytes());
        format!(
            "id:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )
    }
    fn new_rev(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:012x}", n)
    }
}

/// The counter value embedded in an id or rev made by [`IdSource`], to resume numbering after
/// a restart.
fn counter_of(s: &str) -> Option<u64> {
    if let Some(b64) = s.strip_prefix("id:") {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .ok()?;
        let tail: [u8; 8] = raw.get(8..16)?.try_into().ok()?;
        Some(u64::from_be_bytes(tail))
    } else {
        u64::from_str_radix(s, 16).ok()
    }
}

impl Emulator {
    /// A new emulator; with a data dir, earlier state is recovered from it.
    pub fn new(config: Config) -> anyhow::Result<Arc<Self>> {
        let mut rng = FaultRng::new(config.seed);
        let id_prefix = rng.bytes::<8>();
        let log = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir.join("blobs"))?;
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("log.jsonl"))?;
                Some(Mutex::new(f))
            }
            None => None,
        };
        let emu = Emulator {
            faults: RwLock::new(config.faults.clone()),
            rng: Mutex::new(rng),
            accounts: RwLock::new(HashMap::new()),
            tokens: Mutex::new(Tokens::default()),
            blobs: RwLock::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            jobs: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0x1_0000_0000),
            id_prefix,
            clock_offset: AtomicI64::new(0),
            log,
            stats: Stats::default(),
            link_free_at: Mutex::new(None),
            load: crate::load::Load::default(),
            config,
        };
        for (name, token) in emu.config.accounts.clone() {
            emu.add_account(&name, &token);
        }
        if let Some(dir) = emu.config.data_dir.clone() {
            let path = dir.join("log.jsonl");
            emu.replay(&path)?;
            // A torn final line must not swallow the next record: start on a fresh line.
            let content_len = std::fs::metadata(&path)?.len();
            if content_len > 0 {
                let mut f = std::fs::File::open(&path)?;
                use std::io::{Read, Seek, SeekFrom};
                f.seek(SeekFrom::End(-1))?;
                let mut last = [0u8; 1];
                f.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    emu.append_raw(b"\n");
                }
            }
        }
        Ok(Arc::new(emu))
    }

    /// Add an account whose fixed `token` works as a long-lived access token (confined to
    /// nuvosync's app folder) and as a refresh token for any app key.
    pub fn add_account(&self, name: &str, token: &str) -> Arc<Account> {
        let mut accounts = self.accounts.write();
        if let Some(existing) = accounts.get(name) {
            return existing.clone();
        }
        let n = accounts.len() as u64 + 1;
        // Dropbox account ids are exactly 40 characters (`dbid:` + 35); the SDKs check it.
        let mut digest = sha2_hex(name.as_bytes());
        digest.truncate(33);
        let account = Arc::new(Account {
            name: name.to_string(),
            account_id: format!("dbid:AA{digest}"),
            namespace_id: format!("{}", 1_000_000 + n * 1000 + (self.config.seed % 1000)),
            ns: Mutex::new(Namespace::default()),
            changed: tokio::sync::watch::channel(0).0,
            epoch: AtomicU64::new(1),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        });
        accounts.insert(name.to_string(), account.clone());
        drop(accounts);
        let folder = self
            .app_folder_of(NUVOSYNC_APP_KEY)
            .unwrap_or_else(|| NUVOSYNC_APP_FOLDER.to_string());
        let mut tokens = self.tokens.lock();
        tokens.access.insert(
            token.to_string(),
            Grant {
                account: name.to_string(),
                access: Access::AppFolder(folder),
                expires_at: None,
                family: None,
                scopes: None,
            },
        );
        tokens.refresh.insert(
            token.to_string(),
            RefreshGrant {
                account: name.to_string(),
                app_key: None,
                scopes: None,
                public: true,
            },
        );
        account
    }

    /// The account with this name.
    pub fn account(&self, name: &str) -> Option<Arc<Account>> {
        self.accounts.read().get(name).cloned()
    }

    /// The app folder a registered app key is confined to, or `None` for full access (or an
    /// unknown key).
    pub fn app_folder_of(&self, app_key: &str) -> Option<String> {
        self.app(app_key).and_then(|a| a.folder)
    }

    /// The registered app with this key (the last registration wins).
    pub fn app(&self, key: &str) -> Option<crate::apps::RegisteredApp> {
        self.config
            .apps
            .iter()
            .rev()
            .find(|a| a.key == key)
            .cloned()
    }

    /// Seconds since the epoch on the emulator's (adjustable) clock.
    pub fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Move the clock forward (or back) by `secs`.
    pub fn advance_clock(&self, secs: i64) {
        self.clock_offset.fetch_add(secs, Ordering::Relaxed);
    }

    /// Random URL-safe string of `n` bytes of entropy, from the seeded generator.
    pub fn random_token(&self, prefix: &str) -> String {
        let raw = self.rng.lock().bytes::<24>();
        format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )
    }

    /// Store content (deduplicated by hash); on disk when persistent.
    pub fn put_blob(&self, hash: ContentHash, data: Bytes) -> anyhow::Result<()> {
        if let Some(dir) = &self.config.data_dir {
            let path = dir.join("blobs").join(hash.to_hex());
            if !path.exists() {
                let tmp = dir
                    .join("blobs")
                    .join(format!(".tmp-{}", self.random_token("")));
                std::fs::write(&tmp, &data)?;
                std::fs::rename(&tmp, &path)?;
            }
            return Ok(());
        }
        self.blobs.write().entry(hash).or_insert(data);
        Ok(())
    }

    /// Content by hash.
    pub fn blob(&self, hash: &ContentHash) -> Option<Bytes> {
        if let Some(dir) = &self.config.data_dir {
            return std::fs::read(dir.join("blobs").join(hash.to_hex()))
                .ok()
                .map(Bytes::from);
        }
        if *hash == ContentHash::empty() {
            return Some(Bytes::new());
        }
        self.blobs.read().get(hash).cloned()
    }

    /// Run a file operation on an account's tree; its changes are applied, logged and
    /// announced to longpoll waiters before this returns.
    pub fn mutate<T>(&self, account: &Account, f: impl FnOnce(&mut Recorder<'_>) -> T) -> T {
        let mut ns = account.ns.lock();
        let mut rec = Recorder {
            ns: &mut ns,
            changes: vec![],
            ids: self,
            now: self.now(),
            quota: self.config.quota_bytes,
            owner: account.given_name(),
        };
        let out = f(&mut rec);
        let changes = std::mem::take(&mut rec.changes);
        if !changes.is_empty() {
            let records: Vec<Record> = changes
                .into_iter()
                .map(|change| Record::Change {
                    account: account.name.clone(),
                    change,
                })
                .collect();
            self.append(&records);
            account.changed.send_replace(ns.seq());
        }
        out
    }

    /// Make a file at `full_path` (a full path in the account, e.g.
    /// `/Apps/nuvolos.cloud/notes.paper`) that cannot be downloaded, only exported — as a
    /// Paper doc: to `html` (its default) or `markdown`.
    pub fn add_export_only(
        &self,
        account: &Account,
        full_path: &str,
        html: &str,
        markdown: &str,
    ) -> Result<crate::store::Node, crate::ops::OpError> {
        let mut formats = vec![];
        for (format, text) in [("html", html), ("markdown", markdown)] {
            let data = Bytes::copy_from_slice(text.as_bytes());
            let hash = ContentHash::of(&data);
            let size = data.len() as u64;
            self.put_blob(hash, data)
                .map_err(|_| crate::ops::OpError::InsufficientSpace)?;
            formats.push((format.to_string(), hash, size));
        }
        self.mutate(account, |r| r.create_export_only(full_path, formats))
    }

    /// Record a token grant so it survives restarts.
    pub fn persist_access(&self, token: &str, grant: &Grant) {
        self.append(&[Record::Access {
            token: token.into(),
            grant: grant.clone(),
        }]);
    }

    /// Record a refresh grant so it survives restarts.
    pub fn persist_refresh(&self, token: &str, grant: &RefreshGrant) {
        self.append(&[Record::Refresh {
            token: token.into(),
            grant: grant.clone(),
        }]);
    }

    /// Revoke an access token, and the refresh token it came from with every access token
    /// issued from that.
    pub fn revoke(&self, token: &str) {
        let mut records = vec![];
        let mut tokens = self.tokens.lock();
        let family = tokens.access.get(token).and_then(|g| g.family.clone());
        tokens.access.remove(token);
        records.push(Record::RevokeAccess {
            token: token.into(),
        });
        // A fixed account token is its own family: it is both access and refresh token.
        let family = family.or_else(|| {
            tokens
                .refresh
                .contains_key(token)
                .then(|| token.to_string())
        });
        if let Some(family) = family {
            tokens.refresh.remove(&family);
            let members: Vec<String> = tokens
                .access
                .iter()
                .filter(|(_, g)| g.family.as_deref() == Some(&family))
                .map(|(t, _)| t.clone())
                .collect();
            for m in members {
                tokens.access.remove(&m);
                records.push(Record::RevokeAccess { token: m });
            }
            records.push(Record::RevokeRefresh { token: family });
        }
        drop(tokens);
        self.append(&records);
    }

    fn append(&self, records: &[Record]) {
        let Some(log) = &self.log else { return };
        let mut buf = Vec::new();
        for r in records {
            if serde_json::to_writer(&mut buf, r).is_ok() {
                buf.push(b'\n');
            }
        }
        // One write per operation: a killed process leaves whole lines behind, and the page
        // cache keeps them. A torn final line is skipped on replay.
        if let Err(e) = log.lock().write_all(&buf) {
            tracing::error!("could not append to the state log: {e}");
        }
    }

    fn append_raw(&self, bytes: &[u8]) {
        if let Some(log) = &self.log {
            if let Err(e) = log.lock().write_all(bytes) {
                tracing::error!("could not append to the state log: {e}");
            }
        }
    }

    fn replay(&self, path: &Path) -> anyhow::Result<()> {
        let file = std::fs::File::open(path)?;
        let mut max = self.counter.load(Ordering::Relaxed);
        let mut applied = 0usize;
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            let Ok(record) = serde_json::from_str::<Record>(&line) else {
                tracing::warn!("skipping a torn record at the end of the state log");
                continue;
            };
            applied += 1;
            match record {
                Record::Change { account, change } => {
                    let acct = match self.account(&account) {
                        Some(a) => a,
                        None => self.add_account(&account, &self.random_token("unused-")),
                    };
                    if let Change::Put(node) = &change {
                        max = max.max(counter_of(&node.id).unwrap_or(0));
                        if let Some(f) = node.file() {
                            max = max.max(counter_of(&f.rev).unwrap_or(0));
                        }
                    }
                    let mut ns = acct.ns.lock();
                    ns.apply(change);
                    acct.changed.send_replace(ns.seq());
                }
                Record::Access { token, grant } => {
                    self.tokens.lock().access.insert(token, grant);
                }
                Record::Refresh { token, grant } => {
                    self.tokens.lock().refresh.insert(token, grant);
                }
                Record::RevokeAccess { token } => {
                    self.tokens.lock().access.remove(&token);
                }
                Record::RevokeRefresh { token } => {
                    self.tokens.lock().refresh.remove(&token);
                }
            }
        }
        self.counter.store(max + 1, Ordering::Relaxed);
        if applied > 0 {
            tracing::info!(records = applied, "recovered state from {}", path.display());
        }
        Ok(())
    }
}

/// Lowercase hex SHA-256 (for derived account ids).
fn sha2_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Mode;

    #[test]
    fn ids_and_revs_decode_back_to_their_counter() {
        let emu = Emulator::new(Config::default()).unwrap();
        let id = emu.new_id();
        let rev = emu.new_rev();
        assert!(id.starts_with("id:") && id.len() == 25, "{id}");
        assert!(rev.len() >= 9 && rev.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(counter_of(&rev).unwrap(), counter_of(&id).unwrap() + 1);
    }

    #[test]
    fn account_ids_are_forty_characters() {
        let emu = Emulator::new(Config::default()).unwrap();
        for name in ["a", "alice", "a-much-longer-account-name"] {
            let id = emu
                .add_account(name, &format!("t-{name}"))
                .account_id
                .clone();
            assert!(id.starts_with("dbid:") && id.len() == 40, "{id}");
        }
    }

    #[test]
    fn state_survives_a_restart_from_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            accounts: vec![("ada".into(), "tok".into())],
            data_dir: Some(dir.path().to_path_buf()),
            ..Config::default()
        };
        let (id, rev) = {
            let emu = Emulator::new(config.clone()).unwrap();
            let acct = emu.account("ada").unwrap();
            let hash = ContentHash::of(b"kept");
            emu.put_blob(hash, Bytes::from_static(b"kept")).unwrap();
            let node = emu
                .mutate(&acct, |r| {
                    r.commit("/a/b.txt", &Mode::Add, false, false, None, hash, 4)
                })
                .unwrap();
            (node.id.clone(), node.file().unwrap().rev.clone())
        };
        // A torn final line, as a kill -9 mid-write could leave.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("log.jsonl"))
            .unwrap()
            .write_all(b"{\"Chan")
            .unwrap();
        let emu = Emulator::new(config).unwrap();
        let acct = emu.account("ada").unwrap();
        let ns = acct.ns.lock();
        let node = ns.get("/a/b.txt").unwrap();
        assert_eq!(node.id, id);
        assert_eq!(node.file().unwrap().rev, rev);
        assert_eq!(
            emu.blob(&node.file().unwrap().hash).unwrap(),
            Bytes::from_static(b"kept")
        );
        drop(ns);
        assert!(
            counter_of(&emu.new_rev()).unwrap() > counter_of(&rev).unwrap(),
            "new revs never repeat old ones"
        );
    }
}
