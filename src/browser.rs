//! Opening the Dropbox consent page in the user's browser without putting its address on a
//! command line.
//!
//! The authorize URL carries the sign-in's `state` and PKCE challenge. A browser started as
//! `xdg-open URL` shows that URL in its argv, which every local user can read (`ps`, `/proc`):
//! another user could then answer the loopback listener with a code of their own account
//! (made for this challenge) and have nuvosync link it. So the URL is written into a page of
//! mode 0600 in a folder of mode 0700 (in `$XDG_RUNTIME_DIR`, else the temp folder) that
//! sends the browser on, and only that page's path is passed to the browser. The page is
//! removed when the sign-in ends.
//!
//! `NUVOSYNC_BROWSER` names another program to open the page with (it gets the page's path as
//! its only argument); otherwise the desktop's opener (`xdg-open` on Linux). The private
//! folder and page, and the opener, are the platform's ([`sync_engine::platform`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use sync_engine::platform;

/// A page that forwards to the consent page; removed (with its folder) when dropped.
pub struct ForwardPage {
    dir: PathBuf,
    file: PathBuf,
}

impl ForwardPage {
    /// Write the page for `url`.
    pub fn new(url: &str) -> std::io::Result<ForwardPage> {
        let base = platform::runtime_dir();
        let mut last = None;
        for _ in 0..16 {
            let dir = base.join(format!("nuvosync-signin-{:016x}", rand::random::<u64>()));
            match platform::create_private_dir(&dir) {
                Ok(()) => {
                    let file = dir.join("dropbox-sign-in.html");
                    let page = ForwardPage { dir, file };
                    let mut f = platform::create_private_file(&page.file)?;
                    f.write_all(forward_html(url).as_bytes())?;
                    f.sync_all()?;
                    return Ok(page);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no folder for the sign-in page")))
    }

    /// The page's path.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Open the page in the browser; true when the opener says it did.
    pub fn open(&self) -> bool {
        let opener = std::env::var_os("NUVOSYNC_BROWSER").filter(|v| !v.is_empty());
        platform::open_url(self.file.as_os_str(), opener.as_deref())
    }
}

impl Drop for ForwardPage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A page that sends the browser on to `url` at once (meta refresh, and script for browsers
/// that ignore it), with a link to click should neither work.
fn forward_html(url: &str) -> String {
    let attr = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    // JSON is a JavaScript string literal; `<` escaped so that nothing ends the script early.
    let js = serde_json::to_string(url)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={attr}\">\
         <title>nuvosync: Dropbox sign-in</title></head><body>\
         <p>Opening Dropbox… <a id=\"go\" href=\"{attr}\">Continue to Dropbox</a></p>\
         <script>location.replace({js});</script></body></html>"
    )
}

/// Whether a browser can be shown here: a graphical session (X11 or Wayland), or an opener
/// named by `NUVOSYNC_BROWSER`.
pub fn available() -> bool {
    std::env::var_os("NUVOSYNC_BROWSER").is_some_and(|v| !v.is_empty())
        || platform::graphical_session()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_page_is_private_forwards_and_goes_away() {
        let url = "https://www.dropbox.com/oauth2/authorize?client_id=k&state=s3cr3t&x=\"<>";
        let page = ForwardPage::new(url).unwrap();
        let path = page.path().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(html.contains("url=https://www.dropbox.com/oauth2/authorize?client_id=k&amp;state=s3cr3t&amp;x=&quot;&lt;&gt;"));
        assert!(html.contains(r#"location.replace("https://www.dropbox.com/oauth2/authorize?client_id=k&state=s3cr3t&x=\"\u003c>")"#));
        assert!(!path.to_string_lossy().contains("s3cr3t"));
        drop(page);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }
}
