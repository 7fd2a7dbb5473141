//! Where the refresh token lives: the OS keyring (Secret Service) when one answers, else a
//! file of mode 0600 in the state directory (with a one-line notice). Access tokens are never
//! stored; they live in memory and are minted from the refresh token.

use crate::auth::Secret;
use crate::error::{AuthProblem, Error};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What is stored for a linked account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredLink {
    /// The refresh token.
    pub refresh_token: Secret,
    /// The app key it belongs to.
    pub app_key: String,
}

/// Whether the OS keyring can hold the link (for `nuvosync doctor`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringState {
    /// `NUVOSYNC_KEYRING=off` (or `0`): the file store is used.
    Off,
    /// A keyring (Secret Service) answered.
    Available,
    /// None answered; the file store is used. The keyring's own words.
    Unavailable(String),
}

/// Where a link was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The OS keyring.
    Keyring,
    /// A 0600 file at this path.
    File(PathBuf),
}

const SERVICE: &str = "nuvosync";
const USER: &str = "dropbox-refresh-token";

/// The token store of one state directory.
#[derive(Clone, Debug)]
pub struct TokenStore {
    file: PathBuf,
    use_keyring: bool,
}

impl TokenStore {
    /// A store for `state_dir`. `NUVOSYNC_KEYRING=off` skips the keyring (headless machines, tests).
    pub fn new(state_dir: &Path) -> Self {
        let use_keyring = std::env::var("NUVOSYNC_KEYRING")
            .map(|v| v != "off" && v != "0")
            .unwrap_or(true);
        TokenStore {
            file: state_dir.join("credentials.json"),
            use_keyring,
        }
    }

    /// The fallback file's path.
    pub fn file_path(&self) -> &Path {
        &self.file
    }

    fn entry(&self) -> Option<keyring::Entry> {
        if !self.use_keyring {
            return None;
        }
        // Scope the entry to the state dir so several profiles do not overwrite each other.
        let user = format!(
            "{USER}:{}",
            self.file
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        keyring::Entry::new(SERVICE, &user).ok()
    }

    /// Ask the keyring whether it could hold the link (a read; nothing is written).
    pub fn keyring_state(&self) -> KeyringState {
        if !self.use_keyring {
            return KeyringState::Off;
        }
        let Some(entry) = self.entry() else {
            return KeyringState::Unavailable("no keyring entry could be made".into());
        };
        match entry.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => KeyringState::Available,
            Err(e) => KeyringState::Unavailable(e.to_string()),
        }
    }

    /// Save a link. Returns where it went.
    pub fn save(&self, link: &StoredLink) -> Result<Location, Error> {
        let json = serde_json::to_string(link).map_err(|e| Error::Unexpected(e.to_string()))?;
        if let Some(entry) = self.entry() {
            match entry.set_password(&json) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.file);
                    return Ok(Location::Keyring);
                }
                Err(e) => tracing::debug!("no usable OS keyring ({e}); using the file store"),
            }
        }
        write_private(&self.file, json.as_bytes())
            .map_err(|e| Error::Unexpected(format!("cannot write {}: {e}", self.file.display())))?;
        tracing::info!(
            "no OS keyring available: the Dropbox refresh token is stored in {} (mode 0600)",
            self.file.display()
        );
        Ok(Location::File(self.file.clone()))
    }

    /// Load the stored link, if any.
    pub fn load(&self) -> Result<Option<StoredLink>, Error> {
        if let Some(entry) = self.entry() {
            if let Ok(json) = entry.get_password() {
                return serde_json::from_str(&json).map(Some).map_err(|_| {
                    Error::Auth(AuthProblem::Other(
                        "the stored Dropbox link is unreadable — run `nuvosync link`".into(),
                    ))
                });
            }
        }
        match std::fs::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                Error::Auth(AuthProblem::Other(format!(
                    "{} is unreadable — run `nuvosync link`",
                    self.file.display()
                )))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Unexpected(format!(
                "cannot read {}: {e}",
                self.file.display()
            ))),
        }
    }

    /// Remove the stored link from every place.
    pub fn delete(&self) -> Result<(), Error> {
        if let Some(entry) = self.entry() {
            let _ = entry.delete_credential();
        }
        match std::fs::remove_file(&self.file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Unexpected(format!(
                "cannot remove {}: {e}",
                self.file.display()
            ))),
        }
    }
}

/// Write a file readable by its owner only, atomically (temp file, then rename).
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn file_store_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore {
            file: dir.path().join("credentials.json"),
            use_keyring: false,
        };
        assert_eq!(store.load().unwrap(), None);
        let link = StoredLink {
            refresh_token: Secret::new("rt-secret"),
            app_key: "k".into(),
        };
        assert_eq!(
            store.save(&link).unwrap(),
            Location::File(store.file.clone())
        );
        let mode = std::fs::metadata(&store.file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.load().unwrap(), Some(link));
        store.delete().unwrap();
        assert_eq!(store.load().unwrap(), None);
    }
}
