use super::hash::{READ_AHEAD_FROM, READ_BUF, hash_read_ahead, hash_reading};
use super::paths::outermost;
use super::*;
use sync_core::LocalKind;
use sync_core::path::is_within;

#[test]
fn both_ways_of_reading_give_the_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    // Around the read-ahead threshold, Dropbox's 4 MiB blocks and the read buffer.
    for size in [
        0,
        1,
        READ_BUF - 1,
        READ_BUF + 1,
        sync_core::BLOCK_SIZE,
        READ_AHEAD_FROM as usize - 1,
        READ_AHEAD_FROM as usize,
        READ_AHEAD_FROM as usize + sync_core::BLOCK_SIZE + 12_345,
    ] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + i / 4099) as u8).collect();
        let p = dir.path().join(format!("f{size}"));
        std::fs::write(&p, &data).unwrap();
        let want = ContentHash::of(&data);
        let mut f = std::fs::File::open(&p).unwrap();
        assert_eq!(hash_reading(&mut f).unwrap().finish(), want, "size {size}");
        let mut f = std::fs::File::open(&p).unwrap();
        assert_eq!(
            hash_read_ahead(&mut f).unwrap().finish(),
            want,
            "size {size}"
        );
        let sig = sig_of(&std::fs::metadata(&p).unwrap());
        assert_eq!(hash_file(&p, &sig).unwrap(), Some(want), "size {size}");
    }
}

fn rules() -> Rules {
    Rules::new(&[])
}

fn scan(root: &Path, prev: &[(String, Sig)]) -> ScanResult {
    let r = rules();
    Scanner {
        root,
        rules: &r,
        threads: 2,
        watch: None,
    }
    .scan(&[], prev, &|_, _| None)
    .unwrap()
}

#[test]
fn a_folder_and_a_file_in_it_scan_the_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("bulk")).unwrap();
    std::fs::create_dir_all(root.join("bulk x")).unwrap();
    for name in ["bulk/f1.txt", "bulk/f2.txt", "bulk x/g.txt"] {
        std::fs::write(root.join(name), name).unwrap();
    }
    let r = rules();
    let scopes: Vec<String> = ["/bulk/f1.txt", "/bulk", "/bulk x/g.txt", "/bulk/f1.txt"]
        .map(String::from)
        .to_vec();
    let got = Scanner {
        root,
        rules: &r,
        threads: 2,
        watch: None,
    }
    .scan(&scopes, &[], &|_, _| None)
    .unwrap();
    let mut paths: Vec<_> = got.found.iter().map(|f| f.node.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/bulk", "/bulk x/g.txt", "/bulk/f1.txt", "/bulk/f2.txt"]
    );
    assert!(got.clashes.is_empty(), "{:?}", got.clashes);
    assert_eq!(
        outermost(&["/a/x".into(), "/a b".into(), "/a".into(), "/a".into()]),
        ["/a", "/a b"]
    );
}

#[test]
fn finds_files_and_skips_what_cannot_sync() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/b/x.txt"), b"hello").unwrap();
    std::fs::write(root.join("desktop.ini"), b"").unwrap();
    std::fs::write(root.join("~$lock.docx"), b"").unwrap();
    std::fs::write(root.join("trailing "), b"").unwrap();
    std::os::unix::fs::symlink("a", root.join("link")).unwrap();
    std::fs::create_dir_all(root.join(".nuvosync")).unwrap();
    std::fs::write(root.join(".nuvosync/marker"), b"").unwrap();
    let r = scan(root, &[]);
    let paths: Vec<_> = r.found.iter().map(|f| f.node.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/a/b", "/a/b/x.txt"]);
    assert_eq!(r.found[2].node.hash(), Some(ContentHash::of(b"hello")));
    let mut codes: Vec<_> = r.issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            ("/desktop.ini", "not_synced"),
            ("/link", "symlink"),
            ("/trailing ", "bad_name")
        ]
    );
}

#[test]
fn names_are_judged_as_they_are_on_disk() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A real U+FFFD is a valid name; a byte that is not UTF-8 is not.
    std::fs::write(root.join("replacement \u{FFFD}.txt"), b"ok").unwrap();
    std::fs::write(
        root.join(std::ffi::OsStr::from_bytes(b"latin1 \xe9.txt")),
        b"no",
    )
    .unwrap();
    let r = scan(root, &[]);
    let paths: Vec<_> = r.found.iter().map(|f| f.node.path.as_str()).collect();
    assert_eq!(paths, ["/replacement \u{FFFD}.txt"]);
    assert_eq!(r.issues.len(), 1);
    assert_eq!(r.issues[0].code, "bad_name");
    assert!(r.issues[0].message.contains("UTF-8"));
}

#[test]
fn unchanged_files_are_not_hashed_again_and_gone_ones_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("keep"), b"k").unwrap();
    std::fs::write(root.join("gone"), b"g").unwrap();
    let first = scan(root, &[]);
    let prev: Vec<(String, Sig)> = first
        .found
        .iter()
        .map(|f| {
            (
                f.node.path.clone(),
                sig_of(
                    &std::fs::symlink_metadata(root.join(f.node.path.trim_start_matches('/')))
                        .unwrap(),
                ),
            )
        })
        .collect();
    std::fs::remove_file(root.join("gone")).unwrap();
    let second = scan(root, &prev);
    assert!(second.found.is_empty());
    assert_eq!(second.hashed, 0);
    assert_eq!(second.gone, ["/gone"]);
}

/// Signatures that take `delay_ms` to load.
struct Late<'a> {
    prev: &'a [(String, Sig)],
    delay_ms: u64,
    loaded: &'a std::sync::atomic::AtomicBool,
}

impl Previous for Late<'_> {
    fn sigs(&self) -> Sigs {
        std::thread::sleep(std::time::Duration::from_millis(self.delay_ms));
        let sigs = self.prev.sigs();
        self.loaded.store(true, std::sync::atomic::Ordering::SeqCst);
        sigs
    }

    fn paths(&self, each: &mut dyn FnMut(&str)) {
        self.prev.paths(each);
        // A row the index gained after the signatures were read: not known to this scan,
        // so not gone either.
        each("/d1/written-after-the-signatures-were-read");
    }
}

/// Holds each folder's listing back until the signatures are loaded.
struct AfterLoad<'a>(&'a std::sync::atomic::AtomicBool);

impl WatchDirs for AfterLoad<'_> {
    fn watch(&self, _: &str, _: &Path) {
        while !self.0.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[test]
fn the_walk_holds_only_what_changed_once_the_signatures_are_in_and_finds_the_same_either_way() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..3000 {
        let d = root.join(format!("d{}", i % 30));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i}")), i.to_string()).unwrap();
    }
    let first = scan(root, &[]);
    // A first scan, everything new: made into nodes as the walk goes, not held until it ends
    // (it held all 3,030).
    assert!(
        first.held <= WAITING_AT_MOST + 2,
        "the first walk held {} entries",
        first.held
    );
    let stat = |p: &str| sig_of(&std::fs::symlink_metadata(root.join(&p[1..])).unwrap());
    let prev: Vec<(String, Sig)> = first
        .found
        .iter()
        .map(|f| (f.node.path.clone(), stat(&f.node.path)))
        .collect();
    assert_eq!(prev.len(), 3030);
    // Ten edited (another size), ten deleted, ten new, in three folders.
    for i in 0..10 {
        std::fs::write(root.join(format!("d0/f{}", i * 30)), "edited!").unwrap();
        std::fs::remove_file(root.join(format!("d1/f{}", i * 30 + 1))).unwrap();
        std::fs::write(root.join(format!("d2/new{i}")), "new").unwrap();
    }
    let r = rules();
    let run = |load_first: bool, delay_ms: u64| {
        let loaded = std::sync::atomic::AtomicBool::new(false);
        let wait = AfterLoad(&loaded);
        let got = Scanner {
            root,
            rules: &r,
            threads: 2,
            watch: load_first.then_some(&wait as &dyn WatchDirs),
        }
        .scan_loading(
            &[],
            &Late {
                prev: &prev,
                delay_ms,
                loaded: &loaded,
            },
            &|_, _| None,
        )
        .unwrap();
        let mut found: Vec<String> = got.found.iter().map(|f| f.node.path.clone()).collect();
        found.sort();
        let mut gone = got.gone.clone();
        gone.sort();
        (got.entries, got.held, found, gone)
    };
    let (entries, held, found, gone) = run(true, 0);
    assert_eq!(entries, 3030);
    let mut want_found: Vec<String> = (0..10)
        .flat_map(|i| [format!("/d0/f{}", i * 30), format!("/d2/new{i}")])
        .collect();
    want_found.sort();
    let mut want_gone: Vec<String> = (0..10).map(|i| format!("/d1/f{}", i * 30 + 1)).collect();
    want_gone.sort();
    assert_eq!(found, want_found);
    assert_eq!(gone, want_gone);
    // Only what differs was held: not the 3,000 unchanged entries.
    assert!(held <= 25, "the walk held {held} entries");
    // Signatures that come late (the walk is done first, or half done): the same answer.
    for delay in [300, 5, 0] {
        let (e, h, f, g) = run(false, delay);
        assert_eq!((e, &f, &g), (entries, &found, &gone), "loaded after {delay} ms");
        if delay == 300 {
            // The walk waits for signatures that come late once it holds `WAITING_AT_MOST`
            // entries (and then holds only what differs).
            assert!(
                (WAITING_AT_MOST..=WAITING_AT_MOST + 25).contains(&h),
                "the walk held {h} entries waiting for late signatures"
            );
        }
    }
}

/// Signatures whose loading panics.
struct Broken;

impl Previous for Broken {
    fn sigs(&self) -> Sigs {
        std::thread::sleep(std::time::Duration::from_millis(50));
        panic!("the index could not be read");
    }

    fn paths(&self, _: &mut dyn FnMut(&str)) {}
}

#[test]
fn a_walk_waiting_for_signatures_whose_loading_panics_ends_with_that_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    for i in 0..(4 * WAITING_AT_MOST) {
        std::fs::write(root.join(format!("f{i}")), "x").unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = rules();
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Scanner {
                root: &root,
                rules: &r,
                threads: 2,
                watch: None,
            }
            .scan_loading(&[], &Broken, &|_, _| None)
            .map(|r| r.entries)
        }));
        let _ = tx.send(got.is_err());
    });
    // Not a walk stuck waiting for signatures that never come.
    let panicked = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the scan ended");
    assert!(panicked, "the loading's panic reaches the scan's caller");
}

#[test]
fn merging_scopes_takes_n_log_n() {
    // Disjoint paths (nothing inside another): every one is kept, the worst case of a
    // comparison against every kept scope.
    let paths =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("/d{}/f{i}", i % 997)).collect() };
    let time = |p: &[String]| {
        crate::timing::best_of(2, || {
            let t = std::time::Instant::now();
            assert_eq!(outermost(p).len(), p.len());
            t.elapsed()
        })
    };
    let (small, large) = (paths(10_000), paths(100_000));
    // n log n: about 12.5 times for ten times the paths; n²: 100.
    crate::timing::assert_scales(time(&small), time(&large), 35.0);
    // Nesting is still seen through names that sort between a folder and its contents.
    let mut nested = vec!["/a".to_string(), "/a b".into(), "/a-c/x".into()];
    nested.extend((0..1000).map(|i| format!("/a/{i}")));
    assert_eq!(outermost(&nested), ["/a", "/a b", "/a-c/x"]);
}

#[test]
fn a_burst_of_deleted_files_is_found_gone_in_linear_time() {
    // n files deleted at once: the watcher hands over n paths, the index knows n
    // signatures within them, and every one must be found gone. Matching each known path
    // against every scope would take n² comparisons.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in 0..97 {
        std::fs::create_dir_all(root.join(format!("d{d}"))).unwrap();
    }
    let r = rules();
    let time = |n: usize| {
        let paths: Vec<String> = (0..n).map(|i| format!("/d{}/f{i}", i % 97)).collect();
        let prev: Vec<(String, Sig)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let sig = Sig {
                    folder: false,
                    inode: i as u64 + 1,
                    size: 1,
                    mtime_ns: 1,
                    ctime_ns: 1,
                };
                (p.clone(), sig)
            })
            .collect();
        let t = std::time::Instant::now();
        let got = Scanner {
            root,
            rules: &r,
            threads: 2,
            watch: None,
        }
        .scan(&paths, &prev, &|_, _| None)
        .unwrap();
        let took = t.elapsed();
        assert_eq!(got.gone.len(), n);
        took
    };
    // The set says what `is_within` against each says.
    let scopes: Vec<String> = ["/a", "/b/c", "/d e/f"].map(String::from).to_vec();
    let set = PathSet::new(&scopes);
    for p in [
        "/a", "/a/x", "/ab", "/b", "/b/c/d/e", "/b/cd", "/d e/f/g", "/d", "",
    ] {
        let want = scopes.iter().any(|s| is_within(p, s));
        assert_eq!(set.holds(p), want, "{p:?}");
    }
    assert!(PathSet::new(&[String::new()]).holds("/anything"));
    assert!(!PathSet::new::<String>(&[]).holds("/anything"));
    // Linear: about 10 times for ten times the paths (more where the larger sets leave
    // the CPU caches, on a busy host); n²: 100.
    crate::timing::assert_scales(time(10_000), time(100_000), 40.0);
}

#[test]
fn clashing_names_keep_the_synced_one() {
    let n = |p: &str| Found {
        key: key(p),
        node: LocalNode {
            path: p.into(),
            inode: 1,
            kind: LocalKind::Folder,
        },
        ctime_ns: None,
    };
    let (owners, clashes) = resolve_clashes(
        vec![n("/A.txt"), n("/a.txt")],
        &|_| Some("/a.txt".into()),
        &|_| true,
    );
    assert_eq!(owners[0].node.path, "/a.txt");
    assert_eq!(clashes[0].path, "/A.txt");
    // The indexed owner still exists under its name: the newcomer clashes.
    let (owners, clashes) =
        resolve_clashes(vec![n("/README")], &|_| Some("/readme".into()), &|_| true);
    assert!(owners.is_empty());
    assert_eq!(clashes[0].path, "/README");
    // A case-only rename: the old name is gone, the new one takes the key.
    let (owners, _) = resolve_clashes(vec![n("/README")], &|_| Some("/readme".into()), &|_| false);
    assert_eq!(owners[0].node.path, "/README");
}

/// The clash rules written the plain way (group by key, sort each group, the first owns it),
/// against which the in-place version is checked.
fn clashes_by_groups(
    found: Vec<Found>,
    hint: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&str) -> bool,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut groups: std::collections::BTreeMap<String, Vec<Found>> = Default::default();
    for f in found {
        groups.entry(f.key.to_string()).or_default().push(f);
    }
    let (mut owners, mut clashes) = (Vec::new(), Vec::new());
    for (k, mut group) in groups {
        let h = hint(&k);
        if let Some(h) = &h {
            if !group.iter().any(|f| &f.node.path == h) && exists(h) {
                clashes.extend(group.into_iter().map(|f| f.node.path));
                continue;
            }
        }
        group.sort_by_key(|f| (h.as_deref() != Some(f.node.path.as_str()), f.node.path.clone()));
        group.dedup_by(|a, b| a.node.path == b.node.path);
        let mut it = group.into_iter();
        if let Some(first) = it.next() {
            owners.push((first.key.to_string(), first.node.path));
        }
        clashes.extend(it.map(|f| f.node.path));
    }
    (owners, clashes)
}

/// Random names that fold onto each other (case, repeats), random hints and random "still on
/// disk" answers: the owners (in key order) and the clashes are those of the plain rules.
#[test]
fn clashes_resolved_in_place_are_those_of_the_plain_rules() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let n = |p: &str, inode: u64| Found {
        key: key(p),
        node: LocalNode {
            path: p.into(),
            inode,
            kind: LocalKind::Folder,
        },
        ctime_ns: None,
    };
    for round in 0..300 {
        let names: Vec<String> = (0..rng.random_range(0..40))
            .map(|_| {
                let stem: String = (0..rng.random_range(1..3))
                    .map(|_| ['a', 'A', 'b', 'B'][rng.random_range(0..4)])
                    .collect();
                format!("/d{}/{stem}", rng.random_range(0..2))
            })
            .collect();
        let found = || -> Vec<Found> {
            names.iter().enumerate().map(|(i, p)| n(p, i as u64)).collect()
        };
        let mut hinted = std::collections::HashMap::new();
        let mut on_disk = std::collections::HashSet::new();
        for p in &names {
            if rng.random_bool(0.5) {
                let h = if rng.random_bool(0.3) {
                    p.to_uppercase()
                } else {
                    p.clone()
                };
                if rng.random_bool(0.5) {
                    on_disk.insert(h.clone());
                }
                hinted.insert(key(p).to_string(), h);
            }
        }
        let hint = |k: &str| hinted.get(k).cloned();
        let exists = |p: &str| on_disk.contains(p);
        let (owners, clashes) = resolve_clashes(found(), &hint, &exists);
        let (want_owners, want_clashes) = clashes_by_groups(found(), &hint, &exists);
        let got: Vec<(String, String)> = owners
            .iter()
            .map(|f| (f.key.to_string(), f.node.path.clone()))
            .collect();
        assert_eq!(got, want_owners, "round {round}: {names:?}");
        let (mut got, mut want) = (
            clashes.into_iter().map(|c| c.path).collect::<Vec<_>>(),
            want_clashes,
        );
        got.sort();
        want.sort();
        assert_eq!(got, want, "round {round}: {names:?}");
    }
}

/// Records the folders a scan is about to list.
struct Recorder {
    root: PathBuf,
    seen: Mutex<Vec<String>>,
}

impl WatchDirs for Recorder {
    fn watch(&self, rel: &str, dir: &Path) {
        assert_eq!(dir, self.root.join(rel.trim_start_matches('/')), "{rel}");
        self.seen.lock().unwrap().push(rel.to_string());
    }
}

/// Each folder the scan walks is told to the watcher once; excluded
/// and ignored folders (and what is below them) are not walked, so not told either. A scoped
/// scan tells the folders of its scope.
#[test]
fn the_watcher_is_told_each_walked_folder_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in ["a/b/c", "a/skip/x", "big/inner", "node_modules/pkg", "e"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("a/b/file.txt"), b"f").unwrap();
    std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
    std::fs::write(root.join(crate::rules::IGNORE_FILE), b"node_modules/\nskip/\n").unwrap();
    let r = Rules::load(root, &["/big".to_string()]).0;
    let rec = Recorder {
        root: root.to_path_buf(),
        seen: Mutex::new(Vec::new()),
    };
    let scanner = Scanner {
        root,
        rules: &r,
        threads: 2,
        watch: Some(&rec),
    };
    scanner.scan(&[], &[], &|_, _| None).unwrap();
    let mut got = std::mem::take(&mut *rec.seen.lock().unwrap());
    got.sort();
    let want: Vec<String> = ["", "/a", "/a/b", "/a/b/c", "/e"]
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(got, want);
    scanner
        .scan(&["/a/b".to_string()], &[], &|_, _| None)
        .unwrap();
    let mut got = std::mem::take(&mut *rec.seen.lock().unwrap());
    got.sort();
    assert_eq!(got, want[2..4].to_vec());
}
