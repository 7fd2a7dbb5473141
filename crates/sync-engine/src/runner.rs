//! Continuous sync of one pair: a file-system watcher (debounced), Dropbox's longpoll, and
//! periodic rescans for changes no event announces (other hosts on a network file system),
//! feeding one loop that observes, plans and executes. Idle means idle: every task waits on
//! an event, a longpoll or a timer.
//!
//! [`Runner::spawn`] returns a handle; dropping it (or [`Runner::stop`]) stops the work. A
//! stop lets in-flight operations finish their current step: what completed is recorded,
//! what did not is re-planned at the next start (downloads leave no partial file behind,
//! upload sessions resume).

use crate::events::{Event, PairState};
use crate::pair::{Pair, PauseReason, SyncError, lock, now};
use notify_debouncer_full::notify::{self, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, new_debouncer_opt};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// How a pair runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Watch the folder for file events.
    pub watch: bool,
    /// Full rescan interval.
    pub rescan_interval: Duration,
    /// Start paused.
    pub paused: bool,
    /// Longpoll timeout in seconds (30..480).
    pub longpoll_secs: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            watch: true,
            rescan_interval: Duration::from_secs(60),
            paused: false,
            longpoll_secs: 60,
        }
    }
}

/// The live state of a running pair.
#[derive(Clone, Debug, Serialize)]
pub struct RunStatus {
    /// State.
    pub state: PairState,
    /// Why it is paused or failing, and what to do.
    pub message: Option<String>,
    /// Machine code of the pause reason or error.
    pub code: Option<String>,
    /// Last time everything was in sync (seconds since the epoch).
    pub last_sync: Option<i64>,
    /// File events are being watched.
    pub watching: bool,
    /// Why file events are not watched, if they should be.
    pub watch_problem: Option<String>,
    /// The guard pause reason, if any.
    pub pause: Option<PauseReason>,
}

impl Default for RunStatus {
    fn default() -> Self {
        RunStatus {
            state: PairState::Syncing,
            message: None,
            code: None,
            last_sync: None,
            watching: false,
            watch_problem: None,
            pause: None,
        }
    }
}

struct Control {
    paused: AtomicBool,
    stop: AtomicBool,
    wake: Notify,
    status: Mutex<RunStatus>,
}

enum Trigger {
    Paths(Vec<String>),
    Remote,
    WatchLost(String),
}

/// A running pair. Dropping it stops it.
pub struct Runner {
    pair: Arc<Pair>,
    control: Arc<Control>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Runner {
    /// Start continuous sync of `pair`.
    pub fn spawn(pair: Arc<Pair>, opts: RunOptions) -> Runner {
        let control = Arc::new(Control {
            paused: AtomicBool::new(opts.paused),
            stop: AtomicBool::new(false),
            wake: Notify::new(),
            status: Mutex::new(RunStatus::default()),
        });
        if opts.paused {
            let mut s = lock(&control.status);
            s.state = PairState::Paused;
            s.pause = Some(PauseReason::User);
            s.message = Some(PauseReason::User.to_string());
        }
        let task = tokio::spawn(run(pair.clone(), control.clone(), opts));
        Runner {
            pair,
            control,
            task: Some(task),
        }
    }

    /// The pair.
    pub fn pair(&self) -> &Arc<Pair> {
        &self.pair
    }

    /// The live status.
    pub fn status(&self) -> RunStatus {
        lock(&self.control.status).clone()
    }

    /// Pause: no more operations start (the current ones finish).
    pub fn pause(&self) {
        self.control.paused.store(true, Ordering::SeqCst);
        let mut s = lock(&self.control.status);
        s.state = PairState::Paused;
        s.pause = Some(PauseReason::User);
        s.message = Some(PauseReason::User.to_string());
        s.code = Some("user".into());
        drop(s);
        self.pair.events.send(Event::State {
            pair: self.pair.spec.name.clone(),
            state: PairState::Paused,
        });
    }

    /// Resume (after a user pause or a guard). With `confirm_deletes`, the deletions a guard
    /// held back go ahead.
    pub fn resume(&self, confirm_deletes: bool) {
        if confirm_deletes {
            self.pair.confirm_deletes();
        }
        self.control.paused.store(false, Ordering::SeqCst);
        {
            let mut s = lock(&self.control.status);
            s.pause = None;
            s.message = None;
            s.code = None;
            s.state = PairState::Syncing;
        }
        self.control.wake.notify_one();
    }

    /// Look at everything now (full rescan and pull).
    pub fn sync_now(&self) {
        self.control.wake.notify_one();
    }

    /// Stop: the current step gets a few seconds to finish; then it is abandoned, which is
    /// safe at any point (downloads land only by an atomic rename, upload sessions resume, and
    /// what was not recorded is planned again at the next start).
    pub async fn stop(mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        self.control.wake.notify_one();
        if let Some(mut t) = self.task.take() {
            if tokio::time::timeout(STOP_GRACE, &mut t).await.is_err() {
                t.abort();
                let _ = t.await;
            }
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        self.control.wake.notify_one();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// How long a stopping pair may take to finish its current step.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// The hint for a full inotify watch table.
pub const WATCH_LIMIT_HINT: &str = "the system's limit of file watches (inotify) is reached, so changes here are found by periodic rescans only — raise it with `sudo sysctl fs.inotify.max_user_watches=524288` (and put `fs.inotify.max_user_watches=524288` in /etc/sysctl.d/90-nuvosync.conf to keep it)";

fn start_watcher(
    pair: &Pair,
    tx: mpsc::UnboundedSender<Trigger>,
) -> Result<Debouncer<RecommendedWatcher, NoCache>, String> {
    let root = pair.root().to_path_buf();
    let state_dir = root.join(crate::rules::STATE_DIR);
    let events_tx = tx.clone();
    let handler = move |res: DebounceEventResult| match res {
        Ok(events) => {
            let mut paths = BTreeSet::new();
            for e in events {
                // Opening or reading a file or folder changes nothing, and the engine's own
                // scans and uploads open everything they look at: only a close after writing
                // counts among the access events (else every scan would set off the next).
                if let notify::EventKind::Access(a) = e.event.kind {
                    if !matches!(
                        a,
                        notify::event::AccessKind::Close(notify::event::AccessMode::Write)
                    ) {
                        continue;
                    }
                }
                for p in &e.event.paths {
                    if p.starts_with(&state_dir) {
                        continue;
                    }
                    if let Ok(rel) = p.strip_prefix(&root) {
                        paths.insert(if rel.as_os_str().is_empty() {
                            String::new()
                        } else {
                            format!("/{}", rel.to_string_lossy())
                        });
                    }
                }
            }
            if !paths.is_empty() {
                let _ = events_tx.send(Trigger::Paths(paths.into_iter().collect()));
            }
        }
        Err(errors) => {
            let full = errors
                .iter()
                .any(|e| matches!(e.kind, notify::ErrorKind::MaxFilesWatch));
            let msg = if full {
                WATCH_LIMIT_HINT.to_string()
            } else {
                format!(
                    "file events were lost ({:?}); rescanning",
                    errors.first().map(|e| e.to_string())
                )
            };
            let _ = events_tx.send(Trigger::WatchLost(msg));
        }
    };
    let mut d = new_debouncer_opt::<_, RecommendedWatcher, NoCache>(
        Duration::from_millis(100),
        Some(Duration::from_millis(25)),
        handler,
        NoCache,
        notify::Config::default(),
    )
    .map_err(|e| format!("cannot watch for file events: {e}"))?;
    if std::env::var_os("NUVOSYNC_FAKE_WATCH_LIMIT").is_some() {
        // Test hook: behave as if the inotify table were full.
        return Err(WATCH_LIMIT_HINT.to_string());
    }
    d.watch(pair.root(), RecursiveMode::Recursive)
        .map_err(|e| match e.kind {
            notify::ErrorKind::MaxFilesWatch => WATCH_LIMIT_HINT.to_string(),
            _ => format!(
                "cannot watch {} for file events ({e}); changes are found by periodic rescans",
                pair.root().display()
            ),
        })?;
    Ok(d)
}

async fn longpoll_loop(
    pair: Arc<Pair>,
    control: Arc<Control>,
    tx: mpsc::UnboundedSender<Trigger>,
    timeout: u64,
) {
    let mut failures = 0u32;
    while !control.stop.load(Ordering::SeqCst) {
        let cursor = pair.with_index(|ix| ix.meta("cursor")).ok().flatten();
        let Some(cursor) = cursor else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        match pair.remote().longpoll(&cursor, timeout).await {
            Ok((changes, backoff)) => {
                failures = 0;
                if changes {
                    let _ = tx.send(Trigger::Remote);
                }
                if let Some(b) = backoff {
                    tokio::time::sleep(Duration::from_secs(b)).await;
                }
                // The main loop moves the cursor on; do not spin on an already-reported change.
                let next = pair.with_index(|ix| ix.meta("cursor")).ok().flatten();
                if changes && next.as_deref() == Some(cursor.as_str()) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Err(nuvosync_dropbox::Error::CursorReset) => {
                let _ = tx.send(Trigger::Remote);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                failures += 1;
                tracing::debug!(pair = %pair.spec.name, "longpoll failed: {e}");
                tokio::time::sleep(Duration::from_secs((1u64 << failures.min(6)).min(60))).await;
            }
        }
    }
}

/// The user pressed pause (possibly while a step was running; its end must not undo that).
fn paused_by_user(s: &RunStatus) -> bool {
    matches!(s.pause, Some(PauseReason::User))
}

fn set(control: &Control, pair: &Pair, f: impl FnOnce(&mut RunStatus)) {
    let mut s = lock(&control.status);
    let before = s.state.clone();
    f(&mut s);
    let after = s.state.clone();
    drop(s);
    if before != after {
        pair.events.send(Event::State {
            pair: pair.spec.name.clone(),
            state: after,
        });
    }
}

async fn run(pair: Arc<Pair>, control: Arc<Control>, opts: RunOptions) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Trigger>();
    let watcher = if opts.watch {
        match start_watcher(&pair, tx.clone()) {
            Ok(w) => {
                set(&control, &pair, |s| s.watching = true);
                Some(w)
            }
            Err(msg) => {
                tracing::warn!(pair = %pair.spec.name, "{msg}");
                set(&control, &pair, |s| s.watch_problem = Some(msg.clone()));
                None
            }
        }
    } else {
        None
    };
    let poller = tokio::spawn(longpoll_loop(
        pair.clone(),
        control.clone(),
        tx.clone(),
        opts.longpoll_secs,
    ));
    let mut rescan = tokio::time::interval_at(
        tokio::time::Instant::now() + opts.rescan_interval,
        opts.rescan_interval,
    );
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut full = true; // start with a full scan
    let mut scopes: BTreeSet<String> = BTreeSet::new();
    let mut remote = true;
    let mut retry_in: Option<Duration> = None;
    let mut failures = 0u32;
    loop {
        if control.stop.load(Ordering::SeqCst) {
            break;
        }
        let have_work = full || remote || !scopes.is_empty();
        if !have_work || control.paused.load(Ordering::SeqCst) {
            // Wait for something to happen.
            let timer = async {
                match retry_in {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                t = rx.recv() => match t {
                    Some(Trigger::Paths(p)) => scopes.extend(p),
                    Some(Trigger::Remote) => remote = true,
                    Some(Trigger::WatchLost(msg)) => {
                        full = true;
                        if msg == WATCH_LIMIT_HINT {
                            set(&control, &pair, |s| { s.watching = false; s.watch_problem = Some(msg.clone()); });
                        }
                    }
                    None => break,
                },
                _ = rescan.tick() => full = true,
                _ = control.wake.notified() => { full = true; remote = true; }
                _ = timer => { retry_in = None; full = true; remote = true; }
            }
            // Coalesce a burst of events.
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(t) = rx.try_recv() {
                match t {
                    Trigger::Paths(p) => scopes.extend(p),
                    Trigger::Remote => remote = true,
                    Trigger::WatchLost(_) => full = true,
                }
            }
            continue;
        }
        // Work.
        set(&control, &pair, |s| {
            if !paused_by_user(s) {
                s.state = PairState::Syncing;
            }
        });
        let result = async {
            pair.begin()?;
            if full || !scopes.is_empty() {
                // The walk and Dropbox's answer overlap.
                let list: Vec<String> = if full {
                    scopes.clear();
                    Vec::new()
                } else {
                    std::mem::take(&mut scopes).into_iter().collect()
                };
                let (scanned, pulled) = pair.observe(&list).await;
                scanned?;
                pulled?;
            } else {
                pair.pull().await?;
            }
            pair.converge(false).await
        }
        .await;
        // Between runs the pair's folder is not held open (its drive can be unmounted).
        pair.release_files();
        full = false;
        remote = false;
        scopes.clear();
        match result {
            Ok(_) => {
                failures = 0;
                retry_in = None;
                set(&control, &pair, |s| {
                    s.last_sync = Some(now());
                    if paused_by_user(s) {
                        return; // paused while this step ran: the pause stands
                    }
                    s.state = PairState::UpToDate;
                    s.message = None;
                    s.code = None;
                    s.pause = None;
                });
            }
            Err(SyncError::Paused(reason)) => {
                control.paused.store(true, Ordering::SeqCst);
                let code = serde_json::to_value(&reason)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str().map(str::to_string)))
                    .unwrap_or_default();
                let message = reason.to_string();
                pair.events.send(Event::Paused {
                    pair: pair.spec.name.clone(),
                    message: message.clone(),
                    code: code.clone(),
                });
                tracing::warn!(pair = %pair.spec.name, "paused: {message}");
                set(&control, &pair, |s| {
                    s.state = PairState::Paused;
                    s.message = Some(message);
                    s.code = Some(code);
                    s.pause = Some(reason.clone());
                });
                // A missing folder may come back by itself: look again now and then.
                if matches!(reason, PauseReason::MissingRoot { .. }) {
                    control.paused.store(false, Ordering::SeqCst);
                    retry_in = Some(Duration::from_secs(10));
                }
            }
            Err(SyncError::Remote(e)) if e.is_auth() => {
                let msg = e.to_string();
                tracing::error!(pair = %pair.spec.name, "{msg}");
                // Nothing is deleted because of this; wait for a new link (resume/wake).
                control.paused.store(true, Ordering::SeqCst);
                set(&control, &pair, |s| {
                    s.state = PairState::Error;
                    s.message = Some(msg);
                    s.code = Some("auth".into());
                });
            }
            Err(e) => {
                failures += 1;
                let offline =
                    matches!(&e, SyncError::Remote(r) if r.is_offline() || r.is_retryable());
                let delay = Duration::from_secs((1u64 << failures.min(6)).min(60));
                let msg = e.to_string();
                tracing::warn!(pair = %pair.spec.name, retry_in_s = delay.as_secs(), "{msg}");
                retry_in = Some(delay);
                set(&control, &pair, |s| {
                    if paused_by_user(s) {
                        return;
                    }
                    s.state = if offline {
                        PairState::Offline
                    } else {
                        PairState::Error
                    };
                    s.message = Some(if offline {
                        format!("{msg} (retrying in {} s)", delay.as_secs())
                    } else {
                        msg
                    });
                    s.code = Some(if offline {
                        "offline".into()
                    } else {
                        "error".into()
                    });
                });
            }
        }
    }
    poller.abort();
    drop(watcher);
}
