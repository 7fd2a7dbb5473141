//! The routes called directly: a failed upload keeps its data, append_batch, the root as
//! `""`, `rev:` paths and revisions inside the app folder.

use super::*;
use crate::state::Config;

fn emulator() -> Arc<Emulator> {
    Emulator::new(Config {
        accounts: vec![("ada".into(), "tok".into())],
        ..Config::default()
    })
    .unwrap()
}

fn call(emu: &Emulator, route: &str, arg: Value, scope: &Scope) -> Call {
    Call {
        route: route.into(),
        arg: Bytes::from(arg.to_string()),
        body: Bytes::new(),
        account: emu.account("ada"),
        scope: scope.clone(),
        token: None,
        range: None,
    }
}

#[test]
fn a_failed_upload_leaves_its_data_in_a_session() {
    let emu = emulator();
    let full = Scope::full();
    let mut up = call(&emu, "files/upload", json!({"path": "/taken.txt"}), &full);
    up.body = Bytes::from_static(b"first");
    assert!(handle(&emu, &up).is_ok());
    up.body = Bytes::from_static(b"second");
    let Err(ApiError::Route(err)) = handle(&emu, &up) else {
        panic!("expected a conflict")
    };
    let sid = err["upload_session_id"].as_str().unwrap().to_string();
    assert!(sid.starts_with("pid_upload_session:"), "{err}");
    let arg = json!({"cursor": {"session_id": sid, "offset": 6}, "commit": {"path": "/retry.txt"}});
    let Ok(Reply::Json(md)) = handle(&emu, &call(&emu, "files/upload_session/finish", arg, &full))
    else {
        panic!("the commit retry failed")
    };
    assert_eq!(md["size"], 6);
}

#[test]
fn append_batch_splits_the_body_by_length() {
    let emu = emulator();
    let full = Scope::full();
    let c = call(
        &emu,
        "files/upload_session/start_batch",
        json!({"num_sessions": 2}),
        &full,
    );
    let Ok(Reply::Json(r)) = handle(&emu, &c) else {
        panic!("start_batch failed")
    };
    let (a, b) = (r["session_ids"][0].clone(), r["session_ids"][1].clone());
    let entries = json!({"entries": [
        {"cursor": {"session_id": a, "offset": 0}, "length": 2, "close": true},
        {"cursor": {"session_id": b, "offset": 0}, "length": 3},
    ]});
    let mut c = call(&emu, "files/upload_session/append_batch", entries, &full);
    c.body = Bytes::from_static(b"xxyyy");
    let Ok(Reply::Json(r)) = handle(&emu, &c) else {
        panic!("append_batch failed")
    };
    assert_eq!(
        r["entries"],
        json!([{".tag": "success"}, {".tag": "success"}])
    );
    c.body = Bytes::from_static(b"xxyy");
    assert!(matches!(handle(&emu, &c), Err(ApiError::Route(e)) if e[".tag"] == "length_mismatch"));
}

#[test]
fn the_root_is_empty_not_a_slash() {
    let emu = emulator();
    let full = Scope::full();
    for route in ["files/list_folder", "files/list_folder/get_latest_cursor"] {
        let r = handle(&emu, &call(&emu, route, json!({"path": "/"}), &full));
        assert!(
            matches!(&r, Err(ApiError::BadInput(m)) if m.contains("Specify the root folder as an empty string")),
            "{route}"
        );
        assert!(handle(&emu, &call(&emu, route, json!({"path": ""}), &full)).is_ok());
    }
}

#[test]
fn get_metadata_takes_a_rev_path() {
    let emu = emulator();
    let full = Scope::full();
    let mut up = call(&emu, "files/upload", json!({"path": "/v.txt"}), &full);
    up.body = Bytes::from_static(b"one");
    let Ok(Reply::Json(v1)) = handle(&emu, &up) else {
        panic!("upload failed")
    };
    up.arg = Bytes::from(json!({"path": "/v.txt", "mode": {".tag": "overwrite"}}).to_string());
    up.body = Bytes::from_static(b"two!");
    assert!(handle(&emu, &up).is_ok());
    let rev = format!("rev:{}", v1["rev"].as_str().unwrap());
    let c = call(&emu, "files/get_metadata", json!({ "path": rev }), &full);
    let Ok(Reply::Json(md)) = handle(&emu, &c) else {
        panic!("rev: path refused")
    };
    assert_eq!(
        (md[".tag"].as_str(), &md["rev"], &md["size"]),
        (Some("file"), &v1["rev"], &json!(3))
    );
    let jailed = Scope::app_folder("nuvolos.cloud");
    let c = call(&emu, "files/get_metadata", json!({ "path": rev }), &jailed);
    assert!(matches!(handle(&emu, &c), Err(ApiError::Route(_))));
}

#[test]
fn revisions_by_id_stay_inside_the_app_folder() {
    let emu = emulator();
    let full = Scope::full();
    let mut up = call(&emu, "files/upload", json!({"path": "/outside.txt"}), &full);
    up.body = Bytes::from_static(b"secret");
    let Ok(Reply::Json(md)) = handle(&emu, &up) else {
        panic!("upload failed")
    };
    let arg = json!({"path": md["id"], "mode": {".tag": "id"}});
    let jailed = Scope::app_folder("nuvolos.cloud");
    let r = handle(
        &emu,
        &call(&emu, "files/list_revisions", arg.clone(), &jailed),
    );
    assert!(
        matches!(r, Err(ApiError::Route(_))),
        "jailed token read outside history"
    );
    let Ok(Reply::Json(revs)) = handle(&emu, &call(&emu, "files/list_revisions", arg, &full))
    else {
        panic!("full access must see it")
    };
    assert_eq!(revs["entries"][0]["rev"], md["rev"]);
}
