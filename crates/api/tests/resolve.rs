//! Resolving a conflict touches files inside the pair's folder only: a conflict whose paths
//! lead out of it — a `..` component, or a linked folder on the way — is refused, and what
//! lies outside the folder is left as it was.

mod common;

use nuvosync_api::dto::{Command, Resolution};
use nuvosync_api::{Daemon, ErrorCode};
use std::path::Path;

/// What is under `dir` (but nuvosync's state folder): relative path → content (files), or
/// `->target` (links).
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if rel.starts_with(".nuvosync") {
                continue; // nuvosync's own state
            }
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                out.push((
                    rel,
                    format!("->{}", std::fs::read_link(&p).unwrap().display()),
                ));
            } else if t.is_dir() {
                stack.push(p);
            } else {
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_leading_out_of_the_folder_is_refused_and_nothing_outside_is_touched() {
    let lab = common::Lab::new().await;
    let daemon = Daemon::idle(lab.service.clone());
    let outside = lab.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "not the pair's").unwrap();
    std::fs::write(outside.join("mine.txt"), "not the pair's either").unwrap();
    std::fs::create_dir_all(&lab.local).unwrap();
    std::fs::write(lab.local.join("mine.txt"), "my version").unwrap();
    std::fs::write(lab.local.join("theirs.txt"), "their version").unwrap();
    std::os::unix::fs::symlink(&outside, lab.local.join("link")).unwrap();
    // The pair is open; its conflicts are written beside its own connection to the index.
    lab.service.pair("lab").unwrap();
    let mut index =
        sync_engine::index::Index::open(&lab.service.paths().index_file("lab")).unwrap();
    // (Dropbox's path, the local copy's path) of each conflict.
    let cases = [
        ("/../outside/secret.txt", "/mine.txt"),
        ("/theirs.txt", "/../outside/mine.txt"),
        ("/link/secret.txt", "/mine.txt"),
        ("/theirs.txt", "/link/mine.txt"),
    ];
    let before_outside = tree(&outside);
    let before_inside = tree(&lab.local);
    for (path, copy) in cases {
        let id = index.add_conflict(1, path, copy, "conflict").unwrap();
        for choice in [Resolution::KeepMine, Resolution::KeepTheirs] {
            let err = daemon
                .handle(Command::Resolve {
                    pair: "lab".into(),
                    id,
                    choice,
                })
                .await
                .expect_err(&format!("{choice:?} of {path} / {copy} is refused"));
            assert_eq!(err.code, ErrorCode::InvalidArgument, "{}", err.message);
            assert_eq!(
                tree(&outside),
                before_outside,
                "{choice:?} of {path} / {copy}"
            );
            assert_eq!(
                tree(&lab.local),
                before_inside,
                "{choice:?} of {path} / {copy}"
            );
        }
        let open = index.conflicts(false).unwrap();
        assert!(
            open.iter().any(|c| c.id == id),
            "a refused resolution leaves the conflict open"
        );
    }
}
