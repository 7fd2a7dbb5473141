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
        let r = self
            .http
            .post(self.url("files/upload"))
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
