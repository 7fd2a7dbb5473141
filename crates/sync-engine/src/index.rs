//! The index: one SQLite database per pair (WAL) holding the three trees, the set of keys
//! whose observations changed since they were last planned ("dirty"), the remote cursor,
//! resumable upload sessions, per-file issues, conflicts and the activity history.
//!
//! Every completed operation is written as one transaction of tree [`Edit`]s, so a crash at
//! any point leaves trees that re-plan correctly.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use sync_core::{
    ContentHash, Edit, Key, LocalKind, LocalNode, RemoteKind, RemoteNode, SyncedKind, SyncedNode,
    Trees,
};
use thiserror::Error;

/// The index could not be used.
#[derive(Debug, Error)]
pub enum IndexError {
    /// SQLite failed.
    #[error(
        "the sync index {path} failed: {source} — if this persists, run `nuvosync rebuild-index`"
    )]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database is from a newer nuvosync.
    #[error(
        "the sync index {path} was written by a newer nuvosync (schema {found}, this one knows {known}) — update nuvosync"
    )]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Schema found.
        found: i64,
        /// Newest schema known.
        known: i64,
    },
}

/// Create a folder (and those above it) for nuvosync's state, and make it private (0700)
/// whatever the umask.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let md = std::fs::symlink_metadata(dir)?;
    if md.is_dir() && md.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The database file exists and is private (0600), and so are its journal files if there
/// are any (SQLite creates them with the database's mode).
fn private_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let os = path.as_os_str().to_os_string();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = os.clone();
        p.push(suffix);
        let p = PathBuf::from(p);
        if let Ok(md) = std::fs::symlink_metadata(&p) {
            if md.is_file() && md.permissions().mode() & 0o777 != 0o600 {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// Result with [`IndexError`].
pub type Result<T> = std::result::Result<T, IndexError>;

/// Schema migrations, in order; `user_version` counts how many were applied.
const MIGRATIONS: &[&str] = &[
    // 1: the three trees, dirty keys, metadata
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
     CREATE TABLE local (key TEXT PRIMARY KEY, path TEXT NOT NULL, folder INTEGER NOT NULL, inode INTEGER NOT NULL,
                         size INTEGER, mtime_ns INTEGER, hash BLOB) WITHOUT ROWID;
     CREATE TABLE remote (key TEXT PRIMARY KEY, path TEXT NOT NULL, folder INTEGER NOT NULL, id TEXT NOT NULL,
                          rev TEXT, size INTEGER, hash BLOB) WITHOUT ROWID;
     CREATE TABLE synced (key TEXT PRIMARY KEY, path TEXT NOT NULL, folder INTEGER NOT NULL, id TEXT NOT NULL,
                          inode INTEGER NOT NULL, rev TEXT, size INTEGER, hash BLOB) WITHOUT ROWID;
     CREATE INDEX synced_inode ON synced(inode);
     CREATE INDEX synced_id ON synced(id);
     CREATE TABLE dirty (key TEXT PRIMARY KEY) WITHOUT ROWID;",
    // 2: resumable uploads, issues, conflicts, history
    "CREATE TABLE sessions (key TEXT PRIMARY KEY, session_id TEXT NOT NULL, offset INTEGER NOT NULL,
                            size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE issues (path TEXT PRIMARY KEY, code TEXT NOT NULL, message TEXT NOT NULL, since INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE conflicts (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, path TEXT NOT NULL, copy_path TEXT NOT NULL,
                             kind TEXT NOT NULL, resolved INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE history (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, action TEXT NOT NULL, path TEXT NOT NULL,
                           size INTEGER, detail TEXT);
     CREATE INDEX history_at ON history(at);",
    // 3: the local signature takes the ctime (an edit can keep size and mtime; the ctime
    // moves on every change). NULL — rows from before, or written by the executor — means
    // "not known": the next scan hashes the file again rather than trust size and mtime.
    "ALTER TABLE local ADD COLUMN ctime_ns INTEGER;",
];

/// Signatures by display path (a fast hash: a restart looks up every path of the folder).
pub type Sigs = std::collections::HashMap<String, Sig, rustc_hash::FxBuildHasher>;

/// The previous scan's signature of a local path (to decide whether to hash again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sig {
    /// Folder.
    pub folder: bool,
    /// Inode.
    pub inode: u64,
    /// Size.
    pub size: u64,
    /// Modification time (ns).
    pub mtime_ns: i64,
    /// Status-change time (ns); 0 for folders and where it is not known.
    pub ctime_ns: i64,
}

/// A stored upload session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// Dropbox session id.
    pub session_id: String,
    /// Bytes Dropbox has.
    pub offset: u64,
    /// The file's size when the session began.
    pub size: u64,
    /// Its mtime.
    pub mtime_ns: i64,
    /// Its inode.
    pub inode: u64,
    /// When the session began (seconds since the epoch).
    pub created: i64,
}

/// A per-file problem, shown in status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// Local relative path.
    pub path: String,
    /// Machine code.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
    /// Since (seconds since the epoch).
    pub since: i64,
}

/// A recorded conflict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConflictRecord {
    /// Row id.
    pub id: i64,
    /// When (seconds since the epoch).
    pub at: i64,
    /// The contested path (Dropbox's version stays here).
    pub path: String,
    /// Where the local version was set aside.
    pub copy_path: String,
    /// `conflict`, `case`, `unicode`.
    pub kind: String,
    /// Resolved by the user.
    pub resolved: bool,
}

/// A history entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// When.
    pub at: i64,
    /// `uploaded`, `downloaded`, `deleted locally`, ...
    pub action: String,
    /// Path.
    pub path: String,
    /// Bytes, when a transfer.
    pub size: Option<u64>,
}

/// One pair's index.
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

/// A dirty key new on both sides with the same name and content: key, local path, folder,
/// local inode, Dropbox id, revision, size, hash.
type AgreeRow = (
    String,
    String,
    bool,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<Vec<u8>>,
);

/// The next slice of [`AgreeRow`]s after key `?1`, at most `?2` of them.
const AGREE_SQL: &str = "SELECT d.key, l.path, l.folder, l.inode, r.id, r.rev, r.size, r.hash \
     FROM dirty d JOIN local l ON l.key = d.key JOIN remote r ON r.key = d.key \
     WHERE d.key > ?1 \
       AND NOT EXISTS (SELECT 1 FROM synced s WHERE s.key = d.key) \
       AND l.path = r.path \
       AND ((l.folder AND r.folder) \
            OR (NOT l.folder AND NOT r.folder AND l.hash IS NOT NULL AND l.hash = r.hash)) \
     ORDER BY d.key LIMIT ?2";

fn hash_blob(h: Option<ContentHash>) -> Option<Vec<u8>> {
    h.map(|h| h.0.to_vec())
}

fn blob_hash(b: Option<Vec<u8>>) -> Option<ContentHash> {
    let b = b?;
    let arr: [u8; 32] = b.try_into().ok()?;
    Some(ContentHash(arr))
}

fn local_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Key, LocalNode)> {
    let key: String = row.get(0)?;
    let folder: bool = row.get(2)?;
    let kind = if folder {
        LocalKind::Folder
    } else {
        LocalKind::File {
            size: row.get::<_, i64>(4)? as u64,
            mtime_ns: row.get(5)?,
            hash: blob_hash(row.get(6)?).unwrap_or_else(ContentHash::empty),
        }
    };
    Ok((
        key,
        LocalNode {
            path: row.get(1)?,
            inode: row.get::<_, i64>(3)? as u64,
            kind,
        },
    ))
}

fn remote_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Key, RemoteNode)> {
    let key: String = row.get(0)?;
    let folder: bool = row.get(2)?;
    let kind = if folder {
        RemoteKind::Folder
    } else {
        RemoteKind::File {
            rev: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
            size: row.get::<_, Option<i64>>(5)?.unwrap_or(0) as u64,
            hash: blob_hash(row.get(6)?).unwrap_or_else(ContentHash::empty),
        }
    };
    Ok((
        key,
        RemoteNode {
            path: row.get(1)?,
            id: row.get(3)?,
            kind,
        },
    ))
}

fn synced_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Key, SyncedNode)> {
    let key: String = row.get(0)?;
    let folder: bool = row.get(2)?;
    let kind = if folder {
        SyncedKind::Folder
    } else {
        SyncedKind::File {
            rev: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
            size: row.get::<_, Option<i64>>(6)?.unwrap_or(0) as u64,
            hash: blob_hash(row.get(7)?).unwrap_or_else(ContentHash::empty),
        }
    };
    Ok((
        key,
        SyncedNode {
            path: row.get(1)?,
            id: row.get(3)?,
            inode: row.get::<_, i64>(4)? as u64,
            kind,
        },
    ))
}

const LOCAL_COLS: &str = "key, path, folder, inode, size, mtime_ns, hash";
const REMOTE_COLS: &str = "key, path, folder, id, rev, size, hash";
const SYNCED_COLS: &str = "key, path, folder, id, inode, rev, size, hash";

/// The upper bound of a subtree's key range (`/a` → `/a0`: '0' follows '/').
fn subtree_end(key: &str) -> String {
    format!("{key}0")
}

/// The ctime stored with a local node.
#[derive(Clone, Copy)]
enum Ctime {
    /// What the scanner saw with the hash (`None`: nothing to trust).
    Scanned(Option<i64>),
    /// Not known to the writer (the executor's records): a ctime already stored for the very
    /// same file (inode, size, mtime and hash) — or given by `Some` from a move in the same
    /// batch — is kept, any other is forgotten, and the next scan hashes the file again.
    Keep(Option<i64>),
}

/// Store a local node with its ctime.
fn put_local(tx: &Transaction<'_>, k: &str, n: &LocalNode, ctime: Ctime) -> rusqlite::Result<()> {
    let (folder, size, mtime, hash) = match &n.kind {
        LocalKind::Folder => (true, None, None, None),
        LocalKind::File {
            size,
            mtime_ns,
            hash,
        } => (
            false,
            Some(*size as i64),
            Some(*mtime_ns),
            hash_blob(Some(*hash)),
        ),
    };
    let (sql, c) = match ctime {
        Ctime::Scanned(c) => (
            "INSERT OR REPLACE INTO local (key, path, folder, inode, size, mtime_ns, hash, ctime_ns) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            c,
        ),
        Ctime::Keep(c) => (
            "INSERT INTO local (key, path, folder, inode, size, mtime_ns, hash, ctime_ns) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)
             ON CONFLICT(key) DO UPDATE SET path = excluded.path, folder = excluded.folder,
               inode = excluded.inode, size = excluded.size, mtime_ns = excluded.mtime_ns, hash = excluded.hash,
               ctime_ns = CASE
                 WHEN excluded.ctime_ns IS NOT NULL THEN excluded.ctime_ns
                 WHEN local.inode = excluded.inode AND local.size IS excluded.size
                      AND local.mtime_ns IS excluded.mtime_ns AND local.hash IS excluded.hash THEN local.ctime_ns
                 ELSE NULL END",
            c,
        ),
    };
    let c = if folder { None } else { c };
    tx.prepare_cached(sql)?.execute(params![
        k,
        n.path,
        folder,
        n.inode as i64,
        size,
        mtime,
        hash,
        c
    ])?;
    Ok(())
}

fn put_remote(tx: &Transaction<'_>, k: &str, n: &RemoteNode) -> rusqlite::Result<()> {
    let (folder, rev, size, hash) = match &n.kind {
        RemoteKind::Folder => (true, None, None, None),
        RemoteKind::File { rev, size, hash } => (
            false,
            Some(rev.clone()),
            Some(*size as i64),
            hash_blob(Some(*hash)),
        ),
    };
    tx.prepare_cached("INSERT OR REPLACE INTO remote (key, path, folder, id, rev, size, hash) VALUES (?1,?2,?3,?4,?5,?6,?7)")?
        .execute(params![k, n.path, folder, n.id, rev, size, hash])?;
    Ok(())
}

fn put_synced(tx: &Transaction<'_>, k: &str, n: &SyncedNode) -> rusqlite::Result<()> {
    let (folder, rev, size, hash) = match &n.kind {
        SyncedKind::Folder => (true, None, None, None),
        SyncedKind::File { rev, size, hash } => (
            false,
            Some(rev.clone()),
            Some(*size as i64),
            hash_blob(Some(*hash)),
        ),
    };
    tx.prepare_cached("INSERT OR REPLACE INTO synced (key, path, folder, id, inode, rev, size, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)")?
        .execute(params![k, n.path, folder, n.id, n.inode as i64, rev, size, hash])?;
    Ok(())
}

fn mark(tx: &Transaction<'_>, k: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO dirty (key) VALUES (?1)")?
        .execute([k])?;
    Ok(())
}

fn load_keys(conn: &Connection, keys: &BTreeSet<Key>, trees: &mut Trees) -> rusqlite::Result<()> {
    let mut l = conn.prepare_cached(&format!("SELECT {LOCAL_COLS} FROM local WHERE key = ?1"))?;
    let mut r = conn.prepare_cached(&format!("SELECT {REMOTE_COLS} FROM remote WHERE key = ?1"))?;
    let mut s = conn.prepare_cached(&format!("SELECT {SYNCED_COLS} FROM synced WHERE key = ?1"))?;
    for k in keys {
        if let Some((k, n)) = l.query_row([k], local_row).optional()? {
            trees.local.insert(k, n);
        }
        if let Some((k, n)) = r.query_row([k], remote_row).optional()? {
            trees.remote.insert(k, n);
        }
        if let Some((k, n)) = s.query_row([k], synced_row).optional()? {
            trees.synced.insert(k, n);
        }
    }
    Ok(())
}

fn load_subtree(conn: &Connection, key: &str, trees: &mut Trees) -> rusqlite::Result<()> {
    let end = subtree_end(key);
    let below = format!("{key}/");
    let (lo, hi): (&str, &str) = if key.is_empty() {
        ("", "\u{10ffff}")
    } else {
        (&below, &end)
    };
    let mut keys = BTreeSet::new();
    keys.insert(key.to_string());
    for table in ["local", "remote", "synced"] {
        let mut st = conn.prepare_cached(&format!(
            "SELECT key FROM {table} WHERE key > ?1 AND key < ?2"
        ))?;
        for row in st.query_map(params![lo, hi], |r| r.get::<_, String>(0))? {
            keys.insert(row?);
        }
    }
    load_keys(conn, &keys, trees)
}

/// A stored file as a move carries it: inode, size, mtime and hash columns.
type FileIdentity = (i64, Option<i64>, Option<i64>, Option<Vec<u8>>);

/// A write batch: tree edits and bookkeeping applied in one transaction.
pub struct Batch<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
    /// The ctimes of local rows removed in this batch, by (inode, size, mtime, hash): a move
    /// removes a row and adds it under its new key, and the file's ctime goes with it.
    moved_ctimes: std::collections::HashMap<FileIdentity, i64>,
}

impl Batch<'_> {
    fn wrap<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
        r.map_err(|source| IndexError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        })
    }

    /// Apply tree edits; every edited key becomes dirty (to be planned again).
    pub fn edits(&mut self, edits: &[Edit]) -> Result<()> {
        for e in edits {
            let r = match e {
                Edit::PutLocal(k, n) => {
                    let ctime = Ctime::Keep(self.moved_ctime(n));
                    put_local(&self.tx, k, n, ctime).and_then(|_| mark(&self.tx, k))
                }
                Edit::DelLocal(k) => self
                    .remember_ctime(k)
                    .and_then(|_| self.tx.execute("DELETE FROM local WHERE key = ?1", [k]))
                    .map(|_| ())
                    .and_then(|_| mark(&self.tx, k)),
                Edit::PutRemote(k, n) => put_remote(&self.tx, k, n).and_then(|_| mark(&self.tx, k)),
                Edit::DelRemote(k) => self
                    .tx
                    .execute("DELETE FROM remote WHERE key = ?1", [k])
                    .map(|_| ())
                    .and_then(|_| mark(&self.tx, k)),
                Edit::PutSynced(k, n) => put_synced(&self.tx, k, n).and_then(|_| mark(&self.tx, k)),
                Edit::DelSynced(k) => self
                    .tx
                    .execute("DELETE FROM synced WHERE key = ?1", [k])
                    .map(|_| ())
                    .and_then(|_| mark(&self.tx, k)),
            };
            self.wrap(r)?;
        }
        Ok(())
    }

    /// Before a local row goes: keep its ctime for a move's new row (see `moved_ctimes`).
    fn remember_ctime(&mut self, k: &str) -> rusqlite::Result<()> {
        type Row = (i64, Option<i64>, Option<i64>, Option<Vec<u8>>, Option<i64>);
        let row: Option<Row> = self
            .tx
            .prepare_cached(
                "SELECT inode, size, mtime_ns, hash, ctime_ns FROM local WHERE key = ?1 AND folder = 0",
            )?
            .query_row([k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()?;
        if let Some((inode, size, mtime, hash, Some(ctime))) = row {
            self.moved_ctimes.insert((inode, size, mtime, hash), ctime);
        }
        Ok(())
    }

    /// The ctime of a row removed in this batch for this very file, if any.
    fn moved_ctime(&self, n: &LocalNode) -> Option<i64> {
        match &n.kind {
            LocalKind::File {
                size,
                mtime_ns,
                hash,
            } => self
                .moved_ctimes
                .get(&(
                    n.inode as i64,
                    Some(*size as i64),
                    Some(*mtime_ns),
                    hash_blob(Some(*hash)),
                ))
                .copied(),
            LocalKind::Folder => None,
        }
    }

    /// Set or replace a local node (its ctime, if the very same file's is stored, is kept).
    pub fn put_local(&mut self, k: &str, n: &LocalNode) -> Result<()> {
        let r = put_local(&self.tx, k, n, Ctime::Keep(None)).and_then(|_| mark(&self.tx, k));
        self.wrap(r)
    }

    /// Set or replace a local node as the scanner found it, with the ctime it saw (`None`:
    /// none to trust — the next scan hashes the file again).
    pub fn put_local_scanned(
        &mut self,
        k: &str,
        n: &LocalNode,
        ctime_ns: Option<i64>,
    ) -> Result<()> {
        let r = put_local(&self.tx, k, n, Ctime::Scanned(ctime_ns)).and_then(|_| mark(&self.tx, k));
        self.wrap(r)
    }

    /// Remove local nodes at and below `k` (scanner: gone from disk).
    pub fn delete_local_subtree(&mut self, k: &str) -> Result<()> {
        let r = (|| {
            let mut keys: Vec<String> = {
                let mut st = self
                    .tx
                    .prepare_cached("SELECT key FROM local WHERE key > ?1 AND key < ?2")?;
                st.query_map(params![format!("{k}/"), subtree_end(k)], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            keys.push(k.to_string());
            for key in keys {
                self.tx
                    .execute("DELETE FROM local WHERE key = ?1", [&key])?;
                mark(&self.tx, &key)?;
            }
            Ok(())
        })();
        self.wrap(r)
    }

    /// Set a remote node from the change feed. A file replaces anything below it.
    pub fn put_remote(&mut self, k: &str, n: &RemoteNode) -> Result<()> {
        if !n.is_folder() {
            self.delete_remote_below(k)?;
        }
        let r = put_remote(&self.tx, k, n).and_then(|_| mark(&self.tx, k));
        self.wrap(r)
    }

    fn delete_remote_below(&mut self, k: &str) -> Result<()> {
        let r = (|| {
            let keys: Vec<String> = {
                let mut st = self
                    .tx
                    .prepare_cached("SELECT key FROM remote WHERE key > ?1 AND key < ?2")?;
                st.query_map(params![format!("{k}/"), subtree_end(k)], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for key in keys {
                self.tx
                    .execute("DELETE FROM remote WHERE key = ?1", [&key])?;
                mark(&self.tx, &key)?;
            }
            Ok(())
        })();
        self.wrap(r)
    }

    /// Remove remote nodes at and below `k` (change feed: deleted).
    pub fn delete_remote_subtree(&mut self, k: &str) -> Result<()> {
        self.delete_remote_below(k)?;
        let r = self
            .tx
            .execute("DELETE FROM remote WHERE key = ?1", [k])
            .and_then(|_| mark(&self.tx, k));
        self.wrap(r)
    }

    /// Mark a key dirty.
    pub fn mark(&mut self, k: &str) -> Result<()> {
        let r = mark(&self.tx, k);
        self.wrap(r)
    }

    /// Set a metadata value.
    pub fn set_meta(&mut self, k: &str, v: &str) -> Result<()> {
        let r = self
            .tx
            .execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
                params![k, v],
            )
            .map(|_| ());
        self.wrap(r)
    }

    /// Remove a metadata value.
    pub fn del_meta(&mut self, k: &str) -> Result<()> {
        let r = self
            .tx
            .execute("DELETE FROM meta WHERE k = ?1", [k])
            .map(|_| ());
        self.wrap(r)
    }

    /// Record a history entry.
    pub fn history(&mut self, at: i64, action: &str, path: &str, size: Option<u64>) -> Result<()> {
        let r = self
            .tx
            .prepare_cached("INSERT INTO history (at, action, path, size) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![at, action, path, size.map(|s| s as i64)]))
            .map(|_| ());
        self.wrap(r)
    }

    /// Load the rows of `keys`, as this batch has left them so far.
    pub fn load_keys(&self, keys: &BTreeSet<Key>, trees: &mut Trees) -> Result<()> {
        self.wrap(load_keys(&self.tx, keys, trees))
    }

    /// Load everything at and below `key`, as this batch has left it so far.
    pub fn load_subtree(&self, key: &str, trees: &mut Trees) -> Result<()> {
        self.wrap(load_subtree(&self.tx, key, trees))
    }

    /// Clear the issue of a path.
    pub fn clear_issue(&mut self, path: &str) -> Result<()> {
        let r = self
            .tx
            .prepare_cached("DELETE FROM issues WHERE path = ?1")
            .and_then(|mut s| s.execute([path]))
            .map(|_| ());
        self.wrap(r)
    }

    /// Commit.
    pub fn commit(self) -> Result<()> {
        let path = self.path.to_path_buf();
        self.tx
            .commit()
            .map_err(|source| IndexError::Sqlite { path, source })
    }
}

impl Index {
    /// Open (creating and migrating) the index at `path`. Its folder is made private
    /// (0700) and the database and its journal files are readable by their owner only
    /// (0600), whatever the umask.
    pub fn open(path: &Path) -> Result<Index> {
        if let Some(dir) = path.parent() {
            let _ = private_dir(dir);
        }
        let _ = private_files(path);
        let wrap = |source| IndexError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        // Every commit is durable when it returns: the commit that marks a file synced must
        // not be lost to a power cut while the file it describes survives (nor the pending
        // generation the restore marker was written after). See docs/decisions/0004.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        let mut index = Index {
            conn,
            path: path.to_path_buf(),
        };
        index.migrate()?;
        Ok(index)
    }

    fn wrap<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
        r.map_err(|source| IndexError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 =
            self.wrap(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(IndexError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction()
                .map_err(|source| IndexError::Sqlite { path, source })?;
            let r = tx
                .execute_batch(sql)
                .and_then(|_| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .and_then(|_| tx.commit());
            r.map_err(|source| IndexError::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Start a write batch.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        let tx = self
            .conn
            .transaction()
            .map_err(|source| IndexError::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        Ok(Batch {
            tx,
            path: &self.path,
            moved_ctimes: Default::default(),
        })
    }

    /// A metadata value.
    pub fn meta(&self, k: &str) -> Result<Option<String>> {
        self.wrap(
            self.conn
                .query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
                .optional(),
        )
    }

    /// Set one metadata value (its own transaction).
    pub fn set_meta(&mut self, k: &str, v: &str) -> Result<()> {
        let mut b = self.batch()?;
        b.set_meta(k, v)?;
        b.commit()
    }

    /// Remove a metadata value.
    pub fn del_meta(&mut self, k: &str) -> Result<()> {
        self.wrap(
            self.conn
                .execute("DELETE FROM meta WHERE k = ?1", [k])
                .map(|_| ()),
        )
    }

    /// Signatures of every local node, by display path (for the scanner).
    pub fn local_sigs(&self) -> Result<Sigs> {
        self.local_sigs_within(&[String::new()])
    }

    /// The local signatures at and below these keys (`""`: everything), by display path.
    pub fn local_sigs_within(&self, keys: &[Key]) -> Result<Sigs> {
        let sig = |r: &rusqlite::Row<'_>| {
            Ok((
                r.get::<_, String>(0)?,
                Sig {
                    folder: r.get(1)?,
                    inode: r.get::<_, i64>(2)? as u64,
                    size: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                    mtime_ns: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    ctime_ns: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                },
            ))
        };
        let tx = self.wrap(self.conn.unchecked_transaction())?;
        let r = (|| {
            let mut out = Sigs::default();
            if keys.iter().any(|k| k.is_empty()) {
                let mut st =
                    tx.prepare("SELECT path, folder, inode, size, mtime_ns, ctime_ns FROM local")?;
                for row in st.query_map([], sig)? {
                    let (p, s) = row?;
                    out.insert(p, s);
                }
                return Ok(out);
            }
            let mut st = tx.prepare_cached(
                "SELECT path, folder, inode, size, mtime_ns, ctime_ns FROM local \
                 WHERE key = ?1 OR (key > ?2 AND key < ?3)",
            )?;
            for k in keys {
                for row in st.query_map(params![k, format!("{k}/"), subtree_end(k)], sig)? {
                    let (p, s) = row?;
                    out.insert(p, s);
                }
            }
            Ok(out)
        })();
        self.wrap(r)
    }

    /// Number of rows in a tree table (`local`, `remote` or `synced`).
    pub fn count(&self, table: &str) -> Result<u64> {
        let sql = match table {
            "local" => "SELECT COUNT(*) FROM local",
            "remote" => "SELECT COUNT(*) FROM remote",
            "synced" => "SELECT COUNT(*) FROM synced",
            "dirty" => "SELECT COUNT(*) FROM dirty",
            _ => return Ok(0),
        };
        self.wrap(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
    }

    /// Files and bytes in the synced tree.
    pub fn synced_totals(&self) -> Result<(u64, u64)> {
        self.wrap(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM synced WHERE folder = 0",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        ))
    }

    /// The dirty keys, in order.
    pub fn dirty(&self) -> Result<Vec<Key>> {
        let mut st = self.wrap(self.conn.prepare("SELECT key FROM dirty ORDER BY key"))?;
        let rows = self.wrap(st.query_map([], |r| r.get(0)))?;
        rows.map(|r| self.wrap(r)).collect()
    }

    /// Forget dirty marks for keys (they were planned and nothing was left to do).
    pub fn clear_dirty(&mut self, keys: &[Key]) -> Result<()> {
        let path = self.path.clone();
        let wrap = |source| IndexError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for k in keys {
            tx.execute("DELETE FROM dirty WHERE key = ?1", [k])
                .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// Record the merge base of every dirty key that is new on both sides with the same
    /// name and the same content (or a folder on both), and forget its dirty mark — what
    /// the planner would decide for it (`Agree`), done in the database in slices, without
    /// loading the trees. A first sync of a folder that is already on Dropbox is mostly
    /// this. `planned(path)` says whether the planner looks at a path at all (the selective
    /// sync rules); those keys are left to it. Returns how many keys were recorded.
    pub fn agree_where_equal(&mut self, planned: &dyn Fn(&str) -> bool) -> Result<u64> {
        const SLICE: usize = 5000;
        let path = self.path.clone();
        let wrap = |source| IndexError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut recorded = 0u64;
        let mut after = String::new();
        let r = (|| -> rusqlite::Result<()> {
            loop {
                let rows: Vec<AgreeRow> = {
                    let mut st = tx.prepare_cached(AGREE_SQL)?;
                    st.query_map(params![after, SLICE as i64], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<_>>()?
                };
                let Some(last) = rows.last() else {
                    return Ok(());
                };
                after = last.0.clone();
                let full = rows.len() == SLICE;
                for (key, path, folder, inode, id, rev, size, hash) in rows {
                    if !planned(&path) {
                        continue;
                    }
                    tx.prepare_cached("INSERT INTO synced (key, path, folder, id, inode, rev, size, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)")?
                        .execute(params![key, path, folder, id, inode, rev, size, hash])?;
                    tx.prepare_cached("DELETE FROM dirty WHERE key = ?1")?
                        .execute([&key])?;
                    // The same on both sides now (an upload whose answer was lost landed after
                    // all): what an earlier attempt reported about it no longer holds.
                    tx.prepare_cached("DELETE FROM issues WHERE path = ?1")?
                        .execute([&path])?;
                    recorded += 1;
                }
                if !full {
                    return Ok(());
                }
            }
        })();
        r.map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(recorded)
    }

    /// Mark every key of every tree dirty (after a rebuild or a settings change).
    pub fn mark_all_dirty(&mut self) -> Result<()> {
        self.wrap(self.conn.execute_batch(
            "INSERT OR IGNORE INTO dirty SELECT key FROM local; INSERT OR IGNORE INTO dirty SELECT key FROM remote; INSERT OR IGNORE INTO dirty SELECT key FROM synced;",
        ))
    }

    /// Load the rows of `keys` from all three trees into `trees`.
    pub fn load_keys(&self, keys: &BTreeSet<Key>, trees: &mut Trees) -> Result<()> {
        // One read transaction for all the lookups: outside one, every statement would take
        // and drop SQLite's file locks on its own.
        let tx = self.wrap(self.conn.unchecked_transaction())?;
        self.wrap(load_keys(&tx, keys, trees))
    }

    /// Load everything at and below `key` in all three trees.
    pub fn load_subtree(&self, key: &str, trees: &mut Trees) -> Result<()> {
        let tx = self.wrap(self.conn.unchecked_transaction())?;
        self.wrap(load_subtree(&tx, key, trees))
    }

    /// The synced keys holding any of these inodes or Dropbox ids (move partners), looked
    /// up in one read transaction.
    pub fn synced_by_inodes_or_ids<'a>(
        &self,
        inodes: impl IntoIterator<Item = u64>,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeSet<Key>> {
        let tx = self.wrap(self.conn.unchecked_transaction())?;
        let r = (|| {
            let mut out = BTreeSet::new();
            let mut st = tx.prepare_cached("SELECT key FROM synced WHERE inode = ?1 LIMIT 1")?;
            for inode in inodes {
                if let Some(k) = st.query_row([inode as i64], |r| r.get(0)).optional()? {
                    out.insert(k);
                }
            }
            let mut st = tx.prepare_cached("SELECT key FROM synced WHERE id = ?1 LIMIT 1")?;
            for id in ids {
                if let Some(k) = st.query_row([id], |r| r.get(0)).optional()? {
                    out.insert(k);
                }
            }
            Ok(out)
        })();
        self.wrap(r)
    }

    /// The local node at a key.
    pub fn local(&self, key: &str) -> Result<Option<LocalNode>> {
        self.wrap(
            self.conn
                .prepare_cached(&format!("SELECT {LOCAL_COLS} FROM local WHERE key = ?1"))
                .and_then(|mut s| s.query_row([key], local_row).optional()),
        )
        .map(|o| o.map(|(_, n)| n))
    }

    /// The hash stored for a file at `key` whose whole signature (inode, size, mtime and
    /// ctime) is `sig` — a hash that need not be computed again (a case-only rename).
    pub fn stored_hash(&self, key: &str, sig: &Sig) -> Result<Option<ContentHash>> {
        if sig.folder {
            return Ok(None);
        }
        self.wrap(
            self.conn
                .prepare_cached(
                    "SELECT hash FROM local WHERE key = ?1 AND folder = 0 AND inode = ?2 \
                     AND size = ?3 AND mtime_ns = ?4 AND ctime_ns = ?5",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            key,
                            sig.inode as i64,
                            sig.size as i64,
                            sig.mtime_ns,
                            sig.ctime_ns
                        ],
                        |r| r.get::<_, Option<Vec<u8>>>(0),
                    )
                    .optional()
                }),
        )
        .map(|o| blob_hash(o.flatten()))
    }

    /// The remote node at a key.
    pub fn remote(&self, key: &str) -> Result<Option<RemoteNode>> {
        self.wrap(
            self.conn
                .prepare_cached(&format!("SELECT {REMOTE_COLS} FROM remote WHERE key = ?1"))
                .and_then(|mut s| s.query_row([key], remote_row).optional()),
        )
        .map(|o| o.map(|(_, n)| n))
    }

    /// The synced node at a key.
    pub fn synced(&self, key: &str) -> Result<Option<SyncedNode>> {
        self.wrap(
            self.conn
                .prepare_cached(&format!("SELECT {SYNCED_COLS} FROM synced WHERE key = ?1"))
                .and_then(|mut s| s.query_row([key], synced_row).optional()),
        )
        .map(|o| o.map(|(_, n)| n))
    }

    /// Every remote key (for a full relisting after a cursor reset).
    pub fn remote_keys(&self) -> Result<BTreeSet<Key>> {
        let mut st = self.wrap(self.conn.prepare("SELECT key FROM remote"))?;
        let rows = self.wrap(st.query_map([], |r| r.get(0)))?;
        rows.map(|r| self.wrap(r)).collect()
    }

    /// All three trees in full (small pairs, tests and the restore preview).
    pub fn load_all(&self) -> Result<Trees> {
        let mut t = Trees::default();
        let mut st = self.wrap(
            self.conn
                .prepare(&format!("SELECT {LOCAL_COLS} FROM local")),
        )?;
        for row in self.wrap(st.query_map([], local_row))? {
            let (k, n) = self.wrap(row)?;
            t.local.insert(k, n);
        }
        let mut st = self.wrap(
            self.conn
                .prepare(&format!("SELECT {REMOTE_COLS} FROM remote")),
        )?;
        for row in self.wrap(st.query_map([], remote_row))? {
            let (k, n) = self.wrap(row)?;
            t.remote.insert(k, n);
        }
        let mut st = self.wrap(
            self.conn
                .prepare(&format!("SELECT {SYNCED_COLS} FROM synced")),
        )?;
        for row in self.wrap(st.query_map([], synced_row))? {
            let (k, n) = self.wrap(row)?;
            t.synced.insert(k, n);
        }
        Ok(t)
    }

    /// Forget the three trees and the cursor (rebuild-index, restore reset).
    pub fn reset_trees(&mut self) -> Result<()> {
        self.wrap(self.conn.execute_batch(
            "BEGIN; DELETE FROM local; DELETE FROM remote; DELETE FROM synced; DELETE FROM dirty; DELETE FROM sessions;
             DELETE FROM meta WHERE k IN ('cursor'); COMMIT;",
        ))
    }

    // ---- upload sessions

    /// The stored session for a key.
    pub fn session(&self, key: &str) -> Result<Option<StoredSession>> {
        self.wrap(
            self.conn
                .prepare_cached("SELECT session_id, offset, size, mtime_ns, inode, created FROM sessions WHERE key = ?1")
                .and_then(|mut s| {
                    s.query_row([key], |r| {
                        Ok(StoredSession {
                            session_id: r.get(0)?,
                            offset: r.get::<_, i64>(1)? as u64,
                            size: r.get::<_, i64>(2)? as u64,
                            mtime_ns: r.get(3)?,
                            inode: r.get::<_, i64>(4)? as u64,
                            created: r.get(5)?,
                        })
                    })
                    .optional()
                }),
        )
    }

    /// Store a session's progress.
    pub fn save_session(&mut self, key: &str, s: &StoredSession) -> Result<()> {
        self.wrap(
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO sessions (key, session_id, offset, size, mtime_ns, inode, created) VALUES (?1,?2,?3,?4,?5,?6,?7)")
                .and_then(|mut st| st.execute(params![key, s.session_id, s.offset as i64, s.size as i64, s.mtime_ns, s.inode as i64, s.created]))
                .map(|_| ()),
        )
    }

    /// Forget a session.
    pub fn drop_session(&mut self, key: &str) -> Result<()> {
        self.wrap(
            self.conn
                .execute("DELETE FROM sessions WHERE key = ?1", [key])
                .map(|_| ()),
        )
    }

    // ---- issues, conflicts, history

    /// Record (or refresh) a per-file issue.
    pub fn set_issue(&mut self, path: &str, code: &str, message: &str, now: i64) -> Result<()> {
        self.wrap(
            self.conn
                .execute(
                    "INSERT INTO issues (path, code, message, since) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(path) DO UPDATE SET code = excluded.code, message = excluded.message",
                    params![path, code, message, now],
                )
                .map(|_| ()),
        )
    }

    /// The issue of a path, if any.
    pub fn issue(&self, path: &str) -> Result<Option<Issue>> {
        self.wrap(
            self.conn
                .query_row(
                    "SELECT path, code, message, since FROM issues WHERE path = ?1",
                    [path],
                    |r| {
                        Ok(Issue {
                            path: r.get(0)?,
                            code: r.get(1)?,
                            message: r.get(2)?,
                            since: r.get(3)?,
                        })
                    },
                )
                .optional(),
        )
    }

    /// Clear the issue of a path.
    pub fn clear_issue(&mut self, path: &str) -> Result<()> {
        self.wrap(
            self.conn
                .execute("DELETE FROM issues WHERE path = ?1", [path])
                .map(|_| ()),
        )
    }

    /// Clear every issue with one of these codes (before a fresh scan re-reports them).
    pub fn clear_issues_with_codes(&mut self, codes: &[&str]) -> Result<()> {
        for c in codes {
            self.wrap(
                self.conn
                    .execute("DELETE FROM issues WHERE code = ?1", [c])
                    .map(|_| ()),
            )?;
        }
        Ok(())
    }

    /// Clear the issues with one of these codes at or below these paths (a partial scan
    /// reports again what it finds there).
    pub fn clear_issues_within(&mut self, codes: &[&str], paths: &[String]) -> Result<()> {
        let path = self.path.clone();
        let wrap = |source| IndexError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for p in paths {
            for c in codes {
                // `p/` .. `p0`: everything below `p` ('0' follows '/').
                tx.prepare_cached(
                    "DELETE FROM issues WHERE code = ?1 AND (path = ?2 OR (path > ?3 AND path < ?4))",
                )
                .and_then(|mut s| s.execute(params![c, p, format!("{p}/"), subtree_end(p)]))
                .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// The paths of the issues with this code.
    pub fn issue_paths(&self, code: &str) -> Result<Vec<String>> {
        let mut st = self.wrap(
            self.conn
                .prepare_cached("SELECT path FROM issues WHERE code = ?1 ORDER BY path"),
        )?;
        let rows = self.wrap(st.query_map([code], |r| r.get(0)))?;
        rows.map(|r| self.wrap(r)).collect()
    }

    /// Current issues.
    pub fn issues(&self) -> Result<Vec<Issue>> {
        let mut st = self.wrap(
            self.conn
                .prepare("SELECT path, code, message, since FROM issues ORDER BY path"),
        )?;
        let rows = self.wrap(st.query_map([], |r| {
            Ok(Issue {
                path: r.get(0)?,
                code: r.get(1)?,
                message: r.get(2)?,
                since: r.get(3)?,
            })
        }))?;
        rows.map(|r| self.wrap(r)).collect()
    }

    /// Record a conflict.
    pub fn add_conflict(
        &mut self,
        at: i64,
        path: &str,
        copy_path: &str,
        kind: &str,
    ) -> Result<i64> {
        self.wrap(self.conn.execute(
            "INSERT INTO conflicts (at, path, copy_path, kind) VALUES (?1, ?2, ?3, ?4)",
            params![at, path, copy_path, kind],
        ))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Conflicts (unresolved first, newest first).
    pub fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictRecord>> {
        let sql = if include_resolved {
            "SELECT id, at, path, copy_path, kind, resolved FROM conflicts ORDER BY resolved, at DESC, id DESC"
        } else {
            "SELECT id, at, path, copy_path, kind, resolved FROM conflicts WHERE resolved = 0 ORDER BY at DESC, id DESC"
        };
        let mut st = self.wrap(self.conn.prepare(sql))?;
        let rows = self.wrap(st.query_map([], |r| {
            Ok(ConflictRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                path: r.get(2)?,
                copy_path: r.get(3)?,
                kind: r.get(4)?,
                resolved: r.get(5)?,
            })
        }))?;
        rows.map(|r| self.wrap(r)).collect()
    }

    /// Mark a conflict resolved.
    pub fn resolve_conflict(&mut self, id: i64) -> Result<()> {
        self.wrap(
            self.conn
                .execute("UPDATE conflicts SET resolved = 1 WHERE id = ?1", [id])
                .map(|_| ()),
        )
    }

    /// Recent history, newest first.
    pub fn history(&self, limit: usize, search: Option<&str>) -> Result<Vec<HistoryEntry>> {
        let pattern = format!("%{}%", search.unwrap_or(""));
        let mut st = self.wrap(self.conn.prepare("SELECT at, action, path, size FROM history WHERE path LIKE ?1 ORDER BY id DESC LIMIT ?2"))?;
        let rows = self.wrap(st.query_map(params![pattern, limit as i64], |r| {
            Ok(HistoryEntry {
                at: r.get(0)?,
                action: r.get(1)?,
                path: r.get(2)?,
                size: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
            })
        }))?;
        rows.map(|r| self.wrap(r)).collect()
    }

    /// Drop history older than `before` (seconds since the epoch).
    pub fn prune_history(&mut self, before: i64) -> Result<()> {
        self.wrap(
            self.conn
                .execute("DELETE FROM history WHERE at < ?1", [before])
                .map(|_| ()),
        )
    }

    /// Keep only the newest `max_rows` history entries.
    pub fn cap_history(&mut self, max_rows: u64) -> Result<()> {
        self.wrap(
            self.conn
                .execute(
                    "DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?1",
                    [max_rows as i64],
                )
                .map(|_| ()),
        )
    }

    /// SQLite's `synchronous` setting in force (2 is `FULL`).
    pub fn synchronous(&self) -> Result<i64> {
        self.wrap(self.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)))
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`): `ok` or the problems.
    pub fn integrity_check(&self) -> Result<String> {
        let mut st = self.wrap(self.conn.prepare("PRAGMA integrity_check"))?;
        let rows = self.wrap(st.query_map([], |r| r.get::<_, String>(0)))?;
        let lines: Vec<String> = rows.map(|r| self.wrap(r)).collect::<Result<_>>()?;
        Ok(lines.join("\n"))
    }

    /// Count of synced files per top-level folder (for the restore preview and status).
    pub fn synced_files(&self) -> Result<BTreeMap<Key, SyncedNode>> {
        let mut st = self.wrap(
            self.conn
                .prepare(&format!("SELECT {SYNCED_COLS} FROM synced")),
        )?;
        let rows = self.wrap(st.query_map([], synced_row))?;
        rows.map(|r| self.wrap(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(path: &str, inode: u64, data: &[u8]) -> LocalNode {
        LocalNode {
            path: path.into(),
            inode,
            kind: LocalKind::File {
                size: data.len() as u64,
                mtime_ns: 5,
                hash: ContentHash::of(data),
            },
        }
    }

    #[test]
    fn edits_round_trip_and_mark_keys_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
        let r = RemoteNode {
            path: "/A".into(),
            id: "id:a".into(),
            kind: RemoteKind::File {
                rev: "r1".into(),
                size: 1,
                hash: ContentHash::of(b"x"),
            },
        };
        let l = lf("/A", 7, b"x");
        let mut b = ix.batch().unwrap();
        b.edits(&[
            Edit::PutLocal("/a".into(), l.clone()),
            Edit::PutRemote("/a".into(), r.clone()),
            Edit::PutSynced("/a".into(), SyncedNode::merged(&l, &r)),
        ])
        .unwrap();
        b.commit().unwrap();
        assert_eq!(ix.dirty().unwrap(), vec!["/a".to_string()]);
        let all = ix.load_all().unwrap();
        assert_eq!(all.local["/a"], l);
        assert_eq!(all.remote["/a"], r);
        let by = |inodes: &[u64], ids: &[&str]| {
            ix.synced_by_inodes_or_ids(inodes.iter().copied(), ids.iter().copied())
                .unwrap()
        };
        assert_eq!(by(&[7], &[]), BTreeSet::from(["/a".to_string()]));
        assert_eq!(by(&[], &["id:a"]), BTreeSet::from(["/a".to_string()]));
        ix.clear_dirty(&["/a".into()]).unwrap();
        assert!(ix.dirty().unwrap().is_empty());
    }

    #[test]
    fn agreeing_in_the_database_is_what_the_planner_would_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
        let rf = |path: &str, id: &str, data: &[u8]| RemoteNode {
            path: path.into(),
            id: id.into(),
            kind: RemoteKind::File {
                rev: format!("rev-{id}"),
                size: data.len() as u64,
                hash: ContentHash::of(data),
            },
        };
        let lfolder = |path: &str, inode| LocalNode {
            path: path.into(),
            inode,
            kind: LocalKind::Folder,
        };
        let rfolder = |path: &str, id: &str| RemoteNode {
            path: path.into(),
            id: id.into(),
            kind: RemoteKind::Folder,
        };
        let known = lf("/known.txt", 9, b"k");
        let known_r = rf("/known.txt", "k", b"k");
        let mut b = ix.batch().unwrap();
        b.edits(&[
            Edit::PutLocal("/same.txt".into(), lf("/same.txt", 1, b"same")),
            Edit::PutRemote("/same.txt".into(), rf("/same.txt", "s", b"same")),
            Edit::PutLocal("/dir".into(), lfolder("/dir", 2)),
            Edit::PutRemote("/dir".into(), rfolder("/dir", "d")),
            Edit::PutLocal("/diff.txt".into(), lf("/diff.txt", 3, b"mine")),
            Edit::PutRemote("/diff.txt".into(), rf("/diff.txt", "x", b"theirs")),
            Edit::PutLocal("/case.txt".into(), lf("/Case.txt", 4, b"c")),
            Edit::PutRemote("/case.txt".into(), rf("/case.txt", "c", b"c")),
            Edit::PutLocal("/kind".into(), lfolder("/kind", 5)),
            Edit::PutRemote("/kind".into(), rf("/kind", "n", b"")),
            Edit::PutLocal("/skip/x.txt".into(), lf("/skip/x.txt", 6, b"x")),
            Edit::PutRemote("/skip/x.txt".into(), rf("/skip/x.txt", "y", b"x")),
            Edit::PutLocal("/only-here.txt".into(), lf("/only-here.txt", 7, b"o")),
            Edit::PutLocal("/known.txt".into(), known.clone()),
            Edit::PutRemote("/known.txt".into(), rf("/known.txt", "k2", b"k")),
            Edit::PutSynced("/known.txt".into(), SyncedNode::merged(&known, &known_r)),
        ])
        .unwrap();
        b.commit().unwrap();
        let before = ix.load_all().unwrap();
        let plan = sync_core::plan(
            &before,
            &sync_core::Settings {
                host: "h".into(),
                date: "2026-01-01".into(),
                excluded: vec![],
            },
        );

        let n = ix.agree_where_equal(&|p| !p.starts_with("/skip/")).unwrap();
        assert_eq!(n, 2);
        let left: BTreeSet<String> = ix.dirty().unwrap().into_iter().collect();
        let want: BTreeSet<String> = [
            "/case.txt",
            "/diff.txt",
            "/kind",
            "/known.txt",
            "/only-here.txt",
            "/skip/x.txt",
        ]
        .map(String::from)
        .into();
        assert_eq!(left, want);
        // The planner says `Agree` for exactly those two, and the merge base is the one its
        // outcome would record.
        let agreed: BTreeSet<&str> = plan
            .ops
            .iter()
            .filter_map(|o| match o {
                sync_core::Op::Agree { key } if !left.contains(key) => Some(key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(agreed, BTreeSet::from(["/dir", "/same.txt"]));
        let after = ix.load_all().unwrap();
        for k in ["/dir", "/same.txt"] {
            assert_eq!(
                after.synced[k],
                SyncedNode::merged(&before.local[k], &before.remote[k])
            );
        }
    }

    #[test]
    fn subtrees_are_exact_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
        let mut b = ix.batch().unwrap();
        for p in ["/a", "/a b", "/a/x", "/a/y/z", "/ab"] {
            b.put_local(&sync_core::path::key(p), &lf(p, 1, b""))
                .unwrap();
        }
        b.commit().unwrap();
        let mut t = Trees::default();
        ix.load_subtree("/a", &mut t).unwrap();
        assert_eq!(
            t.local.keys().cloned().collect::<Vec<_>>(),
            ["/a", "/a/x", "/a/y/z"]
        );
        let mut b = ix.batch().unwrap();
        b.delete_local_subtree("/a").unwrap();
        b.commit().unwrap();
        assert_eq!(
            ix.load_all()
                .unwrap()
                .local
                .keys()
                .cloned()
                .collect::<Vec<_>>(),
            ["/a b", "/ab"]
        );
        assert_eq!(ix.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn reopening_keeps_state_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.db");
        {
            let mut ix = Index::open(&p).unwrap();
            ix.set_meta("cursor", "c1").unwrap();
        }
        let ix = Index::open(&p).unwrap();
        assert_eq!(ix.meta("cursor").unwrap().as_deref(), Some("c1"));
    }

    /// The index is private whatever the umask (its folder 0700, the database and its
    /// journal files 0600), and every commit is durable (`synchronous=FULL`).
    #[test]
    fn the_index_is_private_and_durable() {
        use std::os::unix::fs::PermissionsExt;
        // The most open umask there is (this test runs in a process of its own).
        let old = rustix::process::umask(rustix::fs::Mode::empty());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state/pairs/i.db");
        let mut ix = Index::open(&p).unwrap();
        ix.set_meta("k", "v").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{suffix}", p.display()));
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
        assert_eq!(ix.synchronous().unwrap(), 2, "synchronous=FULL");
        rustix::process::umask(old);
    }

    #[test]
    fn history_is_kept_within_its_limits() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = Index::open(&dir.path().join("i.db")).unwrap();
        let mut b = ix.batch().unwrap();
        for i in 0..10 {
            b.history(100 + i, "uploaded", &format!("/f{i}"), None)
                .unwrap();
        }
        b.commit().unwrap();
        ix.prune_history(103).unwrap();
        assert_eq!(ix.history(100, None).unwrap().len(), 7);
        ix.cap_history(4).unwrap();
        let left: Vec<String> = ix
            .history(100, None)
            .unwrap()
            .into_iter()
            .map(|h| h.path)
            .collect();
        assert_eq!(left, ["/f9", "/f8", "/f7", "/f6"]);
    }
}
