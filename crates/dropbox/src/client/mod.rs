//! The Dropbox calls nuvosync makes, in plain types: entries, pages, commits, batches.
//! Every call goes through the official SDK's route functions over our [`Transport`];
//! errors come back classified ([`Error`]).
//!
//! This file holds the client and its reads; `entry.rs` the plain types, `write.rs` the
//! writes.

mod entry;
mod write;

pub use entry::{
    Account, Commit, Entry, ExportOnlyEntry, FileEntry, FileHistory, FolderEntry, Page, SpaceUsage,
    WriteMode, parse_timestamp, timestamp,
};

use crate::auth::{Authorizer, Credential};
use crate::endpoints::Endpoints;
use crate::error::{self, Error};
use crate::transport::{NoAuth, RetryPolicy, Transport, WithArg, http_client};
use dropbox_sdk::async_routes as routes;
use dropbox_sdk::files as f;
use entry::{entry, export_only_entry, file_entry, page};
use std::sync::Arc;
use sync_core::ContentHash;

/// A Dropbox client.
#[derive(Clone, Debug)]
pub struct Client {
    transport: Arc<Transport>,
}

impl Client {
    /// A client for `endpoints` with `credential`.
    pub fn new(endpoints: Endpoints, credential: Credential) -> Result<Client, Error> {
        Self::with_policy(endpoints, credential, RetryPolicy::default())
    }

    /// Pace this client's uploads and downloads by `limits` (shared with other clients; a
    /// change applies at once, to transfers under way too).
    pub fn set_limits(&self, limits: Arc<crate::throttle::Limits>) {
        self.transport.set_limits(limits);
    }

    /// A client with a specific retry policy.
    pub fn with_policy(
        endpoints: Endpoints,
        credential: Credential,
        retry: RetryPolicy,
    ) -> Result<Client, Error> {
        let http = http_client(&endpoints, true)?;
        let oauth_http = http_client(&endpoints, false)?;
        let auth = Arc::new(Authorizer::new(credential, endpoints.clone(), oauth_http));
        Ok(Client {
            transport: Arc::new(Transport::new(http, endpoints, auth, retry)),
        })
    }

    /// The transport (counters, endpoints, authorizer).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn t(&self) -> &Transport {
        &self.transport
    }

    /// Who is linked.
    pub async fn account(&self) -> Result<Account, Error> {
        let a = routes::users::get_current_account(self.t())
            .await
            .map_err(|e| error::from_sdk(e, |n| match *n {}))?;
        let root = match &a.root_info {
            dropbox_sdk::common::RootInfo::User(u) => u.root_namespace_id.clone(),
            dropbox_sdk::common::RootInfo::Team(t) => t.root_namespace_id.clone(),
            _ => String::new(),
        };
        Ok(Account {
            account_id: a.account_id,
            email: a.email,
            display_name: a.name.display_name,
            root_namespace_id: root,
        })
    }

    /// Space usage.
    pub async fn space_usage(&self) -> Result<SpaceUsage, Error> {
        let u = routes::users::get_space_usage(self.t())
            .await
            .map_err(|e| error::from_sdk(e, |n| match *n {}))?;
        let allocated = match u.allocation {
            dropbox_sdk::users::SpaceAllocation::Individual(i) => i.allocated,
            dropbox_sdk::users::SpaceAllocation::Team(t) => t.allocated,
            _ => 0,
        };
        Ok(SpaceUsage {
            used: u.used,
            allocated,
        })
    }

    /// First page of a listing of `path` (`""` for the root).
    pub async fn list_folder(
        &self,
        path: &str,
        recursive: bool,
        limit: Option<u32>,
    ) -> Result<Page, Error> {
        let mut arg = f::ListFolderArg::new(path.to_string()).with_recursive(recursive);
        if let Some(l) = limit {
            arg = arg.with_limit(l);
        }
        let r = routes::files::list_folder(self.t(), &arg)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ListFolderError::Path(l) => error::lookup(l),
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        page(r)
    }

    /// The next page of changes after `cursor`.
    pub async fn list_continue(&self, cursor: &str) -> Result<Page, Error> {
        let arg = f::ListFolderContinueArg::new(cursor.to_string());
        let r = routes::files::list_folder_continue(self.t(), &arg)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ListFolderContinueError::Reset => Error::CursorReset,
                    f::ListFolderContinueError::Path(l) => error::lookup(l),
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        page(r)
    }

    /// A cursor at "now" for `path`.
    pub async fn latest_cursor(&self, path: &str, recursive: bool) -> Result<String, Error> {
        let arg = f::ListFolderArg::new(path.to_string()).with_recursive(recursive);
        let r = routes::files::list_folder_get_latest_cursor(self.t(), &arg)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ListFolderError::Path(l) => error::lookup(l),
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        Ok(r.cursor)
    }

    /// Wait up to `timeout_secs` (30..480) for changes after `cursor`. Returns (changes, backoff secs).
    pub async fn longpoll(
        &self,
        cursor: &str,
        timeout_secs: u64,
    ) -> Result<(bool, Option<u64>), Error> {
        let arg = f::ListFolderLongpollArg::new(cursor.to_string())
            .with_timeout(timeout_secs.clamp(30, 480));
        let r = routes::files::list_folder_longpoll(&NoAuth(self.t()), &arg)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ListFolderLongpollError::Reset => Error::CursorReset,
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        Ok((r.changes, r.backoff))
    }

    /// Metadata of a path; `None` if nothing is there.
    pub async fn get_metadata(
        &self,
        path: &str,
        include_deleted: bool,
    ) -> Result<Option<Entry>, Error> {
        let arg = f::GetMetadataArg::new(path.to_string()).with_include_deleted(include_deleted);
        match routes::files::get_metadata(self.t(), &arg).await {
            Ok(m) => Ok(Some(entry(m)?)),
            Err(e) => match error::from_sdk(e, |f::GetMetadataError::Path(l)| error::lookup(l)) {
                Error::NotFound => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Start a download of a path, `id:` or `rev:`: the metadata, the length, and a byte stream.
    pub async fn download(
        &self,
        path: &str,
    ) -> Result<
        (
            FileEntry,
            Option<u64>,
            Box<dyn futures_util::AsyncRead + Send + Unpin>,
        ),
        Error,
    > {
        self.download_from(path, 0).await
    }

    /// Download from byte `start` on (a `Range` request, which Dropbox's content endpoints
    /// honour; `start` 0 asks for the whole file): the file's metadata (its whole size), the
    /// length of the body sent, and the body.
    pub async fn download_from(
        &self,
        path: &str,
        start: u64,
    ) -> Result<
        (
            FileEntry,
            Option<u64>,
            Box<dyn futures_util::AsyncRead + Send + Unpin>,
        ),
        Error,
    > {
        let arg = f::DownloadArg::new(path.to_string());
        let range = (start > 0).then_some(start);
        let r = routes::files::download(&WithArg::new(self.t(), &arg)?, &arg, range, None)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::DownloadError::Path(l) => error::lookup(l),
                    f::DownloadError::UnsupportedFile => Error::NotDownloadable,
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        let body = r
            .body
            .ok_or_else(|| Error::Unexpected("download without a body".into()))?;
        Ok((file_entry(r.result)?, r.content_length, body))
    }

    /// Export a file Dropbox cannot download (a Paper doc) to `format` (one of its
    /// `export_options`; Dropbox's default without one): the file's metadata, the exported
    /// file's name and content hash (Dropbox's `content_hash` algorithm over the exported
    /// bytes), and a byte stream.
    pub async fn export(
        &self,
        path: &str,
        format: Option<&str>,
    ) -> Result<
        (
            ExportOnlyEntry,
            String,
            Option<ContentHash>,
            Box<dyn futures_util::AsyncRead + Send + Unpin>,
        ),
        Error,
    > {
        let mut arg = f::ExportArg::new(path.to_string());
        if let Some(fmt) = format {
            arg = arg.with_export_format(fmt.to_string());
        }
        let r = routes::files::export(&WithArg::new(self.t(), &arg)?, &arg, None, None)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ExportError::Path(l) => error::lookup(l),
                    f::ExportError::RetryError => {
                        Error::Server("the export is not ready yet".into())
                    }
                    other => Error::Unexpected(format!("export: {other:?}")),
                })
            })?;
        let body = r
            .body
            .ok_or_else(|| Error::Unexpected("export without a body".into()))?;
        let hash = match &r.result.export_metadata.export_hash {
            Some(h) => Some(
                h.parse()
                    .map_err(|_| Error::Unexpected("malformed export_hash from Dropbox".into()))?,
            ),
            None => None,
        };
        Ok((
            export_only_entry(r.result.file_metadata),
            r.result.export_metadata.name,
            hash,
            body,
        ))
    }

    /// Revisions of a file, newest first.
    pub async fn list_revisions(&self, path: &str, limit: u64) -> Result<Vec<FileEntry>, Error> {
        Ok(self.file_history(path, limit).await?.revisions)
    }

    /// A file's history: its revisions, newest first, and whether (and when) it is deleted
    /// now. Dropbox keeps the revisions of a deleted file for its retention period
    /// (`files/list_revisions`, `ListRevisionsResult.is_deleted` and `server_deleted`).
    pub async fn file_history(&self, path: &str, limit: u64) -> Result<FileHistory, Error> {
        let arg = f::ListRevisionsArg::new(path.to_string()).with_limit(limit.clamp(1, 100));
        let r = routes::files::list_revisions(self.t(), &arg)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ListRevisionsError::Path(l) => error::lookup(l),
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        Ok(FileHistory {
            deleted_at: if r.is_deleted {
                Some(r.server_deleted.unwrap_or_default())
            } else {
                None
            },
            revisions: r
                .entries
                .into_iter()
                .map(file_entry)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Paths below `path` (recursively) that Dropbox lists as deleted: `files/list_folder`
    /// with `include_deleted`, every page. Folders and files alike (a deleted entry does not
    /// say which); paths that exist again are not among them.
    pub async fn list_deleted(&self, path: &str) -> Result<Vec<String>, Error> {
        let arg = f::ListFolderArg::new(path.to_string())
            .with_recursive(true)
            .with_include_deleted(true);
        let r = routes::files::list_folder(self.t(), &arg)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::ListFolderError::Path(l) => error::lookup(l),
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        let mut p = page(r)?;
        let mut out = vec![];
        loop {
            out.extend(p.entries.into_iter().filter_map(|e| match e {
                Entry::Deleted { path_display, .. } => Some(path_display),
                _ => None,
            }));
            if !p.has_more {
                return Ok(out);
            }
            p = self.list_continue(&p.cursor).await?;
        }
    }

    /// Make an earlier revision current again.
    pub async fn restore(&self, path: &str, rev: &str) -> Result<FileEntry, Error> {
        let arg = f::RestoreArg::new(path.to_string(), rev.to_string());
        let m = routes::files::restore(self.t(), &arg).await.map_err(|e| {
            error::from_sdk(e, |re| match re {
                f::RestoreError::PathLookup(l) => error::lookup(l),
                f::RestoreError::PathWrite(w) => error::write(w),
                f::RestoreError::InvalidRevision => Error::InvalidRevision,
                other => Error::Unexpected(format!("{other:?}")),
            })
        })?;
        file_entry(m)
    }

    /// Revoke the token (and its refresh family).
    pub async fn revoke(&self) -> Result<(), Error> {
        routes::auth::token_revoke(self.t())
            .await
            .map_err(|e| error::from_sdk(e, |n| match *n {}))
    }
}
