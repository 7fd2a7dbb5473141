//! Where nuvosync keeps things, and its configuration file.
//!
//! - config: `~/.config/nuvosync/config.toml` (`--config-dir`, `NUVOSYNC_CONFIG_DIR`)
//! - state: `~/.local/share/nuvosync/` — one index per pair in `pairs/`, logs, and the token
//!   file when no keyring is available (`--state-dir`, `NUVOSYNC_STATE_DIR`)
//! - runtime: `$XDG_RUNTIME_DIR/nuvosync/` — the control socket (else under the state dir)
//!
//! The configuration never holds a secret.

use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The directories of one nuvosync profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Configuration.
    pub config_dir: PathBuf,
    /// Indexes, logs, token file.
    pub state_dir: PathBuf,
    /// Control socket.
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// Resolve from flags, then environment, then the XDG defaults.
    pub fn resolve(
        config_dir: Option<PathBuf>,
        state_dir: Option<PathBuf>,
    ) -> Result<Paths, ApiError> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dirs = directories::ProjectDirs::from("", "", "nuvosync");
        let config_dir = config_dir
            .or_else(|| env("NUVOSYNC_CONFIG_DIR"))
            .or_else(|| dirs.as_ref().map(|d| d.config_dir().to_path_buf()))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Io,
                    "cannot find a home directory for the configuration — pass --config-dir",
                )
            })?;
        let state_dir = state_dir
            .or_else(|| env("NUVOSYNC_STATE_DIR"))
            .or_else(|| dirs.as_ref().map(|d| d.data_local_dir().to_path_buf()))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Io,
                    "cannot find a home directory for nuvosync's state — pass --state-dir",
                )
            })?;
        // With an explicit state dir, keep the socket with it so profiles never collide.
        let runtime_dir = if env("NUVOSYNC_STATE_DIR").is_some()
            || std::env::var_os("XDG_RUNTIME_DIR").is_none()
        {
            state_dir.join("run")
        } else {
            dirs.as_ref()
                .and_then(|d| d.runtime_dir().map(Path::to_path_buf))
                .unwrap_or_else(|| state_dir.join("run"))
        };
        Ok(Paths {
            config_dir,
            state_dir,
            runtime_dir,
        })
    }

    /// Everything under one folder (tests, the demo). The socket is where `resolve` looks for
    /// it given `NUVOSYNC_STATE_DIR=<dir>/state`, so the CLI finds a demo's daemon or app.
    pub fn under(dir: &Path) -> Paths {
        let state_dir = dir.join("state");
        Paths {
            config_dir: dir.join("config"),
            runtime_dir: state_dir.join("run"),
            state_dir,
        }
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// The index of a pair.
    pub fn index_file(&self, pair: &str) -> PathBuf {
        self.state_dir.join("pairs").join(format!("{pair}.db"))
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("nuvosync.sock")
    }

    /// nuvosync's own folders — state (indexes, links, logs), configuration, runtime files,
    /// and the log copies of `NUVOSYNC_LOG_DIR` — which no pair may sync.
    pub fn private_folders(&self) -> Vec<PathBuf> {
        let mut out = vec![
            self.state_dir.clone(),
            self.config_dir.clone(),
            self.runtime_dir.clone(),
        ];
        if let Some(d) = std::env::var_os("NUVOSYNC_LOG_DIR").filter(|v| !v.is_empty()) {
            out.push(PathBuf::from(d));
        }
        out
    }

    /// Is `local` (a pair's folder) inside one of nuvosync's own folders? Which one, if so.
    /// Compared by real path.
    pub fn private_around(&self, local: &Path) -> Option<PathBuf> {
        let local = sync_engine::engine::real_path(local);
        self.private_folders()
            .into_iter()
            .find(|d| local.starts_with(sync_engine::engine::real_path(d)))
    }

    /// Those of nuvosync's own folders inside `local` (a pair's folder): the pair never syncs
    /// them. Compared by real path.
    pub fn private_inside(&self, local: &Path) -> Vec<PathBuf> {
        let local = sync_engine::engine::real_path(local);
        self.private_folders()
            .into_iter()
            .filter(|d| {
                let d = sync_engine::engine::real_path(d);
                d != local && d.starts_with(&local)
            })
            .collect()
    }
}

fn default_true() -> bool {
    true
}

fn default_rescan() -> u64 {
    60
}

fn default_delete_percent() -> u32 {
    sync_engine::DeleteGuard::DEFAULT_PERCENT
}

fn default_delete_min_files() -> u64 {
    sync_engine::DeleteGuard::DEFAULT_MIN_FILES
}

fn default_trash_days() -> u32 {
    sync_engine::Retention::DEFAULT_TRASH_DAYS
}

fn default_trash_max_mb() -> u64 {
    sync_engine::Retention::DEFAULT_TRASH_MB
}

fn default_history_days() -> u32 {
    sync_engine::Retention::DEFAULT_HISTORY_DAYS
}

fn default_history_max_entries() -> u64 {
    sync_engine::Retention::DEFAULT_HISTORY_ENTRIES
}

/// One sync pair in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairConfig {
    /// Unique name.
    pub name: String,
    /// The local folder.
    pub local: PathBuf,
    /// Organization (first level in the app folder).
    pub organization: String,
    /// Space (second level).
    pub space: String,
    /// Instance (third level).
    pub instance: String,
    /// Watch the folder for changes (off for folders where file events never arrive).
    #[serde(default = "default_true")]
    pub watch: bool,
    /// Seconds between full rescans (for changes no event announces).
    #[serde(default = "default_rescan")]
    pub rescan_interval_secs: u64,
    /// Folders excluded from sync (relative paths).
    #[serde(default)]
    pub excluded: Vec<String>,
    /// Paused by the user.
    #[serde(default)]
    pub paused: bool,
}

impl PairConfig {
    /// The pair's folder on Dropbox, relative to the app folder.
    pub fn remote_root(&self) -> String {
        format!("/{}/{}/{}", self.organization, self.space, self.instance)
    }
}

/// How chatty desktop notifications are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Errors, conflicts, guards, restores and batched "N files synced".
    #[default]
    All,
    /// Only what needs the user: errors, conflicts, guards, restores.
    Attention,
    /// Nothing.
    Off,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Dropbox app key (an app-folder app); default nuvosync's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    /// The loopback ports `link` listens on for Dropbox's redirect, in order (default
    /// 28752, 28753, 28754). Each must be registered as `http://127.0.0.1:PORT/callback` for
    /// the app key in Dropbox's App Console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_ports: Option<Vec<u16>>,
    /// Notification level.
    #[serde(default)]
    pub notifications: NotifyLevel,
    /// Upload limit in bytes per second (0 = none).
    #[serde(default)]
    pub upload_limit: u64,
    /// Download limit in bytes per second (0 = none).
    #[serde(default)]
    pub download_limit: u64,
    /// Start at login.
    #[serde(default)]
    pub autostart: bool,
    /// Mass-delete guard: pause a pair when one sync would delete more than this share (%)
    /// of the files on either side...
    #[serde(default = "default_delete_percent")]
    pub mass_delete_percent: u32,
    /// ...and more than this many files.
    #[serde(default = "default_delete_min_files")]
    pub mass_delete_min_files: u64,
    /// Files deleted here because they were deleted on Dropbox stay in a pair's own trash
    /// (`.nuvosync/trash`, where the desktop's trash cannot take them) this many days...
    #[serde(default = "default_trash_days")]
    pub trash_days: u32,
    /// ...and a pair's trash holds at most this many MiB (the oldest go first).
    #[serde(default = "default_trash_max_mb")]
    pub trash_max_mb: u64,
    /// The activity history of a pair goes back this many days...
    #[serde(default = "default_history_days")]
    pub history_days: u32,
    /// ...and holds at most this many entries.
    #[serde(default = "default_history_max_entries")]
    pub history_max_entries: u64,
    /// Files Dropbox cannot download (Paper docs) are exported into the local folder as
    /// read-only copies (`Plan.paper` → `Plan.html`); off: they are listed in status only.
    #[serde(default)]
    pub export_documents: bool,
    /// Pairs.
    #[serde(default, rename = "pair")]
    pub pairs: Vec<PairConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_key: None,
            link_ports: None,
            notifications: NotifyLevel::default(),
            upload_limit: 0,
            download_limit: 0,
            autostart: false,
            mass_delete_percent: default_delete_percent(),
            mass_delete_min_files: default_delete_min_files(),
            trash_days: default_trash_days(),
            trash_max_mb: default_trash_max_mb(),
            history_days: default_history_days(),
            history_max_entries: default_history_max_entries(),
            export_documents: false,
            pairs: vec![],
        }
    }
}

/// Take the configuration file's writer lock: an flock on `config.toml.lock`, held until the
/// file returned is dropped (the kernel lets go of it when the process dies).
fn lock_config(paths: &Paths) -> Result<std::fs::File, ApiError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = paths.config_file().with_extension("toml.lock");
    let io = |e: std::io::Error| {
        ApiError::new(
            ErrorCode::Io,
            format!("cannot lock {}: {e}", file.display()),
        )
    };
    std::fs::create_dir_all(&paths.config_dir).map_err(io)?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&file)
        .map_err(io)?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| io(e.into()))?;
    Ok(f)
}

impl Config {
    /// Load the configuration (an absent file is an empty configuration).
    pub fn load(paths: &Paths) -> Result<Config, ApiError> {
        let file = paths.config_file();
        match std::fs::read_to_string(&file) {
            Ok(s) => {
                let c: Config = toml::from_str(&s).map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidArgument,
                        format!("{} is not valid: {e} — fix or remove it", file.display()),
                    )
                })?;
                c.validate().map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidArgument,
                        format!(
                            "{} is not valid: {} — fix or remove it",
                            file.display(),
                            e.message
                        ),
                    )
                })?;
                Ok(c)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(ApiError::new(
                ErrorCode::Io,
                format!("cannot read {}: {e}", file.display()),
            )),
        }
    }

    /// Check values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.mass_delete_percent > 100 {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "mass_delete_percent is {}, but a share of files is 0 to 100 (%)",
                    self.mass_delete_percent
                ),
            ));
        }
        if self
            .link_ports
            .as_ref()
            .is_some_and(|p| p.is_empty() || p.contains(&0))
        {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "link_ports must list one or more port numbers (1 to 65535), each registered as http://127.0.0.1:PORT/callback for the app",
            ));
        }
        Ok(())
    }

    /// Save atomically and privately: a temp file of mode 0600 beside it, written and
    /// fsynced, renamed over it, the folder fsynced — a reader sees the old file or the new
    /// one, never part of one. Writers of a running profile go through [`Config::update`].
    pub fn save(&self, paths: &Paths) -> Result<(), ApiError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let file = paths.config_file();
        let io = |e: std::io::Error| {
            ApiError::new(
                ErrorCode::Io,
                format!("cannot write {}: {e}", file.display()),
            )
        };
        std::fs::create_dir_all(&paths.config_dir).map_err(io)?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let tmp = file.with_extension("toml.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &file).map_err(io)?;
        if let Ok(d) = std::fs::File::open(&paths.config_dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Change the configuration file: under an exclusive lock (`config.toml.lock` beside it,
    /// mode 0600), read what it holds now — another process (the CLI, the daemon, the app)
    /// may have changed it since this one read it — apply `f`, check and save it. Returns
    /// what was saved.
    pub fn update(
        paths: &Paths,
        f: impl FnOnce(&mut Config) -> Result<(), ApiError>,
    ) -> Result<Config, ApiError> {
        let _lock = lock_config(paths)?;
        let mut next = Config::load(paths)?;
        f(&mut next)?;
        next.validate()?;
        next.save(paths)?;
        Ok(next)
    }

    /// A pair by name.
    pub fn pair(&self, name: &str) -> Option<&PairConfig> {
        self.pairs.iter().find(|p| p.name == name)
    }

    /// The loopback ports `link` tries, in order: `link_ports` in config.toml, else
    /// `NUVOSYNC_LINK_PORTS` (comma-separated), else nuvosync's
    /// ([`nuvosync_dropbox::auth::LINK_PORTS`]).
    pub fn link_ports(&self) -> Result<Vec<u16>, ApiError> {
        if let Some(p) = &self.link_ports {
            return Ok(p.clone());
        }
        match std::env::var("NUVOSYNC_LINK_PORTS") {
            Ok(v) if !v.trim().is_empty() => v
                .split(',')
                .map(|p| p.trim().parse::<u16>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidArgument,
                        format!(
                            "NUVOSYNC_LINK_PORTS must be port numbers separated by commas, got {v:?}"
                        ),
                    )
                }),
            _ => Ok(nuvosync_dropbox::auth::LINK_PORTS.to_vec()),
        }
    }

    /// The app key in use.
    pub fn app_key(&self) -> String {
        self.app_key
            .clone()
            .or_else(|| std::env::var("NUVOSYNC_APP_KEY").ok())
            .unwrap_or_else(|| nuvosync_dropbox::DEFAULT_APP_KEY.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_defaults_fill_in() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        assert_eq!(Config::load(&paths).unwrap(), Config::default());
        let text = "[[pair]]\nname = \"lab\"\nlocal = \"/data/lab\"\norganization = \"Acme\"\nspace = \"Research\"\ninstance = \"Main\"\n";
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(paths.config_file(), text).unwrap();
        let c = Config::load(&paths).unwrap();
        assert!(c.pairs[0].watch);
        assert_eq!(c.pairs[0].rescan_interval_secs, 60);
        assert_eq!(c.pairs[0].remote_root(), "/Acme/Research/Main");
        c.save(&paths).unwrap();
        assert_eq!(Config::load(&paths).unwrap(), c);
    }
}
