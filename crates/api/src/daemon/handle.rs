//! The handler of every [`Command`]: each command goes to the method that answers it, and
//! comes back as its typed [`Answer`] (the table in `dto::answer` says which).

use super::{Daemon, not_found, rel};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use crate::service::AddPair;

impl Daemon {
    /// Handle one command; the answer as JSON, as the control socket and the app carry it.
    pub async fn handle(&self, cmd: Command) -> Result<serde_json::Value, ApiError> {
        let name = cmd.name();
        let answer = self.answer(cmd).await?;
        debug_assert_eq!(answer.command(), name, "answered as another command");
        answer.into_json()
    }

    /// Handle one command, answered as the command's answer type (see [`crate::ask!`]).
    pub async fn ask<T: serde::de::DeserializeOwned>(&self, ask: Ask<T>) -> Result<T, ApiError> {
        let v = self.handle(ask.command().clone()).await?;
        ask.decode(v)
    }

    /// Handle one command: its typed answer.
    pub async fn answer(&self, cmd: Command) -> Result<Answer, ApiError> {
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
            Command::Status => Ok(Answer::Status(self.status().await?)),
            Command::Pause { pair } => {
                for n in self.pair_names(&pair)? {
                    self.set_paused(&n, true)?;
                    if let Some(r) = self.runners.lock().await.get(&n) {
                        r.pause();
                    }
                }
                Ok(Answer::Pause(()))
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
                Ok(Answer::Resume(()))
            }
            Command::SyncNow { pair } => {
                for n in self.pair_names(&pair)? {
                    if let Some(r) = self.runners.lock().await.get(&n) {
                        r.sync_now();
                    }
                }
                Ok(Answer::SyncNow(()))
            }
            Command::SyncOnce {
                pair,
                confirm_deletes,
            } => {
                // Where the pairs run continuously, they are synced already.
                if self.runs_pairs {
                    return Err(ApiError::new(
                        ErrorCode::AlreadyRunning,
                        "the daemon is running and syncs continuously — see `nuvosync status` (or stop it with `nuvosync stop` first)",
                    ));
                }
                Ok(Answer::SyncOnce(
                    self.service
                        .sync_once(pair.as_deref(), confirm_deletes)
                        .await?,
                ))
            }
            Command::Activity { search, limit } => Ok(Answer::Activity(
                self.activity(search.as_deref(), limit.unwrap_or(200) as usize)?,
            )),
            Command::Conflicts { include_resolved } => {
                Ok(Answer::Conflicts(self.conflicts(include_resolved)?))
            }
            Command::Revisions { pair, path } => {
                Ok(Answer::Revisions(self.revisions(&pair, &path).await?))
            }
            Command::RestoreRevision { pair, path, rev } => {
                self.service
                    .pair(&pair)?
                    .restore_revision(&rel(&path), &rev)
                    .await?;
                self.kick(&pair).await;
                Ok(Answer::RestoreRevision(()))
            }
            Command::Deleted { pair } => Ok(Answer::Deleted(self.deleted(&pair).await?)),
            Command::RemoteFolders { pair, path } => {
                Ok(Answer::RemoteFolders(self.remote_folders(&pair, &path)?))
            }
            Command::Undelete { pair, path } => {
                let what = self.undelete(&pair, &path).await?;
                self.kick(&pair).await;
                Ok(Answer::Undelete(what))
            }
            Command::Resolve { pair, id, choice } => {
                self.resolve(&pair, id, choice)?;
                self.kick(&pair).await;
                Ok(Answer::Resolve(()))
            }
            Command::FileStatus { path } => Ok(Answer::FileStatus(self.file_status(&path))),
            Command::ExcludedList { pair } => Ok(Answer::ExcludedList(
                self.service
                    .config()
                    .pair(&pair)
                    .map(|p| p.excluded.clone())
                    .ok_or_else(|| not_found(&pair))?,
            )),
            Command::ExcludedAdd { pair, path } => Ok(Answer::ExcludedAdd(
                self.set_excluded(&pair, &path, true).await?,
            )),
            Command::ExcludedRemove { pair, path } => Ok(Answer::ExcludedRemove(
                self.set_excluded(&pair, &path, false).await?,
            )),
            Command::ExcludedFree { pair, path } => {
                // Not while the pair syncs: it goes on afterwards.
                let f = self
                    .with_runner_stopped(&pair, async |p| {
                        let rel = format!("/{}", path.trim_matches('/'));
                        Ok(p.free_excluded(&rel)?)
                    })
                    .await?;
                Ok(Answer::ExcludedFree(FreedDto {
                    trashed: f.trashed,
                    bytes: f.bytes,
                    kept: f.kept,
                }))
            }
            Command::RebuildIndex { pair } => {
                self.with_runner_stopped(&pair, async |p| {
                    // Rebuilt against another account, the folder would be merged into it.
                    if let Err(e) = p.check_account().await {
                        let mut e: ApiError = e.into();
                        e.message = format!("the index was not rebuilt: {}", e.message);
                        return Err(e);
                    }
                    p.reset_trees()?;
                    self.service.forget_pair(&pair);
                    Ok(())
                })
                .await?;
                Ok(Answer::RebuildIndex(()))
            }
            Command::SettingsGet => Ok(Answer::SettingsGet(self.settings())),
            Command::SettingsSet { patch } => {
                Ok(Answer::SettingsSet(self.set_settings(patch).await?))
            }
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
                Ok(Answer::AddPair(p.name))
            }
            Command::RemovePair { name } => {
                self.stop_runner(&name).await;
                self.service.remove_pair(&name)?;
                Ok(Answer::RemovePair(()))
            }
            Command::Account => Ok(Answer::Account(self.account().await?)),
            Command::Doctor => Ok(Answer::Doctor(crate::doctor::run(&self.service).await)),
            Command::LinkStart { loopback, app_key } => {
                Ok(Answer::LinkStart(self.link_start(loopback, app_key).await?))
            }
            Command::LinkFinish { redirect } => {
                Ok(Answer::LinkFinish(self.link_finish(&redirect).await?))
            }
            Command::LinkWait { timeout_secs } => {
                Ok(Answer::LinkWait(self.link_wait(timeout_secs).await?))
            }
            Command::Unlink => Ok(Answer::Unlink(self.unlink().await?)),
            Command::RestorePlan { pair } => Ok(Answer::RestorePlan(
                crate::restore::plan(&self.service, &pair).await?,
            )),
            Command::RestoreApply { pair } => {
                self.stop_runner(&pair).await;
                let result = crate::restore::apply(&self.service, &pair).await;
                self.start_runner(&pair).await;
                Ok(Answer::RestoreApply(result?))
            }
            Command::RestoreContinuePreview { pair } => Ok(Answer::RestoreContinuePreview(
                crate::restore::continue_preview(&self.service, &pair).await?,
            )),
            Command::RestoreContinue { pair } => {
                crate::restore::continue_normally(&self.service, &pair)?;
                if let Some(r) = self.runners.lock().await.get(&pair) {
                    r.resume(false);
                }
                Ok(Answer::RestoreContinue(()))
            }
            Command::Subscribe => Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "subscribe is a streaming command; use the control socket's event stream",
            )),
            Command::Stop => {
                self.stop_asked.cancel();
                Ok(Answer::Stop(()))
            }
        }
    }
}
