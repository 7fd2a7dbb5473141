use super::*;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use sync_core::{LocalKind, LocalNode};

fn root_at(p: &Path) -> Root {
    Root::open(real(), p).unwrap()
}

/// A pair folder `root` and a canary folder `elsewhere` beside it.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("canary"), b"canary").unwrap();
    (d, root, elsewhere)
}

fn canary_intact(elsewhere: &Path) {
    let names: Vec<String> = std::fs::read_dir(elsewhere)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["canary"], "something was written outside the pair");
    assert_eq!(std::fs::read(elsewhere.join("canary")).unwrap(), b"canary");
}

#[test]
fn paths_never_lead_out_of_the_root() {
    let (_d, root, elsewhere) = setup();
    assert_eq!(abs(&root, "/a/b").unwrap(), root.join("a/b"));
    assert_eq!(abs(&root, "").unwrap(), root);
    for bad in [
        "/../x",
        "/a/../../x",
        "/./x",
        "//etc/passwd",
        "/a/",
        "a/b",
        "/a\0b",
    ] {
        let e = abs(&root, bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
    }
    // Through a link to elsewhere, or below a file: refused; below a missing folder: fine.
    std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
    std::fs::write(root.join("file"), b"f").unwrap();
    let r = root_at(&root);
    for bad in ["/link/x", "/link/deeper/x", "/file/x"] {
        let e = r.check_parents(bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotADirectory, "{bad}");
    }
    r.check_parents("/link").unwrap();
    r.check_parents("/a/new/x").unwrap();
    assert!(r.to_trash("/link/canary", "s", None).is_err());
    canary_intact(&elsewhere);
}

/// Every write of the layer, aimed through a link to a folder outside the pair, fails and
/// touches nothing there — with `openat2`, and with the folder-by-folder walk of kernels
/// without it.
#[test]
fn nothing_is_written_through_a_link_either_way_of_resolving() {
    for walk in [false, true] {
        let before = force_walk(walk);
        let (_d, root, elsewhere) = setup();
        std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("canary"), root.join("file-link")).unwrap();
        let r = root_at(&root);
        let fs = r.fs().clone();
        assert!(fs.create(r.dir(), "link/new", 0o644).is_err(), "{walk}");
        assert!(fs.mkdir(r.dir(), "link/new", None).is_err());
        assert!(r.create_dir_all("/link/x/y").is_err());
        assert!(fs.remove_file(r.dir(), "link/canary").is_err());
        assert!(
            fs.rename(r.dir(), "link/canary", r.dir(), "a/stolen", true)
                .is_err()
        );
        std::fs::write(root.join("a/f"), b"mine").unwrap();
        assert!(r.rename("/a/f", "/link/f", true).is_err());
        // A link as the last component is never followed: not read, not written through.
        assert!(r.open_read("/file-link").is_err());
        assert!(fs.create(r.dir(), "file-link", 0o644).is_err());
        assert!(r.stat("/file-link").unwrap().file_type().is_symlink());
        // Renaming the link itself moves the link, not its target.
        r.rename("/file-link", "/a/moved-link", true).unwrap();
        assert!(
            std::fs::symlink_metadata(root.join("a/moved-link"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        canary_intact(&elsewhere);
        force_walk(before);
    }
}

#[test]
fn noreplace_refuses_to_clobber() {
    let (_d, root, _) = setup();
    std::fs::write(root.join("a/x"), b"x").unwrap();
    std::fs::write(root.join("a/y"), b"y").unwrap();
    let r = root_at(&root);
    let e = r.rename("/a/x", "/a/y", true).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(root.join("a/y")).unwrap(), b"y");
    r.rename("/a/x", "/a/z", true).unwrap();
}

#[test]
fn a_planted_temp_link_empties_nothing_outside() {
    let (_d, root, elsewhere) = setup();
    std::fs::create_dir_all(root.join(".nuvosync")).unwrap();
    std::os::unix::fs::symlink("../../elsewhere", root.join(".nuvosync/tmp")).unwrap();
    let r = root_at(&root);
    r.clean_temp();
    assert!(r.temp_file().is_err(), "no temp file through the link");
    match r.check_state() {
        Err(StateError::Unsafe(p)) => {
            assert_eq!(p.path, root.join(".nuvosync/tmp"));
            assert!(p.problem.contains("symbolic link"), "{p}");
        }
        other => panic!("{other:?}"),
    }
    canary_intact(&elsewhere);
}

#[test]
fn the_state_folder_must_be_a_real_folder_of_this_user() {
    let (_d, root, elsewhere) = setup();
    // Missing: created, closed to others.
    let r = root_at(&root);
    r.check_state().unwrap();
    let md = std::fs::symlink_metadata(root.join(".nuvosync")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o700);
    // Opened to others: closed again.
    std::fs::set_permissions(
        root.join(".nuvosync"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    r.check_state().unwrap();
    let md = std::fs::symlink_metadata(root.join(".nuvosync")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o700);
    // A link.
    std::fs::remove_dir(root.join(".nuvosync")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join(".nuvosync")).unwrap();
    assert!(matches!(r.check_state(), Err(StateError::Unsafe(_))));
    assert!(r.write_state("marker.json", b"{}").is_err());
    canary_intact(&elsewhere);
    // Another user's (only root can give a folder away).
    std::fs::remove_file(root.join(".nuvosync")).unwrap();
    std::fs::create_dir(root.join(".nuvosync")).unwrap();
    if euid() == 0 {
        rustix::fs::chown(
            root.join(".nuvosync"),
            Some(rustix::fs::Uid::from_raw(65534)),
            None,
        )
        .unwrap();
        match r.check_state() {
            Err(StateError::Unsafe(p)) => assert!(p.problem.contains("another user"), "{p}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn state_files_are_private_whatever_the_umask() {
    let (_d, root, _) = setup();
    let r = root_at(&root);
    // A leftover temp file open to everyone does not make the new file so.
    std::fs::create_dir_all(root.join(".nuvosync")).unwrap();
    std::fs::write(root.join(".nuvosync/x.tmp"), b"old").unwrap();
    std::fs::set_permissions(
        root.join(".nuvosync/x.tmp"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    r.write_state("x", b"new").unwrap();
    let md = std::fs::metadata(root.join(".nuvosync/x")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    assert_eq!(r.read_state("x").unwrap(), b"new");
    assert!(!root.join(".nuvosync/x.tmp").exists());
}

#[test]
fn trash_fallback_keeps_the_data() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("x/y")).unwrap();
    std::fs::write(d.path().join("x/y/f"), b"keep me").unwrap();
    let r = root_at(d.path());
    assert_eq!(
        r.to_trash("/x", "stamp", None).unwrap(),
        Trashed::Pair("/.nuvosync/trash/stamp/x".into())
    );
    assert!(!d.path().join("x").exists());
    assert_eq!(
        std::fs::read(d.path().join(".nuvosync/trash/stamp/x/y/f")).unwrap(),
        b"keep me"
    );
    // The same name again: kept beside, not over.
    std::fs::create_dir_all(d.path().join("x")).unwrap();
    r.to_trash("/x", "stamp", None).unwrap();
    assert!(d.path().join(".nuvosync/trash/stamp/x.2").is_dir());
}

/// The desktop's trash is used when moving there is a rename; on another device (a copy
/// and a delete, which could lose what changes meanwhile) the pair's own trash is.
#[test]
fn the_desktop_trash_only_by_rename() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("f"), b"one").unwrap();
    let fs = real();
    let os = OsTrash::at(&fs, &d.path().join("Trash")).unwrap();
    let r = root_at(&root);
    assert_eq!(r.to_trash("/f", "s", Some(&os)).unwrap(), Trashed::Os);
    assert_eq!(
        std::fs::read(d.path().join("Trash/files/f")).unwrap(),
        b"one"
    );
    let info = std::fs::read_to_string(d.path().join("Trash/info/f.trashinfo")).unwrap();
    assert!(info.starts_with("[Trash Info]\nPath=/"), "{info}");
    // Another device: /dev/shm is a tmpfs of its own where there is one.
    let shm = Path::new("/dev/shm");
    let other_dev =
        std::fs::metadata(shm).is_ok_and(|m| m.dev() != std::fs::metadata(d.path()).unwrap().dev());
    if other_dev {
        let far = tempfile::tempdir_in(shm).unwrap();
        let os = OsTrash::at(&fs, far.path()).unwrap();
        std::fs::write(root.join("g"), b"two").unwrap();
        assert_eq!(
            r.to_trash("/g", "s", Some(&os)).unwrap(),
            Trashed::Pair("/.nuvosync/trash/s/g".into())
        );
        assert_eq!(names(&far.path().join("files")), Vec::<String>::new());
        assert_eq!(
            names(&far.path().join("info")),
            Vec::<String>::new(),
            "the reserved name is given back"
        );
    } else {
        eprintln!("SKIPPED (part): no second file system at /dev/shm");
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn the_pair_trash_is_pruned_by_age_then_size() {
    let d = tempfile::tempdir().unwrap();
    let r = root_at(d.path());
    let day = 86_400;
    let now = 1_800_000_000i64;
    let stamp = |t: i64| nuvosync_dropbox::client::timestamp(t).replace(':', ".");
    for (age_days, size) in [(40, 10), (10, 100), (5, 1000), (1, 10)] {
        let s = stamp(now - age_days * day);
        std::fs::create_dir_all(d.path().join(format!(".nuvosync/trash/{s}/sub"))).unwrap();
        std::fs::write(
            d.path().join(format!(".nuvosync/trash/{s}/sub/f")),
            vec![0u8; size],
        )
        .unwrap();
    }
    // 30 days: the 40-day-old batch goes.
    assert_eq!(r.prune_trash(now, 30 * day, u64::MAX).unwrap(), (1, 10));
    // 500 bytes: the oldest batches go until the rest fits.
    assert_eq!(r.prune_trash(now, 30 * day, 500).unwrap(), (2, 1100));
    let left = names(&d.path().join(".nuvosync/trash"));
    assert_eq!(left, [stamp(now - day)]);
}

#[test]
fn a_file_is_proven_by_its_content() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("f");
    std::fs::write(&p, b"version 1").unwrap();
    let r = root_at(d.path());
    let md = std::fs::metadata(&p).unwrap();
    let node = LocalNode {
        path: "/f".into(),
        inode: md.ino(),
        kind: LocalKind::File {
            size: md.len(),
            mtime_ns: super::mtime_ns(&md),
            hash: ContentHash::of(b"version 1"),
        },
    };
    assert_eq!(r.proven("/f", &node).unwrap(), Proof::Same);
    // Edited in place, same size, the time put back.
    let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.write_all(b"version 2").unwrap();
    f.set_modified(md.modified().unwrap()).unwrap();
    drop(f);
    assert!(matches!(
        r.proven("/f", &node).unwrap(),
        Proof::Edited { hash, .. } if hash == ContentHash::of(b"version 2")
    ));
    std::fs::write(&p, b"longer version 3").unwrap();
    assert_eq!(r.proven("/f", &node).unwrap(), Proof::Changed);
}

// ------------------------------------------------------------ the power-cut twin

fn twin() -> (tempfile::TempDir, Arc<PowerCut>, Root) {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("root")).unwrap();
    let pc = Arc::new(PowerCut::new(&d.path().join("scratch")).unwrap());
    let fs: Arc<dyn Fs> = pc.clone();
    let r = Root::open(fs, &d.path().join("root")).unwrap();
    (d, pc, r)
}

#[test]
fn a_power_cut_undoes_what_was_not_synced() {
    let (d, pc, r) = twin();
    let root = d.path().join("root");
    // Durable: a state file written the careful way.
    r.write_state("m", b"one").unwrap();
    // Not durable: a file created and renamed, no syncs.
    let fs = r.fs().clone();
    let mut f = fs.create(r.dir(), "new", 0o644).unwrap();
    f.write_all(b"data").unwrap();
    fs.rename(r.dir(), "new", r.dir(), "placed", true).unwrap();
    // Renamed and its folder synced, but its data never synced: an empty file.
    let mut g = fs.create(r.dir(), "g", 0o644).unwrap();
    g.write_all(b"lost data").unwrap();
    fs.sync_dir(r.dir(), "").unwrap();
    let cut = pc.cut(0);
    assert_eq!(cut.undone, 0, "{cut:?}");
    assert_eq!(std::fs::read(root.join(".nuvosync/m")).unwrap(), b"one");
    assert_eq!(std::fs::read(root.join("placed")).unwrap(), b"");
    assert_eq!(std::fs::read(root.join("g")).unwrap(), b"");
    // A replaced state file whose folder was not synced comes back as the old one.
    fs.create(r.dir(), ".nuvosync/m.tmp", 0o600)
        .unwrap()
        .write_all(b"two")
        .unwrap();
    fs.rename(r.dir(), ".nuvosync/m.tmp", r.dir(), ".nuvosync/m", false)
        .unwrap();
    let cut = pc.cut(0);
    assert_eq!(cut.undone, 2, "{cut:?}");
    assert_eq!(std::fs::read(root.join(".nuvosync/m")).unwrap(), b"one");
    assert!(!root.join(".nuvosync/m.tmp").exists());
    // Removals come back too.
    fs.remove_file(r.dir(), "g").unwrap();
    pc.cut(0);
    assert!(root.join("g").exists());
}

#[test]
fn after_the_power_goes_off_nothing_happens() {
    let (d, pc, r) = twin();
    pc.arm(Some(pc.ops() + 2));
    let fs = r.fs().clone();
    fs.mkdir(r.dir(), "a", None).unwrap();
    fs.sync_dir(r.dir(), "").unwrap();
    assert!(fs.mkdir(r.dir(), "b", None).is_err());
    assert!(pc.is_off());
    assert!(fs.barrier().is_err());
    assert!(fs.stat(r.dir(), "a").is_err());
    let cut = pc.cut(0);
    assert_eq!(cut.ops, 2);
    assert!(d.path().join("root/a").is_dir(), "synced: kept");
    assert!(!d.path().join("root/b").exists());
    // Back on.
    fs.mkdir(r.dir(), "c", None).unwrap();
}
