use super::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use sync_core::{
    ContentHash, Edit, LocalKind, LocalNode, RemoteKind, RemoteNode, SyncedNode, Trees,
};

fn lf(path: &str, inode: u64, data: &[u8]) -> LocalNode {
    LocalNode {
        path: path.into(),
        inode,
        kind: LocalKind::File {
            size: data.len() as u64,
            mtime_ns: 5,
            hash: ContentHash::of(data),
        },
    }
}

/// What the planner does with these trees (no exclusions).
fn plan_all(t: &Trees) -> sync_core::Plan {
    sync_core::plan(
        t,
        &sync_core::Settings {
            host: "h".into(),
            date: "2026-01-01".into(),
            excluded: vec![],
        },
    )
}

#[test]
fn edits_round_trip_and_mark_keys_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
    let r = RemoteNode {
        path: "/A".into(),
        id: "id:a".into(),
        kind: RemoteKind::File {
            rev: "r1".into(),
            size: 1,
            hash: ContentHash::of(b"x"),
        },
    };
    let l = lf("/A", 7, b"x");
    let mut b = ix.batch().unwrap();
    b.edits(&[
        Edit::PutLocal("/a".into(), l.clone()),
        Edit::PutRemote("/a".into(), r.clone()),
        Edit::PutSynced("/a".into(), SyncedNode::merged(&l, &r)),
    ])
    .unwrap();
    b.commit().unwrap();
    assert_eq!(ix.dirty().unwrap(), vec!["/a".to_string()]);
    let all = ix.load_all().unwrap();
    assert_eq!(all.local["/a"], l);
    assert_eq!(all.remote["/a"], r);
    let by = |inodes: &[u64], ids: &[&str]| {
        ix.synced_by_inodes_or_ids(inodes.iter().copied(), ids.iter().copied())
            .unwrap()
    };
    assert_eq!(by(&[7], &[]), BTreeSet::from(["/a".to_string()]));
    assert_eq!(by(&[], &["id:a"]), BTreeSet::from(["/a".to_string()]));
    ix.clear_dirty(&["/a".into()]).unwrap();
    assert!(ix.dirty().unwrap().is_empty());
}

#[test]
fn agreeing_in_the_database_is_what_the_planner_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
    let rf = |path: &str, id: &str, data: &[u8]| RemoteNode {
        path: path.into(),
        id: id.into(),
        kind: RemoteKind::File {
            rev: format!("rev-{id}"),
            size: data.len() as u64,
            hash: ContentHash::of(data),
        },
    };
    let lfolder = |path: &str, inode| LocalNode {
        path: path.into(),
        inode,
        kind: LocalKind::Folder,
    };
    let rfolder = |path: &str, id: &str| RemoteNode {
        path: path.into(),
        id: id.into(),
        kind: RemoteKind::Folder,
    };
    let known = lf("/known.txt", 9, b"k");
    let known_r = rf("/known.txt", "k", b"k");
    let mut b = ix.batch().unwrap();
    b.edits(&[
        Edit::PutLocal("/same.txt".into(), lf("/same.txt", 1, b"same")),
        Edit::PutRemote("/same.txt".into(), rf("/same.txt", "s", b"same")),
        Edit::PutLocal("/dir".into(), lfolder("/dir", 2)),
        Edit::PutRemote("/dir".into(), rfolder("/dir", "d")),
        Edit::PutLocal("/diff.txt".into(), lf("/diff.txt", 3, b"mine")),
        Edit::PutRemote("/diff.txt".into(), rf("/diff.txt", "x", b"theirs")),
        Edit::PutLocal("/case.txt".into(), lf("/Case.txt", 4, b"c")),
        Edit::PutRemote("/case.txt".into(), rf("/case.txt", "c", b"c")),
        Edit::PutLocal("/kind".into(), lfolder("/kind", 5)),
        Edit::PutRemote("/kind".into(), rf("/kind", "n", b"")),
        Edit::PutLocal("/skip/x.txt".into(), lf("/skip/x.txt", 6, b"x")),
        Edit::PutRemote("/skip/x.txt".into(), rf("/skip/x.txt", "y", b"x")),
        Edit::PutLocal("/only-here.txt".into(), lf("/only-here.txt", 7, b"o")),
        Edit::PutLocal("/known.txt".into(), known.clone()),
        Edit::PutRemote("/known.txt".into(), rf("/known.txt", "k2", b"k")),
        Edit::PutSynced("/known.txt".into(), SyncedNode::merged(&known, &known_r)),
    ])
    .unwrap();
    b.commit().unwrap();
    let before = ix.load_all().unwrap();
    let plan = plan_all(&before);

    let n = ix.agree_where_equal(&|p| !p.starts_with("/skip/")).unwrap();
    assert_eq!(n, 2);
    let left: BTreeSet<String> = ix.dirty().unwrap().into_iter().collect();
    let want: BTreeSet<String> = [
        "/case.txt",
        "/diff.txt",
        "/kind",
        "/known.txt",
        "/only-here.txt",
        "/skip/x.txt",
    ]
    .map(String::from)
    .into();
    assert_eq!(left, want);
    // The planner says `Agree` for exactly those two, and the merge base is the one its
    // outcome would record.
    let agreed: BTreeSet<&str> = plan
        .ops
        .iter()
        .filter_map(|o| match o {
            sync_core::Op::Agree { key } if !left.contains(key) => Some(key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(agreed, BTreeSet::from(["/dir", "/same.txt"]));
    let after = ix.load_all().unwrap();
    for k in ["/dir", "/same.txt"] {
        assert_eq!(
            after.synced[k],
            SyncedNode::merged(&before.local[k], &before.remote[k])
        );
    }
}

/// A dirty key whose local and remote nodes are both the merge base (a touched file: only
/// its mtime moved) is dropped from the dirty set in the database — the planner would do
/// nothing there — and any difference the planner acts on keeps a key dirty.
#[test]
fn keys_in_sync_all_the_same_leave_the_dirty_set_as_the_planner_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
    let rf = |path: &str, id: &str, rev: &str, data: &[u8]| RemoteNode {
        path: path.into(),
        id: id.into(),
        kind: RemoteKind::File {
            rev: rev.into(),
            size: data.len() as u64,
            hash: ContentHash::of(data),
        },
    };
    let touched = |n: &LocalNode| LocalNode {
        kind: match &n.kind {
            LocalKind::File { size, hash, .. } => LocalKind::File {
                size: *size,
                mtime_ns: 999,
                hash: *hash,
            },
            k => k.clone(),
        },
        ..n.clone()
    };
    // Each key: the synced pair (local, remote), then what the sides are now.
    let mut edits = vec![];
    let mut both = |k: &str, l0: LocalNode, r0: RemoteNode, l: LocalNode, r: RemoteNode| {
        edits.push(Edit::PutSynced(k.into(), SyncedNode::merged(&l0, &r0)));
        edits.push(Edit::PutLocal(k.into(), l));
        edits.push(Edit::PutRemote(k.into(), r));
    };
    let (l, r) = (lf("/touched.txt", 1, b"t"), rf("/touched.txt", "t", "1", b"t"));
    both("/touched.txt", l.clone(), r.clone(), touched(&l), r);
    let l = LocalNode {
        path: "/dir".into(),
        inode: 2,
        kind: LocalKind::Folder,
    };
    let r = RemoteNode {
        path: "/dir".into(),
        id: "d".into(),
        kind: RemoteKind::Folder,
    };
    both("/dir", l.clone(), r.clone(), l, r);
    let (l, r) = (lf("/inode.txt", 3, b"i"), rf("/inode.txt", "i", "1", b"i"));
    both("/inode.txt", l.clone(), r.clone(), lf("/inode.txt", 33, b"i"), r);
    let (l, r) = (lf("/rev.txt", 4, b"r"), rf("/rev.txt", "r", "1", b"r"));
    both("/rev.txt", l.clone(), r, l, rf("/rev.txt", "r", "2", b"r"));
    let (l, r) = (lf("/case.txt", 5, b"c"), rf("/case.txt", "c", "1", b"c"));
    both("/case.txt", l, r.clone(), lf("/Case.txt", 5, b"c"), r);
    let (l, r) = (lf("/edited.txt", 6, b"e"), rf("/edited.txt", "e", "1", b"e"));
    both("/edited.txt", l, r.clone(), lf("/edited.txt", 6, b"E"), r);
    let (l, r) = (lf("/theirs.txt", 7, b"o"), rf("/theirs.txt", "o", "1", b"o"));
    both("/theirs.txt", l.clone(), r, l, rf("/theirs.txt", "o", "2", b"O"));
    let (l, r) = (lf("/issue.txt", 8, b"x"), rf("/issue.txt", "x", "1", b"x"));
    both("/issue.txt", l.clone(), r.clone(), touched(&l), r);
    let (l, r) = (lf("/skip/s.txt", 9, b"s"), rf("/skip/s.txt", "s", "1", b"s"));
    both("/skip/s.txt", l.clone(), r.clone(), touched(&l), r);
    let mut b = ix.batch().unwrap();
    b.edits(&edits).unwrap();
    b.commit().unwrap();
    ix.set_issue("/issue.txt", "unreadable", "cannot read", 1)
        .unwrap();
    let before = ix.load_all().unwrap();
    let plan = plan_all(&before);

    let n = ix.agree_where_equal(&|p| !p.starts_with("/skip/")).unwrap();
    assert_eq!(n, 2, "the touched file and the folder");
    let left: BTreeSet<String> = ix.dirty().unwrap().into_iter().collect();
    let want: BTreeSet<String> = [
        "/case.txt",
        "/edited.txt",
        "/inode.txt",
        "/issue.txt",
        "/rev.txt",
        "/skip/s.txt",
        "/theirs.txt",
    ]
    .map(String::from)
    .into();
    assert_eq!(left, want);
    // The planner, given all of it, has no operation for what left the dirty set, and one
    // for each key that differs.
    for k in ["/touched.txt", "/dir"] {
        assert!(
            plan.ops.iter().all(|o| o.key() != k),
            "the planner acts on {k}: {:?}",
            plan.ops
        );
    }
    for k in [
        "/case.txt",
        "/edited.txt",
        "/inode.txt",
        "/rev.txt",
        "/theirs.txt",
    ] {
        assert!(
            plan.ops.iter().any(|o| o.key() == k),
            "the planner has nothing for {k}: {:?}",
            plan.ops
        );
    }
    // Nothing recorded: the trees are as they were.
    assert_eq!(ix.load_all().unwrap(), before);
}

#[test]
fn subtrees_are_exact_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
    let mut b = ix.batch().unwrap();
    for p in ["/a", "/a b", "/a/x", "/a/y/z", "/ab"] {
        b.put_local(&sync_core::path::key(p), &lf(p, 1, b""))
            .unwrap();
    }
    b.commit().unwrap();
    let mut t = Trees::default();
    ix.load_subtree("/a", &mut t).unwrap();
    assert_eq!(
        t.local.keys().cloned().collect::<Vec<_>>(),
        ["/a", "/a/x", "/a/y/z"]
    );
    let mut b = ix.batch().unwrap();
    b.delete_local_subtree("/a").unwrap();
    b.commit().unwrap();
    assert_eq!(
        ix.load_all()
            .unwrap()
            .local
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        ["/a b", "/ab"]
    );
    assert_eq!(ix.integrity_check().unwrap(), "ok");
}

#[test]
fn reopening_keeps_state_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("i.db");
    {
        let mut ix = Index::open(&p).unwrap();
        ix.set_meta("cursor", "c1").unwrap();
    }
    let ix = Index::open(&p).unwrap();
    assert_eq!(ix.meta("cursor").unwrap().as_deref(), Some("c1"));
}

/// The index is private whatever the umask (its folder 0700, the database and its
/// journal files 0600), and every commit is durable (`synchronous=FULL`).
#[test]
fn the_index_is_private_and_durable() {
    use std::os::unix::fs::PermissionsExt;
    // The most open umask there is (this test runs in a process of its own).
    let old = rustix::process::umask(rustix::fs::Mode::empty());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("state/pairs/i.db");
    let mut ix = Index::open(&p).unwrap();
    ix.set_meta("k", "v").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(p.parent().unwrap()), 0o700);
    for suffix in ["", "-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{suffix}", p.display()));
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert_eq!(ix.synchronous().unwrap(), 2, "synchronous=FULL");
    rustix::process::umask(old);
}

#[test]
fn history_is_kept_within_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
    let mut b = ix.batch().unwrap();
    for i in 0..10 {
        b.history(100 + i, "uploaded", &format!("/f{i}"), None)
            .unwrap();
    }
    b.commit().unwrap();
    ix.prune_history(103).unwrap();
    assert_eq!(ix.history(100, None).unwrap().len(), 7);
    ix.cap_history(4).unwrap();
    let left: Vec<String> = ix
        .history(100, None)
        .unwrap()
        .into_iter()
        .map(|h| h.path)
        .collect();
    assert_eq!(left, ["/f9", "/f8", "/f7", "/f6"]);
}

/// The synced tree's totals, kept by triggers, equal a sum over the table through puts of
/// new and known keys (a file that grows, a file that becomes a folder and back), deletes,
/// agreements made in the database, a reset, and an index migrated from before the totals.
#[test]
fn synced_totals_follow_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("i.db");
    let mut ix = Index::open(&p).unwrap();
    let summed = |ix: &Index| -> (u64, u64) {
        ix.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM synced WHERE folder = 0",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .unwrap()
    };
    let node = |k: &str, size: Option<u64>| SyncedNode {
        path: k.into(),
        id: format!("id:{k}"),
        inode: 1,
        kind: match size {
            Some(size) => sync_core::SyncedKind::File {
                rev: "r".into(),
                size,
                hash: ContentHash::of(b"x"),
            },
            None => sync_core::SyncedKind::Folder,
        },
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..200 {
        let mut edits = Vec::new();
        for _ in 0..next(8) {
            let k = format!("/k{}", next(12));
            edits.push(match next(4) {
                0 => Edit::DelSynced(k),
                1 => Edit::PutSynced(k.clone(), node(&k, None)),
                _ => Edit::PutSynced(k.clone(), node(&k, Some(next(1 << 40)))),
            });
        }
        let mut b = ix.batch().unwrap();
        b.edits(&edits).unwrap();
        b.commit().unwrap();
        assert_eq!(ix.synced_totals().unwrap(), summed(&ix), "round {round}: {edits:?}");
    }
    // Agreed in the database (its INSERT of new merge bases).
    let mut b = ix.batch().unwrap();
    let r = RemoteNode {
        path: "/agreed.txt".into(),
        id: "id:agreed".into(),
        kind: RemoteKind::File {
            rev: "r1".into(),
            size: 4,
            hash: ContentHash::of(b"same"),
        },
    };
    b.edits(&[
        Edit::PutLocal("/agreed.txt".into(), lf("/agreed.txt", 3, b"same")),
        Edit::PutRemote("/agreed.txt".into(), r),
    ])
    .unwrap();
    b.commit().unwrap();
    let before = ix.synced_totals().unwrap();
    assert_eq!(ix.agree_where_equal(&|_| true).unwrap(), 1);
    assert_eq!(ix.synced_totals().unwrap(), (before.0 + 1, before.1 + 4));
    assert_eq!(ix.synced_totals().unwrap(), summed(&ix));

    // An index from before the totals (schema 3) gets them right when it is opened.
    let want = summed(&ix);
    assert!(want.0 > 0, "the rounds left files to count");
    ix.conn
        .execute_batch(
            "DROP TRIGGER synced_totals_insert; DROP TRIGGER synced_totals_delete;
             DROP TRIGGER synced_totals_update; DROP TABLE synced_totals; PRAGMA user_version = 3;",
        )
        .unwrap();
    drop(ix);
    let mut ix = Index::open(&p).unwrap();
    assert_eq!(ix.synced_totals().unwrap(), want);
    ix.reset_trees().unwrap();
    assert_eq!(ix.synced_totals().unwrap(), (0, 0));
}
