//! The emulator answers as Dropbox does: one test per rule of "How it matches Dropbox" in the
//! crate README, each through raw HTTP so nothing of a client's own handling hides a
//! difference.

use dropbox_emulator::{Config, TestServer};
use serde_json::{Value, json};

struct Emu {
    server: TestServer,
    http: reqwest::Client,
}

async fn emu() -> Emu {
    emu_with(Config {
        accounts: vec![("ada".into(), "tok".into())],
        ..Config::default()
    })
    .await
}

async fn emu_with(config: Config) -> Emu {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Emu {
        server: TestServer::start(config, false).await.unwrap(),
        http: reqwest::Client::new(),
    }
}

impl Emu {
    fn url(&self, route: &str) -> String {
        format!("{}/2/{route}", self.server.url)
    }

    /// An RPC call with the account's token: (status, body text).
    async fn rpc(&self, route: &str, arg: Value) -> (u16, String) {
        let r = self
            .http
            .post(self.url(route))
            .bearer_auth("tok")
            .header("Content-Type", "application/json")
            .body(arg.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// An upload with a raw `Dropbox-API-Arg` value: (status, body text).
    async fn upload_raw(&self, arg: &[u8], data: &'static [u8]) -> (u16, String) {
        self.upload_to("files/upload", arg, data).await
    }

    /// An upload-style call to `route` with a raw `Dropbox-API-Arg`: (status, body text).
    async fn upload_to(&self, route: &str, arg: &[u8], data: &'static [u8]) -> (u16, String) {
        let r = self
            .http
            .post(self.url(route))
            .bearer_auth("tok")
            .header("Content-Type", "application/octet-stream")
            .header(
                "Dropbox-API-Arg",
                reqwest::header::HeaderValue::from_bytes(arg).unwrap(),
            )
            .body(data)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// A download-style call (argument in `Dropbox-API-Arg`): (status, `Dropbox-API-Result`,
    /// body).
    async fn content(&self, route: &str, arg: Value) -> (u16, Option<Value>, Vec<u8>) {
        let r = self
            .http
            .post(self.url(route))
            .bearer_auth("tok")
            .header("Dropbox-API-Arg", arg.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let result = r
            .headers()
            .get("Dropbox-API-Result")
            .map(|v| serde_json::from_slice(v.as_bytes()).unwrap());
        (status, result, r.bytes().await.unwrap().to_vec())
    }

    #[allow(dead_code)]
    async fn cursor(&self) -> String {
        let (status, body) = self
            .rpc(
                "files/list_folder/get_latest_cursor",
                json!({"path": "", "recursive": true}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["cursor"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A Paper doc (files.stone `FileMetadata`: `is_downloadable`, `export_info`; routes `download`
/// and `export`): listed without `content_hash`, not downloadable (409 `unsupported_file`),
/// exported to its formats; an upload does not replace it.
#[tokio::test]
async fn a_paper_doc_lists_without_content_hash_and_only_exports() {
    let e = emu().await;
    let acct = e.server.emulator.account("ada").unwrap();
    e.server
        .emulator
        .add_export_only(
            &acct,
            "/Apps/nuvolos.cloud/docs/Plan.paper",
            "<h1>Plan</h1>",
            "# Plan\n",
        )
        .unwrap();
    let (status, body) = e.rpc("files/list_folder", json!({"path": "/docs"})).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let doc = &v["entries"][0];
    assert_eq!(doc[".tag"], "file");
    assert_eq!(doc["name"], "Plan.paper");
    assert_eq!(doc["is_downloadable"], false);
    assert!(doc.get("content_hash").is_none(), "{doc}");
    assert_eq!(doc["export_info"]["export_as"], "html");
    assert_eq!(
        doc["export_info"]["export_options"],
        json!(["html", "markdown"])
    );

    let (status, _, body) = e
        .content("files/download", json!({"path": "/docs/plan.paper"}))
        .await;
    assert_eq!(status, 409);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"][".tag"], "unsupported_file", "{err}");

    let (status, result, body) = e
        .content("files/export", json!({"path": "/docs/plan.paper"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, b"<h1>Plan</h1>");
    let result = result.unwrap();
    assert_eq!(result["export_metadata"]["name"], "Plan.html");
    assert_eq!(result["export_metadata"]["size"], 13);
    assert_eq!(
        result["export_metadata"]["export_hash"],
        sync_core::ContentHash::of(b"<h1>Plan</h1>").to_hex()
    );
    assert_eq!(result["file_metadata"]["is_downloadable"], false);
    let (status, result, body) = e
        .content(
            "files/export",
            json!({"path": "/docs/plan.paper", "export_format": "markdown"}),
        )
        .await;
    assert_eq!((status, &body[..]), (200, &b"# Plan\n"[..]));
    assert_eq!(result.unwrap()["export_metadata"]["name"], "Plan.md");
    let (status, _, body) = e
        .content(
            "files/export",
            json!({"path": "/docs/plan.paper", "export_format": "pdf"}),
        )
        .await;
    assert_eq!(status, 409);
    assert!(String::from_utf8_lossy(&body).contains("invalid_export_format"));

    // An ordinary file downloads; it does not export.
    let (status, _) = e.upload_raw(br#"{"path": "/docs/a.txt"}"#, b"a").await;
    assert_eq!(status, 200);
    let (status, _, body) = e
        .content("files/export", json!({"path": "/docs/a.txt"}))
        .await;
    assert_eq!(status, 409);
    assert!(String::from_utf8_lossy(&body).contains("non_exportable"));

    // Uploading onto the doc collides, whatever the mode.
    for mode in ["add", "overwrite"] {
        let arg = json!({"path": "/docs/Plan.paper", "mode": mode}).to_string();
        let (status, body) = e.upload_raw(arg.as_bytes(), b"over it").await;
        assert_eq!(status, 409, "{mode}: {body}");
        assert!(body.contains("conflict"), "{body}");
    }
}

/// "If the folder itself that the cursor refers to is deleted, the call will return a 409 path
/// error" (https://developers.dropbox.com/detecting-changes-guide): a listed folder moved away
/// (renamed on the web) or deleted makes `list_folder/continue` answer 409 `path/not_found`,
/// and longpoll reports it as a change; a listing of the app folder goes on as before.
#[tokio::test]
async fn continue_on_a_listed_folder_that_was_moved_or_deleted_is_a_path_error() {
    let e = emu().await;
    let (status, _) = e.upload_raw(br#"{"path": "/A/x.txt"}"#, b"x").await;
    assert_eq!(status, 200);
    let emu = &e;
    let listed = |path: &'static str| async move {
        let (status, body) = emu
            .rpc(
                "files/list_folder",
                json!({"path": path, "recursive": true}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["cursor"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (of_a, of_root) = (listed("/A").await, listed("").await);
    let (status, body) = e
        .rpc("files/move_v2", json!({"from_path": "/A", "to_path": "/B"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = e
        .rpc("files/list_folder/continue", json!({"cursor": of_a}))
        .await;
    assert_eq!(status, 409, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"][".tag"], "path", "{err}");
    assert_eq!(err["error"]["path"][".tag"], "not_found", "{err}");
    let r = e
        .http
        .post(e.url("files/list_folder/longpoll"))
        .header("Content-Type", "application/json")
        .body(json!({"cursor": of_a, "timeout": 30}).to_string())
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["changes"], true, "{v}");
    // Back where it was, the old cursor still cannot say what happened meanwhile.
    let (status, _) = e
        .rpc("files/move_v2", json!({"from_path": "/B", "to_path": "/A"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = e
        .rpc("files/list_folder/continue", json!({"cursor": of_a}))
        .await;
    assert_eq!(status, 409);
    // A new listing of it works; deleting it is a path error too.
    let again = listed("/A").await;
    let (status, _) = e.rpc("files/delete_v2", json!({"path": "/A"})).await;
    assert_eq!(status, 200);
    let (status, body) = e
        .rpc("files/list_folder/continue", json!({"cursor": again}))
        .await;
    assert_eq!(status, 409, "{body}");
    // The app folder's listing sees the moves and the delete as entries.
    let (status, body) = e
        .rpc("files/list_folder/continue", json!({"cursor": of_root}))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A route Dropbox does not have is answered HTTP 400 with Dropbox's plain-text wording
/// (orgzly-android#1011), which the SDKs read as a bad-input error; a 404 they cannot parse.
#[tokio::test]
async fn an_unknown_route_is_a_400_with_dropbox_wording() {
    let e = emu().await;
    let (status, body) = e.rpc("files/no_such_route", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        "Error in call to API function \"files/no_such_route\": Unknown API function: /2/files/no_such_route"
    );
}

/// files.stone WriteMode.update: the autorenamed copy of a conflicting update is named with
/// the conflicted-copy convention, "document (Panda's conflicted copy).txt".
#[tokio::test]
async fn an_update_conflict_copy_carries_the_owner_name() {
    let e = emu().await;
    let (status, body) = e.upload_raw(br#"{"path": "/a.txt"}"#, b"one").await;
    assert_eq!(status, 200, "{body}");
    let rev1 = serde_json::from_str::<Value>(&body).unwrap()["rev"].clone();
    let arg = json!({"path": "/a.txt", "mode": {".tag": "update", "update": rev1}}).to_string();
    let (status, _) = e.upload_raw(arg.as_bytes(), b"two").await;
    assert_eq!(status, 200);
    let arg =
        json!({"path": "/a.txt", "mode": {".tag": "update", "update": rev1}, "autorename": true})
            .to_string();
    let (status, body) = e.upload_raw(arg.as_bytes(), b"three").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["name"], "a (Ada's conflicted copy).txt", "{v}");
}

/// common.stone `DropboxTimestamp` is `%Y-%m-%dT%H:%M:%SZ`: a malformed `client_modified` is a
/// 400, in `files/upload` and in `files/upload_session/finish` alike.
#[tokio::test]
async fn a_malformed_client_modified_is_refused_everywhere() {
    let e = emu().await;
    for bad in [
        "2020-02-30T00:00:00Z",
        "2020-01-01T00:00:60Z",
        "2020-+1-01T00:00:00Z",
    ] {
        let arg = json!({"path": "/t.txt", "client_modified": bad}).to_string();
        let (status, body) = e.upload_raw(arg.as_bytes(), b"x").await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("client_modified"), "{body}");
    }
    let (status, body) = e.upload_to("files/upload_session/start", b"{}", b"").await;
    assert_eq!(status, 200, "{body}");
    let session = serde_json::from_str::<Value>(&body).unwrap()["session_id"].clone();
    let finish = json!({"cursor": {"session_id": session, "offset": 0},
                        "commit": {"path": "/s.txt", "client_modified": "yesterday"}})
    .to_string();
    let (status, body) = e
        .upload_to("files/upload_session/finish", finish.as_bytes(), b"")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("client_modified"), "{body}");
}
/// common.stone `PathRootError`: a `namespace_id` the user may not access is `no_permission`
/// (HTTP 422, as every path-root error); a `root` that is not the user's root is
/// `invalid_root` with the user's root info.
#[tokio::test]
async fn a_path_root_without_access_is_no_permission() {
    let e = emu().await;
    let send = |root: Value| {
        e.http
            .post(e.url("files/list_folder"))
            .bearer_auth("tok")
            .header("Content-Type", "application/json")
            .header("Dropbox-API-Path-Root", root.to_string())
            .body(json!({"path": ""}).to_string())
            .send()
    };
    let r = send(json!({".tag": "namespace_id", "namespace_id": "999999"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"][".tag"], "no_permission", "{v}");
    let r = send(json!({".tag": "root", "root": "999999"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"][".tag"], "invalid_root", "{v}");
}

impl Emu {
    /// `list_folder/continue` from `cursor`: the entries as (`.tag`, `path_display`).
    async fn changes(&self, cursor: &str) -> Vec<(String, String)> {
        let (status, body) = self
            .rpc("files/list_folder/continue", json!({"cursor": cursor}))
            .await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e[".tag"].as_str().unwrap().to_string(),
                    e["path_display"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// A case-only rename with `files/move_v2` renames the item, same id (Maestral's
/// `test_case_change_remote` and `test_case_change_local`, run against the real Dropbox);
/// `list_folder/continue` shows the renamed entries, no deletion.
#[tokio::test]
async fn a_case_only_move_renames() {
    let e = emu().await;
    let (status, _) = e
        .upload_raw(br#"{"path": "/folder/sub/a.txt"}"#, b"a")
        .await;
    assert_eq!(status, 200);
    let (_, body) = e
        .rpc("files/get_metadata", json!({"path": "/folder"}))
        .await;
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"].clone();
    let cursor = e.cursor().await;
    let (status, body) = e
        .rpc(
            "files/move_v2",
            json!({"from_path": "/folder", "to_path": "/FOLDER"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["metadata"]["name"], "FOLDER");
    assert_eq!(v["metadata"]["id"], id);
    let (status, body) = e
        .rpc(
            "files/move_v2",
            json!({"from_path": "/FOLDER/sub/a.txt", "to_path": "/folder/sub/A.TXT"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["metadata"]["name"], "A.TXT");
    let changes = e.changes(&cursor).await;
    assert!(changes.iter().all(|(t, _)| t != "deleted"), "{changes:?}");
    let names: Vec<_> = changes
        .iter()
        .map(|(_, p)| p.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["FOLDER", "sub", "A.TXT"], "{changes:?}");
    // Moving onto itself, same casing, is still a conflict; a copy onto itself too.
    let (status, _) = e
        .rpc(
            "files/move_v2",
            json!({"from_path": "/FOLDER", "to_path": "/FOLDER"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = e
        .rpc(
            "files/copy_v2",
            json!({"from_path": "/FOLDER", "to_path": "/folder"}),
        )
        .await;
    assert_eq!(status, 409);
}

/// `list_folder/continue` sends one entry per path with its latest state: a file deleted and
/// uploaded again arrives as the new file; a folder deleted and re-created as a file arrives
/// as one file entry (which replaces the folder and its children).
#[tokio::test]
async fn continue_sends_the_latest_state_per_path() {
    let e = emu().await;
    for p in ["/f.txt", "/d/x.txt"] {
        let arg = json!({"path": p}).to_string();
        assert_eq!(e.upload_raw(arg.as_bytes(), b"1").await.0, 200);
    }
    let cursor = e.cursor().await;
    for p in ["/f.txt", "/d"] {
        let (status, body) = e.rpc("files/delete_v2", json!({"path": p})).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(e.upload_raw(br#"{"path": "/f.txt"}"#, b"2").await.0, 200);
    assert_eq!(e.upload_raw(br#"{"path": "/d/y.txt"}"#, b"2").await.0, 200);
    let (status, _) = e.rpc("files/delete_v2", json!({"path": "/d"})).await;
    assert_eq!(status, 200);
    assert_eq!(e.upload_raw(br#"{"path": "/D"}"#, b"3").await.0, 200);
    let changes = e.changes(&cursor).await;
    assert_eq!(
        changes,
        [
            ("file".to_string(), "/f.txt".to_string()),
            ("file".to_string(), "/D".to_string())
        ]
    );
}

/// check.stone: `check/user` (user auth) and `check/app` (HTTP Basic with the app key and
/// secret, as the Python SDK's `test_app_auth` calls it against the real Dropbox) echo
/// `query`; a wrong secret or no credentials are refused.
#[tokio::test]
async fn check_routes_echo_after_their_authentication() {
    let e = emu_with(Config {
        accounts: vec![("ada".into(), "tok".into())],
        apps: vec![dropbox_emulator::oauth::RegisteredApp::parse("k1=s3cret:Demo:").unwrap()],
        ..Config::default()
    })
    .await;
    let (status, body) = e.rpc("check/user", json!({"query": "hello world"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"result": "hello world"})
    );
    let app = |user: &str, secret: &str| {
        e.http
            .post(e.url("check/app"))
            .basic_auth(user, Some(secret))
            .header("Content-Type", "application/json")
            .body(json!({"query": "hi"}).to_string())
            .send()
    };
    let r = app("k1", "s3cret").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"result": "hi"}));
    assert_eq!(app("k1", "wrong").await.unwrap().status(), 401);
    assert_eq!(app("nope", "s3cret").await.unwrap().status(), 401);
    let (status, _) = e.rpc("check/app", json!({"query": "hi"})).await;
    assert_eq!(status, 400, "a bearer token is not app auth");
}

/// `path_display`: "at least the last path component will have the correct casing"
/// (files.stone `Metadata.path_display`); parents may show the casing a request used or the
/// one a folder had before a case-only rename, seeded; `path_lower` is always exact.
#[tokio::test]
async fn parents_in_path_display_may_be_cased_otherwise() {
    let e = emu().await;
    let (status, body) = e.upload_raw(br#"{"path": "/Docs/a.txt"}"#, b"a").await;
    assert_eq!(status, 200, "{body}");
    let mut shown = vec![];
    // Written through other casings of the parent: the answers keep the request's parents
    // (in three of four entries, picked by the seed) and the last component as sent.
    for (i, parent) in ["docs", "DOCS", "dOCS", "DoCs", "docS", "DOcs"]
        .iter()
        .enumerate()
    {
        let arg = format!(r#"{{"path": "/{parent}/F{i}.txt"}}"#);
        let (status, body) = e.upload_raw(arg.as_bytes(), b"f").await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["path_lower"], format!("/docs/f{i}.txt"));
        assert_eq!(v["name"], format!("F{i}.txt"));
        let display = v["path_display"].as_str().unwrap().to_string();
        assert!(display.ends_with(&format!("/F{i}.txt")), "{display}");
        assert!(
            display == format!("/{parent}/F{i}.txt") || display == format!("/Docs/F{i}.txt"),
            "{display}"
        );
        shown.push(display);
    }
    assert!(
        shown.iter().any(|d| !d.starts_with("/Docs/")),
        "some answer shows the request's parent casing: {shown:?}"
    );
    assert!(
        shown.iter().any(|d| d.starts_with("/Docs/")),
        "some answer shows the stored casing: {shown:?}"
    );
    // The listing shows each entry as its answer did; the folder itself is exact.
    let (status, body) = e
        .rpc("files/list_folder", json!({"path": "", "recursive": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<(String, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["path_lower"].as_str().unwrap().to_string(),
                x["path_display"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        listed.contains(&("/docs".into(), "/Docs".into())),
        "{listed:?}"
    );
    for d in &shown {
        assert!(listed.iter().any(|(_, p)| p == d), "{d} in {listed:?}");
    }
    for (l, d) in &listed {
        assert_eq!(&d.to_lowercase(), l);
    }

    // A case-only rename of the parent: the folder shows its new name; below it, entries may
    // keep the old casing in what they show (here in list_folder/continue).
    let cursor = e.cursor().await;
    let (status, body) = e
        .rpc(
            "files/move_v2",
            json!({"from_path": "/Docs", "to_path": "/DOCUMENTS_X"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = e
        .rpc(
            "files/move_v2",
            json!({"from_path": "/DOCUMENTS_X", "to_path": "/Papers"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = e
        .rpc(
            "files/move_v2",
            json!({"from_path": "/Papers", "to_path": "/PAPERS"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let changes = e.changes(&cursor).await;
    let after: Vec<&String> = changes
        .iter()
        .filter(|(t, _)| t != "deleted")
        .map(|(_, p)| p)
        .collect();
    assert!(after.contains(&&"/PAPERS".to_string()), "{changes:?}");
    assert!(
        after.iter().any(|p| p.starts_with("/Papers/")),
        "a child keeps the parent's casing from before the case-only rename: {changes:?}"
    );
    assert!(
        after
            .iter()
            .all(|p| p.to_lowercase().starts_with("/papers")),
        "{changes:?}"
    );
    let (status, body) = e
        .rpc("files/get_metadata", json!({"path": "/papers/a.txt"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["path_lower"], "/papers/a.txt");
    assert_eq!(v["name"], "a.txt");
}
