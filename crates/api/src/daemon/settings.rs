//! The settings, the excluded folders of a pair, and the snooze of notifications (kept in the
//! state folder so that it outlasts a restart).

use super::{Daemon, not_found, now};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use std::path::Path;

impl Daemon {
    pub(super) async fn set_excluded(
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
            p.mark_all_dirty()?;
        }
        self.kick(pair).await;
        Ok(excluded)
    }

    pub(super) fn settings(&self) -> SettingsDto {
        let c = self.service.config();
        SettingsDto {
            notifications: serde_json::to_value(c.notifications)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "all".into()),
            snoozed_until: *self.snoozed_until.lock(),
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
                    ignore_patterns: self
                        .service
                        .pair(&p.name)
                        .map(|h| h.ignore_patterns())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    pub(super) async fn set_settings(&self, patch: SettingsPatch) -> Result<SettingsDto, ApiError> {
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
            *self.snoozed_until.lock() = until;
            save_snooze(&self.service.paths().state_dir, until)?;
        }
        for pp in &patch.pairs {
            if let Some(text) = &pp.ignore_patterns {
                if self.service.config().pair(&pp.name).is_none() {
                    return Err(not_found(&pp.name));
                }
                self.service.pair(&pp.name)?.set_ignore_patterns(text)?;
            }
        }
        for name in restart {
            let cfg = self.service.config().pair(&name).cloned();
            if let (Some(cfg), Ok(p)) = (cfg, self.service.pair(&name)) {
                p.reload_rules(&cfg.excluded);
                p.mark_all_dirty()?;
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
        self.snoozed_until.lock().is_some_and(|t| t > now())
    }
}

/// Where a snooze is kept, so that it outlasts a restart (state, not a setting).
pub(super) fn snooze_file(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("notifications-snoozed-until")
}

/// The snooze kept by an earlier run, if it has not ended.
pub(super) fn load_snooze(state_dir: &Path) -> Option<i64> {
    std::fs::read_to_string(snooze_file(state_dir))
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|&t| t > now())
}

/// Keep (or, with `None`, forget) a snooze: written whole and renamed into place.
pub(super) fn save_snooze(state_dir: &Path, until: Option<i64>) -> Result<(), ApiError> {
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
