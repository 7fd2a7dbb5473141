//! Where Dropbox lives: the api, content and notify hosts, and the OAuth pages.
//!
//! Real Dropbox by default. `NUVOSYNC_DROPBOX_URL=https://127.0.0.1:PORT` points every host
//! at one server (the emulator), and `NUVOSYNC_CA_FILE` adds a CA certificate to trust.

use std::path::PathBuf;
use url::Url;

/// The base URLs of the Dropbox services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// RPC routes (`…/2/`).
    pub api: Url,
    /// Upload and download routes (`…/2/`).
    pub content: Url,
    /// Longpoll (`…/2/`).
    pub notify: Url,
    /// `/oauth2/token` and `auth/token/revoke`'s host, without `/2/`.
    pub token: Url,
    /// The browser consent page.
    pub authorize: Url,
    /// The web page of a path in the user's Dropbox (`…/home`).
    pub web_home: Url,
    /// Extra CA certificate (PEM) to trust, if any.
    pub ca_file: Option<PathBuf>,
}

/// A URL from a constant that is known to parse.
fn fixed(s: &str) -> Url {
    Url::parse(s).unwrap_or_else(|e| unreachable!("constant URL {s}: {e}"))
}

impl Endpoints {
    /// Dropbox itself.
    pub fn dropbox() -> Self {
        Endpoints {
            api: fixed("https://api.dropboxapi.com/2/"),
            content: fixed("https://content.dropboxapi.com/2/"),
            notify: fixed("https://notify.dropboxapi.com/2/"),
            token: fixed("https://api.dropboxapi.com/"),
            authorize: fixed("https://www.dropbox.com/oauth2/authorize"),
            web_home: fixed("https://www.dropbox.com/home"),
            ca_file: None,
        }
    }

    /// Every service on one base URL (an emulator).
    pub fn single(base: &str) -> Result<Self, url::ParseError> {
        let base = Url::parse(base.trim_end_matches('/'))?;
        let at = |p: &str| base.join(p);
        Ok(Endpoints {
            api: at("/2/")?,
            content: at("/2/")?,
            notify: at("/2/")?,
            token: at("/")?,
            authorize: at("/oauth2/authorize")?,
            web_home: at("/home")?,
            ca_file: None,
        })
    }

    /// From the environment: `NUVOSYNC_DROPBOX_URL` and `NUVOSYNC_CA_FILE`.
    pub fn from_env() -> Result<Self, url::ParseError> {
        let mut e = match std::env::var("NUVOSYNC_DROPBOX_URL") {
            Ok(u) if !u.is_empty() => Endpoints::single(&u)?,
            _ => Endpoints::dropbox(),
        };
        e.ca_file = std::env::var_os("NUVOSYNC_CA_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Ok(e)
    }

    /// Rewrite a URL the SDK built for Dropbox's hosts onto these endpoints.
    pub fn rewrite(&self, sdk_url: &str) -> String {
        let table = [
            ("https://api.dropboxapi.com/2/", &self.api),
            ("https://content.dropboxapi.com/2/", &self.content),
            ("https://notify.dropboxapi.com/2/", &self.notify),
            ("https://api.dropboxapi.com/", &self.token),
        ];
        for (prefix, base) in table {
            if let Some(rest) = sdk_url.strip_prefix(prefix) {
                return format!("{}{rest}", base.as_str());
            }
        }
        sdk_url.to_string()
    }

    /// The web address of a folder in the user's Dropbox (for "open on the web").
    pub fn web_url(&self, path_from_root: &str) -> String {
        let encoded: String = path_from_root
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| {
                format!(
                    "/{}",
                    url::form_urlencoded::byte_serialize(c.as_bytes())
                        .collect::<String>()
                        .replace('+', "%20")
                )
            })
            .collect();
        format!("{}{encoded}", self.web_home.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_base_serves_every_host() {
        let e = Endpoints::single("https://127.0.0.1:8443/").unwrap();
        assert_eq!(
            e.rewrite("https://api.dropboxapi.com/2/files/list_folder"),
            "https://127.0.0.1:8443/2/files/list_folder"
        );
        assert_eq!(
            e.rewrite("https://content.dropboxapi.com/2/files/upload"),
            "https://127.0.0.1:8443/2/files/upload"
        );
        assert_eq!(
            e.rewrite("https://notify.dropboxapi.com/2/files/list_folder/longpoll"),
            "https://127.0.0.1:8443/2/files/list_folder/longpoll"
        );
        assert_eq!(
            e.rewrite("https://api.dropboxapi.com/oauth2/token"),
            "https://127.0.0.1:8443/oauth2/token"
        );
        assert_eq!(
            e.authorize.as_str(),
            "https://127.0.0.1:8443/oauth2/authorize"
        );
    }

    #[test]
    fn dropbox_is_left_alone_and_web_urls_are_encoded() {
        let e = Endpoints::dropbox();
        assert_eq!(
            e.rewrite("https://api.dropboxapi.com/2/x"),
            "https://api.dropboxapi.com/2/x"
        );
        assert_eq!(
            e.web_url("/Apps/nuvolos.cloud/My Org/Space"),
            "https://www.dropbox.com/home/Apps/nuvolos.cloud/My%20Org/Space"
        );
    }
}
