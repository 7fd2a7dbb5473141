//! `nuvosync link` as a user runs it: the consent page opened through a private forwarding
//! page (the sign-in's `state` on no process's command line), the loopback redirect on a
//! fixed, registered port; the code-paste flow without a display; and what it says when
//! nuvosync's placeholder app key meets the real Dropbox.

mod common;

use common::*;
use dropbox_emulator::Config;
use dropbox_emulator::oauth::RegisteredApp;
use nuvosync_test_support::emulator::{self, free_port};
use nuvosync_test_support::http;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A profile whose emulator knows nuvosync's app key with the redirect URI of `port`.
async fn profile(port: u16) -> Profile {
    let mut app = RegisteredApp::nuvosync();
    app.redirect_uris = vec![nuvosync_dropbox::auth::redirect_uri_for(port)];
    let config = Config {
        apps: vec![app],
        ..emulator::config()
    };
    Profile::with_config(false, config).await
}

fn browser(p: &Profile) -> reqwest::Client {
    http::trusting(&p.server)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Ada allows access on the consent page; returns where Dropbox sends the browser (or, without
/// a redirect URI, the page with the code).
async fn allow(p: &Profile, authorize_url: &str) -> reqwest::Response {
    http::consent(&browser(p), &p.server, authorize_url, "allow").await
}

/// The command lines of every process on this machine.
fn all_command_lines() -> Vec<(String, String)> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(raw) = std::fs::read(e.path().join("cmdline")) {
                out.push((name, String::from_utf8_lossy(&raw).replace('\0', " ")));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_opens_without_its_address_on_any_command_line() {
    let port = free_port();
    let p = profile(port).await;
    let spy = p.dir.path().join("browser");
    std::fs::create_dir_all(&spy).unwrap();
    // A "browser" that notes how it was started and what it was given, then returns (as
    // xdg-open does once the browser has the page).
    let opener = p.dir.path().join("open-browser.sh");
    std::fs::write(
        &opener,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{0}/argv.tmp'\nstat -c %a \"$1\" > '{0}/mode'\nstat -c %a \"$(dirname \"$1\")\" > '{0}/dirmode'\ncp \"$1\" '{0}/page.html'\nmv '{0}/argv.tmp' '{0}/argv'\n",
            spy.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let link = p
        .cmd(&["link"])
        .env("NUVOSYNC_BROWSER", &opener)
        .env("NUVOSYNC_LINK_PORTS", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while !spy.join("argv").exists() {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the browser was not opened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let argv = std::fs::read_to_string(spy.join("argv")).unwrap();
    let page_path = argv.trim().to_string();
    assert!(
        page_path.ends_with(".html") && !page_path.contains('?'),
        "the browser gets a page's path: {argv}"
    );
    assert_eq!(
        std::fs::read_to_string(spy.join("mode")).unwrap().trim(),
        "600"
    );
    assert_eq!(
        std::fs::read_to_string(spy.join("dirmode")).unwrap().trim(),
        "700"
    );
    let page = std::fs::read_to_string(spy.join("page.html")).unwrap();
    let js = page.split("location.replace(").nth(1).unwrap();
    let authorize_url: String = serde_json::from_str(js.split(");").next().unwrap()).unwrap();
    assert!(authorize_url.starts_with(&format!("{}/oauth2/authorize?", p.server.url)));
    let query: std::collections::HashMap<String, String> = url::Url::parse(&authorize_url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let state = query["state"].clone();
    let challenge = query["code_challenge"].clone();
    assert!(state.len() >= 16, "a real state: {state}");
    assert_eq!(
        query["redirect_uri"],
        nuvosync_dropbox::auth::redirect_uri_for(port)
    );

    // While the sign-in waits, no process on this machine has the state or the challenge on
    // its command line.
    for (pid, cmdline) in all_command_lines() {
        assert!(
            !cmdline.contains(&state) && !cmdline.contains(&challenge),
            "process {pid} carries the sign-in on its command line: {cmdline}"
        );
    }

    let back = allow(&p, &authorize_url).await;
    assert_eq!(back.status(), 302);
    let back = back.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(reqwest::get(&back).await.unwrap().status(), 200);
    let out = link.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Linked as"), "{stdout}");
    assert!(
        !std::path::Path::new(&page_path).exists(),
        "the forwarding page is removed once the sign-in ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_display_the_code_is_pasted() {
    let p = profile(free_port()).await;
    let mut cmd = p.cmd(&["link"]);
    cmd.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("NUVOSYNC_BROWSER");
    let link = Linking::start(cmd);
    let seen = &link.printed;
    assert!(seen.contains("No display here"), "{seen}");
    let authorize_url = link.authorize_url().to_string();
    assert!(!authorize_url.contains("redirect_uri"), "{authorize_url}");
    let html = allow(&p, &authorize_url).await.text().await.unwrap();
    let code = http::code_on_page(&html);
    let (out, rest) = link.paste(&code);
    assert!(
        out.status.success(),
        "{rest}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rest.contains("Linked as"), "{rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_placeholder_key_against_dropbox_asks_for_an_app_key() {
    let p = profile(free_port()).await;
    // The real Dropbox (nothing is sent: the key is refused before any request).
    let out = p
        .cmd(&["link"])
        .env_remove("NUVOSYNC_DROPBOX_URL")
        .env_remove("NUVOSYNC_APP_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs a Dropbox app key")
            && stderr.contains("https://www.dropbox.com/developers/apps")
            && stderr.contains("nuvosync link --app-key"),
        "{stderr}"
    );
}
