//! The status of every pair, the overall state with its one-line summary, and the activity.

use super::Daemon;
use crate::dto::*;
use crate::error::ApiError;

/// How bad a state is, for the overall state (higher is worse).
fn severity(s: &PairState) -> u8 {
    match s {
        PairState::UpToDate => 0,
        PairState::Syncing => 1,
        PairState::Paused => 2,
        PairState::Offline => 3,
        PairState::Attention => 4,
        PairState::Error => 5,
    }
}

impl Daemon {
    /// The status of everything.
    pub async fn status(&self) -> Result<StatusDto, ApiError> {
        let runners = self.runners.lock().await;
        let linked = self.service.credential().is_ok();
        let mut pairs = vec![];
        for cfg in self.service.pairs() {
            let run = runners.get(&cfg.name).map(|r| r.status());
            let counts = self
                .service
                .pair(&cfg.name)
                .map(|p| p.summary())
                .unwrap_or_default();
            let (state, message, code, last_sync, watching, watch_problem) = match &run {
                Some(r) => (
                    r.shown_state(counts.conflicts),
                    r.message.clone(),
                    r.code.clone(),
                    r.last_sync,
                    r.watching,
                    r.watch_problem.clone(),
                ),
                None if !linked => (
                    PairState::Error,
                    Some("no Dropbox account is linked — run `nuvosync link`".into()),
                    Some("not_linked".into()),
                    None,
                    false,
                    None,
                ),
                None => (PairState::Paused, None, None, None, false, None),
            };
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
                files: counts.files,
                bytes: counts.bytes,
                pending: counts.pending,
                conflicts: counts.conflicts,
                issues: counts.issues.into_iter().map(IssueDto::from).collect(),
                watching,
                watch_problem,
                watch: cfg.watch,
                rescan_interval_secs: cfg.rescan_interval_secs,
                paused: cfg.paused,
            });
        }
        drop(runners);
        let transfers: Vec<TransferDto> = self
            .transfers
            .lock()
            .values()
            .map(|t| t.dto.clone())
            .collect();
        let state = if !linked {
            PairState::Error
        } else {
            pairs
                .iter()
                .map(|p| &p.state)
                .max_by_key(|s| severity(s))
                .cloned()
                .unwrap_or(PairState::UpToDate)
        };
        let summary = summary(linked, &pairs, &transfers);
        let account = self.account.lock().clone();
        Ok(StatusDto {
            state,
            summary,
            linked,
            account,
            pairs,
            transfers,
        })
    }

    pub(super) fn activity(
        &self,
        search: Option<&str>,
        limit: usize,
    ) -> Result<ActivityDto, ApiError> {
        let mut history = vec![];
        for cfg in self.service.pairs() {
            if let Ok(p) = self.service.pair(&cfg.name) {
                let h = p.history(limit, search)?;
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
        let transfers = self
            .transfers
            .lock()
            .values()
            .map(|t| t.dto.clone())
            .collect();
        Ok(ActivityDto { transfers, history })
    }
}

/// The one-line summary for the tray.
fn summary(linked: bool, pairs: &[PairStatusDto], transfers: &[TransferDto]) -> String {
    if !linked {
        return "Not linked to Dropbox".into();
    }
    if pairs.is_empty() {
        return "No folders set up".into();
    }
    let worst = pairs.iter().max_by_key(|p| severity(&p.state));
    match worst.map(|p| (&p.state, p)) {
        Some((PairState::Error, p)) => format!(
            "Error in {}: {}",
            p.name,
            p.message.clone().unwrap_or_default()
        ),
        Some((PairState::Attention, p)) if p.conflicts > 0 && p.code.is_none() => format!(
            "{} conflict{} to review",
            p.conflicts,
            if p.conflicts == 1 { "" } else { "s" }
        ),
        Some((PairState::Attention, p)) => format!(
            "{} needs attention: {}",
            p.name,
            p.message.clone().unwrap_or_default()
        ),
        Some((PairState::Offline, _)) => "Offline — retrying".into(),
        Some((PairState::Paused, _)) => "Paused".into(),
        Some((PairState::Syncing, _)) => {
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
