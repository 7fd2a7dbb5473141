//! The handler of every [`Command`]: each command goes to the method that answers it.

use super::{Daemon, not_found, rel};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use crate::service::AddPair;
use std::sync::atomic::Ordering;

impl Daemon {
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
}
