//! The commands. A [`Service`] owns the configuration, the Dropbox client and the open pairs;
//! every front end calls these methods (directly, or through the control socket).

use crate::config::{Config, PairConfig, Paths};
use crate::error::{ApiError, ErrorCode};
use nuvosync_dropbox::store::TokenStore;
use nuvosync_dropbox::{Client, Credential, Endpoints, Secret};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sync_engine::engine::{Engine, PairHandle};
use sync_engine::{PairSpec, Tuning};

/// A request to add a pair.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AddPair {
    /// The local folder (created if missing).
    pub local: PathBuf,
    /// Organization.
    pub organization: String,
    /// Space.
    pub space: String,
    /// Instance.
    pub instance: String,
    /// Name (default: from the instance).
    pub name: Option<String>,
    /// Watch for file events.
    pub watch: bool,
    /// Seconds between rescans.
    pub rescan_interval_secs: Option<u64>,
    /// Excluded folders.
    pub excluded: Vec<String>,
}

/// The nuvosync service of one profile.
pub struct Service {
    paths: Paths,
    config: Mutex<Config>,
    endpoints: Endpoints,
    client: Mutex<Option<Arc<Client>>>,
    /// The open pairs, the tuning they share and the channel they report into.
    engine: Engine,
    credential_override: Mutex<Option<Credential>>,
    /// The profile's single-instance lock, once this process runs pairs ([`Service::claim`]).
    instance: Mutex<Option<crate::instance::InstanceLock>>,
    /// Where the start-at-login entry goes, when not this process's own ([`Service::set_autostart`]).
    autostart: Mutex<Option<crate::autostart::Autostart>>,
}

fn valid_pair_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !n.starts_with('.')
}

/// A pair name from an instance name: lower case, runs of other characters as `-`.
pub fn name_from(instance: &str) -> String {
    let mut out = String::new();
    for c in instance.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "pair".into() } else { t }
}

/// The settings that every pair shares through its tuning.
fn apply_to_tuning(c: &Config, tuning: &Tuning) {
    tuning.limits.set(c.upload_limit, c.download_limit);
    tuning
        .delete_guard
        .set(c.mass_delete_percent, c.mass_delete_min_files);
    tuning.retention.set(
        c.trash_days,
        c.trash_max_mb,
        c.history_days,
        c.history_max_entries,
    );
    tuning
        .export_documents
        .store(c.export_documents, std::sync::atomic::Ordering::Relaxed);
}

impl Service {
    /// Open the service of a profile, talking to the Dropbox of the environment
    /// (`NUVOSYNC_DROPBOX_URL`, `NUVOSYNC_CA_FILE`).
    pub fn open(paths: Paths) -> Result<Service, ApiError> {
        let endpoints = Endpoints::from_env().map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                format!("NUVOSYNC_DROPBOX_URL is not a URL: {e}"),
            )
        })?;
        Self::with_endpoints(paths, endpoints, Tuning::default())
    }

    /// Open with explicit endpoints and tuning (tests, the demo).
    pub fn with_endpoints(
        paths: Paths,
        endpoints: Endpoints,
        tuning: Tuning,
    ) -> Result<Service, ApiError> {
        let config = Config::load(&paths)?;
        apply_to_tuning(&config, &tuning);
        // The state folder holds the indexes (every synced name) and maybe the token file: made
        // readable by its owner only, as the XDG base directory spec asks of the folders it
        // names (0700). An existing folder is left as it is; `nuvosync doctor` checks it.
        if !paths.state_dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&paths.state_dir);
        }
        Ok(Service {
            paths,
            config: Mutex::new(config),
            endpoints,
            client: Mutex::new(None),
            engine: Engine::new(tuning),
            credential_override: Mutex::new(None),
            instance: Mutex::new(None),
            autostart: Mutex::new(None),
        })
    }

    /// Take the profile's single-instance lock (once; kept until the service is dropped):
    /// required before this process runs a pair or changes a pair's state. Refused, naming the
    /// other process and what to do, while another nuvosync holds it
    /// (see [`crate::instance`]).
    pub fn claim(&self) -> Result<(), ApiError> {
        let mut held = self.instance.lock();
        if held.is_none() {
            *held = Some(crate::instance::InstanceLock::acquire(&self.paths)?);
        }
        Ok(())
    }

    /// Whether this process holds the profile's single-instance lock.
    pub fn claimed(&self) -> bool {
        self.instance.lock().is_some()
    }

    /// The event channel every pair reports into.
    pub fn events(&self) -> &sync_engine::Events {
        self.engine.events()
    }

    /// Forget an opened pair (its index is reopened on next use).
    pub fn forget_pair(&self, name: &str) {
        self.engine.close(name);
    }

    /// The profile's directories.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// A copy of the configuration.
    pub fn config(&self) -> Config {
        self.config.lock().clone()
    }

    /// Change and save the configuration: `f` changes what the file holds now (another
    /// process may have written it since this one read it), under the file's lock; see
    /// [`Config::update`].
    pub fn update_config(
        &self,
        f: impl FnOnce(&mut Config) -> Result<(), ApiError>,
    ) -> Result<Config, ApiError> {
        let mut c = self.config.lock();
        let next = Config::update(&self.paths, f)?;
        // Limits and guards apply at once, to the transfers and pairs under way too.
        apply_to_tuning(&next, self.engine.tuning());
        *c = next.clone();
        Ok(next)
    }

    /// Write the start-at-login entry here instead of this process's own (the demo keeps its
    /// entry in its folder).
    pub fn set_autostart(&self, a: crate::autostart::Autostart) {
        *self.autostart.lock() = Some(a);
    }

    /// Write (`on`) or remove the system's start-at-login entry of this profile; returns what
    /// was done, for people. Every front end's `autostart` setting comes here.
    pub fn apply_autostart(&self, on: bool) -> Result<String, ApiError> {
        let a = self.autostart.lock()
            .clone()
            .or_else(|| crate::autostart::Autostart::for_this_process(&self.paths))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Io,
                    "neither XDG_CONFIG_HOME nor HOME is set, so there is no place for the autostart entry — set HOME",
                )
            })?;
        a.set(on)
    }

    /// The token store of this profile.
    pub fn token_store(&self) -> TokenStore {
        TokenStore::new(&self.paths.state_dir)
    }

    /// Use this credential instead of the environment or the token store (the demo).
    pub fn set_credential(&self, c: Credential) {
        *self.credential_override.lock() = Some(c);
        *self.client.lock() = None;
    }

    /// The credential to use: `NUVOSYNC_TOKEN`, else the token in `NUVOSYNC_TOKEN_FILE`, else
    /// the linked account.
    pub fn credential(&self) -> Result<Credential, ApiError> {
        if let Some(c) = self.credential_override.lock().clone() {
            return Ok(c);
        }
        let app_key = self.config().app_key();
        if let Some(t) = std::env::var("NUVOSYNC_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
        {
            return Ok(Credential::Either {
                token: Secret::new(t),
                app_key,
            });
        }
        if let Some(file) = std::env::var_os("NUVOSYNC_TOKEN_FILE").filter(|f| !f.is_empty()) {
            return Ok(Credential::Either {
                token: token_from_file(Path::new(&file))?,
                app_key,
            });
        }
        match self.token_store().load()? {
            Some(link) => Ok(Credential::Refresh {
                refresh_token: link.refresh_token,
                app_key: link.app_key,
            }),
            None => Err(ApiError::new(
                ErrorCode::NotLinked,
                "no Dropbox account is linked — run `nuvosync link` (or set NUVOSYNC_TOKEN)",
            )),
        }
    }

    /// The Dropbox client (made on first use).
    pub fn client(&self) -> Result<Arc<Client>, ApiError> {
        let mut c = self.client.lock();
        if let Some(client) = &*c {
            return Ok(client.clone());
        }
        let client = Arc::new(Client::new(self.endpoints.clone(), self.credential()?)?);
        client.set_limits(self.engine.tuning().limits.clone());
        *c = Some(client.clone());
        Ok(client)
    }

    /// Forget every credential held here (unlink): the override and the client.
    pub fn forget_credential(&self) {
        *self.credential_override.lock() = None;
        self.reset_client();
    }

    /// Forget the client (after linking or unlinking).
    pub fn reset_client(&self) {
        *self.client.lock() = None;
        self.engine.close_all();
    }

    /// The configured pairs.
    pub fn pairs(&self) -> Vec<PairConfig> {
        self.config().pairs
    }

    /// Add a pair.
    pub fn add_pair(&self, req: AddPair) -> Result<PairConfig, ApiError> {
        let bad = |m: String| ApiError::new(ErrorCode::InvalidArgument, m);
        for (what, v) in [
            ("organization", &req.organization),
            ("space", &req.space),
            ("instance", &req.instance),
        ] {
            if v.trim().is_empty() {
                return Err(bad(format!(
                    "the {what} name is empty — give --{} NAME",
                    &what[..if what == "organization" {
                        3
                    } else {
                        what.len()
                    }]
                )));
            }
            sync_core::path::check_name(v).map_err(|p| {
                bad(format!(
                    "the {what} name {v:?} cannot be a Dropbox folder: {p}"
                ))
            })?;
        }
        let name = req.name.clone().unwrap_or_else(|| name_from(&req.instance));
        if !valid_pair_name(&name) {
            return Err(bad(format!(
                "the pair name {name:?} may use only letters, digits, '-', '_' and '.' — choose another with --name"
            )));
        }
        let local = if req.local.is_absolute() {
            req.local.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(&req.local))
                .unwrap_or(req.local.clone())
        };
        if let Some(own) = self.paths.private_around(&local) {
            return Err(bad(format!(
                "{} is inside nuvosync's own folder {} (its state, configuration or logs), which is never synced — choose a folder outside it",
                local.display(),
                own.display()
            )));
        }
        std::fs::create_dir_all(&local).map_err(|e| {
            ApiError::new(
                ErrorCode::Io,
                format!("cannot create the folder {}: {e}", local.display()),
            )
        })?;
        let local = local.canonicalize().unwrap_or(local);
        if !local.is_dir() {
            return Err(bad(format!("{} is not a folder", local.display())));
        }
        for own in self.paths.private_inside(&local) {
            // Allowed (a pair of the home folder), but said: these are never synced.
            tracing::warn!(
                "nuvosync's own folder {} is inside {}: it is never synced (it holds nuvosync's index, link and logs)",
                own.display(),
                local.display()
            );
        }
        let pair = PairConfig {
            name: name.clone(),
            local: local.clone(),
            organization: req.organization.trim().to_string(),
            space: req.space.trim().to_string(),
            instance: req.instance.trim().to_string(),
            watch: req.watch,
            rescan_interval_secs: req.rescan_interval_secs.unwrap_or(60).max(1),
            excluded: req.excluded.clone(),
            paused: false,
        };
        self.update_config(|c| {
            if c.pair(&name).is_some() {
                return Err(ApiError::new(
                    ErrorCode::AlreadyExists,
                    format!("a pair named {name:?} exists — choose another with --name"),
                ));
            }
            for other in &c.pairs {
                if local.starts_with(&other.local) || other.local.starts_with(&local) {
                    return Err(bad(format!(
                        "{} overlaps the folder of pair {:?} ({}) — pairs need separate folders",
                        local.display(),
                        other.name,
                        other.local.display()
                    )));
                }
                let (a, b) = (
                    sync_core::path::key(&pair.remote_root()),
                    sync_core::path::key(&other.remote_root()),
                );
                if sync_core::path::is_within(&a, &b) || sync_core::path::is_within(&b, &a) {
                    return Err(bad(format!(
                        "{} overlaps the Dropbox folder of pair {:?} ({})",
                        pair.remote_root(),
                        other.name,
                        other.remote_root()
                    )));
                }
            }
            c.pairs.push(pair.clone());
            Ok(())
        })?;
        Ok(pair)
    }

    /// Remove a pair (its files stay where they are, on both sides).
    pub fn remove_pair(&self, name: &str) -> Result<(), ApiError> {
        // Its index is deleted: not under another process still syncing it.
        self.claim()?;
        let local = self.config().pair(name).map(|p| p.local.clone());
        self.update_config(|c| {
            let before = c.pairs.len();
            c.pairs.retain(|p| p.name != name);
            if c.pairs.len() == before {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("no pair named {name:?} — see `nuvosync pair list`"),
                ));
            }
            Ok(())
        })?;
        // Its index goes, and the restore marker in its folder that belonged to it.
        self.engine
            .forget(name, &self.paths.index_file(name), local.as_deref());
        Ok(())
    }

    /// The engine of a pair (opened on first use).
    pub fn pair(&self, name: &str) -> Result<PairHandle, ApiError> {
        if let Some(p) = self.engine.get(name) {
            return Ok(p);
        }
        let cfg = self.config().pair(name).cloned().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("no pair named {name:?} — see `nuvosync pair list`"),
            )
        })?;
        if let Some(own) = self.paths.private_around(&cfg.local) {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "the folder of pair {name:?}, {}, is inside nuvosync's own folder {}, which is never synced — remove the pair and add it with a folder outside it",
                    cfg.local.display(),
                    own.display()
                ),
            ));
        }
        let client = self.client()?;
        let spec = PairSpec {
            name: cfg.name.clone(),
            local_root: cfg.local.clone(),
            remote_root: cfg.remote_root(),
            excluded: cfg.excluded.clone(),
            index_path: self.paths.index_file(&cfg.name),
        };
        // Every pair reports into the engine's channel: that is what the daemon, the socket's
        // subscribers, the tray and the UI listen to. nuvosync's own folders are never
        // synced, wherever they are.
        Ok(self
            .engine
            .open(spec, client, &self.paths.private_folders())?)
    }

    /// Converge the named pair, or every pair. Each pair's outcome is reported separately.
    pub async fn sync_once(
        &self,
        name: Option<&str>,
        confirm_deletes: bool,
    ) -> Result<Vec<crate::dto::PairSyncDto>, ApiError> {
        self.claim()?;
        let names: Vec<String> = match name {
            Some(n) => vec![
                self.config()
                    .pair(n)
                    .map(|p| p.name.clone())
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::NotFound,
                            format!("no pair named {n:?} — see `nuvosync pair list`"),
                        )
                    })?,
            ],
            None => self.pairs().into_iter().map(|p| p.name).collect(),
        };
        if names.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "no pairs are configured — add one with `nuvosync pair add --local DIR --org O --space S --instance I`",
            ));
        }
        let mut out = vec![];
        for n in names {
            let pair = self.pair(&n)?;
            if confirm_deletes {
                pair.confirm_deletes();
            }
            match pair.sync_once().await {
                Ok(report) => out.push(crate::dto::PairSyncDto {
                    pair: n,
                    report: Some(report.into()),
                    error: None,
                }),
                Err(e) => {
                    // Said for this run: the way on is the next `sync --once`.
                    let error = match &e {
                        sync_engine::SyncError::Paused(r) => {
                            ApiError::new(ErrorCode::Paused, r.describe(true))
                        }
                        _ => e.into(),
                    };
                    out.push(crate::dto::PairSyncDto {
                        pair: n,
                        report: None,
                        error: Some(error),
                    })
                }
            }
        }
        Ok(out)
    }
}

/// The token in a file given by `NUVOSYNC_TOKEN_FILE` (a container's secret, a headless
/// machine's refresh token): its first non-empty line. Never a command-line argument, which
/// every local user can read. The token itself is never part of an error.
fn token_from_file(file: &Path) -> Result<Secret, ApiError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ApiError::new(
            ErrorCode::NotLinked,
            format!(
                "cannot read the token file {} (NUVOSYNC_TOKEN_FILE): {e} — check the path and that this user may read it",
                file.display()
            ),
        )
    })?;
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(t) => Ok(Secret::new(t.to_string())),
        None => Err(ApiError::new(
            ErrorCode::NotLinked,
            format!(
                "the token file {} (NUVOSYNC_TOKEN_FILE) is empty — put a Dropbox refresh token in it, or unset it and link with `nuvosync link --no-browser` (the link is then kept in the state folder)",
                file.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_names_come_from_instances() {
        assert_eq!(name_from("Instance 1 (test)"), "instance-1-test");
        assert_eq!(name_from("ÄÖ"), "pair");
        assert!(valid_pair_name("lab-1.a_b"));
        assert!(!valid_pair_name("../x"));
    }

    #[test]
    fn pairs_are_validated_and_may_not_overlap() {
        let d = tempfile::tempdir().unwrap();
        let s = Service::with_endpoints(
            Paths::under(d.path()),
            Endpoints::dropbox(),
            Tuning::default(),
        )
        .unwrap();
        let req = |local: &str, inst: &str| AddPair {
            local: d.path().join(local),
            organization: "Acme".into(),
            space: "R".into(),
            instance: inst.into(),
            watch: true,
            ..AddPair::default()
        };
        let p = s.add_pair(req("one", "Main")).unwrap();
        assert_eq!(p.name, "main");
        assert!(d.path().join("one").is_dir(), "the folder is created");
        assert_eq!(
            s.add_pair(req("two", "Main")).unwrap_err().code,
            ErrorCode::AlreadyExists
        );
        assert_eq!(
            s.add_pair(req("one/sub", "Other")).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            s.add_pair(req("three", "desktop.ini")).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        // Inside nuvosync's own state folder: refused, saying why. Around it: allowed.
        let e = s.add_pair(req("state/lab", "Inside")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("nuvosync's own folder"), "{}", e.message);
        assert!(!d.path().join("state/lab").exists(), "nothing made for it");
        assert_eq!(
            s.paths().private_inside(d.path()),
            [
                d.path().join("state"),
                d.path().join("config"),
                d.path().join("state/run")
            ]
        );
        // Survives a restart.
        let again = Service::with_endpoints(
            Paths::under(d.path()),
            Endpoints::dropbox(),
            Tuning::default(),
        )
        .unwrap();
        assert_eq!(again.pairs().len(), 1);
        again.remove_pair("main").unwrap();
        assert_eq!(
            again.remove_pair("main").unwrap_err().code,
            ErrorCode::NotFound
        );
    }
}
