//! What the index keeps besides the trees: resumable upload sessions, per-file issues,
//! conflicts and the activity history.

use super::rows::subtree_end;
use super::{ConflictRecord, HistoryEntry, Index, IndexError, Issue, Result, StoredSession};
use rusqlite::{OptionalExtension, params};

impl Index {
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
}
