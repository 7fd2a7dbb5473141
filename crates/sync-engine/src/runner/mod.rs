//! Continuous sync of one pair: a file-system watcher (one watch per synced folder, placed by
//! the scans; none on nuvosync's own, excluded or ignored folders: see `watch`), Dropbox's longpoll, and periodic rescans for
//! changes no event announces (other hosts on a network file system), feeding one loop that
//! observes, plans and executes. What they report waits in [`Triggers`] — coalesced and
//! bounded; a lost event queue (`IN_Q_OVERFLOW`) or too long a burst is one full rescan. Idle means idle: every task waits on
//! an event, a longpoll or a timer.
//!
//! [`Runner::spawn`] returns a handle; dropping it (or [`Runner::stop`]) stops the work. A
//! stop lets in-flight operations finish their current step: what completed is recorded,
//! what did not is re-planned at the next start (downloads leave no partial file behind,
//! upload sessions resume).

use crate::events::{Event, PairState};
use crate::pair::{Pair, PauseReason, SyncError, lock, now};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

mod triggers;
mod watch;

use watch::Watch;

#[cfg(feature = "testing")]
pub use triggers::Pending;
pub use triggers::{MAX_PENDING_PATHS, Triggers};

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
    /// Watch at most this many folders (`None`: as many as the system allows), leaving file
    /// watches to other programs of the user. Folders past it, or past the system's limit,
    /// are rescanned on their own (see `unwatched_rescan`).
    pub max_watches: Option<usize>,
    /// The shortest time between two rescans of the folders that could not be watched. Each
    /// also waits ten times as long as the last round took, so on a huge unwatched tree they
    /// take at most a tenth of the time.
    pub unwatched_rescan: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            watch: true,
            rescan_interval: Duration::from_secs(60),
            paused: false,
            longpoll_secs: 60,
            max_watches: None,
            unwatched_rescan: Duration::from_secs(10),
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
    /// File events are being watched (of some folders at least, when `watch_problem` says
    /// the watch limit was reached).
    pub watching: bool,
    /// Why file events are not watched, if they should be.
    pub watch_problem: Option<String>,
    /// The guard pause reason, if any.
    pub pause: Option<PauseReason>,
}

impl RunStatus {
    /// The state to show for the pair when `conflicts` unresolved conflicts wait: an up to
    /// date pair with conflicts to review needs the user's attention too.
    pub fn shown_state(&self, conflicts: u64) -> PairState {
        if self.state == PairState::UpToDate && conflicts > 0 {
            PairState::Attention
        } else {
            self.state.clone()
        }
    }
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
    /// The lost link was announced (until a run succeeds again).
    auth_told: AtomicBool,
    wake: Notify,
    status: Mutex<RunStatus>,
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
            auth_told: AtomicBool::new(false),
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

    /// Pause: no more operations start; the operations of a round finish, big transfers stop
    /// (their progress is kept: they go on after the resume).
    pub fn pause(&self) {
        self.control.paused.store(true, Ordering::SeqCst);
        self.pair.stage.abort_all();
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
        // Big transfers stop where they are (an upload session's progress is stored, a
        // download is staged): the next start goes on with them.
        self.pair.stage.stop().await;
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        self.control.wake.notify_one();
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.pair.stage.stop_now();
    }
}

/// How long a stopping pair may take to finish its current step.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// The hint for a full inotify watch table.
pub const WATCH_LIMIT_HINT: &str = "the system's limit of file watches (inotify) is reached, so changes in the folders past it are found by rescans of those folders (every 10 s or more) — raise it with `sudo sysctl fs.inotify.max_user_watches=524288` (and put `fs.inotify.max_user_watches=524288` in /etc/sysctl.d/90-nuvosync.conf to keep it)";

async fn longpoll_loop(
    pair: Arc<Pair>,
    control: Arc<Control>,
    triggers: Arc<Triggers>,
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
                    triggers.remote();
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
                triggers.remote();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                failures += 1;
                tracing::debug!(pair = %pair.spec.name, "longpoll failed: {e}");
                tokio::time::sleep(crate::RETRY_RUN.delay(failures)).await;
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

/// Read the ignore file again (the exclusions stay as they are).
fn reload_rules(pair: &Pair) {
    let excluded = pair.rules().excluded().to_vec();
    pair.reload_rules(&excluded);
}

async fn run(pair: Arc<Pair>, control: Arc<Control>, opts: RunOptions) {
    let triggers = Arc::new(Triggers::default());
    // Big transfers run in the pair's transfer stage, across rounds (see `crate::stage`).
    pair.stage
        .start(Arc::downgrade(&pair) as std::sync::Weak<Pair>);
    let watcher = if opts.watch {
        match Watch::start(pair.root(), triggers.clone(), opts.max_watches) {
            Ok(w) => {
                // The scans place the watches (see `watch`): the first one watches everything.
                *lock(&pair.watch) = Some(w.shared.clone());
                watch_status(&control, &pair, &w);
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
        triggers.clone(),
        opts.longpoll_secs,
    ));
    let mut rescan = tokio::time::interval_at(
        tokio::time::Instant::now() + opts.rescan_interval,
        opts.rescan_interval,
    );
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut full = true; // start with a full scan
    // The ignore file was read for the full look that is pending (see below).
    let mut rules_read = false;
    let mut scopes: BTreeSet<String> = BTreeSet::new();
    let mut remote = true;
    let mut retry_in: Option<Duration> = None;
    let mut failures = 0u32;
    // The next rescan of the folders past the watch limit (none while every folder is watched).
    let mut unwatched_at: Option<tokio::time::Instant> = None;
    // When the memory the last round freed goes back to the system (once the pair has been
    // idle for `SETTLE`).
    let mut release_at: Option<tokio::time::Instant> = None;
    loop {
        if control.stop.load(Ordering::SeqCst) {
            break;
        }
        // What came in meanwhile (also while paused: it is kept, bounded).
        let came = triggers.take();
        remote |= came.remote;
        if came.full {
            full = true;
            // The patterns first (an edit of the ignore file sets this off): a folder they no
            // longer ignore is watched from now on.
            reload_rules(&pair);
            rules_read = true;
            // The full scan watches every folder again, those the limit left out included.
            if let Some(w) = watcher.as_ref() {
                w.take_unwatched();
            }
        }
        // New folders among the paths are watched by the scan, before it lists them.
        scopes.extend(came.paths);
        if full || scopes.len() > MAX_PENDING_PATHS {
            full = true;
            scopes.clear();
        }
        let have_work = full || remote || !scopes.is_empty();
        if !have_work || control.paused.load(Ordering::SeqCst) {
            // Wait for something to happen.
            let timer = sleep_until_or_never(retry_in.map(|d| tokio::time::Instant::now() + d));
            let unwatched_timer = sleep_until_or_never(unwatched_at);
            let release_timer = sleep_until_or_never(release_at);
            tokio::select! {
                _ = triggers.wake.notified() => {
                    // Coalesce a burst of events.
                    tokio::time::sleep(COALESCE).await;
                }
                _ = rescan.tick() => full = true,
                _ = control.wake.notified() => { full = true; remote = true; }
                _ = timer => { retry_in = None; full = true; remote = true; }
                // What the watch limit left unwatched: try to watch it again (the limit may
                // have been raised), then look at it (after the watch: nothing is missed).
                _ = unwatched_timer => {
                    unwatched_at = None;
                    if let Some(w) = watcher.as_ref() {
                        let again = w.take_unwatched();
                        if again.contains("") {
                            full = true;
                        } else {
                            scopes.extend(again);
                        }
                    }
                }
                // A big transfer ended: what waited for its path is planned now.
                _ = pair.stage.ended.notified() => remote = true,
                // Idle for a while: what the rounds freed goes back to the system.
                _ = release_timer => {
                    release_at = None;
                    crate::pair::blocking(|| {
                        if let Some(w) = watcher.as_ref() {
                            w.compact();
                        }
                        crate::release_freed_memory();
                    });
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
        // The ignore file may have been edited by hand: a full look takes it up again (an
        // edit of it sets one off), so new patterns apply without a restart.
        if full && !std::mem::take(&mut rules_read) {
            reload_rules(&pair);
        }
        // A round runs in turn with the ends of big transfers (see `crate::stage`).
        let turn = pair.stage.turn.clone().lock_owned().await;
        let round_started = tokio::time::Instant::now();
        let result = async {
            pair.begin()?;
            pair.check_account().await?;
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
        drop(turn);
        // A big transfer that failed for good stops the pair as the round would have.
        let result = match (result, pair.stage.take_fatal()) {
            (Ok(_), Some(e)) => Err(e),
            (r, _) => r,
        };
        // Between runs the pair's folder is not held open (its drive can be unmounted).
        pair.release_files();
        // Folders past the watch limit are looked at again after a while: at least the set
        // interval, and ten times what this round took (a tenth of the time at most).
        if let Some(w) = watcher.as_ref() {
            watch_status(&control, &pair, w);
        }
        if watcher.as_ref().is_some_and(|w| w.unwatched() > 0) {
            let wait = opts.unwatched_rescan.max(round_started.elapsed() * 10);
            unwatched_at.get_or_insert_with(|| tokio::time::Instant::now() + wait);
        } else {
            unwatched_at = None;
        }
        full = false;
        remote = false;
        scopes.clear();
        match result {
            Ok(_) => {
                failures = 0;
                retry_in = None;
                control.auth_told.store(false, Ordering::SeqCst);
                // Up to date means nothing is in flight either.
                let busy = pair.stage.busy() > 0;
                set(&control, &pair, |s| {
                    if !busy {
                        s.last_sync = Some(now());
                    }
                    if paused_by_user(s) {
                        return; // paused while this step ran: the pause stands
                    }
                    s.state = if busy {
                        PairState::Syncing
                    } else {
                        PairState::UpToDate
                    };
                    s.message = None;
                    s.code = None;
                    s.pause = None;
                });
                // Idle now: what the round freed goes back to the system once nothing else
                // came for a while (memory the round's helpers free as they wind down too).
                release_at = (!busy).then(|| tokio::time::Instant::now() + SETTLE);
            }
            Err(SyncError::Paused(reason)) => {
                control.paused.store(true, Ordering::SeqCst);
                // A guard stops everything: big transfers too (they go on after the resume).
                pair.stage.cancel().await;
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
                    s.state = if reason.needs_user() {
                        PairState::Attention
                    } else {
                        PairState::Paused
                    };
                    s.message = Some(message);
                    s.code = Some(code);
                    s.pause = Some(reason.clone());
                });
                // A missing folder may come back by itself: look again now and then (one
                // moved on Dropbox may be moved back; nothing is synced until it is).
                match reason {
                    PauseReason::MissingRoot { .. } => {
                        control.paused.store(false, Ordering::SeqCst);
                        retry_in = Some(Duration::from_secs(10));
                    }
                    PauseReason::RemoteFolderGone { .. } => {
                        control.paused.store(false, Ordering::SeqCst);
                        retry_in = Some(Duration::from_secs(30));
                    }
                    _ => {}
                }
            }
            Err(SyncError::Remote(e)) if e.is_auth() => {
                let msg = e.to_string();
                tracing::error!(pair = %pair.spec.name, "{msg}");
                // Nothing is deleted because of this; wait for a new link (resume/wake).
                control.paused.store(true, Ordering::SeqCst);
                pair.stage.cancel().await;
                let first = !control.auth_told.swap(true, Ordering::SeqCst);
                set(&control, &pair, |s| {
                    s.state = PairState::Error;
                    s.message = Some(msg.clone());
                    s.code = Some("auth".into());
                });
                // Said once, so the user can sign in again (a notification in the app).
                if first {
                    pair.events.send(Event::Paused {
                        pair: pair.spec.name.clone(),
                        message: msg,
                        code: "auth".into(),
                    });
                }
            }
            Err(e) => {
                failures += 1;
                let offline =
                    matches!(&e, SyncError::Remote(r) if r.is_offline() || r.is_retryable());
                let delay = crate::RETRY_RUN.delay(failures);
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
    // Scans after this one (a front end's) place no watches.
    *lock(&pair.watch) = None;
    drop(watcher);
    pair.stage.stop().await;
}

/// Sleep until `at`; without one, never wake.
async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// How long the loop waits after a file event for the rest of its burst.
const COALESCE: Duration = Duration::from_millis(50);

/// How long a pair stays idle before the memory its rounds freed goes back to the system
/// (`malloc_trim`: freed heap that glibc would keep for reuse). Trimming right when a round
/// ended left tens of MB with the process: the round's helpers still freed theirs after it.
const SETTLE: Duration = Duration::from_secs(2);

/// Say in the status whether the watch limit left folders unwatched (and how to raise it).
fn watch_status(control: &Control, pair: &Pair, w: &Watch) {
    let (watched, unwatched) = (w.watched(), w.unwatched());
    let problem = w
        .trouble()
        .or_else(|| (unwatched > 0).then(|| WATCH_LIMIT_HINT.to_string()));
    if problem.is_some() && lock(&control.status).watch_problem.is_none() {
        tracing::warn!(
            pair = %pair.spec.name,
            unwatched,
            watched,
            "watch limit reached: the folders past it are rescanned on their own"
        );
    }
    // Before the first scan nothing is watched yet, but events are being waited for.
    let watching = w.trouble().is_none();
    set(control, pair, |s| {
        s.watching = watching;
        s.watch_problem = problem;
    });
}
