//! The HTTP front end to end: bodies over the limit, the no-auth longpoll, header arguments,
//! early refusals and corruptions, over a real connection.

use std::time::Duration;

#[tokio::test]
async fn an_over_limit_body_is_answered_not_reset() {
    let config = crate::Config {
        accounts: vec![("ada".into(), "tok".into())],
        ..crate::Config::default()
    };
    let server = crate::TestServer::start(config, false).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = vec![b' '; 20 * 1024 * 1024];
    let r = reqwest::Client::new()
        .post(format!("{}/2/files/list_folder", server.url))
        .bearer_auth("tok")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the client must get an answer, not a reset");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn longpoll_refuses_an_authorization_header_as_dropbox_does() {
    let config = crate::Config {
        accounts: vec![("ada".into(), "tok".into())],
        ..crate::Config::default()
    };
    let server = crate::TestServer::start(config, false).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let cursor: serde_json::Value = client
        .post(format!(
            "{}/2/files/list_folder/get_latest_cursor",
            server.url
        ))
        .bearer_auth("tok")
        .header("Content-Type", "application/json")
        .body(r#"{"path": ""}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = serde_json::json!({"cursor": cursor["cursor"], "timeout": 30}).to_string();
    let with_auth = client
        .post(format!("{}/2/files/list_folder/longpoll", server.url))
        .bearer_auth("tok")
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(with_auth.status(), 400);
    assert!(with_auth.text().await.unwrap().contains(
        "Your request includes an Authorization header, but this function does not use it."
    ));
    // Without it, the call is taken (and answered once something changes).
    let waiting = tokio::spawn(
        client
            .post(format!("{}/2/files/list_folder/longpoll", server.url))
            .header("Content-Type", "application/json")
            .body(body)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let up = client
        .post(format!("{}/2/files/upload", server.url))
        .bearer_auth("tok")
        .header("Content-Type", "application/octet-stream")
        .header("Dropbox-API-Arg", r#"{"path": "/a.txt"}"#)
        .body(b"a".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200);
    let v: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(v["changes"], true);
}

#[tokio::test]
async fn a_header_argument_must_be_ascii_json() {
    let config = crate::Config {
        accounts: vec![("ada".into(), "tok".into())],
        ..crate::Config::default()
    };
    let server = crate::TestServer::start(config, false).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let upload = |arg: http::HeaderValue| {
        client
            .post(format!("{}/2/files/upload", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/octet-stream")
            .header("Dropbox-API-Arg", arg)
            .body(b"x".to_vec())
            .send()
    };
    // Raw UTF-8 in the header, and a lone surrogate: refused.
    for bad in [
        http::HeaderValue::from_bytes("{\"path\": \"/party \u{1F389}.txt\"}".as_bytes()).unwrap(),
        http::HeaderValue::from_static(r#"{"path": "/lone \ud83c.txt"}"#),
    ] {
        let r = upload(bad).await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("could not decode input as JSON")
        );
    }
    // A surrogate pair is the character.
    let r = upload(http::HeaderValue::from_static(
        r#"{"path": "/party \ud83c\udf89.txt"}"#,
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["name"], "party \u{1F389}.txt");
    // The URL parameter `arg` is percent-encoded UTF-8: any character goes.
    let r = client
        .post(format!("{}/2/files/upload", server.url))
        .bearer_auth("tok")
        .header("Content-Type", "application/octet-stream")
        .query(&[("arg", "{\"path\": \"/q \u{fc} \u{1F389}.txt\"}")])
        .body(b"y".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["name"], "q \u{fc} \u{1F389}.txt");
}

#[tokio::test]
async fn an_early_refusal_of_a_large_upload_is_answered_not_reset() {
    let config = crate::Config {
        accounts: vec![("ada".into(), "tok".into())],
        ..crate::Config::default()
    };
    let server = crate::TestServer::start(config, false).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let upload = |token: &'static str| {
        client
            .post(format!("{}/2/files/upload", server.url))
            .bearer_auth(token)
            .header("Content-Type", "application/octet-stream")
            .header("Dropbox-API-Arg", r#"{"path": "/big.bin"}"#)
            .body(vec![0u8; 24 * 1024 * 1024])
            .send()
    };
    let r = upload("expired-or-unknown")
        .await
        .expect("an answer, not a reset");
    assert_eq!(r.status(), 401);
    server.emulator.faults.write().p_write_contention = 1.0;
    let r = upload("tok").await.expect("an answer, not a reset");
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn corruptions_set_through_admin_spoil_the_next_answers() {
    let config = crate::Config {
        accounts: vec![("ada".into(), "tok".into())],
        admin_token: Some("adm".into()),
        ..crate::Config::default()
    };
    let server = crate::TestServer::start(config, false).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let upload = client
        .post(format!("{}/2/files/upload", server.url))
        .bearer_auth("tok")
        .header("Content-Type", "application/octet-stream")
        .header("Dropbox-API-Arg", r#"{"path": "/d/f.txt"}"#)
        .body(b"hello corruption".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200);
    let r = client
        .post(format!("{}/admin/faults", server.url))
        .bearer_auth("adm")
        .body(
            r#"{"corrupt": [
                {"route": "files/list_folder", "kind": "malformed_json"},
                {"route": "files/list_folder", "kind": "truncated_body"},
                {"route": "files/list_folder", "kind": "dot_dot_path"},
                {"route": "files/download", "kind": "content_hash_mismatch"}
            ]}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let list = || {
        client
            .post(format!("{}/2/files/list_folder", server.url))
            .bearer_auth("tok")
            .header("Content-Type", "application/json")
            .body(r#"{"path": "/d", "recursive": true}"#)
            .send()
    };
    let body = list().await.unwrap().bytes().await.unwrap();
    assert!(
        serde_json::from_slice::<serde_json::Value>(&body).is_err(),
        "malformed: {}",
        String::from_utf8_lossy(&body)
    );
    let r = list().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body is cut short");
    let v: serde_json::Value = list().await.unwrap().json().await.unwrap();
    let file = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[".tag"] == "file")
        .unwrap();
    assert_eq!(
        file["path_display"],
        format!("/d/{}f.txt", "../".repeat(12))
    );
    let whole: serde_json::Value = list().await.unwrap().json().await.unwrap();
    assert_eq!(whole["entries"][1]["path_display"], "/d/f.txt", "used up");
    let dl = client
        .post(format!("{}/2/files/download", server.url))
        .bearer_auth("tok")
        .header("Dropbox-API-Arg", r#"{"path": "/d/f.txt"}"#)
        .send()
        .await
        .unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(dl.headers()["Dropbox-API-Result"].to_str().unwrap()).unwrap();
    let data = dl.bytes().await.unwrap();
    assert_eq!(data.len(), 16);
    assert_ne!(&data[..], b"hello corruption");
    assert_ne!(
        meta["content_hash"].as_str().unwrap(),
        sync_core::ContentHash::of(&data).to_hex()
    );
    assert!(server.emulator.faults.read().corrupt.is_empty());
}
