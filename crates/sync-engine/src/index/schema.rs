//! Where the index lives and what shape it has: the private state folder and database
//! files, opening the database (WAL, durable commits), and the schema migrations.

use super::{Index, IndexError, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

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
    // 4: the synced tree's file count and bytes, kept by triggers: summed on demand they
    // read the whole table (0.2 s at 1,000,000 files), and every `status` asks for them. A
    // synced row is written by INSERT (first sync) or upsert (`put_synced`), never by
    // INSERT OR REPLACE, whose delete fires no trigger.
    "CREATE TABLE synced_totals (one INTEGER PRIMARY KEY CHECK (one = 1),
                                 files INTEGER NOT NULL, bytes INTEGER NOT NULL);
     INSERT INTO synced_totals SELECT 1, COUNT(*), COALESCE(SUM(size), 0) FROM synced WHERE folder = 0;
     CREATE TRIGGER synced_totals_insert AFTER INSERT ON synced WHEN NEW.folder = 0 BEGIN
         UPDATE synced_totals SET files = files + 1, bytes = bytes + COALESCE(NEW.size, 0);
     END;
     CREATE TRIGGER synced_totals_delete AFTER DELETE ON synced WHEN OLD.folder = 0 BEGIN
         UPDATE synced_totals SET files = files - 1, bytes = bytes - COALESCE(OLD.size, 0);
     END;
     CREATE TRIGGER synced_totals_update AFTER UPDATE OF folder, size ON synced BEGIN
         UPDATE synced_totals SET
             files = files + (NEW.folder = 0) - (OLD.folder = 0),
             bytes = bytes + CASE WHEN NEW.folder = 0 THEN COALESCE(NEW.size, 0) ELSE 0 END
                           - CASE WHEN OLD.folder = 0 THEN COALESCE(OLD.size, 0) ELSE 0 END;
     END;",
];

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
        // Temporary tables (a large scan's staged nodes) in a file, never in memory.
        conn.pragma_update(None, "temp_store", "FILE")
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

    /// Open a read-only view of an index another connection writes: it reads the last
    /// committed state and, the database being in WAL mode, never waits for the writer —
    /// what front ends ask (status, conflicts, history) is answered while a round holds the
    /// writing connection for seconds on a big tree. It writes nothing (`query_only`).
    pub fn open_reader(path: &Path) -> Result<Index> {
        use rusqlite::OpenFlags;
        let wrap = |source| IndexError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(wrap)?;
        conn.pragma_update(None, "query_only", "ON").map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        Ok(Index {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub(super) fn wrap<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
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
}
