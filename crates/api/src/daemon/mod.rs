//! The running service: one continuous runner per pair, the aggregated event stream, and
//! the handler of every [`Command`]. The daemon serves it on the control socket; the tray app
//! embeds it in-process.
//!
//! One file per command family: `handle` dispatches every command; `status` answers the
//! status and activity; `conflicts` the conflicts and a file's status; `versions` a file's
//! versions, deleted files and the Dropbox folder tree; `settings` the settings, the excluded
//! folders and the snooze; `account` the account and linking.

mod account;
mod conflicts;
mod handle;
mod settings;
mod status;
mod versions;

use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use crate::service::Service;
use nuvosync_dropbox::LinkSession;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync_engine::engine::PairHandle;
use sync_engine::{Event, RunOptions, Runner};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn now() -> i64 {
    sync_engine::engine::now()
}

struct Transfer {
    dto: TransferDto,
    started: Instant,
}

/// The running nuvosync.
pub struct Daemon {
    service: Arc<Service>,
    runners: tokio::sync::Mutex<HashMap<String, Runner>>,
    events: broadcast::Sender<EventDto>,
    transfers: Mutex<BTreeMap<(String, String), Transfer>>,
    account: Mutex<Option<AccountDto>>,
    link: Mutex<Option<Arc<LinkSession>>>,
    snoozed_until: Mutex<Option<i64>>,
    /// Cancelled when a `stop` command arrives (whoever runs the daemon decides what follows).
    stop_asked: CancellationToken,
    /// Cancelled when the daemon shuts down: its own tasks end.
    stop: CancellationToken,
    /// The daemon's own tasks (the event forwarder, the control socket and its
    /// connections): shutting down waits for them.
    tasks: TaskTracker,
    /// Runs the pairs (false: answers one-shot commands only).
    runs_pairs: bool,
}

impl Daemon {
    /// Start: a runner for every pair (when an account is linked) and the event stream.
    pub async fn start(service: Arc<Service>) -> Arc<Daemon> {
        let d = Self::make(service, true);
        d.start_runners().await;
        d
    }

    /// The command handler without running any pair (one-shot CLI commands without a daemon).
    pub fn idle(service: Arc<Service>) -> Arc<Daemon> {
        Self::make(service, false)
    }

    fn make(service: Arc<Service>, runs_pairs: bool) -> Arc<Daemon> {
        let (events, _) = broadcast::channel(4096);
        let snoozed_until = settings::load_snooze(&service.paths().state_dir);
        let d = Arc::new(Daemon {
            service,
            runners: tokio::sync::Mutex::new(HashMap::new()),
            events,
            transfers: Mutex::new(BTreeMap::new()),
            account: Mutex::new(None),
            link: Mutex::new(None),
            snoozed_until: Mutex::new(snoozed_until),
            stop_asked: CancellationToken::new(),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            runs_pairs,
        });
        let rx = d.service.events().subscribe();
        d.tasks
            .spawn(Self::forward(Arc::downgrade(&d), rx, d.stop.clone()));
        d
    }

    /// The service.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Listen to events.
    pub fn subscribe(&self) -> broadcast::Receiver<EventDto> {
        self.events.subscribe()
    }

    /// Resolves when a `stop` command arrives.
    pub async fn stopped(&self) {
        self.stop_asked.cancelled().await;
    }

    /// Cancelled when the daemon shuts down: for the tasks that run beside it.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Run `task` as one of the daemon's own: [`Daemon::shutdown`] waits for it, so it must
    /// end once [`Daemon::stopping`] is cancelled.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Shut down: tell the daemon's tasks (the control socket takes no more commands), stop
    /// every runner (in-flight steps finish; the rest is re-planned next start), then wait
    /// for the daemon's tasks to end.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let runners: Vec<Runner> = self.runners.lock().await.drain().map(|(_, r)| r).collect();
        for r in runners {
            r.stop().await;
        }
        self.tasks.close();
        self.tasks.wait().await;
    }

    async fn forward(
        me: std::sync::Weak<Daemon>,
        mut rx: broadcast::Receiver<Event>,
        stop: CancellationToken,
    ) {
        loop {
            let received = tokio::select! {
                _ = stop.cancelled() => return,
                r = rx.recv() => r,
            };
            let e = match received {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(d) = me.upgrade() else { return };
            let dto = match e {
                Event::Progress {
                    pair,
                    path,
                    direction,
                    done,
                    total,
                } => {
                    let mut t = d.transfers.lock();
                    let entry = t
                        .entry((pair.clone(), path.clone()))
                        .or_insert_with(|| Transfer {
                            dto: TransferDto {
                                pair: pair.clone(),
                                path: path.clone(),
                                direction: direction.clone(),
                                done: 0,
                                total,
                                bytes_per_sec: 0.0,
                                eta_secs: None,
                            },
                            started: Instant::now(),
                        });
                    let secs = entry.started.elapsed().as_secs_f64().max(0.001);
                    entry.dto.done = done;
                    entry.dto.total = total;
                    entry.dto.bytes_per_sec = done as f64 / secs;
                    entry.dto.eta_secs = (entry.dto.bytes_per_sec > 0.0)
                        .then(|| (total.saturating_sub(done)) as f64 / entry.dto.bytes_per_sec);
                    let transfer = entry.dto.clone();
                    if done >= total {
                        t.remove(&(pair, path));
                    }
                    EventDto::Progress { transfer }
                }
                e => {
                    if let Event::Synced { pair, path, .. } = &e {
                        d.transfers.lock().remove(&(pair.clone(), path.clone()));
                    }
                    EventDto::Pair(e)
                }
            };
            let _ = d.events.send(dto);
        }
    }

    async fn start_runners(&self) {
        if !self.runs_pairs || self.service.credential().is_err() {
            return;
        }
        // No pair runs here while another nuvosync runs them (the daemon and the app take
        // the lock themselves at start, to refuse to start; this is the last line).
        if let Err(e) = self.service.claim() {
            tracing::error!("{e}");
            return;
        }
        for p in self.service.pairs() {
            self.start_runner(&p.name).await;
        }
    }

    async fn start_runner(&self, name: &str) {
        if !self.runs_pairs {
            return;
        }
        let Some(cfg) = self.service.config().pair(name).cloned() else {
            return;
        };
        let mut runners = self.runners.lock().await;
        if runners.contains_key(name) {
            return;
        }
        match self.service.pair(name) {
            Ok(pair) => {
                let opts = RunOptions {
                    watch: cfg.watch,
                    rescan_interval: Duration::from_secs(cfg.rescan_interval_secs.max(1)),
                    paused: cfg.paused,
                    ..RunOptions::default()
                };
                runners.insert(name.to_string(), pair.run(opts));
            }
            Err(e) => tracing::error!(pair = name, "cannot start: {e}"),
        }
    }

    /// Run `f` on the pair `name` with its runner stopped; the runner starts again whatever
    /// `f` answers.
    async fn with_runner_stopped<T>(
        &self,
        name: &str,
        f: impl AsyncFnOnce(PairHandle) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.service
            .config()
            .pair(name)
            .ok_or_else(|| not_found(name))?;
        self.stop_runner(name).await;
        let out = match self.service.pair(name) {
            Ok(p) => f(p).await,
            Err(e) => Err(e),
        };
        self.start_runner(name).await;
        out
    }

    async fn stop_runner(&self, name: &str) {
        let r = self.runners.lock().await.remove(name);
        if let Some(r) = r {
            r.stop().await;
        }
    }

    fn pair_names(&self, pair: &Option<String>) -> Result<Vec<String>, ApiError> {
        match pair {
            Some(p) => {
                self.service.config().pair(p).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::NotFound,
                        format!("no pair named {p:?} — see `nuvosync pair list`"),
                    )
                })?;
                Ok(vec![p.clone()])
            }
            None => Ok(self.service.pairs().into_iter().map(|p| p.name).collect()),
        }
    }

    async fn kick(&self, pair: &str) {
        if let Some(r) = self.runners.lock().await.get(pair) {
            r.sync_now();
        }
    }

    fn set_paused(&self, name: &str, paused: bool) -> Result<(), ApiError> {
        self.service.update_config(|c| {
            if let Some(p) = c.pairs.iter_mut().find(|p| p.name == name) {
                p.paused = paused;
            }
            Ok(())
        })?;
        Ok(())
    }
}

fn rel(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn not_found(pair: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no pair named {pair:?} — see `nuvosync pair list`"),
    )
}
