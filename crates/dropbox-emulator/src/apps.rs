//! The apps registered with the emulator, as in Dropbox's App Console: nuvosync's own app key
//! (its app folder and loopback redirect URIs) and those given with `--app`.

/// The app key nuvosync uses by default; tokens for it are jailed in its app folder.
pub const NUVOSYNC_APP_KEY: &str = "nuvosync-desktop";
/// The app folder name of nuvosync's app key.
pub const NUVOSYNC_APP_FOLDER: &str = "nuvolos.cloud";

/// The redirect URIs of nuvosync's app key: its fixed loopback port and the two fallbacks
/// (the same list nuvosync's client tries, `nuvosync_dropbox::auth::LINK_PORTS`).
pub const NUVOSYNC_REDIRECT_URIS: &[&str] = &[
    "http://127.0.0.1:28752/callback",
    "http://127.0.0.1:28753/callback",
    "http://127.0.0.1:28754/callback",
];

/// An app as registered in Dropbox's App Console: its key (`client_id`), optionally its
/// secret, its access type (an app folder, or the whole Dropbox) and its redirect URIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredApp {
    /// The app key.
    pub key: String,
    /// The app secret; `None` when the emulator was not told one (then no secret is right).
    pub secret: Option<String>,
    /// The app folder's name (`Apps/<folder>`), or `None` for full Dropbox access.
    pub folder: Option<String>,
    /// The redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
}

impl RegisteredApp {
    /// nuvosync's own app key: the app folder `nuvolos.cloud`, with the redirect URIs of its
    /// fixed loopback ports.
    pub fn nuvosync() -> RegisteredApp {
        RegisteredApp {
            key: NUVOSYNC_APP_KEY.into(),
            secret: None,
            folder: Some(NUVOSYNC_APP_FOLDER.into()),
            redirect_uris: NUVOSYNC_REDIRECT_URIS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// An app with full Dropbox access and no redirect URI (its users paste codes).
    pub fn full_access(key: &str) -> RegisteredApp {
        RegisteredApp {
            key: key.into(),
            secret: None,
            folder: None,
            redirect_uris: vec![],
        }
    }

    /// Parse `KEY[=SECRET]:FOLDER[:URI[,URI...]]`; an empty FOLDER means full Dropbox access.
    pub fn parse(spec: &str) -> Result<RegisteredApp, String> {
        let usage = || {
            format!(
                "--app must look like KEY[=SECRET]:FOLDER:REDIRECT_URI[,REDIRECT_URI...] (FOLDER empty for full Dropbox access), got {spec:?}"
            )
        };
        let mut parts = spec.splitn(3, ':');
        let (Some(id), Some(folder)) = (parts.next(), parts.next()) else {
            return Err(usage());
        };
        let (key, secret) = match id.split_once('=') {
            Some((k, s)) => (k, Some(s.to_string())),
            None => (id, None),
        };
        if key.is_empty() || secret.as_deref() == Some("") {
            return Err(usage());
        }
        let mut redirect_uris = vec![];
        for uri in parts
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|u| !u.is_empty())
        {
            let parsed = url::Url::parse(uri)
                .map_err(|e| format!("--app {spec:?}: {uri:?} is not a URL ({e})"))?;
            if parsed.fragment().is_some() {
                return Err(format!(
                    "--app {spec:?}: a redirect URI has no fragment ({uri:?})"
                ));
            }
            redirect_uris.push(uri.to_string());
        }
        Ok(RegisteredApp {
            key: key.into(),
            secret,
            folder: (!folder.is_empty()).then(|| folder.to_string()),
            redirect_uris,
        })
    }
}

impl std::str::FromStr for RegisteredApp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RegisteredApp::parse(s)
    }
}
