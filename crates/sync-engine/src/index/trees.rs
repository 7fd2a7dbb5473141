//! The three trees as the engine reads them: signatures for the scanner, dirty keys, the
//! keys to plan, move partners, single nodes, and bulk agreement where both sides are equal.

use super::batch::Batch;
use super::rows::{
    AGREE_SQL, AgreeRow, IN_SYNC_SQL, LOCAL_COLS, REMOTE_COLS, SYNCED_COLS, blob_hash, load_keys, load_subtree,
    local_row, remote_row, subtree_end, synced_row,
};
use super::{Index, IndexError, Result, Sig, Sigs};
use rusqlite::{OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet};
use sync_core::{ContentHash, Key, LocalNode, RemoteNode, SyncedNode, Trees};

impl Index {
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
        let mut out = Sigs::default();
        // The path is read in place (`get_ref`): a million rows, no string made for each.
        self.each_local_within(keys, "path, folder, inode, size, mtime_ns, ctime_ns", &mut |r| {
            out.insert(
                r.get_ref(0)?.as_str()?,
                Sig {
                    folder: r.get(1)?,
                    inode: r.get::<_, i64>(2)? as u64,
                    size: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                    mtime_ns: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    ctime_ns: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                },
            );
            Ok(())
        })?;
        Ok(out)
    }

    /// The display paths of the local nodes at and below these keys (`""`: everything), each
    /// handed to `each`.
    pub fn local_paths_within(&self, keys: &[Key], each: &mut dyn FnMut(&str)) -> Result<()> {
        self.each_local_within(keys, "path", &mut |r| {
            each(r.get_ref(0)?.as_str()?);
            Ok(())
        })
    }

    /// `columns` of each local row at and below these keys, in one transaction.
    fn each_local_within(
        &self,
        keys: &[Key],
        columns: &str,
        f: &mut dyn FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let tx = self.wrap(self.conn.unchecked_transaction())?;
        let r = (|| {
            if keys.iter().any(|k| k.is_empty()) {
                let mut st = tx.prepare_cached(&format!("SELECT {columns} FROM local"))?;
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    f(r)?;
                }
                return Ok(());
            }
            let mut st = tx.prepare_cached(&format!(
                "SELECT {columns} FROM local WHERE key = ?1 OR (key > ?2 AND key < ?3)"
            ))?;
            for k in keys {
                let mut rows = st.query(params![k, format!("{k}/"), subtree_end(k)])?;
                while let Some(r) = rows.next()? {
                    f(r)?;
                }
            }
            Ok(())
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
            "SELECT files, bytes FROM synced_totals",
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
    /// this. Then forget the dirty mark of every key that is in sync all the same (both
    /// sides are the merge base: the planner has nothing to do there), such as the files a
    /// `touch` or a restored backup gave a new mtime — so a burst of them does not load
    /// the trees of all of them. `planned(path)` says whether the planner looks at a path at
    /// all (the selective sync rules); those keys are left to it. Returns how many keys were
    /// recorded or found in sync.
    pub fn agree_where_equal(&mut self, planned: &dyn Fn(&str) -> bool) -> Result<u64> {
        let path = self.path.clone();
        let wrap = |source| IndexError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut recorded = 0u64;
        let agree = |r: &rusqlite::Row<'_>| -> rusqlite::Result<AgreeRow> {
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
        };
        in_slices(&tx, AGREE_SQL, agree, |row| &row.0, |row| {
            let (key, path, folder, inode, id, rev, size, hash) = row;
            if !planned(&path) {
                return Ok(());
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
            Ok(())
        })
        .map_err(wrap)?;
        let in_sync = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(String, String)> {
            Ok((r.get(0)?, r.get(1)?))
        };
        in_slices(&tx, IN_SYNC_SQL, in_sync, |row| &row.0, |(key, path)| {
            if planned(&path) {
                tx.prepare_cached("DELETE FROM dirty WHERE key = ?1")?
                    .execute([&key])?;
                recorded += 1;
            }
            Ok(())
        })
        .map_err(wrap)?;
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

/// Run `sql` (rows after the key `?1`, at most `?2` of them, in key order) slice after slice
/// until it returns no more, handing each row to `each`: a large answer is never held whole.
/// `key_of` says a row's key; `each` may change the rows the next slices would return.
fn in_slices<T>(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    key_of: impl Fn(&T) -> &String,
    mut each: impl FnMut(T) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    const SLICE: usize = 5000;
    let mut after = String::new();
    loop {
        let rows: Vec<T> = tx
            .prepare_cached(sql)?
            .query_map(params![after, SLICE as i64], &row)?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = key_of(last).clone();
        let full = rows.len() == SLICE;
        for r in rows {
            each(r)?;
        }
        if !full {
            return Ok(());
        }
    }
}
