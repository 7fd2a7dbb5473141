//! The Dropbox account: what it is, linking (the sign-in) and unlinking.

use super::{Daemon, lock};
use crate::dto::*;
use crate::error::{ApiError, ErrorCode};
use nuvosync_dropbox::LinkSession;
use std::sync::Arc;
use std::time::Duration;

impl Daemon {
    pub(super) async fn account(&self) -> Result<AccountDto, ApiError> {
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
    pub(super) async fn link_start(
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

    pub(super) async fn finish_link(
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

    pub(super) async fn link_finish(&self, redirect: &str) -> Result<AccountDto, ApiError> {
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

    pub(super) async fn link_wait(&self, timeout_secs: u64) -> Result<AccountDto, ApiError> {
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

    /// Unlink: stop syncing, revoke the token on Dropbox and forget it here. `revoked` is
    /// false when Dropbox could not be told (offline, say): the token is forgotten here all
    /// the same.
    pub(super) async fn unlink(&self) -> Result<UnlinkDto, ApiError> {
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
        Ok(UnlinkDto { revoked })
    }
}
