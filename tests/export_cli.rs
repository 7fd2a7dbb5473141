//! `nuvosync settings set export-documents on|off` through the real binary: off by default (a
//! Paper doc is a status entry only); on, `sync --once` exports it as a read-only copy and
//! never uploads it; a value other than on or off is refused with what to write instead.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_documents_setting_exports_paper_docs_read_only() {
    let p = Profile::new(true).await;
    let local = p.local();
    std::fs::create_dir_all(&local).unwrap();
    p.add_pair(&[]);
    let acct = p.server.emulator.account("ada").unwrap();
    p.server
        .emulator
        .add_export_only(
            &acct,
            &format!("/Apps/nuvolos.cloud{ROOT}/Plan.paper"),
            "<h1>Plan</h1>",
            "# Plan\n",
        )
        .unwrap();
    let _ = p.run(&["sync", "--once"]);
    assert!(!local.join("Plan.html").exists(), "off by default");
    assert!(
        p.ok(&["settings", "get"])
            .contains("export documents (Paper docs as read-only copies): off")
    );

    let out = p.run(&["settings", "set", "export-documents", "maybe"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("on or off"), "{said}");

    p.ok(&["settings", "set", "export-documents", "on"]);
    assert!(
        p.ok(&["settings", "get"])
            .contains("export documents (Paper docs as read-only copies): on")
    );
    p.ok(&["sync", "--once"]);
    let copy = local.join("Plan.html");
    assert_eq!(std::fs::read(&copy).unwrap(), b"<h1>Plan</h1>");
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o444
    );
    p.ok(&["sync", "--once"]);
    let remote: Vec<String> = p.remote_files().into_keys().collect();
    assert_eq!(remote, ["/Plan.paper"], "nothing uploaded");
}
