//! The client against the in-process emulator over HTTPS: every call, errors classified,
//! retries through injected faults, token refresh.

use bytes::Bytes;
use dropbox_emulator::{Config, Faults, TestServer};
use nuvosync_dropbox::{
    Client, Commit, Conflict, Credential, Endpoints, Entry, Error, Secret, WriteMode,
};
use sync_core::ContentHash;

async fn server(lifetime: u64) -> TestServer {
    let config = Config {
        accounts: vec![("ada".into(), "tok-ada".into())],
        token_lifetime_secs: lifetime,
        ..Config::default()
    };
    TestServer::start(config, true).await.unwrap()
}

fn client(s: &TestServer, credential: Credential) -> Client {
    let mut e = Endpoints::single(&s.url).unwrap();
    e.ca_file = s.ca_file.clone();
    Client::new(e, credential).unwrap()
}

fn either(token: &str) -> Credential {
    Credential::Either {
        token: Secret::new(token),
        app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
    }
}

#[tokio::test]
async fn files_round_trip_over_https() {
    let s = server(14_400).await;
    let c = client(&s, either("tok-ada"));
    let acct = c.account().await.unwrap();
    assert_eq!(acct.email, "ada@example.com");

    let up = c
        .upload(
            &Commit::strict("/Org/Space/a.txt", None),
            Bytes::from_static(b"hello"),
        )
        .await
        .unwrap();
    assert_eq!(up.content_hash, ContentHash::of(b"hello"));
    assert_eq!(
        up.path_display, "/Org/Space/a.txt",
        "paths are relative to the app folder"
    );
    // A stale rev is a conflict, never an overwrite.
    let v2 = c
        .upload(
            &Commit::strict("/Org/Space/a.txt", Some(up.rev.clone())),
            Bytes::from_static(b"v2"),
        )
        .await
        .unwrap();
    let err = c
        .upload(
            &Commit::strict("/Org/Space/a.txt", Some(up.rev.clone())),
            Bytes::from_static(b"v3"),
        )
        .await
        .unwrap_err();
    assert_eq!(err, Error::Conflict(Conflict::File));

    let page = c.list_folder("", true, None).await.unwrap();
    let paths: Vec<_> = page
        .entries
        .iter()
        .map(|e| e.path_display().to_string())
        .collect();
    assert_eq!(paths, ["/Org", "/Org/Space", "/Org/Space/a.txt"]);

    let (meta, _len, mut body) = c.download("/org/space/A.TXT").await.unwrap();
    let mut data = Vec::new();
    futures_util::AsyncReadExt::read_to_end(&mut body, &mut data)
        .await
        .unwrap();
    assert_eq!(data, b"v2");
    assert_eq!(meta.rev, v2.rev);

    // Sessions: three chunks, then a batch commit.
    let sid = c
        .session_start(Bytes::from_static(b"abc"), false)
        .await
        .unwrap();
    let err = c
        .session_append(&sid, 0, Bytes::from_static(b"zzz"), false)
        .await
        .unwrap_err();
    assert_eq!(err, Error::IncorrectOffset { correct_offset: 3 });
    c.session_append(&sid, 3, Bytes::from_static(b"def"), true)
        .await
        .unwrap();
    let res = c
        .finish_batch(&[(sid, 6, Commit::strict("/big.bin", None))])
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap().content_hash,
        ContentHash::of(b"abcdef")
    );

    let moved = c.move_entry("/Org", "/Org2").await.unwrap();
    assert!(matches!(moved, Entry::Folder(_)));
    assert_eq!(
        c.get_metadata("/Org/Space/a.txt", false).await.unwrap(),
        None
    );
    let deleted = c
        .delete_batch(&[("/org2/space/a.txt".into(), None), ("/nope".into(), None)])
        .await
        .unwrap();
    assert!(deleted[0].is_ok());
    assert_eq!(deleted[1].clone().unwrap_err(), Error::NotFound);
    let revs = c.list_revisions("/org2/space/a.txt", 10).await.unwrap();
    assert_eq!(revs.len(), 2);
    let back = c.restore("/org2/space/a.txt", &revs[1].rev).await.unwrap();
    assert_eq!(back.content_hash, ContentHash::of(b"hello"));
    let _ = WriteMode::Overwrite;
}

#[tokio::test]
async fn faults_are_retried_transparently() {
    let s = server(14_400).await;
    let c = client(&s, either("tok-ada"));
    c.account().await.unwrap(); // refresh happens first, without faults
    *s.emulator.faults.write() = Faults {
        p_server_error: 0.3,
        p_rate_limit: 0.2,
        p_write_contention: 0.2,
        retry_after_secs: 0,
        ..Faults::default()
    };
    for i in 0..20 {
        let data = Bytes::from(format!("file {i}"));
        let r = c
            .upload(&Commit::strict(format!("/f{i}"), None), data.clone())
            .await;
        // A retried commit may find its own first attempt already there: same content.
        match r {
            Ok(e) => assert_eq!(e.content_hash, ContentHash::of(&data)),
            Err(Error::Conflict(Conflict::File)) => {
                let Some(Entry::File(e)) = c.get_metadata(&format!("/f{i}"), false).await.unwrap()
                else {
                    panic!()
                };
                assert_eq!(e.content_hash, ContentHash::of(&data));
            }
            Err(e) => panic!("upload {i}: {e}"),
        }
    }
    assert!(
        c.transport()
            .stats
            .retries
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}

#[tokio::test]
async fn expired_tokens_are_refreshed_and_revoked_ones_are_reported() {
    let s = server(200).await; // shorter than the refresh margin: refreshed before each use
    let c = client(
        &s,
        Credential::Refresh {
            refresh_token: Secret::new("tok-ada"),
            app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
        },
    );
    c.account().await.unwrap();
    let before = c.transport().authorizer().refresh_count();
    c.space_usage().await.unwrap();
    assert!(
        c.transport().authorizer().refresh_count() > before,
        "a token close to expiry is refreshed"
    );

    // A fixed access token cannot be refreshed; after revoke it is refused with a clear message.
    let fixed = client(&s, Credential::Access(Secret::new("tok-ada")));
    fixed.account().await.unwrap();
    fixed.revoke().await.unwrap();
    let err = fixed.account().await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert!(err.to_string().contains("nuvosync link"));
    assert!(!err.to_string().contains("tok-ada"));
}

#[tokio::test]
async fn cut_off_and_garbled_answers_are_retried_and_then_named() {
    use dropbox_emulator::faults::{Corrupt, Corruption};
    let s = server(14_400).await;
    let c = client(&s, either("tok-ada"));
    c.upload(&Commit::strict("/d/a.txt", None), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let spoil = |kind, count| Corruption {
        route: "files/list_folder".into(),
        kind,
        count,
    };
    // One of each: the retry gets a whole answer.
    s.emulator.faults.write().corrupt = vec![
        spoil(Corrupt::MalformedJson, 1),
        spoil(Corrupt::TruncatedBody, 1),
    ];
    let page = c.list_folder("/d", true, None).await.unwrap();
    assert_eq!(page.entries.len(), 2, "{page:?}");
    assert!(s.emulator.faults.read().corrupt.is_empty());
    // Garbled every time: after the retries, an error that says what it is and what to do.
    s.emulator.faults.write().corrupt = vec![spoil(Corrupt::MalformedJson, 100)];
    let err = c.list_folder("/d", true, None).await.unwrap_err();
    assert!(matches!(err, Error::Garbled(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("proxy"), "{err}");
    // Downloads: metadata that is not JSON is retried too.
    s.emulator.faults.write().corrupt = vec![Corruption {
        route: "files/download".into(),
        kind: Corrupt::MalformedJson,
        count: 1,
    }];
    let (meta, _, _) = c.download("/d/a.txt").await.unwrap();
    assert_eq!(meta.content_hash, ContentHash::of(b"a"));
}

#[tokio::test]
async fn longpoll_goes_without_authorization_and_sees_a_change() {
    let s = server(14_400).await;
    let c = client(&s, either("tok-ada"));
    let cursor = c.latest_cursor("", true).await.unwrap();
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move { c.longpoll(&cursor, 30).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    c.upload(&Commit::strict("/new.txt", None), Bytes::from_static(b"n"))
        .await
        .unwrap();
    let (changes, _) = waiting
        .await
        .unwrap()
        .expect("Dropbox refuses a longpoll carrying a token");
    assert!(changes);
}

/// Names as they are on disks: every kind of Unicode scalar a file name may hold, above
/// U+FFFF (emoji, historic scripts) included, with the characters JSON must escape.
fn any_name() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        "[a-zA-Z0-9 ._-]{1,4}",
        Just("🎉".to_string()),
        Just("\u{1F600}\u{1F3FD}".to_string()),
        Just("\u{10348}".to_string()),
        Just("\u{1F38}9".to_string()),
        Just("\"'{}".to_string()),
        Just("\u{e9}e\u{301}\u{4e2d}\u{fffd}".to_string()),
        any::<char>()
            .prop_filter("a name character", |c| !c.is_control()
                && *c != '/'
                && *c != '\\')
            .prop_map(String::from),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|v| {
        let n: String = v.concat();
        let n = n.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
        if n.is_empty() {
            "x".to_string()
        } else {
            format!("n{n}")
        }
    })
}

#[test]
fn every_name_survives_upload_session_finish_and_download() {
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(server(14_400));
    let c = client(&s, either("tok-ada"));
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 48,
        ..proptest::test_runner::Config::default()
    });
    // Each case in folders of its own, so that a failing case (and its shrinking) is not
    // disturbed by what an earlier one left.
    let case = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&any_name(), |name| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (p, s) = (format!("/p{n}"), format!("/s{n}"));
            rt.block_on(async {
                // Dropbox keeps names composed (NFC): what comes back is the composed name.
                let want: String = name.nfc().collect();
                let data = Bytes::from(format!("content of {name}"));
                let one = c
                    .upload(&Commit::strict(format!("{p}/{name}"), None), data.clone())
                    .await
                    .map_err(|e| TestCaseError::fail(format!("upload {name:?}: {e}")))?;
                prop_assert_eq!(&one.path_display, &format!("{p}/{want}"));
                let session = c
                    .session_start(data.clone(), true)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("session {name:?}: {e}")))?;
                let two = c
                    .session_finish(
                        &session,
                        data.len() as u64,
                        &Commit::strict(format!("{s}/{name}"), None),
                        Bytes::new(),
                    )
                    .await
                    .map_err(|e| TestCaseError::fail(format!("finish {name:?}: {e}")))?;
                prop_assert_eq!(&two.path_display, &format!("{s}/{want}"));
                let (meta, _, mut body) = c
                    .download(&format!("{p}/{name}"))
                    .await
                    .map_err(|e| TestCaseError::fail(format!("download {name:?}: {e}")))?;
                let mut got = vec![];
                futures_util::AsyncReadExt::read_to_end(&mut body, &mut got)
                    .await
                    .unwrap();
                prop_assert_eq!(&meta.path_display, &format!("{p}/{want}"));
                prop_assert_eq!(Bytes::from(got), data);
                Ok(())
            })
        })
        .unwrap();
}

fn client_with_stall(s: &TestServer, stall: std::time::Duration) -> Client {
    let mut e = Endpoints::single(&s.url).unwrap();
    e.ca_file = s.ca_file.clone();
    let retry = nuvosync_dropbox::transport::RetryPolicy {
        stall,
        ..Default::default()
    };
    Client::with_policy(e, either("tok-ada"), retry).unwrap()
}

#[tokio::test]
async fn a_slow_transfer_goes_on_while_it_moves_and_a_silent_answer_is_given_up() {
    let s = server(14_400).await;
    let stall = std::time::Duration::from_secs(1);
    let c = client_with_stall(&s, stall);
    // 6 MB at 2 MB/s: three times the stall time in all, but never a second without progress.
    s.emulator.faults.write().bandwidth_bytes_per_sec = 2_000_000;
    let data = Bytes::from(vec![7u8; 6_000_000]);
    let t = std::time::Instant::now();
    let up = c
        .upload(&Commit::strict("/slow.bin", None), data.clone())
        .await
        .expect("a slow upload that keeps moving is not timed out");
    assert_eq!(up.size, 6_000_000);
    assert!(t.elapsed() > 2 * stall, "the limit held: {:?}", t.elapsed());
    // And the download of it, read as slowly.
    let (_, _, mut body) = c.download("/slow.bin").await.unwrap();
    let mut got = vec![];
    futures_util::AsyncReadExt::read_to_end(&mut body, &mut got)
        .await
        .expect("a slow download that keeps moving is not timed out");
    assert_eq!(got.len(), 6_000_000);
    s.emulator.faults.write().bandwidth_bytes_per_sec = 0;

    // An answer that stops coming: given up after the stall time, as a stall (not "offline").
    {
        let mut f = s.emulator.faults.write();
        f.stall_ms = 20_000;
        f.corrupt.push(dropbox_emulator::faults::Corruption {
            route: "files/get_metadata".into(),
            kind: dropbox_emulator::faults::Corrupt::Stall,
            count: 1,
        });
    }
    let t = std::time::Instant::now();
    let e = c.get_metadata("/slow.bin", false).await.unwrap_err();
    assert_eq!(e, Error::Stalled(1));
    assert!(!e.is_offline() && e.is_retryable());
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    // The next call goes through.
    assert!(c.get_metadata("/slow.bin", false).await.unwrap().is_some());
}

#[tokio::test]
async fn a_paper_doc_lists_as_export_only_and_exports() {
    let s = server(14_400).await;
    let c = client(&s, either("tok-ada"));
    c.upload(&Commit::strict("/d/a.txt", None), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let acct = s.emulator.account("ada").unwrap();
    s.emulator
        .add_export_only(
            &acct,
            "/Apps/nuvolos.cloud/d/Notes.paper",
            "<p>hi</p>",
            "hi\n",
        )
        .unwrap();
    // The listing holding it is read whole (it failed on the missing content_hash).
    let page = c.list_folder("/d", true, None).await.unwrap();
    let doc = page
        .entries
        .iter()
        .find_map(|e| match e {
            Entry::ExportOnly(x) => Some(x.clone()),
            _ => None,
        })
        .expect("the Paper doc is listed");
    assert_eq!(doc.path_display, "/d/Notes.paper");
    assert_eq!(doc.export_as.as_deref(), Some("html"));
    assert_eq!(doc.export_options, ["html", "markdown"]);
    assert!(page.entries.iter().any(|e| matches!(e, Entry::File(_))));
    // Downloading it is refused at once, with its own error (not retried).
    let err = c.download("/d/notes.paper").await.err().unwrap();
    assert_eq!(err, Error::NotDownloadable);
    assert!(!err.is_retryable());
    // Exported: to markdown when asked.
    let (meta, name, hash, mut body) = c.export("/d/notes.paper", Some("markdown")).await.unwrap();
    let mut data = vec![];
    futures_util::AsyncReadExt::read_to_end(&mut body, &mut data)
        .await
        .unwrap();
    assert_eq!((name.as_str(), &data[..]), ("Notes.md", &b"hi\n"[..]));
    assert_eq!(hash, Some(ContentHash::of(b"hi\n")));
    assert_eq!(meta.id, doc.id);
}

/// A burst of 200 small uploads against a tight per-account load model (8 in flight, 200
/// requests/s) completes; the client's concurrency goes down on the 429s and grows again,
/// and only a small share of the requests is refused (no retry storm).
#[tokio::test]
async fn a_burst_adapts_to_the_servers_load_limit() {
    let config = Config {
        accounts: vec![("ada".into(), "tok-ada".into())],
        load: dropbox_emulator::load::LoadModel {
            max_in_flight: 8,
            rate_per_sec: 200.0,
            burst: 100,
        },
        ..Config::default()
    };
    let s = TestServer::start(config, true).await.unwrap();
    let c = std::sync::Arc::new(client(&s, either("tok-ada")));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let c = c.clone();
        tasks.spawn(async move {
            c.upload(
                &Commit::strict(format!("/burst/f{i}.txt"), None),
                Bytes::from(format!("file {i}")),
            )
            .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let t = c.transport();
    let sent = t.stats.requests.load(std::sync::atomic::Ordering::Relaxed);
    let refused = t
        .adapt
        .rate_limited
        .load(std::sync::atomic::Ordering::Relaxed);
    let server_refused = s
        .emulator
        .stats
        .load_refused
        .load(std::sync::atomic::Ordering::Relaxed);
    let h2 = s
        .emulator
        .stats
        .http2_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let share = refused as f64 / sent as f64;
    eprintln!(
        "burst: {sent} requests, {refused} answered 429 ({:.1} %), lowest limit {}, now {}, {h2} over HTTP/2",
        share * 100.0,
        t.adapt.lowest.load(std::sync::atomic::Ordering::Relaxed),
        t.adapt.limit()
    );
    assert_eq!(refused, server_refused);
    assert!(refused > 0, "the tight limit was reached");
    // Under 10 % on an idle machine; a loaded one (slower answers) sees more.
    assert!(share <= 0.25, "429 share {share}");
    assert!(t.adapt.lowest.load(std::sync::atomic::Ordering::Relaxed) <= 8);
    assert!(t.adapt.limit() > t.adapt.lowest.load(std::sync::atomic::Ordering::Relaxed) as u32);
    assert!(
        h2 >= sent,
        "every request went over HTTP/2 (ALPN h2): {h2} of {sent}"
    );
}
