use super::*;
use crate::hash::ContentHash;
use crate::tree::{LocalKind, RemoteKind, SyncedKind, SyncedNode};

fn settings() -> Settings {
    Settings {
        host: "lab".into(),
        date: "2026-11-27".into(),
        excluded: vec![],
    }
}
fn lf(path: &str, inode: u64, data: &str) -> LocalNode {
    LocalNode {
        path: path.into(),
        inode,
        kind: LocalKind::File {
            size: data.len() as u64,
            mtime_ns: 0,
            hash: ContentHash::of(data.as_bytes()),
        },
    }
}
fn rf(path: &str, id: &str, rev: &str, data: &str) -> RemoteNode {
    RemoteNode {
        path: path.into(),
        id: id.into(),
        kind: RemoteKind::File {
            rev: rev.into(),
            size: data.len() as u64,
            hash: ContentHash::of(data.as_bytes()),
        },
    }
}
fn sf(path: &str, id: &str, inode: u64, rev: &str, data: &str) -> SyncedNode {
    SyncedNode {
        path: path.into(),
        id: id.into(),
        inode,
        kind: SyncedKind::File {
            rev: rev.into(),
            size: data.len() as u64,
            hash: ContentHash::of(data.as_bytes()),
        },
    }
}

#[test]
fn one_sided_edit_propagates_with_the_merge_base_revision() {
    let mut t = Trees::default();
    t.local.insert("/a".into(), lf("/a", 1, "new"));
    t.remote.insert("/a".into(), rf("/a", "id:a", "r1", "old"));
    t.synced
        .insert("/a".into(), sf("/a", "id:a", 1, "r1", "old"));
    let p = plan(&t, &settings());
    assert_eq!(
        p.ops,
        vec![Op::Upload {
            key: "/a".into(),
            local: lf("/a", 1, "new"),
            base: Some("r1".into())
        }]
    );
}

#[test]
fn same_content_on_both_sides_is_just_recorded() {
    let mut t = Trees::default();
    t.local.insert("/a".into(), lf("/a", 1, "same"));
    t.remote.insert("/a".into(), rf("/a", "id:a", "r1", "same"));
    assert_eq!(
        plan(&t, &settings()).ops,
        vec![Op::Agree { key: "/a".into() }]
    );
}

#[test]
fn different_content_on_both_sides_sets_the_local_copy_aside() {
    let mut t = Trees::default();
    t.local.insert("/a.txt".into(), lf("/a.txt", 1, "mine"));
    t.remote
        .insert("/a.txt".into(), rf("/a.txt", "id:a", "r2", "theirs"));
    t.synced
        .insert("/a.txt".into(), sf("/a.txt", "id:a", 1, "r1", "base"));
    let p = plan(&t, &settings());
    assert_eq!(p.ops.len(), 1);
    match &p.ops[0] {
        Op::SetAside { to_path, .. } => {
            assert_eq!(to_path, "/a (conflicted copy from lab 2026-11-27).txt")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn edit_beats_delete_on_either_side() {
    let mut t = Trees::default();
    t.remote
        .insert("/a".into(), rf("/a", "id:a", "r2", "edited"));
    t.synced
        .insert("/a".into(), sf("/a", "id:a", 1, "r1", "base"));
    assert!(matches!(
        &plan(&t, &settings()).ops[..],
        [Op::Download { replace: None, .. }]
    ));
    let mut t = Trees::default();
    t.local.insert("/a".into(), lf("/a", 1, "edited"));
    t.synced
        .insert("/a".into(), sf("/a", "id:a", 1, "r1", "base"));
    assert!(matches!(
        &plan(&t, &settings()).ops[..],
        [Op::Upload { base: None, .. }]
    ));
}

#[test]
fn a_folder_rename_is_one_move() {
    let mut t = Trees::default();
    let folder = |p: &str, inode| LocalNode {
        path: p.into(),
        inode,
        kind: LocalKind::Folder,
    };
    t.local.insert("/new".into(), folder("/New", 10));
    t.local.insert("/new/x".into(), lf("/New/x", 11, "x"));
    t.remote.insert(
        "/old".into(),
        RemoteNode {
            path: "/Old".into(),
            id: "id:d".into(),
            kind: RemoteKind::Folder,
        },
    );
    t.remote
        .insert("/old/x".into(), rf("/Old/x", "id:x", "r1", "x"));
    t.synced.insert(
        "/old".into(),
        SyncedNode {
            path: "/Old".into(),
            id: "id:d".into(),
            inode: 10,
            kind: SyncedKind::Folder,
        },
    );
    t.synced
        .insert("/old/x".into(), sf("/Old/x", "id:x", 11, "r1", "x"));
    let p = plan(&t, &settings());
    assert_eq!(
        p.ops,
        vec![Op::MoveRemote {
            from: "/old".into(),
            to: "/new".into(),
            from_path: "/Old".into(),
            to_path: "/New".into()
        }]
    );
}

#[test]
fn many_excluded_folders_are_looked_up_in_linear_time() {
    // A selective sync that excludes many folders: every key the planner looks at is
    // checked against them. Comparing each key with every excluded folder would take n²
    // steps.
    // Keys a few folders deep: each lookup hashes every folder above the key.
    let set = |n: usize| {
        let keys: Vec<String> = (0..n)
            .map(|i| format!("/d{}/a/b/c/d/f{i}", i % 97))
            .collect();
        let mut excluded: Vec<String> = (0..n / 20).map(|j| format!("/x{j}")).collect();
        excluded.extend((1..97).map(|d| format!("/d{d}")));
        let s = Settings {
            excluded,
            ..settings()
        };
        (keys, s)
    };
    let (small, large) = (set(10_000), set(100_000));
    let t = Trees::default();
    let (ps, pl) = (Planner::new(&t, &small.1), Planner::new(&t, &large.1));
    let time = |keys: &[String], p: &Planner, runs: u32| {
        let t0 = std::time::Instant::now();
        for _ in 0..runs {
            let kept = keys.iter().filter(|k| !p.excluded(k)).count();
            assert_eq!(kept, keys.len().div_ceil(97));
        }
        t0.elapsed() / runs
    };
    // As `is_within` says: the folder itself and what is below it, not a name that starts
    // the same; the whole folder excluded is everything.
    let s = Settings {
        excluded: vec!["/a/b".into()],
        ..settings()
    };
    let t = Trees::default();
    let p = Planner::new(&t, &s);
    assert!(p.excluded("/a/b") && p.excluded("/a/b/c"));
    assert!(!p.excluded("/a/bc") && !p.excluded("/a") && !p.excluded(""));
    let mut t = Trees::default();
    t.local.insert("/a/b".into(), lf("/a/b", 1, "x"));
    let all = Settings {
        excluded: vec![String::new()],
        ..settings()
    };
    assert!(plan(&t, &all).is_empty());
    // Ten runs of the small set against one of the large, so that both take about as long
    // and a busy host slows both alike; the best of five of each, taken in turn.
    let (mut ts, mut tl) = (std::time::Duration::MAX, std::time::Duration::MAX);
    for _ in 0..5 {
        ts = ts.min(time(&small.0, &ps, 10));
        tl = tl.min(time(&large.0, &pl, 1));
    }
    let ratio = tl.as_secs_f64() / ts.as_secs_f64().max(1e-9);
    // Linear: about 10 times for ten times the keys; n²: 100.
    assert!(ratio < 30.0, "10k: {ts:?}, 100k: {tl:?} ({ratio:.1}×)");
}
