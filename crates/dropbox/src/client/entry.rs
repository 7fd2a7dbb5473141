//! The plain types the client's calls take and give — entries, pages, commits, the account,
//! space usage, a file's history — and their making from the SDK's metadata.

use crate::error::Error;
use dropbox_sdk::files as f;
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

    pub(super) fn info(&self) -> f::CommitInfo {
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

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC, whole seconds), as Dropbox writes
/// its timestamps. Times before the year 0 or after 9999 are said as the nearest one in it.
pub fn timestamp(secs: i64) -> String {
    use time::macros::{datetime, format_description};
    let first = datetime!(0000-01-01 0:00 UTC).unix_timestamp();
    let last = datetime!(9999-12-31 23:59:59 UTC).unix_timestamp();
    time::OffsetDateTime::from_unix_timestamp(secs.clamp(first, last))
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Seconds since the epoch of a Dropbox timestamp (`2015-05-12T15:50:38Z`); `None` for
/// anything else (another form, an impossible date).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    use time::macros::format_description;
    if s.len() != 20 {
        return None; // a sign or a fifth year digit: not Dropbox's form
    }
    time::PrimitiveDateTime::parse(
        s,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"),
    )
    .ok()
    .map(|t| t.assume_utc().unix_timestamp())
}

pub(super) fn file_entry(m: f::FileMetadata) -> Result<FileEntry, Error> {
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
pub(super) fn lower_of(path_lower: &Option<String>, path_display: &Option<String>) -> String {
    path_lower
        .clone()
        .unwrap_or_else(|| path_display.clone().unwrap_or_default().to_lowercase())
}

pub(super) fn folder_entry(m: f::FolderMetadata) -> FolderEntry {
    FolderEntry {
        path_lower: lower_of(&m.path_lower, &m.path_display),
        path_display: m.path_display.unwrap_or_default(),
        id: m.id,
    }
}

pub(super) fn export_only_entry(m: f::FileMetadata) -> ExportOnlyEntry {
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

pub(super) fn entry(m: f::Metadata) -> Result<Entry, Error> {
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

pub(super) fn page(r: f::ListFolderResult) -> Result<Page, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_431_445_838), "2015-05-12T15:50:38Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(-1), "1969-12-31T23:59:59Z");
        assert_eq!(timestamp(i64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn timestamps_read_back() {
        for secs in [0, 1_431_445_838, 951_782_400, -1, 253_402_300_799] {
            assert_eq!(parse_timestamp(&timestamp(secs)), Some(secs));
        }
        assert_eq!(parse_timestamp("2015-05-12T15:50:38Z"), Some(1_431_445_838));
        assert_eq!(parse_timestamp("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        for bad in [
            "",
            "bad",
            "2015-05-12T15:50:38",
            "2015-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "+2015-05-12T15:50:38Z",
            "2015-05-12 15:50:38Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
