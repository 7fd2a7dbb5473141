//! The OAuth rules at work: apps parsed, authorization requests checked, route scopes, and
//! the token endpoint refusing unknown apps, wrong secrets and wider scopes.

use super::consent::validate_authorize;
use super::*;
use crate::state::Emulator;

fn emu() -> std::sync::Arc<Emulator> {
    Emulator::new(crate::Config {
        accounts: vec![("ada".into(), "tok-ada".into())],
        apps: vec![
            RegisteredApp::nuvosync(),
            RegisteredApp::parse("conf=s3cret::http://localhost:9/cb").unwrap(),
        ],
        ..crate::Config::default()
    })
    .unwrap()
}

#[test]
fn apps_parse_from_the_command_line_form() {
    let a = RegisteredApp::parse(
        "k1=sec:nuvolos.cloud:http://127.0.0.1:5/callback,http://localhost:6/",
    )
    .unwrap();
    assert_eq!(a.key, "k1");
    assert_eq!(a.secret.as_deref(), Some("sec"));
    assert_eq!(a.folder.as_deref(), Some("nuvolos.cloud"));
    assert_eq!(
        a.redirect_uris,
        ["http://127.0.0.1:5/callback", "http://localhost:6/"]
    );
    let full = RegisteredApp::parse("2jmbq42w7vof78h:").unwrap();
    assert_eq!(full, RegisteredApp::full_access("2jmbq42w7vof78h"));
    for bad in ["", "key", ":folder:", "k=:f:", "k:f:not a url"] {
        assert!(RegisteredApp::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn authorize_checks_the_app_the_redirect_and_pkce() {
    let e = emu();
    let q = |s: &str| validate_authorize(&e, &form(s)).map(|a| a.app.key);
    let ch = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_eq!(
        q(&format!(
            "client_id=nuvosync-desktop&response_type=code&code_challenge={ch}&code_challenge_method=S256&redirect_uri=http%3A%2F%2F127.0.0.1%3A28752%2Fcallback"
        ))
        .unwrap(),
        "nuvosync-desktop"
    );
    // Another port, another path, another host name for the same address: all refused.
    for uri in [
        "http://127.0.0.1:28755/callback",
        "http://127.0.0.1:28752/",
        "http://localhost:28752/callback",
        "https://127.0.0.1:28752/callback",
    ] {
        let err = q(&format!(
            "client_id=nuvosync-desktop&response_type=code&redirect_uri={}",
            url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
        ))
        .unwrap_err();
        assert!(err.contains("must exactly match"), "{uri}: {err}");
    }
    assert_eq!(
        q("client_id=unknown&response_type=code").unwrap_err(),
        "Invalid client_id: \"unknown\"."
    );
    assert!(q("response_type=code").unwrap_err().contains("client_id"));
    assert!(q("client_id=conf&response_type=token").is_err());
    assert!(q("client_id=conf&response_type=code&code_challenge=short").is_err());
    assert!(q("client_id=conf&response_type=code&scope=files.everything").is_err());
    assert!(q("client_id=conf&response_type=code&scope=files.content.read").is_ok());
}

#[test]
fn scopes_of_the_routes_come_from_the_spec() {
    assert_eq!(
        required_scope("users/get_current_account"),
        Some("account_info.read")
    );
    assert_eq!(required_scope("files/download"), Some("files.content.read"));
    assert_eq!(
        required_scope("files/upload_session/finish_batch_v2"),
        Some("files.content.write")
    );
    assert_eq!(required_scope("auth/token/revoke"), None);
    assert_eq!(required_scope("files/no_such_route"), None);
}

fn status_and_json(r: Response<Body>) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    let body = futures_body(r);
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

fn futures_body(r: Response<Body>) -> Vec<u8> {
    use http_body_util::BodyExt;
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(r.into_body().collect())
        .map(|c| c.to_bytes().to_vec())
        .unwrap_or_default()
}

#[test]
fn the_token_endpoint_refuses_unknown_apps_and_wrong_secrets() {
    let e = emu();
    let refresh = |extra: &str, basic: Option<(String, String)>| {
        status_and_json(token(
            &e,
            &format!("grant_type=refresh_token&refresh_token=tok-ada{extra}"),
            basic,
        ))
    };
    let (s, body) = refresh("&client_id=unknown", None);
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
    let (s, body) = refresh("&client_id=conf&client_secret=wrong", None);
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
    let (s, body) = refresh("", Some(("conf".into(), "wrong".into())));
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
    // nuvosync's key has no secret: any secret sent is wrong.
    let (s, body) = refresh("&client_id=nuvosync-desktop&client_secret=x", None);
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_client")));
    let (s, _) = refresh("&client_id=conf&client_secret=s3cret", None);
    assert_eq!(s, 200);
    let (s, _) = refresh("&client_id=nuvosync-desktop", None);
    assert_eq!(s, 200);
}

#[test]
fn a_refresh_with_scope_narrows_the_token() {
    let e = emu();
    let (s, body) = status_and_json(token(
        &e,
        "grant_type=refresh_token&refresh_token=tok-ada&client_id=nuvosync-desktop&scope=files.metadata.read",
        None,
    ));
    assert_eq!(s, 200, "{body}");
    let t = body["access_token"].as_str().unwrap().to_string();
    let grant = e.tokens.lock().access[&t].clone();
    assert_eq!(grant.scopes, Some(vec!["files.metadata.read".to_string()]));
    assert!(missing_scope(&grant, "files/list_folder").is_none());
    let (s, body) = status_and_json(missing_scope(&grant, "users/get_current_account").unwrap());
    assert_eq!(s, 401);
    assert_eq!(body["error"][".tag"], "missing_scope");
    assert_eq!(body["error"]["required_scope"], "account_info.read");
    let (s, body) = status_and_json(token(
        &e,
        "grant_type=refresh_token&refresh_token=tok-ada&client_id=nuvosync-desktop&scope=files.bogus",
        None,
    ));
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_scope")));
}
