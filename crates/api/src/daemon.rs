//! The running service: one continuous runner per pair, the aggregated event stream, and
//! the handler of every [`Command`]. The daemon serves it on the control socket; the tray app
//! embeds it in-process.

use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use crate::service::{AddPair, Service};
use futures_util::StreamExt;
use nuvosync_dropbox::{Entry, LinkSession};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sync_engine::{Event, PairState, RunOptions, Runner};
use tokio::sync::{Notify, broadcast};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now() -> i64 {
    sync_engine::pair::now()
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
    stop: Notify,
    stopped: AtomicBool,
    /// Runs the pairs (false: answers one-shot commands only).
    runs_pairs: bool,
}

fn state_dto(s: &PairState) -> StateDto {
    match s {
        PairState::UpToDate => StateDto::UpToDate,
        PairState::Syncing => StateDto::Syncing,
        PairState::Paused => StateDto::Paused,
        PairState::Offline => StateDto::Offline,
        PairState::Error => StateDto::Error,
    }
}

/// How bad a state is, for the overall state (higher is worse).
fn severity(s: StateDto) -> u8 {
    match s {
        StateDto::UpToDate => 0,
        StateDto::Syncing => 1,
        StateDto::Paused => 2,
        StateDto::Offline => 3,
        StateDto::Attention => 4,
        StateDto::Error => 5,
    }
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
        let snoozed_until = load_snooze(&service.paths().state_dir);
        let d = Arc::new(Daemon {
            service,
            runners: tokio::sync::Mutex::new(HashMap::new()),
            events,
            transfers: Mutex::new(BTreeMap::new()),
            account: Mutex::new(None),
            link: Mutex::new(None),
            snoozed_until: Mutex::new(snoozed_until),
            stop: Notify::new(),
            stopped: AtomicBool::new(false),
            runs_pairs,
        });
        let rx = d.service.events().subscribe();
        tokio::spawn(Self::forward(Arc::downgrade(&d), rx));
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
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        self.stop.notified().await;
    }

    /// Stop every runner (in-flight steps finish; the rest is re-planned next start).
    pub async fn shutdown(&self) {
        let runners: Vec<Runner> = self.runners.lock().await.drain().map(|(_, r)| r).collect();
        for r in runners {
            r.stop().await;
        }
    }

    async fn forward(me: std::sync::Weak<Daemon>, mut rx: broadcast::Receiver<Event>) {
        loop {
            let e = match rx.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(d) = me.upgrade() else { return };
            let dto = match e {
                Event::State { pair, state } => EventDto::State {
                    pair,
                    state: state_dto(&state),
                },
                Event::Progress {
                    pair,
                    path,
                    direction,
                    done,
                    total,
                } => {
                    let mut t = lock(&d.transfers);
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
                Event::Synced { pair, path, action } => {
                    lock(&d.transfers).remove(&(pair.clone(), path.clone()));
                    EventDto::Synced { pair, path, action }
                }
                Event::Conflict {
                    pair,
                    path,
                    copy_path,
                } => EventDto::Conflict {
                    pair,
                    path,
                    copy_path,
                },
                Event::FileError {
                    pair,
                    path,
                    message,
                } => EventDto::FileError {
                    pair,
                    path,
                    message,
                },
                Event::Paused {
                    pair,
                    message,
                    code,
                } => EventDto::Paused {
                    pair,
                    message,
                    code,
                },
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
                runners.insert(name.to_string(), Runner::spawn(pair, opts));
            }
            Err(e) => tracing::error!(pair = name, "cannot start: {e}"),
        }
    }

    /// Run `f` on the pair `name` with its runner stopped; the runner starts again whatever
    /// `f` answers.
    async fn with_runner_stopped<T>(
        &self,
        name: &str,
        f: impl AsyncFnOnce(Arc<sync_engine::Pair>) -> Result<T, ApiError>,
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

    /// Handle one command.
    pub async fn handle(&self, cmd: Command) -> Result<serde_json::Value, ApiError> {
        fn json<T: serde::Serialize>(v: T) -> Result<serde_json::Value, ApiError> {
            serde_json::to_value(v).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
        }
        // Commands that change a pair's files or index, handled in this process: not while
        // another nuvosync runs the pairs (whose socket this process may simply not see).
        if matches!(
            cmd,
            Command::RestoreApply { .. }
                | Command::RestoreContinue { .. }
                | Command::Resolve { .. }
                | Command::RebuildIndex { .. }
                | Command::ExcludedFree { .. }
                | Command::RemovePair { .. }
        ) {
            self.service.claim()?;
        }
        match cmd {
            Command::Status => json(self.status().await?),
            Command::Pause { pair } => {
                for n in self.pair_names(&pair)? {
                    self.set_paused(&n, true)?;
                    if let Some(r) = self.runners.lock().await.get(&n) {
                        r.pause();
                    }
                }
                json(())
            }
            Command::Resume {
                pair,
                confirm_deletes,
            } => {
                for n in self.pair_names(&pair)? {
                    self.set_paused(&n, false)?;
                    match self.runners.lock().await.get(&n) {
                        Some(r) => r.resume(confirm_deletes),
                        None => {
                            if confirm_deletes {
                                if let Ok(p) = self.service.pair(&n) {
                                    p.confirm_deletes();
                                }
                            }
                        }
                    }
                }
                self.start_runners().await;
                json(())
            }
            Command::SyncNow { pair } => {
                for n in self.pair_names(&pair)? {
                    if let Some(r) = self.runners.lock().await.get(&n) {
                        r.sync_now();
                    }
                }
                json(())
            }
            Command::Activity { search, limit } => {
                json(self.activity(search.as_deref(), limit.unwrap_or(200) as usize)?)
            }
            Command::Conflicts { include_resolved } => json(self.conflicts(include_resolved)?),
            Command::Revisions { pair, path } => json(self.revisions(&pair, &path).await?),
            Command::RestoreRevision { pair, path, rev } => {
                let p = self.service.pair(&pair)?;
                p.remote()
                    .restore(&p.remote_root().dropbox_path(&rel(&path)), &rev)
                    .await?;
                self.kick(&pair).await;
                json(())
            }
            Command::Deleted { pair } => json(self.deleted(&pair).await?),
            Command::RemoteFolders { pair, path } => json(self.remote_folders(&pair, &path)?),
            Command::Undelete { pair, path } => {
                let what = self.undelete(&pair, &path).await?;
                self.kick(&pair).await;
                json(what)
            }
            Command::Resolve { pair, id, choice } => {
                self.resolve(&pair, id, choice)?;
                self.kick(&pair).await;
                json(())
            }
            Command::FileStatus { path } => json(self.file_status(&path)),
            Command::ExcludedList { pair } => json(
                self.service
                    .config()
                    .pair(&pair)
                    .map(|p| p.excluded.clone())
                    .ok_or_else(|| not_found(&pair))?,
            ),
            Command::ExcludedAdd { pair, path } => {
                json(self.set_excluded(&pair, &path, true).await?)
            }
            Command::ExcludedRemove { pair, path } => {
                json(self.set_excluded(&pair, &path, false).await?)
            }
            Command::ExcludedFree { pair, path } => {
                // Not while the pair syncs: it goes on afterwards.
                let f = self
                    .with_runner_stopped(&pair, async |p| {
                        let rel = format!("/{}", path.trim_matches('/'));
                        Ok(p.free_excluded(&rel)?)
                    })
                    .await?;
                json(FreedDto {
                    trashed: f.trashed,
                    bytes: f.bytes,
                    kept: f.kept,
                })
            }
            Command::RebuildIndex { pair } => {
                self.with_runner_stopped(&pair, async |p| {
                    // Rebuilt against another account, the folder would be merged into it.
                    if let Err(e) = p.check_account().await {
                        let mut e: ApiError = e.into();
                        e.message = format!("the index was not rebuilt: {}", e.message);
                        return Err(e);
                    }
                    p.with_index(|ix| ix.reset_trees())?;
                    self.service.forget_pair(&pair);
                    Ok(())
                })
                .await?;
                json(())
            }
            Command::SettingsGet => json(self.settings()),
            Command::SettingsSet { patch } => json(self.set_settings(patch).await?),
            Command::AddPair { pair } => {
                let p = self.service.add_pair(AddPair {
                    local: pair.local.into(),
                    organization: pair.organization,
                    space: pair.space,
                    instance: pair.instance,
                    name: pair.name,
                    watch: pair.watch,
                    rescan_interval_secs: pair.rescan_interval_secs,
                    excluded: pair.excluded.unwrap_or_default(),
                })?;
                if self.service.credential().is_ok() {
                    self.start_runner(&p.name).await;
                }
                json(p.name)
            }
            Command::RemovePair { name } => {
                self.stop_runner(&name).await;
                self.service.remove_pair(&name)?;
                json(())
            }
            Command::Account => json(self.account().await?),
            Command::Doctor => json(crate::doctor::run(&self.service).await),
            Command::LinkStart { loopback, app_key } => {
                json(self.link_start(loopback, app_key).await?)
            }
            Command::LinkFinish { redirect } => json(self.link_finish(&redirect).await?),
            Command::LinkWait { timeout_secs } => json(self.link_wait(timeout_secs).await?),
            Command::Unlink => json(self.unlink().await?),
            Command::RestorePlan { pair } => {
                json(crate::restore::plan(&self.service, &pair).await?)
            }
            Command::RestoreApply { pair } => {
                self.stop_runner(&pair).await;
                let result = crate::restore::apply(&self.service, &pair).await;
                self.start_runner(&pair).await;
                json(result?)
            }
            Command::RestoreContinuePreview { pair } => {
                json(crate::restore::continue_preview(&self.service, &pair).await?)
            }
            Command::RestoreContinue { pair } => {
                crate::restore::continue_normally(&self.service, &pair)?;
                if let Some(r) = self.runners.lock().await.get(&pair) {
                    r.resume(false);
                }
                json(())
            }
            Command::Subscribe => Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "subscribe is a streaming command; use the control socket's event stream",
            )),
            Command::Stop => {
                self.stopped.store(true, Ordering::SeqCst);
                self.stop.notify_waiters();
                json(())
            }
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

    /// The status of everything.
    pub async fn status(&self) -> Result<StatusDto, ApiError> {
        let runners = self.runners.lock().await;
        let linked = self.service.credential().is_ok();
        let mut pairs = vec![];
        for cfg in self.service.pairs() {
            let run = runners.get(&cfg.name).map(|r| r.status());
            let (files, bytes, pending, conflicts, issues) = match self.service.pair(&cfg.name) {
                Ok(p) => p.with_index(|ix| {
                    let (files, bytes) = ix.synced_totals().unwrap_or((0, 0));
                    let pending = ix.count("dirty").unwrap_or(0);
                    let conflicts = ix.conflicts(false).map(|c| c.len() as u64).unwrap_or(0);
                    let issues = ix
                        .issues()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|i| IssueDto {
                            path: i.path,
                            code: i.code,
                            message: i.message,
                            since: i.since,
                        })
                        .collect::<Vec<_>>();
                    (files, bytes, pending, conflicts, issues)
                }),
                Err(_) => (0, 0, 0, 0, vec![]),
            };
            let (mut state, message, code, last_sync, watching, watch_problem) = match &run {
                Some(r) => (
                    state_dto(&r.state),
                    r.message.clone(),
                    r.code.clone(),
                    r.last_sync,
                    r.watching,
                    r.watch_problem.clone(),
                ),
                None if !linked => (
                    StateDto::Error,
                    Some("no Dropbox account is linked — run `nuvosync link`".into()),
                    Some("not_linked".into()),
                    None,
                    false,
                    None,
                ),
                None => (StateDto::Paused, None, None, None, false, None),
            };
            // A guard, a restore or conflicts need the user's attention.
            if matches!(
                code.as_deref(),
                Some("mass_delete")
                    | Some("restore_detected")
                    | Some("empty_remote")
                    | Some("unsafe_state_folder")
                    | Some("index_missing")
                    | Some("account_changed")
                    | Some("remote_folder_gone")
            ) || (state == StateDto::UpToDate && conflicts > 0)
            {
                state = StateDto::Attention;
            }
            pairs.push(PairStatusDto {
                web_url: self.service.endpoints().web_url(&format!(
                    "/Apps/{}{}",
                    nuvosync_dropbox::APP_FOLDER,
                    cfg.remote_root()
                )),
                remote_path: cfg.remote_root(),
                name: cfg.name.clone(),
                local: cfg.local.display().to_string(),
                organization: cfg.organization.clone(),
                space: cfg.space.clone(),
                instance: cfg.instance.clone(),
                state,
                message,
                code,
                last_sync,
                files,
                bytes,
                pending,
                conflicts,
                issues,
                watching,
                watch_problem,
                watch: cfg.watch,
                rescan_interval_secs: cfg.rescan_interval_secs,
                paused: cfg.paused,
            });
        }
        drop(runners);
        let transfers: Vec<TransferDto> = lock(&self.transfers)
            .values()
            .map(|t| t.dto.clone())
            .collect();
        let state = if !linked {
            StateDto::Error
        } else {
            pairs
                .iter()
                .map(|p| p.state)
                .max_by_key(|s| severity(*s))
                .unwrap_or(StateDto::UpToDate)
        };
        let summary = summary(linked, &pairs, &transfers);
        let account = lock(&self.account).clone();
        Ok(StatusDto {
            state,
            summary,
            linked,
            account,
            pairs,
            transfers,
        })
    }

    fn activity(&self, search: Option<&str>, limit: usize) -> Result<ActivityDto, ApiError> {
        let mut history = vec![];
        for cfg in self.service.pairs() {
            if let Ok(p) = self.service.pair(&cfg.name) {
                let h = p.with_index(|ix| ix.history(limit, search))?;
                history.extend(h.into_iter().map(|e| HistoryDto {
                    pair: cfg.name.clone(),
                    at: e.at,
                    action: e.action,
                    path: e.path,
                    size: e.size,
                }));
            }
        }
        history.sort_by_key(|h| std::cmp::Reverse(h.at));
        history.truncate(limit);
        let transfers = lock(&self.transfers)
            .values()
            .map(|t| t.dto.clone())
            .collect();
        Ok(ActivityDto { transfers, history })
    }

    fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictDto>, ApiError> {
        let mut out = vec![];
        for cfg in self.service.pairs() {
            let Ok(p) = self.service.pair(&cfg.name) else {
                continue;
            };
            for c in p.with_index(|ix| ix.conflicts(include_resolved))? {
                let version = |rel: &str, side: &str| {
                    let abs = cfg.local.join(rel.trim_start_matches('/'));
                    let md = std::fs::metadata(&abs).ok();
                    VersionDto {
                        path: rel.to_string(),
                        side: side.to_string(),
                        size: md.as_ref().map(|m| m.len()),
                        modified: md
                            .and_then(|m| m.modified().ok())
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_secs() as i64),
                        open_path: Some(abs.display().to_string()),
                    }
                };
                out.push(ConflictDto {
                    id: c.id,
                    pair: cfg.name.clone(),
                    at: c.at,
                    kind: c.kind,
                    resolved: c.resolved,
                    mine: version(&c.copy_path, "local"),
                    theirs: version(&c.path, "dropbox"),
                });
            }
        }
        out.sort_by(|a, b| a.resolved.cmp(&b.resolved).then(b.at.cmp(&a.at)));
        Ok(out)
    }

    async fn revisions(&self, pair: &str, path: &str) -> Result<Vec<RevisionDto>, ApiError> {
        let p = self.service.pair(pair)?;
        let revs = p
            .remote()
            .list_revisions(&p.remote_root().dropbox_path(&rel(path)), 20)
            .await?;
        Ok(revs
            .into_iter()
            .map(|r| RevisionDto {
                rev: r.rev,
                size: r.size,
                server_modified: r.server_modified,
            })
            .collect())
    }

    /// Files deleted on Dropbox in the pair's folder, newest first: Dropbox lists the deleted
    /// paths, and each one's history says whether it is a file, when it was deleted and its
    /// last version (a folder has no history and is left out: its files are listed).
    async fn deleted(&self, pair: &str) -> Result<Vec<DeletedDto>, ApiError> {
        /// At most this many histories are asked for (newest first needs each one's date).
        const MAX: usize = 500;
        let p = self.service.pair(pair)?;
        let root = p.remote_root();
        let paths = p.remote().list_deleted(&root.path).await?;
        let remote = p.remote();
        let histories = futures_util::stream::iter(paths.into_iter().take(MAX).map(|path| {
            let remote = remote.clone();
            async move {
                let h = remote.file_history(&path, 1).await;
                (path, h)
            }
        }))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
        let mut out = vec![];
        for (path, h) in histories {
            let h = match h {
                Ok(h) => h,
                // A folder (not a file), or gone from history since the listing.
                Err(nuvosync_dropbox::Error::NotFound | nuvosync_dropbox::Error::NotFile) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let (Some(at), Some(last)) = (h.deleted_at, h.revisions.into_iter().next()) else {
                continue;
            };
            let Ok(Some(rel)) = root.relative(&path) else {
                continue;
            };
            out.push(DeletedDto {
                pair: pair.to_string(),
                path: rel,
                deleted_at: at,
                size: last.size,
                rev: last.rev,
            });
        }
        out.sort_by(|a, b| b.deleted_at.cmp(&a.deleted_at).then(a.path.cmp(&b.path)));
        Ok(out)
    }

    /// The folders directly in `path` on Dropbox (from the index's copy of the listing),
    /// with what is below each.
    fn remote_folders(&self, pair: &str, path: &str) -> Result<Vec<RemoteFolderDto>, ApiError> {
        let p = self.service.pair(pair)?;
        let rel = format!("/{}", path.trim_matches('/'));
        let key = if rel == "/" {
            String::new()
        } else {
            sync_core::path::key(&rel)
        };
        let mut trees = sync_core::Trees::default();
        p.with_index(|ix| ix.load_subtree(&key, &mut trees))?;
        let rules = p.rules();
        let depth = |k: &str| k.matches('/').count();
        let want = depth(&key) + 1;
        let mut out: BTreeMap<String, RemoteFolderDto> = BTreeMap::new();
        for (k, n) in trees
            .remote
            .iter()
            .filter(|(k, n)| depth(k) == want && n.is_folder())
        {
            out.insert(
                k.clone(),
                RemoteFolderDto {
                    path: n.path.clone(),
                    name: n.path.rsplit('/').next().unwrap_or_default().to_string(),
                    files: 0,
                    bytes: 0,
                    has_folders: false,
                    excluded: rules
                        .excluded()
                        .iter()
                        .any(|e| *k == *e || sync_core::path::is_below(k, e)),
                },
            );
        }
        for (k, n) in &trees.remote {
            if depth(k) <= want {
                continue;
            }
            // The child of `key` this entry lies in.
            let child: String = k.split('/').take(want + 1).collect::<Vec<_>>().join("/");
            if let Some(f) = out.get_mut(&child) {
                match &n.kind {
                    sync_core::RemoteKind::File { size, .. } => {
                        f.files += 1;
                        f.bytes += size;
                    }
                    sync_core::RemoteKind::Folder => f.has_folders = true,
                }
            }
        }
        let mut list: Vec<RemoteFolderDto> = out.into_values().collect();
        list.sort_by_key(|f| f.name.to_lowercase());
        Ok(list)
    }

    /// Bring back the last version of a file deleted on Dropbox.
    async fn undelete(&self, pair: &str, path: &str) -> Result<RevisionDto, ApiError> {
        let p = self.service.pair(pair)?;
        let full = p.remote_root().dropbox_path(&rel(path));
        let h = p.remote().file_history(&full, 1).await.map_err(|e| match e {
            nuvosync_dropbox::Error::NotFound => ApiError::new(
                ErrorCode::NotFound,
                format!("Dropbox has no history for {path} — see `nuvosync deleted` for what can be brought back"),
            ),
            nuvosync_dropbox::Error::NotFile => ApiError::new(
                ErrorCode::InvalidArgument,
                format!("{path} is a folder on Dropbox — bring back the files in it one by one (see `nuvosync deleted`)"),
            ),
            e => e.into(),
        })?;
        let Some(last) = h.revisions.into_iter().next() else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("Dropbox keeps no version of {path} any more"),
            ));
        };
        if h.deleted_at.is_none() {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{path} is not deleted on Dropbox — to bring back an earlier version, see `nuvosync history`"
                ),
            ));
        }
        let back = p.remote().restore(&full, &last.rev).await?;
        Ok(RevisionDto {
            rev: back.rev,
            size: back.size,
            server_modified: back.server_modified,
        })
    }

    fn resolve(&self, pair: &str, id: i64, choice: Resolution) -> Result<(), ApiError> {
        if self.service.config().pair(pair).is_none() {
            return Err(not_found(pair));
        }
        let p = self.service.pair(pair)?;
        let c = p
            .with_index(|ix| ix.conflicts(true))?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no conflict {id} in pair {pair:?} — see `nuvosync conflicts`"),
                )
            })?;
        // Through the pair's checked file layer: nothing through a link, nothing outside.
        let files = p.files()?;
        let stamp = nuvosync_dropbox::client::timestamp(now()).replace(':', ".");
        let io =
            |what: &str, e: std::io::Error| ApiError::new(ErrorCode::Io, format!("{what}: {e}"));
        let os = if std::env::var_os("NUVOSYNC_NO_OS_TRASH").is_none() {
            sync_engine::localfs::OsTrash::home(files.fs())
        } else {
            None
        };
        match choice {
            Resolution::KeepBoth => {}
            Resolution::KeepTheirs => {
                if files.exists(&c.copy_path) {
                    files
                        .to_trash(&c.copy_path, &stamp, os.as_ref())
                        .map_err(|e| io("cannot move your copy to the trash", e))?;
                }
            }
            Resolution::KeepMine => {
                if !files.exists(&c.copy_path) {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("your version {} is gone — nothing to keep", c.copy_path),
                    ));
                }
                // Dropbox's version stays in Dropbox's history (and goes to the trash here).
                if files.exists(&c.path) {
                    files
                        .to_trash(&c.path, &stamp, os.as_ref())
                        .map_err(|e| io("cannot move Dropbox's version aside", e))?;
                }
                files
                    .rename(&c.copy_path, &c.path, true)
                    .map_err(|e| io("cannot put your version in place", e))?;
            }
        }
        p.with_index(|ix| ix.resolve_conflict(id))?;
        Ok(())
    }

    fn file_status(&self, path: &str) -> FileStatusDto {
        let abs = Path::new(path)
            .canonicalize()
            .unwrap_or_else(|_| Path::new(path).to_path_buf());
        let unwatched = FileStatusDto {
            path: path.to_string(),
            pair: None,
            status: "unwatched".into(),
            message: None,
        };
        let Some(cfg) = self
            .service
            .pairs()
            .into_iter()
            .find(|p| abs.starts_with(&p.local))
        else {
            return unwatched;
        };
        let rel_path = format!(
            "/{}",
            abs.strip_prefix(&cfg.local)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let out = |status: &str, message: Option<String>| FileStatusDto {
            path: path.to_string(),
            pair: Some(cfg.name.clone()),
            status: status.into(),
            message,
        };
        let Ok(p) = self.service.pair(&cfg.name) else {
            return out("pending", None);
        };
        if rel_path == "/" {
            return out("up_to_date", None);
        }
        if p.rules().skips_path(&rel_path) {
            return out("ignored", Some("not synced (nuvosync's own folder, an ignore pattern, an excluded folder or a name Dropbox does not take)".into()));
        }
        if let Some(t) = lock(&self.transfers).get(&(cfg.name.clone(), rel_path.clone())) {
            return out(
                if t.dto.direction == "upload" {
                    "uploading"
                } else {
                    "downloading"
                },
                None,
            );
        }
        let key = sync_core::path::key(&rel_path);
        p.with_index(|ix| {
            if let Some(i) = ix
                .issues()
                .unwrap_or_default()
                .into_iter()
                .find(|i| i.path == rel_path)
            {
                return out("error", Some(i.message));
            }
            if ix
                .conflicts(false)
                .unwrap_or_default()
                .iter()
                .any(|c| c.copy_path == rel_path || c.path == rel_path)
            {
                return out(
                    "conflict",
                    Some(
                        "changed on both sides; both versions were kept — see `nuvosync conflicts`"
                            .into(),
                    ),
                );
            }
            let (l, r, s) = (
                ix.local(&key).ok().flatten(),
                ix.remote(&key).ok().flatten(),
                ix.synced(&key).ok().flatten(),
            );
            let dirty = ix.dirty().unwrap_or_default().contains(&key);
            let on_disk = abs.exists();
            match (l, r, s) {
                (Some(l), Some(r), Some(s))
                    if !dirty && l.hash() == s.hash() && r.hash() == s.hash() =>
                {
                    out("up_to_date", None)
                }
                _ if !on_disk => out("unwatched", Some("no such file".into())),
                _ => out("pending", None),
            }
        })
    }

    async fn set_excluded(
        &self,
        pair: &str,
        path: &str,
        add: bool,
    ) -> Result<Vec<String>, ApiError> {
        let norm = format!("/{}", path.trim_matches('/'));
        let cfg = self.service.update_config(|c| {
            let p = c
                .pairs
                .iter_mut()
                .find(|p| p.name == pair)
                .ok_or_else(|| not_found(pair))?;
            p.excluded.retain(|e| {
                sync_core::path::key(&format!("/{}", e.trim_matches('/')))
                    != sync_core::path::key(&norm)
            });
            if add {
                p.excluded.push(norm.clone());
            }
            Ok(())
        })?;
        let excluded = cfg
            .pair(pair)
            .map(|p| p.excluded.clone())
            .unwrap_or_default();
        let p = self.service.pair(pair)?;
        p.reload_rules(&excluded);
        if !add {
            p.with_index(|ix| ix.mark_all_dirty())?;
        }
        self.kick(pair).await;
        Ok(excluded)
    }

    fn settings(&self) -> SettingsDto {
        let c = self.service.config();
        SettingsDto {
            notifications: serde_json::to_value(c.notifications)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "all".into()),
            snoozed_until: *lock(&self.snoozed_until),
            upload_limit: c.upload_limit,
            download_limit: c.download_limit,
            autostart: c.autostart,
            mass_delete_percent: c.mass_delete_percent,
            mass_delete_min_files: c.mass_delete_min_files,
            trash_days: Some(c.trash_days),
            trash_max_mb: Some(c.trash_max_mb),
            history_days: Some(c.history_days),
            history_max_entries: Some(c.history_max_entries),
            export_documents: Some(c.export_documents),
            pairs: c
                .pairs
                .iter()
                .map(|p| PairSettingsDto {
                    name: p.name.clone(),
                    local: p.local.display().to_string(),
                    organization: p.organization.clone(),
                    space: p.space.clone(),
                    instance: p.instance.clone(),
                    watch: p.watch,
                    rescan_interval_secs: p.rescan_interval_secs,
                    excluded: p.excluded.clone(),
                    ignore_patterns: std::fs::read_to_string(
                        p.local.join(sync_engine::rules::IGNORE_FILE),
                    )
                    .unwrap_or_default(),
                })
                .collect(),
        }
    }

    async fn set_settings(&self, patch: SettingsPatch) -> Result<SettingsDto, ApiError> {
        let mut restart = vec![];
        // The system's entry first: the setting says what is there.
        if let Some(on) = patch.autostart {
            let said = self.service.apply_autostart(on)?;
            tracing::info!("{said}");
        }
        self.service.update_config(|c| {
            if let Some(n) = &patch.notifications {
                c.notifications = serde_json::from_value(serde_json::Value::String(n.clone()))
                    .map_err(|_| {
                        ApiError::new(
                            ErrorCode::InvalidArgument,
                            format!("notifications must be all, attention or off, not {n:?}"),
                        )
                    })?;
            }
            if let Some(v) = patch.upload_limit {
                c.upload_limit = v;
            }
            if let Some(v) = patch.download_limit {
                c.download_limit = v;
            }
            if let Some(v) = patch.autostart {
                c.autostart = v;
            }
            if let Some(v) = patch.mass_delete_percent {
                c.mass_delete_percent = v;
            }
            if let Some(v) = patch.mass_delete_min_files {
                c.mass_delete_min_files = v;
            }
            if let Some(v) = patch.trash_days {
                c.trash_days = v;
            }
            if let Some(v) = patch.trash_max_mb {
                c.trash_max_mb = v;
            }
            if let Some(v) = patch.history_days {
                c.history_days = v;
            }
            if let Some(v) = patch.history_max_entries {
                c.history_max_entries = v;
            }
            if let Some(v) = patch.export_documents {
                c.export_documents = v;
            }
            for pp in &patch.pairs {
                let p = c
                    .pairs
                    .iter_mut()
                    .find(|p| p.name == pp.name)
                    .ok_or_else(|| not_found(&pp.name))?;
                if let Some(w) = pp.watch {
                    p.watch = w;
                }
                if let Some(r) = pp.rescan_interval_secs {
                    if r == 0 {
                        return Err(ApiError::new(
                            ErrorCode::InvalidArgument,
                            "the rescan interval must be at least 1 second",
                        ));
                    }
                    p.rescan_interval_secs = r;
                }
                if let Some(x) = &pp.excluded {
                    p.excluded = x.clone();
                }
                restart.push(p.name.clone());
            }
            Ok(())
        })?;
        if let Some(m) = patch.snooze_minutes {
            let until = (m > 0).then(|| now() + m as i64 * 60);
            *lock(&self.snoozed_until) = until;
            save_snooze(&self.service.paths().state_dir, until)?;
        }
        for pp in &patch.pairs {
            if let Some(text) = &pp.ignore_patterns {
                let cfg = self
                    .service
                    .config()
                    .pair(&pp.name)
                    .cloned()
                    .ok_or_else(|| not_found(&pp.name))?;
                let file = cfg.local.join(sync_engine::rules::IGNORE_FILE);
                std::fs::write(&file, text).map_err(|e| {
                    ApiError::new(
                        ErrorCode::Io,
                        format!("cannot write {}: {e}", file.display()),
                    )
                })?;
            }
        }
        for name in restart {
            let cfg = self.service.config().pair(&name).cloned();
            if let (Some(cfg), Ok(p)) = (cfg, self.service.pair(&name)) {
                p.reload_rules(&cfg.excluded);
                p.with_index(|ix| ix.mark_all_dirty())?;
            }
            let running = self.runners.lock().await.contains_key(&name);
            if running {
                self.stop_runner(&name).await;
                self.start_runner(&name).await;
            }
        }
        Ok(self.settings())
    }

    /// Notifications are snoozed now.
    pub fn snoozed(&self) -> bool {
        lock(&self.snoozed_until).is_some_and(|t| t > now())
    }

    async fn account(&self) -> Result<AccountDto, ApiError> {
        let client = self.service.client()?;
        let a = client.account().await?;
        let u = client.space_usage().await?;
        let dto = AccountDto {
            account_id: a.account_id,
            email: a.email,
            display_name: a.display_name,
            used: u.used,
            allocated: u.allocated,
            stored_in_file: None,
        };
        *lock(&self.account) = Some(dto.clone());
        Ok(dto)
    }

    /// Start a sign-in with `app_key` (or the configured one): the loopback redirect on the
    /// first free of the configured ports (the code-paste flow when none is free), or the
    /// code-paste flow when `loopback` is false. nuvosync's placeholder key is refused
    /// against the real Dropbox, with what to do instead.
    async fn link_start(
        &self,
        loopback: bool,
        app_key: Option<String>,
    ) -> Result<LinkStartDto, ApiError> {
        let endpoints = self.service.endpoints().clone();
        let config = self.service.config();
        let app_key = app_key
            .map(|k| k.trim().to_string())
            .unwrap_or_else(|| config.app_key());
        if let Some(problem) = nuvosync_dropbox::auth::app_key_problem(&endpoints, &app_key) {
            return Err(ApiError::new(ErrorCode::InvalidArgument, problem));
        }
        let redirect = if loopback {
            nuvosync_dropbox::auth::Redirect::Loopback(config.link_ports()?)
        } else {
            nuvosync_dropbox::auth::Redirect::Paste
        };
        // A sign-in started again replaces the one in progress: let its listener go first,
        // so that its port is free for the new one.
        drop(lock(&self.link).take());
        let http = nuvosync_dropbox::transport::http_client(&endpoints, false)?;
        let session = LinkSession::start(&endpoints, &app_key, http, redirect).await?;
        if let Some(why) = session.paste_reason() {
            tracing::info!("{why}");
        }
        let dto = LinkStartDto {
            authorize_url: session.authorize_url.clone(),
            redirect_uri: session.redirect_uri().map(str::to_string),
            paste_reason: session.paste_reason().map(str::to_string),
            app_key,
        };
        *lock(&self.link) = Some(Arc::new(session));
        Ok(dto)
    }

    async fn finish_link(
        &self,
        result: nuvosync_dropbox::auth::LinkResult,
    ) -> Result<AccountDto, ApiError> {
        let store = self.service.token_store();
        let location = store.save(&nuvosync_dropbox::store::StoredLink {
            refresh_token: result.refresh_token,
            app_key: result.app_key,
        })?;
        let stored_in_file = match location {
            nuvosync_dropbox::store::Location::File(f) => {
                tracing::info!(
                    "no OS keyring: the Dropbox link is stored in {} (mode 0600)",
                    f.display()
                );
                Some(f.display().to_string())
            }
            nuvosync_dropbox::store::Location::Keyring => None,
        };
        *lock(&self.link) = None;
        self.service.reset_client();
        let mut account = self.account().await?;
        account.stored_in_file = stored_in_file;
        let _ = self.events.send(EventDto::Link { linked: true });
        self.start_runners().await;
        for r in self.runners.lock().await.values() {
            r.resume(false);
        }
        Ok(account)
    }

    async fn link_finish(&self, redirect: &str) -> Result<AccountDto, ApiError> {
        let session = lock(&self.link).clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                "no link in progress — start one with `nuvosync link`",
            )
        })?;
        let result = if redirect.contains("code=") || redirect.contains("error=") {
            session.finish_with_redirect(redirect).await?
        } else {
            session.finish_with_code(redirect).await?
        };
        self.finish_link(result).await
    }

    async fn link_wait(&self, timeout_secs: u64) -> Result<AccountDto, ApiError> {
        let session = lock(&self.link).clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                "no link in progress — start one with `nuvosync link`",
            )
        })?;
        let result = session
            .wait_for_redirect(Duration::from_secs(timeout_secs.max(1)))
            .await?;
        self.finish_link(result).await
    }

    /// Unlink: stop syncing, revoke the token on Dropbox and forget it here. Returns
    /// `{"revoked": bool}` — false when Dropbox could not be told (offline, say): the token
    /// is forgotten here all the same.
    async fn unlink(&self) -> Result<serde_json::Value, ApiError> {
        let names: Vec<String> = self.runners.lock().await.keys().cloned().collect();
        for n in names {
            self.stop_runner(&n).await;
        }
        let mut revoked = false;
        if let Ok(client) = self.service.client() {
            match client.revoke().await {
                Ok(()) => revoked = true,
                Err(e) => {
                    tracing::warn!("revoking the token failed ({e}); it is removed here anyway")
                }
            }
        }
        self.service.token_store().delete()?;
        self.service.forget_credential();
        *lock(&self.account) = None;
        let _ = self.events.send(EventDto::Link { linked: false });
        Ok(serde_json::json!({ "revoked": revoked }))
    }

    /// Resolve a path in a pair to the Dropbox metadata (used by the UI to show both versions).
    pub async fn remote_entry(&self, pair: &str, path: &str) -> Result<Option<Entry>, ApiError> {
        let p = self.service.pair(pair)?;
        Ok(p.remote()
            .get_metadata(&p.remote_root().dropbox_path(&rel(path)))
            .await?)
    }
}

fn rel(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

/// Where a snooze is kept, so that it outlasts a restart (state, not a setting).
fn snooze_file(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("notifications-snoozed-until")
}

/// The snooze kept by an earlier run, if it has not ended.
fn load_snooze(state_dir: &Path) -> Option<i64> {
    std::fs::read_to_string(snooze_file(state_dir))
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|&t| t > now())
}

/// Keep (or, with `None`, forget) a snooze: written whole and renamed into place.
fn save_snooze(state_dir: &Path, until: Option<i64>) -> Result<(), ApiError> {
    let file = snooze_file(state_dir);
    let io = |e: std::io::Error| {
        ApiError::new(
            ErrorCode::Io,
            format!("cannot keep the snooze in {}: {e}", file.display()),
        )
    };
    match until {
        None => match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        },
        Some(t) => {
            std::fs::create_dir_all(state_dir).map_err(io)?;
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, t.to_string()).map_err(io)?;
            std::fs::rename(&tmp, &file).map_err(io)
        }
    }
}

fn not_found(pair: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no pair named {pair:?} — see `nuvosync pair list`"),
    )
}

/// The one-line summary for the tray.
fn summary(linked: bool, pairs: &[PairStatusDto], transfers: &[TransferDto]) -> String {
    if !linked {
        return "Not linked to Dropbox".into();
    }
    if pairs.is_empty() {
        return "No folders set up".into();
    }
    let worst = pairs.iter().max_by_key(|p| severity(p.state));
    match worst.map(|p| (p.state, p)) {
        Some((StateDto::Error, p)) => format!(
            "Error in {}: {}",
            p.name,
            p.message.clone().unwrap_or_default()
        ),
        Some((StateDto::Attention, p)) if p.conflicts > 0 && p.code.is_none() => format!(
            "{} conflict{} to review",
            p.conflicts,
            if p.conflicts == 1 { "" } else { "s" }
        ),
        Some((StateDto::Attention, p)) => format!(
            "{} needs attention: {}",
            p.name,
            p.message.clone().unwrap_or_default()
        ),
        Some((StateDto::Offline, _)) => "Offline — retrying".into(),
        Some((StateDto::Paused, _)) => "Paused".into(),
        Some((StateDto::Syncing, _)) => {
            let pending: u64 = pairs.iter().map(|p| p.pending).sum();
            if !transfers.is_empty() {
                format!(
                    "Syncing {} file{}",
                    transfers.len(),
                    if transfers.len() == 1 { "" } else { "s" }
                )
            } else if pending > 0 {
                format!("Syncing ({pending} pending)")
            } else {
                "Syncing".into()
            }
        }
        _ => "Up to date".into(),
    }
}
