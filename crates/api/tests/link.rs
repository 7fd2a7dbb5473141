//! Linking a Dropbox account end to end against the emulator's `/oauth2/authorize` and
//! `/oauth2/token`: the consent page driven over HTTP, the loopback redirect, refresh on
//! expiry, revoke on unlink, and every way a sign-in must be refused.

use dropbox_emulator::oauth::RegisteredApp;
use dropbox_emulator::{Config, TestServer};
use nuvosync_api::dto::{AccountDto, Command, LinkStartDto};
use nuvosync_api::{ApiError, Daemon, ErrorCode, Paths, Service};
use nuvosync_dropbox::Endpoints;
use nuvosync_test_support::emulator::{self, free_port};
use nuvosync_test_support::http;
use std::sync::Arc;

struct Setup {
    server: TestServer,
    _dir: tempfile::TempDir,
    daemon: Arc<Daemon>,
    http: reqwest::Client,
    /// The sign-in ports nuvosync is configured with here (`link_ports`).
    ports: Vec<u16>,
}

fn uri(port: u16) -> String {
    nuvosync_dropbox::auth::redirect_uri_for(port)
}

async fn setup(token_lifetime: u64) -> Setup {
    let port = free_port();
    setup_with(token_lifetime, &[port], &[port], vec![]).await
}

/// An emulator where nuvosync's app key has the redirect URIs of the `registered` ports (as in
/// the App Console), plus `apps`; nuvosync configured to listen on `ports`.
async fn setup_with(
    token_lifetime: u64,
    ports: &[u16],
    registered: &[u16],
    apps: Vec<RegisteredApp>,
) -> Setup {
    let mut nuvosync = RegisteredApp::nuvosync();
    nuvosync.redirect_uris = registered.iter().map(|p| uri(*p)).collect();
    let mut all = vec![nuvosync];
    all.extend(apps);
    let config = Config {
        apps: all,
        token_lifetime_secs: token_lifetime,
        ..emulator::config()
    };
    let server = emulator::start(config).await;
    let e = emulator::endpoints(&server);
    setup_on(server, e, ports).await
}

async fn setup_on(server: TestServer, endpoints: Endpoints, ports: &[u16]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    std::fs::create_dir_all(&paths.config_dir).unwrap();
    std::fs::write(paths.config_file(), format!("link_ports = {ports:?}\n")).unwrap();
    // The token store would use the OS keyring where there is one: `cargo xtask test` runs
    // the tests with NUVOSYNC_KEYRING=off, so that they never touch the user's keyring.
    let service = Arc::new(
        Service::with_endpoints(paths, endpoints, sync_engine::Tuning::default()).unwrap(),
    );
    let daemon = Daemon::idle(service);
    let http = http::trusting(&server)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        server,
        _dir: dir,
        daemon,
        http,
        ports: ports.to_vec(),
    }
}

/// The user (ada) answers the consent page with `decision` (`allow` or `deny`).
async fn decide(s: &Setup, authorize_url: &str, decision: &str) -> reqwest::Response {
    http::consent(&s.http, &s.server, authorize_url, decision).await
}

/// `link_wait` (up to `secs`) running in its own task, as a front end waits for the browser.
fn wait_for_link(
    s: &Setup,
    secs: u64,
) -> tokio::task::JoinHandle<Result<serde_json::Value, ApiError>> {
    let d = s.daemon.clone();
    tokio::spawn(async move { d.handle(Command::LinkWait { timeout_secs: secs }).await })
}

/// Finish the sign-in with what the browser was sent back (or the pasted code).
async fn finish(s: &Setup, redirect: String) -> Result<serde_json::Value, ApiError> {
    s.daemon.handle(Command::LinkFinish { redirect }).await
}

/// The user allows access on the consent page; returns the redirect Dropbox sends back.
async fn consent(s: &Setup, authorize_url: &str, decision: &str) -> String {
    let page = s.http.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("id=\"allow\""),
        "a consent page with an Allow button"
    );
    let resp = decide(s, authorize_url, decision).await;
    assert_eq!(resp.status(), 302);
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The user allows access on the consent page of a sign-in without a redirect address;
/// returns the code the page shows (to be pasted into the app).
async fn consent_code(s: &Setup, authorize_url: &str) -> String {
    let page = decide(s, authorize_url, "allow").await;
    assert_eq!(page.status(), 200);
    http::code_on_page(&page.text().await.unwrap())
}

async fn start(s: &Setup) -> LinkStartDto {
    serde_json::from_value(
        s.daemon
            .handle(Command::LinkStart {
                loopback: true,
                app_key: None,
            })
            .await
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_link_through_the_consent_page_and_the_loopback_redirect() {
    let s = setup(14_400).await;
    assert_eq!(
        s.daemon.service().credential().unwrap_err().code,
        ErrorCode::NotLinked
    );
    let link = start(&s).await;
    assert!(link.authorize_url.contains("code_challenge_method=S256"));
    assert!(link.authorize_url.contains("token_access_type=offline"));
    let redirect = link.redirect_uri.clone().unwrap();
    assert_eq!(redirect, uri(s.ports[0]), "the configured fixed port");
    assert!(link.paste_reason.is_none());
    assert_eq!(link.app_key, nuvosync_dropbox::DEFAULT_APP_KEY);
    for scope in nuvosync_dropbox::auth::SCOPES {
        assert!(link.authorize_url.contains(scope), "asks for {scope}");
    }
    let waiter = wait_for_link(&s, 30);
    let back = consent(&s, &link.authorize_url, "allow").await;
    assert!(back.starts_with(&redirect), "{back}");
    // The browser follows the redirect to the loopback listener.
    let page = reqwest::get(&back).await.unwrap();
    assert_eq!(page.status(), 200);
    let account: AccountDto = serde_json::from_value(waiter.await.unwrap().unwrap()).unwrap();
    assert_eq!(account.email, "ada@example.com");
    // The listener accepted exactly one callback and is gone.
    assert!(
        reqwest::get(&back).await.is_err(),
        "a second callback is refused"
    );
    // The stored refresh token now works for the whole service.
    assert!(s.daemon.service().credential().is_ok());
    let again: AccountDto =
        serde_json::from_value(s.daemon.handle(Command::Account).await.unwrap()).unwrap();
    assert_eq!(again.account_id, account.account_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_with_the_wrong_state_is_refused_and_the_right_one_still_works() {
    let s = setup(14_400).await;
    let link = start(&s).await;
    let waiter = wait_for_link(&s, 30);
    let back = consent(&s, &link.authorize_url, "allow").await;
    let forged = back.replace("state=", "state=forged");
    let r = reqwest::get(&forged).await.unwrap();
    assert_eq!(
        r.status(),
        400,
        "a reply that does not match this sign-in is refused"
    );
    assert!(r.text().await.unwrap().contains("state mismatch"));
    assert_eq!(reqwest::get(&back).await.unwrap().status(), 200);
    waiter.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_consent_a_replayed_code_and_a_pkce_mismatch_all_fail_cleanly() {
    let s = setup(14_400).await;
    // Denied.
    let link = start(&s).await;
    let waiter = wait_for_link(&s, 30);
    let back = consent(&s, &link.authorize_url, "deny").await;
    let _ = reqwest::get(&back).await;
    let err = waiter.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::Auth);
    assert!(err.message.contains("not completed"), "{}", err.message);

    // A code replayed after a successful exchange is refused, and it revokes the first grant.
    let link = start(&s).await;
    let waiter = wait_for_link(&s, 30);
    let back = consent(&s, &link.authorize_url, "allow").await;
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    reqwest::get(&back).await.unwrap();
    waiter.await.unwrap().unwrap();
    let client = s.daemon.service().client().unwrap();
    client.account().await.unwrap();
    // The same sign-in cannot be finished twice (nuvosync's own guard).
    let err = finish(&s, back.clone()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(
        err.message.contains("no link in progress"),
        "{}",
        err.message
    );
    assert!(!err.message.contains(code.as_str()));
    // Replayed straight to Dropbox (as an attacker holding the code would), it is refused
    // and the grant it gave is revoked.
    let redirect = link.redirect_uri.clone().unwrap();
    let replay = s
        .http
        .post(format!("{}/oauth2/token", s.server.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", nuvosync_dropbox::DEFAULT_APP_KEY),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", "x".repeat(50).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    let body = replay.text().await.unwrap();
    assert!(
        body.contains("invalid_grant") && body.contains("already been used"),
        "{body}"
    );
    let err = client.account().await.unwrap_err();
    assert!(err.is_auth(), "the first grant was revoked: {err}");

    // A PKCE verifier mismatch: a code shown to paste (no redirect address) finished by a
    // newer sign-in, whose verifier differs — everything else about the code is right.
    let paste = |s: &Setup| {
        let d = s.daemon.clone();
        async move {
            let v = d
                .handle(Command::LinkStart {
                    loopback: false,
                    app_key: None,
                })
                .await
                .unwrap();
            serde_json::from_value::<LinkStartDto>(v).unwrap()
        }
    };
    let first = paste(&s).await;
    assert!(first.redirect_uri.is_none());
    let code = consent_code(&s, &first.authorize_url).await;
    let _second = paste(&s).await; // replaces the sign-in in progress: another verifier
    let err = finish(&s, code.clone()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Auth);
    assert!(
        err.message.contains("did not accept the sign-in code"),
        "{}",
        err.message
    );
    assert!(!err.message.contains(code.as_str()));
    {
        // Dropbox refused it at the verifier: the code was not used up, its client and (absent)
        // redirect matched.
        let tokens = s.server.emulator.tokens.lock();
        let entry = &tokens.codes[&code];
        assert!(entry.used_by.is_none());
        assert!(entry.redirect_uri.is_none());
        assert_eq!(entry.client_id, nuvosync_dropbox::DEFAULT_APP_KEY);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_window_finishes_with_the_redirect_and_short_lived_tokens_are_renewed() {
    // Tokens that live 200 s — less than the margin before expiry at which they are renewed.
    let s = setup(200).await;
    // The tray app's sign-in window catches the redirect itself and hands over the URL.
    let link = start(&s).await;
    let back = consent(&s, &link.authorize_url, "allow").await;
    let forged = back.replace("state=", "state=forged");
    let err = finish(&s, forged).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Auth, "{}", err.message);
    assert!(
        s.daemon.service().credential().is_err(),
        "nothing was linked by a reply that does not match the sign-in"
    );
    let link = start(&s).await;
    let back = consent(&s, &link.authorize_url, "allow").await;
    let account: AccountDto = serde_json::from_value(finish(&s, back).await.unwrap()).unwrap();
    assert_eq!(account.email, "ada@example.com");
    // Renewed before use, not after a refusal.
    let client = s.daemon.service().client().unwrap();
    client.account().await.unwrap();
    let before = client.transport().authorizer().refresh_count();
    let issued = s.server.emulator.tokens.lock().access.len();
    client.account().await.unwrap();
    client.space_usage().await.unwrap();
    assert!(client.transport().authorizer().refresh_count() >= before + 2);
    assert!(s.server.emulator.tokens.lock().access.len() > issued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_are_refreshed_on_expiry_and_unlink_revokes_the_grant() {
    let s = setup(14_400).await;
    let link = start(&s).await;
    let waiter = wait_for_link(&s, 30);
    let back = consent(&s, &link.authorize_url, "allow").await;
    reqwest::get(&back).await.unwrap();
    waiter.await.unwrap().unwrap();
    let client = s.daemon.service().client().unwrap();
    client.account().await.unwrap();
    let before = client.transport().authorizer().refresh_count();
    // Every access token expires at once (as after hours of sleep): the next call refreshes once.
    let now = s.server.emulator.now();
    for g in s.server.emulator.tokens.lock().access.values_mut() {
        if g.expires_at.is_some() {
            g.expires_at = Some(now - 1);
        }
    }
    client.account().await.unwrap();
    assert_eq!(client.transport().authorizer().refresh_count(), before + 1);

    let refresh_tokens_before = s.server.emulator.tokens.lock().refresh.len();
    let out = s.daemon.handle(Command::Unlink).await.unwrap();
    assert_eq!(out["revoked"], true);
    assert_eq!(
        s.server.emulator.tokens.lock().refresh.len(),
        refresh_tokens_before - 1,
        "the refresh token was revoked on Dropbox"
    );
    assert_eq!(
        s.daemon.service().credential().unwrap_err().code,
        ErrorCode::NotLinked
    );
    let err = client.account().await.unwrap_err();
    assert!(err.is_auth(), "the old client can no longer act: {err}");
    assert!(err.to_string().contains("nuvosync link"));
}

async fn start_with(
    s: &Setup,
    app_key: Option<&str>,
) -> Result<LinkStartDto, nuvosync_api::ApiError> {
    s.daemon
        .handle(Command::LinkStart {
            loopback: true,
            app_key: app_key.map(str::to_string),
        })
        .await
        .map(|v| serde_json::from_value(v).unwrap())
}

/// Consent, then the browser follows the redirect to the loopback listener; returns the account.
async fn link_through_the_browser(s: &Setup, link: &LinkStartDto) -> AccountDto {
    let waiter = wait_for_link(s, 30);
    let back = consent(s, &link.authorize_url, "allow").await;
    assert_eq!(reqwest::get(&back).await.unwrap().status(), 200);
    serde_json::from_value(waiter.await.unwrap().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_fixed_port_is_used_when_the_first_is_taken_and_a_port_dropbox_does_not_know_is_refused()
 {
    // The first port is taken by another program: the registered fallback is used.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (p1, p2) = (busy.local_addr().unwrap().port(), free_port());
    let s = setup_with(14_400, &[p1, p2], &[p1, p2], vec![]).await;
    let link = start(&s).await;
    assert_eq!(link.redirect_uri.as_deref(), Some(uri(p2).as_str()));
    let account = link_through_the_browser(&s, &link).await;
    assert_eq!(account.email, "ada@example.com");

    // A port that is not registered for the app (what a random port always was): Dropbox
    // refuses the authorization request outright.
    let unregistered = free_port();
    let s = setup_with(14_400, &[unregistered], &[free_port()], vec![]).await;
    let link = start(&s).await;
    assert_eq!(
        link.redirect_uri.as_deref(),
        Some(uri(unregistered).as_str())
    );
    let page = s.http.get(&link.authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 400);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("must exactly match one of the redirect URIs"),
        "{text}"
    );
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_free_sign_in_port_the_code_is_pasted() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = busy.local_addr().unwrap().port();
    let s = setup_with(14_400, &[p], &[p], vec![]).await;
    let link = start(&s).await;
    assert!(link.redirect_uri.is_none());
    let why = link.paste_reason.clone().unwrap();
    assert!(
        why.contains("no sign-in port is free") && why.contains(&p.to_string()),
        "{why}"
    );
    assert!(!link.authorize_url.contains("redirect_uri"));
    let code = consent_code(&s, &link.authorize_url).await;
    let account: AccountDto = serde_json::from_value(finish(&s, code).await.unwrap()).unwrap();
    assert_eq!(account.email, "ada@example.com");
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_to_the_listener_does_not_hold_up_the_sign_in() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = setup(14_400).await;
    let link = start(&s).await;
    let port = s.ports[0];
    let waiter = wait_for_link(&s, 60);
    // Another local program connects and sends nothing; another sends half a request.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    half.write_all(b"GET /callback?state=").await.unwrap();
    // Another asks for something else: refused at once, and the sign-in goes on.
    let mut other = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    other
        .write_all(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    // The real redirect comes through while those two still hang.
    let began = std::time::Instant::now();
    let back = consent(&s, &link.authorize_url, "allow").await;
    let page = reqwest::get(&back).await.unwrap();
    assert_eq!(page.status(), 200);
    let account: AccountDto = serde_json::from_value(waiter.await.unwrap().unwrap()).unwrap();
    assert_eq!(account.email, "ada@example.com");
    assert!(
        began.elapsed() < std::time::Duration::from_secs(5),
        "the stalled connections held the sign-in up for {:?}",
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_placeholder_app_key_against_dropbox_says_an_app_key_is_needed() {
    let server = TestServer::start(Config::default(), true).await.unwrap();
    let s = setup_on(server, Endpoints::dropbox(), &[free_port()]).await;
    let err = start_with(&s, None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    for needed in [
        "placeholder",
        "https://www.dropbox.com/developers/apps",
        "App folder",
        "nuvolos.cloud",
        "files.content.write",
        "http://127.0.0.1:28752/callback",
        "nuvosync link --app-key",
        "Use your own Dropbox app",
    ] {
        assert!(err.message.contains(needed), "{needed}: {}", err.message);
    }
    // With an app key of one's own, the sign-in starts at Dropbox's consent page.
    let link = start_with(&s, Some("abcd1234efgh567")).await.unwrap();
    assert!(
        link.authorize_url
            .starts_with("https://www.dropbox.com/oauth2/authorize?"),
        "{}",
        link.authorize_url
    );
    assert!(link.authorize_url.contains("client_id=abcd1234efgh567"));
    assert_eq!(link.app_key, "abcd1234efgh567");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_with_an_app_key_of_ones_own_keeps_using_it() {
    let port = free_port();
    let own = RegisteredApp {
        key: "my-own-app".into(),
        secret: None,
        folder: Some("nuvolos.cloud".into()),
        redirect_uris: vec![uri(port)],
    };
    // nuvosync's key has no redirect URI here: only the user's own app can complete.
    let s = setup_with(200, &[port], &[], vec![own]).await;
    let link = start_with(&s, Some("my-own-app")).await.unwrap();
    assert!(link.authorize_url.contains("client_id=my-own-app"));
    let account = link_through_the_browser(&s, &link).await;
    assert_eq!(account.email, "ada@example.com");
    let stored = s.daemon.service().token_store().load().unwrap().unwrap();
    assert_eq!(stored.app_key, "my-own-app");
    // Short-lived tokens are renewed with that app key (the emulator refuses other keys).
    let client = s.daemon.service().client().unwrap();
    client.account().await.unwrap();
    client.account().await.unwrap();
    assert!(client.transport().authorizer().refresh_count() >= 2);
    // An unknown key is refused by Dropbox's consent page.
    let link = start_with(&s, Some("nobody-registered-this"))
        .await
        .unwrap();
    let page = s.http.get(&link.authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Invalid client_id: &quot;nobody-registered-this&quot;.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_a_needed_permission_says_which_one() {
    let s = setup(14_400).await;
    let link = start(&s).await;
    link_through_the_browser(&s, &link).await;
    // The grant lost every permission but reading metadata (as an app whose permissions
    // were changed in the App Console).
    for g in s.server.emulator.tokens.lock().access.values_mut() {
        if g.expires_at.is_some() {
            g.scopes = Some(vec!["files.metadata.read".into()]);
        }
    }
    let client = s.daemon.service().client().unwrap();
    let err = client.account().await.unwrap_err();
    assert_eq!(
        err,
        nuvosync_dropbox::Error::Auth(nuvosync_dropbox::AuthProblem::MissingScope(
            "account_info.read".into()
        ))
    );
    assert!(err.to_string().contains("account_info.read"), "{err}");
}
