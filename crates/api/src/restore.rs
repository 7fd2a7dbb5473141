//! The restore wizard's commands: each one is an engine call (see `sync_engine::engine`'s
//! restore, which holds the steps and their rules) and a mapping of what it returns to DTOs.
//!
//! - [`plan`]: preview a restore;
//! - [`apply`]: make the restored folder the authority, Dropbox's state kept in a backup;
//! - [`continue_preview`] and [`continue_normally`]: when it was not a restore.

use crate::dto::{RestoreItemDto, RestorePlanDto, RestoreResultDto};
use crate::error::ApiError;
use crate::service::Service;
use sync_engine::engine::{PairHandle, RestoreItem, RestorePlan};

fn handle(service: &Service, pair: &str) -> Result<PairHandle, ApiError> {
    service.pair(pair)
}

fn items(items: Vec<RestoreItem>) -> Vec<RestoreItemDto> {
    items
        .into_iter()
        .map(|i| RestoreItemDto {
            path: i.path,
            size: i.size,
        })
        .collect()
}

fn plan_dto(pair: &str, p: RestorePlan) -> RestorePlanDto {
    RestorePlanDto {
        pair: pair.to_string(),
        detected: p.detected,
        replaced: items(p.replaced),
        removed: items(p.removed),
        uploaded: items(p.uploaded),
        not_synced: items(p.not_synced),
        overwritten_here: items(p.overwritten_here),
        deleted_here: items(p.deleted_here),
        conflicts: items(p.conflicts),
        unchanged: p.unchanged,
        backup_folder: p.backup_folder,
    }
}

/// Preview a restore.
pub async fn plan(service: &Service, pair: &str) -> Result<RestorePlanDto, ApiError> {
    let plan = handle(service, pair)?.restore_plan().await?;
    Ok(plan_dto(pair, plan))
}

/// Apply a restore (the pair must not be running). Resumable.
pub async fn apply(service: &Service, pair: &str) -> Result<RestoreResultDto, ApiError> {
    handle(service, pair)?.restore_set_aside().await?;
    // The pair's state was reset: it is opened afresh for the upload.
    service.forget_pair(pair);
    let done = handle(service, pair)?.restore_upload().await?;
    let url = service.endpoints().web_url(&format!(
        "/Apps/{}{}",
        nuvosync_dropbox::APP_FOLDER,
        done.backup_folder
    ));
    Ok(RestoreResultDto {
        pair: pair.to_string(),
        backup_folder: done.backup_folder,
        backup_url: url,
        uploaded: done.uploaded,
    })
}

/// What normal sync would do, on both sides, if this was not a restore.
pub async fn continue_preview(service: &Service, pair: &str) -> Result<RestorePlanDto, ApiError> {
    let plan = handle(service, pair)?.restore_continue_preview().await?;
    Ok(plan_dto(pair, plan))
}

/// "This was not a restore": accept the folder's marker and sync normally.
pub fn continue_normally(service: &Service, pair: &str) -> Result<(), ApiError> {
    handle(service, pair)?.restore_continue()?;
    service.forget_pair(pair);
    Ok(())
}
