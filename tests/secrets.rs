//! No secret ever leaks: link with the real binary (`link --no-browser`, the code pasted),
//! sync with trace logging, show the account, unlink — then no token and no code appears in
//! any output, log line, configuration or state file. The token file is mode 0600.

mod common;

use common::*;
use nuvosync_test_support::http;
use nuvosync_test_support::tree::{Unlistable, walk};
use std::os::unix::fs::PermissionsExt;

/// Drive the consent page without a redirect URI: Dropbox shows the code.
async fn code_for(p: &Profile, authorize_url: &str) -> String {
    let http = http::trusting(&p.server).build().unwrap();
    let page = http::consent(&http, &p.server, authorize_url, "allow")
        .await
        .text()
        .await
        .unwrap();
    http::code_on_page(&page)
}

fn all_text_under(dir: &std::path::Path, skip: &[&str]) -> Vec<(String, Vec<u8>)> {
    walk(dir, Unlistable::PassOver, |_| false)
        .into_iter()
        .filter(|e| !e.file_type.is_dir() && !skip.iter().any(|s| e.path.ends_with(s)))
        .filter_map(|e| Some((e.path.display().to_string(), std::fs::read(&e.path).ok()?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_codes_appear_nowhere() {
    let p = Profile::new(false).await;
    let mut transcript: Vec<u8> = vec![];

    // Link, pasting the code.
    let mut cmd = p.cmd(&["-vvv", "link", "--no-browser"]);
    cmd.env("NUVOSYNC_LOG", "trace");
    let link = Linking::start(cmd);
    transcript.extend_from_slice(link.printed.as_bytes());
    let code = code_for(&p, link.authorize_url()).await;
    let (out, rest) = link.paste(&code);
    transcript.extend_from_slice(rest.as_bytes());
    transcript.extend_from_slice(&out.stderr);
    assert!(
        out.status.success(),
        "link failed: {rest}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rest.contains("Linked as"), "{rest}");

    // The token file (no keyring here) is the owner's only, and the user is told where it is.
    let creds = p.state_dir().join("credentials.json");
    assert!(
        rest.contains("No OS keyring") && rest.contains(&creds.display().to_string()),
        "{rest}"
    );
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Sync with trace logging, and look at the account.
    p.add_pair(&[]);
    std::fs::create_dir_all(p.local()).unwrap();
    std::fs::write(p.local().join("secret-free.txt"), b"data").unwrap();
    for args in [
        vec!["-vvv", "sync", "--once"],
        vec!["account"],
        vec!["account", "--json"],
        vec!["pair", "list", "--json"],
    ] {
        let out = p.cmd(&args).env("NUVOSYNC_LOG", "trace").output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        transcript.extend_from_slice(&out.stdout);
        transcript.extend_from_slice(&out.stderr);
    }
    assert_eq!(p.remote_files().len(), 1);

    // Every secret the emulator handed out for this account, and the code.
    let mut secrets: Vec<String> = vec![code.clone()];
    {
        let tokens = p.server.emulator.tokens.lock();
        secrets.extend(
            tokens
                .access
                .iter()
                .filter(|(_, g)| g.account == "ada" && g.expires_at.is_some())
                .map(|(t, _)| t.clone()),
        );
        secrets.extend(
            tokens
                .refresh
                .keys()
                .filter(|t| t.as_str() != "tok-ada")
                .cloned(),
        );
    }
    assert!(
        secrets.len() >= 3,
        "a code, an access token and a refresh token at least: {}",
        secrets.len()
    );

    // While linked, only the token file holds the refresh token.
    for (file, data) in all_text_under(p.dir.path(), &["credentials.json"]) {
        for s in &secrets {
            assert!(
                !String::from_utf8_lossy(&data).contains(s.as_str()),
                "a secret is in {file}"
            );
        }
    }

    let out = p
        .cmd(&["-vvv", "unlink"])
        .env("NUVOSYNC_LOG", "trace")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("access was revoked"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    transcript.extend_from_slice(&out.stdout);
    transcript.extend_from_slice(&out.stderr);
    assert!(!creds.exists(), "unlink removes the stored token");
    assert!(
        p.local().join("secret-free.txt").exists(),
        "unlink keeps the files"
    );

    let text = String::from_utf8_lossy(&transcript);
    assert!(text.len() > 1000, "trace logging produced output");
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret appeared in the output or logs"
        );
    }
    for (file, data) in all_text_under(p.dir.path(), &[]) {
        for s in &secrets {
            assert!(
                !String::from_utf8_lossy(&data).contains(s.as_str()),
                "a secret is in {file} after unlink"
            );
        }
    }
}
