//! The client's writes: uploads (whole, in sessions, committed in batches), folders,
//! deletes, moves and copies.

use super::Client;
use super::entry::{Commit, Entry, FileEntry, FolderEntry, entry, file_entry, folder_entry};
use crate::error::{self, Error};
use crate::transport::WithArg;
use bytes::Bytes;
use dropbox_sdk::async_routes as routes;
use dropbox_sdk::files as f;
use sync_core::ContentHash;

impl Client {
    /// Upload a whole file in one request (up to 150 MiB).
    pub async fn upload(&self, commit: &Commit, data: Bytes) -> Result<FileEntry, Error> {
        let c = commit.info();
        let mut arg = f::UploadArg::new(c.path.clone())
            .with_mode(c.mode.clone())
            .with_autorename(c.autorename)
            .with_strict_conflict(c.strict_conflict);
        if let Some(t) = c.client_modified {
            arg = arg.with_client_modified(t);
        }
        arg = arg.with_content_hash(ContentHash::of(&data).to_hex());
        let m = routes::files::upload(&WithArg::new(self.t(), &arg)?, &arg, data)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::UploadError::Path(w) => error::write(&w.reason),
                    f::UploadError::PayloadTooLarge => Error::PayloadTooLarge,
                    f::UploadError::ContentHashMismatch => Error::ContentHashMismatch,
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        file_entry(m)
    }

    /// Start an upload session with a first chunk.
    pub async fn session_start(&self, data: Bytes, close: bool) -> Result<String, Error> {
        let arg = f::UploadSessionStartArg::default()
            .with_close(close)
            .with_content_hash(ContentHash::of(&data).to_hex());
        let r = routes::files::upload_session_start(&WithArg::new(self.t(), &arg)?, &arg, data)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::UploadSessionStartError::PayloadTooLarge => Error::PayloadTooLarge,
                    f::UploadSessionStartError::ContentHashMismatch => Error::ContentHashMismatch,
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })?;
        Ok(r.session_id)
    }

    /// Append a chunk at `offset`.
    pub async fn session_append(
        &self,
        session_id: &str,
        offset: u64,
        data: Bytes,
        close: bool,
    ) -> Result<(), Error> {
        let arg = f::UploadSessionAppendArg::new(f::UploadSessionCursor::new(
            session_id.to_string(),
            offset,
        ))
        .with_close(close)
        .with_content_hash(ContentHash::of(&data).to_hex());
        routes::files::upload_session_append_v2(&WithArg::new(self.t(), &arg)?, &arg, data)
            .await
            .map_err(|e| {
                error::from_sdk(e, |re| match re {
                    f::UploadSessionAppendError::NotFound => Error::SessionNotFound,
                    f::UploadSessionAppendError::IncorrectOffset(o) => Error::IncorrectOffset {
                        correct_offset: o.correct_offset,
                    },
                    f::UploadSessionAppendError::Closed => Error::SessionClosed,
                    f::UploadSessionAppendError::ContentHashMismatch => Error::ContentHashMismatch,
                    f::UploadSessionAppendError::PayloadTooLarge
                    | f::UploadSessionAppendError::TooLarge => Error::PayloadTooLarge,
                    other => Error::Unexpected(format!("{other:?}")),
                })
            })
    }

    /// Finish a session (with an optional last chunk) and commit it.
    pub async fn session_finish(
        &self,
        session_id: &str,
        offset: u64,
        commit: &Commit,
        data: Bytes,
    ) -> Result<FileEntry, Error> {
        let arg = f::UploadSessionFinishArg::new(
            f::UploadSessionCursor::new(session_id.to_string(), offset),
            commit.info(),
        );
        let m = routes::files::upload_session_finish(&WithArg::new(self.t(), &arg)?, &arg, data)
            .await
            .map_err(|e| error::from_sdk(e, error::finish))?;
        file_entry(m)
    }

    /// Commit many closed sessions at once (≤ 1000). One result per entry, in order.
    pub async fn finish_batch(
        &self,
        entries: &[(String, u64, Commit)],
    ) -> Result<Vec<Result<FileEntry, Error>>, Error> {
        let arg = f::UploadSessionFinishBatchArg::new(
            entries
                .iter()
                .map(|(s, off, c)| {
                    f::UploadSessionFinishArg::new(
                        f::UploadSessionCursor::new(s.clone(), *off),
                        c.info(),
                    )
                })
                .collect(),
        );
        let r = routes::files::upload_session_finish_batch_v2(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, |n| match *n {}))?;
        Ok(r.entries
            .into_iter()
            .map(|e| match e {
                f::UploadSessionFinishBatchResultEntry::Success(m) => file_entry(m),
                f::UploadSessionFinishBatchResultEntry::Failure(err) => Err(error::finish(&err)),
            })
            .collect())
    }

    /// Create a folder.
    pub async fn create_folder(&self, path: &str) -> Result<FolderEntry, Error> {
        let arg = f::CreateFolderArg::new(path.to_string());
        let r = routes::files::create_folder_v2(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, |f::CreateFolderError::Path(w)| error::write(w)))?;
        Ok(folder_entry(r.metadata))
    }

    /// Create many folders (≤ 10,000); one result per path.
    pub async fn create_folder_batch(
        &self,
        paths: &[String],
    ) -> Result<Vec<Result<FolderEntry, Error>>, Error> {
        let arg = f::CreateFolderBatchArg::new(paths.to_vec());
        let launch = routes::files::create_folder_batch(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, |n| match *n {}))?;
        let result = match launch {
            f::CreateFolderBatchLaunch::Complete(r) => r,
            f::CreateFolderBatchLaunch::AsyncJobId(id) => loop {
                let arg = dropbox_sdk::dbx_async::PollArg::new(id.clone());
                match routes::files::create_folder_batch_check(self.t(), &arg)
                    .await
                    .map_err(|e| error::from_sdk(e, |p| Error::Unexpected(format!("{p:?}"))))?
                {
                    f::CreateFolderBatchJobStatus::Complete(r) => break r,
                    f::CreateFolderBatchJobStatus::InProgress => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await
                    }
                    other => {
                        return Err(Error::Unexpected(format!("create_folder_batch: {other:?}")));
                    }
                }
            },
            other => return Err(Error::Unexpected(format!("create_folder_batch: {other:?}"))),
        };
        Ok(result
            .entries
            .into_iter()
            .map(|e| match e {
                f::CreateFolderBatchResultEntry::Success(s) => Ok(folder_entry(s.metadata)),
                f::CreateFolderBatchResultEntry::Failure(f::CreateFolderEntryError::Path(w)) => {
                    Err(error::write(&w))
                }
                f::CreateFolderBatchResultEntry::Failure(other) => {
                    Err(Error::Unexpected(format!("{other:?}")))
                }
            })
            .collect())
    }

    /// Delete a path; with `parent_rev`, only if the file is still at that revision.
    pub async fn delete(&self, path: &str, parent_rev: Option<&str>) -> Result<Entry, Error> {
        let mut arg = f::DeleteArg::new(path.to_string());
        if let Some(r) = parent_rev {
            arg = arg.with_parent_rev(r.to_string());
        }
        let r = routes::files::delete_v2(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, error::delete))?;
        entry(r.metadata)
    }

    /// Delete many paths (≤ 1000); one result per entry.
    pub async fn delete_batch(
        &self,
        items: &[(String, Option<String>)],
    ) -> Result<Vec<Result<Entry, Error>>, Error> {
        let arg = f::DeleteBatchArg::new(
            items
                .iter()
                .map(|(p, rev)| {
                    let a = f::DeleteArg::new(p.clone());
                    match rev {
                        Some(r) => a.with_parent_rev(r.clone()),
                        None => a,
                    }
                })
                .collect(),
        );
        let launch = routes::files::delete_batch(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, |n| match *n {}))?;
        let result = match launch {
            f::DeleteBatchLaunch::Complete(r) => r,
            f::DeleteBatchLaunch::AsyncJobId(id) => loop {
                let arg = dropbox_sdk::dbx_async::PollArg::new(id.clone());
                match routes::files::delete_batch_check(self.t(), &arg)
                    .await
                    .map_err(|e| error::from_sdk(e, |p| Error::Unexpected(format!("{p:?}"))))?
                {
                    f::DeleteBatchJobStatus::Complete(r) => break r,
                    f::DeleteBatchJobStatus::InProgress => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await
                    }
                    f::DeleteBatchJobStatus::Failed(e)
                        if format!("{e:?}").contains("TooManyWriteOperations") =>
                    {
                        return Err(Error::TooManyWriteOperations);
                    }
                    other => return Err(Error::Unexpected(format!("delete_batch: {other:?}"))),
                }
            },
            other => return Err(Error::Unexpected(format!("delete_batch: {other:?}"))),
        };
        Ok(result
            .entries
            .into_iter()
            .map(|e| match e {
                f::DeleteBatchResultEntry::Success(d) => entry(d.metadata),
                f::DeleteBatchResultEntry::Failure(err) => Err(error::delete(&err)),
            })
            .collect())
    }

    /// Move (rename) a file or folder; its id stays.
    pub async fn move_entry(&self, from: &str, to: &str) -> Result<Entry, Error> {
        let arg = f::RelocationArg::new(from.to_string(), to.to_string());
        let r = routes::files::move_v2(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, error::relocation))?;
        entry(r.metadata)
    }

    /// Copy a file or folder (new ids).
    pub async fn copy_entry(&self, from: &str, to: &str) -> Result<Entry, Error> {
        let arg = f::RelocationArg::new(from.to_string(), to.to_string());
        let r = routes::files::copy_v2(self.t(), &arg)
            .await
            .map_err(|e| error::from_sdk(e, error::relocation))?;
        entry(r.metadata)
    }
}
