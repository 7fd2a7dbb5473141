//! The remote side as the engine sees it: a small trait over the Dropbox calls it makes
//! (so tests can wrap it with faults and crash points), and the mapping between Dropbox
//! paths and the pair's relative paths under `/<Organization>/<Space>/<Instance>`.
//!
//! Every path Dropbox sends enters the engine through [`RemoteRoot::relative`] or
//! [`RemoteRoot::node`], which refuse what could not be a path in the pair's folder: an
//! empty, `.` or `..` component ([`BadRemotePath::Escapes`] — never sent by a sane server, so
//! the answer is treated as garbled) and a name Dropbox itself would refuse
//! ([`BadRemotePath::Name`] — the entry is left on Dropbox and reported). A file Dropbox
//! cannot download (a Paper doc: [`BadRemotePath::ExportOnly`]) is left on Dropbox and
//! reported the same way: never downloaded, never uploaded over, and a folder holding one is
//! never deleted on Dropbox.

use bytes::Bytes;
use nuvosync_dropbox::{
    Account, Client, Commit, Entry, Error, ExportOnlyEntry, FileEntry, FileHistory, FolderEntry,
    Page, SpaceUsage,
};
use std::future::Future;
use std::pin::Pin;
use sync_core::path::{NameProblem, check_name, key};
use sync_core::{RemoteKind, RemoteNode};

/// A boxed future of a Dropbox call.
pub type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// A streaming download body.
pub type Body = Box<dyn futures_util::AsyncRead + Send + Unpin>;

/// An exported file: the document's metadata, the exported file's name, its content hash
/// when Dropbox gives one, and the body.
pub type Exported = (
    ExportOnlyEntry,
    String,
    Option<sync_core::ContentHash>,
    Body,
);

/// The Dropbox calls the engine makes.
pub trait Remote: Send + Sync {
    /// First page of a recursive listing.
    fn list_folder<'a>(&'a self, path: &'a str) -> Call<'a, Page>;
    /// Next page after a cursor.
    fn list_continue<'a>(&'a self, cursor: &'a str) -> Call<'a, Page>;
    /// A cursor at "now".
    fn latest_cursor<'a>(&'a self, path: &'a str) -> Call<'a, String>;
    /// Wait for changes after a cursor: (changes, backoff seconds).
    fn longpoll<'a>(&'a self, cursor: &'a str, timeout_secs: u64) -> Call<'a, (bool, Option<u64>)>;
    /// Metadata of a path.
    fn get_metadata<'a>(&'a self, path: &'a str) -> Call<'a, Option<Entry>>;
    /// Start a download.
    /// Download from byte `start` on (0: the whole file): the file's metadata (its whole
    /// size), the length of the body sent when known, and the body.
    fn download<'a>(
        &'a self,
        path: &'a str,
        start: u64,
    ) -> Call<'a, (FileEntry, Option<u64>, Body)>;
    /// Export a file Dropbox cannot download (a Paper doc) to `format`: its metadata, the
    /// exported file's name, its content hash when Dropbox gives one, and the body.
    fn export<'a>(&'a self, path: &'a str, format: Option<&'a str>) -> Call<'a, Exported> {
        let _ = (path, format);
        Box::pin(async { Err(Error::NotDownloadable) })
    }
    /// Upload in one request.
    fn upload<'a>(&'a self, commit: &'a Commit, data: Bytes) -> Call<'a, FileEntry>;
    /// Start a session.
    fn session_start(&self, data: Bytes, close: bool) -> Call<'_, String>;
    /// Append to a session.
    fn session_append<'a>(
        &'a self,
        session: &'a str,
        offset: u64,
        data: Bytes,
        close: bool,
    ) -> Call<'a, ()>;
    /// Finish a session with a commit.
    fn session_finish<'a>(
        &'a self,
        session: &'a str,
        offset: u64,
        commit: &'a Commit,
        data: Bytes,
    ) -> Call<'a, FileEntry>;
    /// Commit closed sessions together.
    fn finish_batch<'a>(
        &'a self,
        entries: &'a [(String, u64, Commit)],
    ) -> Call<'a, Vec<Result<FileEntry, Error>>>;
    /// Create a folder.
    fn create_folder<'a>(&'a self, path: &'a str) -> Call<'a, FolderEntry>;
    /// Delete (a file only if still at `parent_rev`).
    fn delete<'a>(&'a self, path: &'a str, parent_rev: Option<&'a str>) -> Call<'a, Entry>;
    /// Move.
    fn move_entry<'a>(&'a self, from: &'a str, to: &'a str) -> Call<'a, Entry>;
    /// Revisions, newest first.
    fn list_revisions<'a>(&'a self, path: &'a str, limit: u64) -> Call<'a, Vec<FileEntry>>;
    /// A file's revisions and whether it is deleted now.
    fn file_history<'a>(&'a self, path: &'a str, limit: u64) -> Call<'a, FileHistory>;
    /// Paths below `path` Dropbox lists as deleted.
    fn list_deleted<'a>(&'a self, path: &'a str) -> Call<'a, Vec<String>>;
    /// Restore a revision.
    fn restore<'a>(&'a self, path: &'a str, rev: &'a str) -> Call<'a, FileEntry>;
    /// Who is linked.
    fn account(&self) -> Call<'_, Account>;
    /// Space usage.
    fn space_usage(&self) -> Call<'_, SpaceUsage>;
}

impl Remote for Client {
    fn list_folder<'a>(&'a self, path: &'a str) -> Call<'a, Page> {
        Box::pin(Client::list_folder(self, path, true, None))
    }
    fn list_continue<'a>(&'a self, cursor: &'a str) -> Call<'a, Page> {
        Box::pin(Client::list_continue(self, cursor))
    }
    fn latest_cursor<'a>(&'a self, path: &'a str) -> Call<'a, String> {
        Box::pin(Client::latest_cursor(self, path, true))
    }
    fn longpoll<'a>(&'a self, cursor: &'a str, timeout_secs: u64) -> Call<'a, (bool, Option<u64>)> {
        Box::pin(Client::longpoll(self, cursor, timeout_secs))
    }
    fn get_metadata<'a>(&'a self, path: &'a str) -> Call<'a, Option<Entry>> {
        Box::pin(Client::get_metadata(self, path, false))
    }
    fn download<'a>(
        &'a self,
        path: &'a str,
        start: u64,
    ) -> Call<'a, (FileEntry, Option<u64>, Body)> {
        Box::pin(Client::download_from(self, path, start))
    }
    fn export<'a>(&'a self, path: &'a str, format: Option<&'a str>) -> Call<'a, Exported> {
        Box::pin(Client::export(self, path, format))
    }
    fn upload<'a>(&'a self, commit: &'a Commit, data: Bytes) -> Call<'a, FileEntry> {
        Box::pin(Client::upload(self, commit, data))
    }
    fn session_start(&self, data: Bytes, close: bool) -> Call<'_, String> {
        Box::pin(Client::session_start(self, data, close))
    }
    fn session_append<'a>(
        &'a self,
        session: &'a str,
        offset: u64,
        data: Bytes,
        close: bool,
    ) -> Call<'a, ()> {
        Box::pin(Client::session_append(self, session, offset, data, close))
    }
    fn session_finish<'a>(
        &'a self,
        session: &'a str,
        offset: u64,
        commit: &'a Commit,
        data: Bytes,
    ) -> Call<'a, FileEntry> {
        Box::pin(Client::session_finish(self, session, offset, commit, data))
    }
    fn finish_batch<'a>(
        &'a self,
        entries: &'a [(String, u64, Commit)],
    ) -> Call<'a, Vec<Result<FileEntry, Error>>> {
        Box::pin(Client::finish_batch(self, entries))
    }
    fn create_folder<'a>(&'a self, path: &'a str) -> Call<'a, FolderEntry> {
        Box::pin(Client::create_folder(self, path))
    }
    fn delete<'a>(&'a self, path: &'a str, parent_rev: Option<&'a str>) -> Call<'a, Entry> {
        Box::pin(Client::delete(self, path, parent_rev))
    }
    fn move_entry<'a>(&'a self, from: &'a str, to: &'a str) -> Call<'a, Entry> {
        Box::pin(Client::move_entry(self, from, to))
    }
    fn list_revisions<'a>(&'a self, path: &'a str, limit: u64) -> Call<'a, Vec<FileEntry>> {
        Box::pin(Client::list_revisions(self, path, limit))
    }
    fn file_history<'a>(&'a self, path: &'a str, limit: u64) -> Call<'a, FileHistory> {
        Box::pin(Client::file_history(self, path, limit))
    }
    fn list_deleted<'a>(&'a self, path: &'a str) -> Call<'a, Vec<String>> {
        Box::pin(Client::list_deleted(self, path))
    }
    fn restore<'a>(&'a self, path: &'a str, rev: &'a str) -> Call<'a, FileEntry> {
        Box::pin(Client::restore(self, path, rev))
    }
    fn account(&self) -> Call<'_, Account> {
        Box::pin(Client::account(self))
    }
    fn space_usage(&self) -> Call<'_, SpaceUsage> {
        Box::pin(Client::space_usage(self))
    }
}

/// The pair's folder on Dropbox, `/<Organization>/<Space>/<Instance>` (in the app folder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRoot {
    /// Display path, e.g. `/Acme/Research/Instance 1`.
    pub path: String,
    depth: usize,
    key: String,
}

impl RemoteRoot {
    /// A root from its display path (`/` or `""` is the app folder itself).
    pub fn new(path: &str) -> Self {
        let t = path.trim_matches('/');
        let path = if t.is_empty() {
            String::new()
        } else {
            format!("/{t}")
        };
        RemoteRoot {
            depth: path.matches('/').count(),
            key: key(&path),
            path,
        }
    }

    /// The Dropbox path of a pair-relative path.
    pub fn dropbox_path(&self, rel: &str) -> String {
        format!("{}{rel}", self.path)
    }

    /// The pair-relative path of a Dropbox display path: `None` if outside the root,
    /// `Some("")` for the root itself; an error for a path that has an empty, `.` or `..`
    /// component, or a name Dropbox refuses, below the root.
    pub fn relative(&self, path_display: &str) -> Result<Option<String>, BadRemotePath> {
        let bad = |problem| BadRemotePath::Escapes {
            path: path_display.to_string(),
            problem,
        };
        if path_display.is_empty() {
            // The app folder itself.
            return Ok(self.key.is_empty().then(String::new));
        }
        let Some(below) = path_display.strip_prefix('/') else {
            return Err(bad("it does not start with \"/\""));
        };
        let comps: Vec<&str> = below.split('/').collect();
        if comps
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == "..")
            && !below.is_empty()
        {
            // Checked before the root is compared: `/root/../x` looks like it is inside.
            return Err(bad("it has an empty, \".\" or \"..\" component"));
        }
        let k = key(path_display);
        if !sync_core::path::is_within(&k, &self.key) {
            return Ok(None);
        }
        let comps = if below.is_empty() {
            &[][..]
        } else {
            &comps[self.depth..]
        };
        for c in comps {
            match check_name(c) {
                // Names Dropbox never syncs are skipped by the rules, on both sides alike.
                Ok(()) | Err(NameProblem::Disallowed) => {}
                Err(problem) => {
                    return Err(BadRemotePath::Name {
                        path: format!("/{}", comps.join("/")),
                        problem,
                    });
                }
            }
        }
        if comps.is_empty() {
            Ok(Some(String::new()))
        } else {
            Ok(Some(format!("/{}", comps.join("/"))))
        }
    }

    /// The node an entry describes, relative to the root (`None` for deletions, the root
    /// itself and entries outside); an error as for [`RemoteRoot::relative`].
    pub fn node(&self, e: &Entry) -> Result<Option<(String, RemoteNode)>, BadRemotePath> {
        let Some(rel) = self.relative(e.path_display())? else {
            return Ok(None);
        };
        if rel.is_empty() {
            return Ok(None);
        }
        let node = match e {
            Entry::File(f) => RemoteNode {
                path: rel.clone(),
                id: f.id.clone(),
                kind: RemoteKind::File {
                    rev: f.rev.clone(),
                    size: f.size,
                    hash: f.content_hash,
                },
            },
            Entry::Folder(d) => RemoteNode {
                path: rel.clone(),
                id: d.id.clone(),
                kind: RemoteKind::Folder,
            },
            Entry::ExportOnly(x) => {
                return Err(BadRemotePath::ExportOnly {
                    path: rel,
                    export_as: x.export_as.clone(),
                });
            }
            Entry::Deleted { .. } => return Ok(None),
        };
        Ok(Some((key(&rel), node)))
    }
}

/// A path from Dropbox that cannot be a path in the pair's folder.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRemotePath {
    /// It could lead out of the folder (`..`, `.`, an empty component): no sane server sends
    /// this, so the answer it came in is not trusted.
    #[error(
        "Dropbox sent the path {path:?}, which could lead out of the synced folder ({problem}); nothing is written for it"
    )]
    Escapes {
        /// The path as sent.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A name Dropbox itself would refuse: the entry stays on Dropbox only.
    #[error(
        "this Dropbox entry's name cannot be synced here: {problem}; it stays on Dropbox only (rename it on dropbox.com to sync it)"
    )]
    Name {
        /// The path relative to the pair's root.
        path: String,
        /// Why the name is refused.
        problem: NameProblem,
    },
    /// A Paper doc or another cloud document: Dropbox lists it but cannot download it (only
    /// export it), so it stays on Dropbox only.
    #[error(
        "a Paper doc or another cloud document{}: Dropbox cannot download it, so it stays on Dropbox only — open it on dropbox.com",
        .export_as.as_deref().map(|f| format!(" (exports as {f})")).unwrap_or_default()
    )]
    ExportOnly {
        /// The path relative to the pair's root.
        path: String,
        /// The format Dropbox exports it to by default.
        export_as: Option<String>,
    },
}

impl BadRemotePath {
    /// The path as Dropbox sent it ([`BadRemotePath::Escapes`]) or relative to the pair's
    /// root ([`BadRemotePath::Name`]).
    pub fn path(&self) -> &str {
        match self {
            BadRemotePath::Escapes { path, .. }
            | BadRemotePath::Name { path, .. }
            | BadRemotePath::ExportOnly { path, .. } => path,
        }
    }

    /// The machine code of the status entry it makes.
    pub fn code(&self) -> &'static str {
        match self {
            BadRemotePath::Escapes { .. } => "garbled_answer",
            BadRemotePath::Name { .. } => "bad_remote_name",
            BadRemotePath::ExportOnly { .. } => "not_downloadable",
        }
    }

    /// The answer that carried it is garbled (rather than one odd name on Dropbox).
    pub fn is_garbled(&self) -> bool {
        matches!(self, BadRemotePath::Escapes { .. })
    }
}

impl From<BadRemotePath> for Error {
    fn from(e: BadRemotePath) -> Error {
        Error::Garbled(e.to_string())
    }
}

/// Decides, before each call (by name, e.g. `session_append`), whether it fails.
#[cfg(feature = "testing")]
pub type Hook = Box<dyn Fn(&str) -> Option<Error> + Send + Sync>;

/// Decides, after a call went through (by name), whether its answer is lost — the work is
/// done on Dropbox but the caller sees an error, as when a process dies right after a request.
#[cfg(feature = "testing")]
pub type AfterHook = Box<dyn Fn(&str) -> Option<Error> + Send + Sync>;

/// Decides, after a call went through (by name), whether the caller stops right there for
/// good — the process dies with the answer in hand; the test then drops the engine.
#[cfg(feature = "testing")]
pub type Stall = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// A [`Remote`] that asks a hook before every call and fails the call when told to — for
/// crash and fault injection in tests and simulations.
#[cfg(feature = "testing")]
pub struct Hooked {
    inner: std::sync::Arc<dyn Remote>,
    hook: Hook,
    after: Option<AfterHook>,
    stall: Option<Stall>,
    body: Option<BodyHook>,
}

/// Changes a download's body on its way to the engine (a server that sends more, less or
/// other bytes than it announced).
#[cfg(feature = "testing")]
pub type BodyHook = Box<dyn Fn(Body) -> Body + Send + Sync>;

#[cfg(feature = "testing")]
impl Hooked {
    /// Wrap `inner`.
    pub fn new(inner: std::sync::Arc<dyn Remote>, hook: Hook) -> Self {
        Hooked {
            inner,
            hook,
            after: None,
            stall: None,
            body: None,
        }
    }

    /// Also change download bodies.
    pub fn with_body(mut self, body: BodyHook) -> Self {
        self.body = Some(body);
        self
    }

    /// Also freeze callers after the fact.
    pub fn with_stall(mut self, stall: Stall) -> Self {
        self.stall = Some(stall);
        self
    }

    /// Also lose answers after the fact.
    pub fn with_after(mut self, after: AfterHook) -> Self {
        self.after = Some(after);
        self
    }

    fn gate<'a, T: Send + 'a>(
        &'a self,
        name: &str,
        call: impl FnOnce() -> Call<'a, T>,
    ) -> Call<'a, T> {
        if let Some(e) = (self.hook)(name) {
            return Box::pin(async move { Err(e) });
        }
        let fut = call();
        if self.after.is_none() && self.stall.is_none() {
            return fut;
        }
        let name = name.to_string();
        Box::pin(async move {
            let r = fut.await;
            if self.stall.as_ref().is_some_and(|s| s(&name)) {
                std::future::pending::<()>().await;
            }
            match (r, self.after.as_ref().and_then(|a| a(&name))) {
                (Ok(_), Some(e)) => Err(e),
                (r, _) => r,
            }
        })
    }
}

#[cfg(feature = "testing")]
impl Remote for Hooked {
    fn list_folder<'a>(&'a self, path: &'a str) -> Call<'a, Page> {
        self.gate("list_folder", || self.inner.list_folder(path))
    }
    fn list_continue<'a>(&'a self, cursor: &'a str) -> Call<'a, Page> {
        self.gate("list_continue", || self.inner.list_continue(cursor))
    }
    fn latest_cursor<'a>(&'a self, path: &'a str) -> Call<'a, String> {
        self.gate("latest_cursor", || self.inner.latest_cursor(path))
    }
    fn longpoll<'a>(&'a self, cursor: &'a str, timeout_secs: u64) -> Call<'a, (bool, Option<u64>)> {
        self.gate("longpoll", || self.inner.longpoll(cursor, timeout_secs))
    }
    fn get_metadata<'a>(&'a self, path: &'a str) -> Call<'a, Option<Entry>> {
        self.gate("get_metadata", || self.inner.get_metadata(path))
    }
    fn download<'a>(
        &'a self,
        path: &'a str,
        start: u64,
    ) -> Call<'a, (FileEntry, Option<u64>, Body)> {
        let call = self.gate("download", || self.inner.download(path, start));
        match &self.body {
            None => call,
            Some(f) => Box::pin(async move {
                let (meta, len, body) = call.await?;
                Ok((meta, len, f(body)))
            }),
        }
    }
    fn export<'a>(&'a self, path: &'a str, format: Option<&'a str>) -> Call<'a, Exported> {
        self.gate("export", || self.inner.export(path, format))
    }
    fn upload<'a>(&'a self, commit: &'a Commit, data: Bytes) -> Call<'a, FileEntry> {
        self.gate("upload", || self.inner.upload(commit, data))
    }
    fn session_start(&self, data: Bytes, close: bool) -> Call<'_, String> {
        self.gate("session_start", || self.inner.session_start(data, close))
    }
    fn session_append<'a>(
        &'a self,
        session: &'a str,
        offset: u64,
        data: Bytes,
        close: bool,
    ) -> Call<'a, ()> {
        self.gate("session_append", || {
            self.inner.session_append(session, offset, data, close)
        })
    }
    fn session_finish<'a>(
        &'a self,
        session: &'a str,
        offset: u64,
        commit: &'a Commit,
        data: Bytes,
    ) -> Call<'a, FileEntry> {
        self.gate("session_finish", || {
            self.inner.session_finish(session, offset, commit, data)
        })
    }
    fn finish_batch<'a>(
        &'a self,
        entries: &'a [(String, u64, Commit)],
    ) -> Call<'a, Vec<Result<FileEntry, Error>>> {
        self.gate("finish_batch", || self.inner.finish_batch(entries))
    }
    fn create_folder<'a>(&'a self, path: &'a str) -> Call<'a, FolderEntry> {
        self.gate("create_folder", || self.inner.create_folder(path))
    }
    fn delete<'a>(&'a self, path: &'a str, parent_rev: Option<&'a str>) -> Call<'a, Entry> {
        self.gate("delete", || self.inner.delete(path, parent_rev))
    }
    fn move_entry<'a>(&'a self, from: &'a str, to: &'a str) -> Call<'a, Entry> {
        self.gate("move_entry", || self.inner.move_entry(from, to))
    }
    fn list_revisions<'a>(&'a self, path: &'a str, limit: u64) -> Call<'a, Vec<FileEntry>> {
        self.gate("list_revisions", || self.inner.list_revisions(path, limit))
    }
    fn file_history<'a>(&'a self, path: &'a str, limit: u64) -> Call<'a, FileHistory> {
        self.gate("file_history", || self.inner.file_history(path, limit))
    }
    fn list_deleted<'a>(&'a self, path: &'a str) -> Call<'a, Vec<String>> {
        self.gate("list_deleted", || self.inner.list_deleted(path))
    }
    fn restore<'a>(&'a self, path: &'a str, rev: &'a str) -> Call<'a, FileEntry> {
        self.gate("restore", || self.inner.restore(path, rev))
    }
    fn account(&self) -> Call<'_, Account> {
        self.gate("account", || self.inner.account())
    }
    fn space_usage(&self) -> Call<'_, SpaceUsage> {
        self.gate("space_usage", || self.inner.space_usage())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_under_the_instance_folder() {
        let r = RemoteRoot::new("/Acme/Research/Inst");
        assert_eq!(r.dropbox_path("/a/b.txt"), "/Acme/Research/Inst/a/b.txt");
        assert_eq!(
            r.relative("/acme/RESEARCH/inst/A/b.txt")
                .unwrap()
                .as_deref(),
            Some("/A/b.txt")
        );
        assert_eq!(
            r.relative("/Acme/Research/Inst").unwrap().as_deref(),
            Some("")
        );
        assert_eq!(r.relative("/Acme/Research/Inst2/x"), Ok(None));
        let app = RemoteRoot::new("/");
        assert_eq!(app.dropbox_path("/x"), "/x");
        assert_eq!(app.relative("/x").unwrap().as_deref(), Some("/x"));
        assert_eq!(app.relative("").unwrap().as_deref(), Some(""));
    }

    #[test]
    fn paths_that_could_leave_the_folder_are_refused() {
        let r = RemoteRoot::new("/Acme/Research/Inst");
        for escaping in [
            "/Acme/Research/Inst/../../../../etc/passwd",
            "/Acme/Research/Inst/a/../../../x",
            "/Acme/Research/Inst/./x",
            "/Acme/Research/Inst//tmp/x",
            "/Acme/Research/Inst/x/",
            "Acme/Research/Inst/x",
            "/Acme/../Acme/Research/Inst/x",
        ] {
            let e = r.relative(escaping).unwrap_err();
            assert!(e.is_garbled(), "{escaping}: {e:?}");
            assert_eq!(e.path(), escaping);
        }
        // Names Dropbox refuses: the entry is left on Dropbox, reported.
        for (odd, problem) in [
            ("/tab\there", NameProblem::BadCharacter('\t')),
            ("/trailing /x", NameProblem::TrailingSpace),
            ("/back\\slash", NameProblem::BadCharacter('\\')),
        ] {
            assert_eq!(
                r.relative(&format!("/Acme/Research/Inst{odd}")),
                Err(BadRemotePath::Name {
                    path: odd.into(),
                    problem
                })
            );
        }
        let long = format!("/Acme/Research/Inst/{}", "x".repeat(300));
        assert!(matches!(
            r.relative(&long),
            Err(BadRemotePath::Name {
                problem: NameProblem::TooLong,
                ..
            })
        ));
        // Outside the root is not an error (it is not ours), nor is desktop.ini (the rules skip it).
        assert_eq!(r.relative("/elsewhere/x"), Ok(None));
        assert!(r.relative("/Acme/Research/Inst/desktop.ini").is_ok());
        let entry = Entry::Deleted {
            path_display: "/Acme/Research/Inst/../x".into(),
            path_lower: "/acme/research/inst/../x".into(),
        };
        assert!(r.node(&entry).is_err());
    }
}
