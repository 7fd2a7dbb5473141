//! The Dropbox calls nuvosync makes, in plain types: entries, pages, commits, batches.
//! Every call goes through the official SDK's route functions over our [`Transport`];
//! errors come back classified ([`Error`]).

use crate::auth::{Authorizer, Credential};
use crate::endpoints::Endpoints;
use crate::error::{self, Error};
use crate::transport::{NoAuth, RetryPolicy, Transport, WithArg, http_client};
use bytes::Bytes;
use dropbox_sdk::async_routes as routes;
use dropbox_sdk::files as f;
use std::sync::Arc;
use sync_core::ContentHash;

/// A file on Dropbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Stable id (`id:...`).
    pub id: String,
    /// Path as shown (casing of the last component is exact).
    pub path_display: String,
    /// Lower-cased path.
    pub path_lower: String,
    /// Revision.
    pub rev: String,
    /// Size in bytes.
    pub size: u64,
    /// Content hash.
    pub content_hash: ContentHash,
    /// Server modification time (`YYYY-MM-DDTHH:MM:SSZ`).
    pub server_modified: String,
    /// Client modification time as given at upload.
    pub client_modified: String,
}

/// A folder on Dropbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderEntry {
    /// Stable id.
    pub id: String,
    /// Path as shown.
    pub path_display: String,
    /// Lower-cased path.
    pub path_lower: String,
}

/// A file Dropbox lists but cannot hand out as bytes: a Paper doc, a Google Doc or Sheet
/// kept in Dropbox, and other cloud documents (`is_downloadable: false`, no `content_hash`;
/// `files/download` answers 409 `unsupported_file`). It can only be exported, to one of
/// [`ExportOnlyEntry::export_options`] (files.stone `FileMetadata`, `ExportInfo`, route `export`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOnlyEntry {
    /// Stable id (`id:...`).
    pub id: String,
    /// Path as shown.
    pub path_display: String,
    /// Lower-cased path.
    pub path_lower: String,
    /// Revision.
    pub rev: String,
    /// Size Dropbox reports.
    pub size: u64,
    /// Server modification time (`YYYY-MM-DDTHH:MM:SSZ`).
    pub server_modified: String,
    /// The format Dropbox exports it to by default (`html` for a Paper doc).
    pub export_as: Option<String>,
    /// Every format it exports to.
    pub export_options: Vec<String>,
}

/// One entry of a listing or change feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A file.
    File(FileEntry),
    /// A file that cannot be downloaded, only exported (a Paper doc).
    ExportOnly(ExportOnlyEntry),
    /// A folder.
    Folder(FolderEntry),
    /// Something was deleted at this path.
    Deleted {
        /// Path as shown.
        path_display: String,
        /// Lower-cased path.
        path_lower: String,
    },
}

impl Entry {
    /// Lower-cased path.
    pub fn path_lower(&self) -> &str {
        match self {
            Entry::File(f) => &f.path_lower,
            Entry::ExportOnly(x) => &x.path_lower,
            Entry::Folder(d) => &d.path_lower,
            Entry::Deleted { path_lower, .. } => path_lower,
        }
    }
    /// Display path.
    pub fn path_display(&self) -> &str {
        match self {
            Entry::File(f) => &f.path_display,
            Entry::ExportOnly(x) => &x.path_display,
            Entry::Folder(d) => &d.path_display,
            Entry::Deleted { path_display, .. } => path_display,
        }
    }
}

/// A page of a listing.
#[derive(Clone, Debug)]
pub struct Page {
    /// Entries in order (apply in order).
    pub entries: Vec<Entry>,
    /// Cursor after this page.
    pub cursor: String,
    /// More pages follow now.
    pub has_more: bool,
}

/// How an upload treats an existing file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Never overwrite.
    Add,
    /// Always overwrite.
    Overwrite,
    /// Overwrite only this revision.
    Update(String),
}

/// Where and how to commit uploaded content.
#[derive(Clone, Debug)]
pub struct Commit {
    /// Target path.
    pub path: String,
    /// Write mode.
    pub mode: WriteMode,
    /// Rename instead of failing on conflict.
    pub autorename: bool,
    /// Stricter conflict detection (recommended for sync).
    pub strict_conflict: bool,
    /// Client modification time (seconds since the epoch).
    pub client_modified: Option<i64>,
}

impl Commit {
    /// A strict commit: `add` for a new file, `update(rev)` for a known one.
    pub fn strict(path: impl Into<String>, base_rev: Option<String>) -> Self {
        Commit {
            path: path.into(),
            mode: base_rev.map_or(WriteMode::Add, WriteMode::Update),
            autorename: false,
            strict_conflict: true,
            client_modified: None,
        }
    }

    fn info(&self) -> f::CommitInfo {
        let mut c = f::CommitInfo::new(self.path.clone())
            .with_mode(match &self.mode {
                WriteMode::Add => f::WriteMode::Add,
                WriteMode::Overwrite => f::WriteMode::Overwrite,
                WriteMode::Update(r) => f::WriteMode::Update(r.clone()),
            })
            .with_autorename(self.autorename)
            .with_strict_conflict(self.strict_conflict);
        if let Some(t) = self.client_modified {
            c = c.with_client_modified(timestamp(t));
        }
        c
    }
}

/// Who is linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// `dbid:...`.
    pub account_id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Root namespace id.
    pub root_namespace_id: String,
}

/// Space used and allocated, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpaceUsage {
    /// Bytes used.
    pub used: u64,
    /// Bytes allocated.
    pub allocated: u64,
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
pub fn timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn file_entry(m: f::FileMetadata) -> Result<FileEntry, Error> {
    let hash = m
        .content_hash
        .as_deref()
        .ok_or_else(|| Error::Unexpected(format!("no content_hash for {}", m.name)))?
        .parse()
        .map_err(|_| Error::Unexpected("malformed content_hash from Dropbox".into()))?;
    Ok(FileEntry {
        path_lower: lower_of(&m.path_lower, &m.path_display),
        path_display: m.path_display.unwrap_or_default(),
        id: m.id,
        rev: m.rev,
        size: m.size,
        content_hash: hash,
        server_modified: m.server_modified,
        client_modified: m.client_modified,
    })
}

/// An entry's lower-cased path: Dropbox's `path_lower`, else its display path lower-cased.
fn lower_of(path_lower: &Option<String>, path_display: &Option<String>) -> String {
    path_lower
        .clone()
        .unwrap_or_else(|| path_display.clone().unwrap_or_default().to_lowercase())
}

fn folder_entry(m: f::FolderMetadata) -> FolderEntry {
    FolderEntry {
        path_lower: lower_of(&m.path_lower, &m.path_display),
        path_display: m.path_display.unwrap_or_default(),
        id: m.id,
    }
}

fn export_only_entry(m: f::FileMetadata) -> ExportOnlyEntry {
    let info = m.export_info.unwrap_or_default();
    ExportOnlyEntry {
        path_lower: lower_of(&m.path_lower, &m.path_display),
        path_display: m.path_display.unwrap_or_default(),
        id: m.id,
        rev: m.rev,
        size: m.size,
        server_modified: m.server_modified,
        export_as: info.export_as,
        export_options: info.export_options.unwrap_or_default(),
    }
}

fn entry(m: f::Metadata) -> Result<Entry, Error> {
    Ok(match m {
        // A Paper doc and the like: listed without content_hash, only exportable.
        f::Metadata::File(x) if !x.is_downloadable => Entry::ExportOnly(export_only_entry(x)),
        f::Metadata::File(x) => Entry::File(file_entry(x)?),
        f::Metadata::Folder(x) => Entry::Folder(folder_entry(x)),
        f::Metadata::Deleted(x) => Entry::Deleted {
            path_lower: x
                .path_lower
                .clone()
                .unwrap_or_else(|| x.path_display.clone().unwrap_or_default().to_lowercase()),
            path_display: x.path_display.unwrap_or_default(),
        },
    })
}

fn page(r: f::ListFolderResult) -> Result<Page, Error> {
    Ok(Page {
        entries: r.entries.into_iter().map(entry).collect::<Result<_, _>>()?,
        cursor: r.cursor,
        has_more: r.has_more,
    })
}

/// A file's history on Dropbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHistory {
    /// When the file was deleted (a Dropbox timestamp), if it is deleted now.
    pub deleted_at: Option<String>,
    /// Its revisions, newest first.
    pub revisions: Vec<FileEntry>,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_431_445_838), "2015-05-12T15:50:38Z");
    }
}
