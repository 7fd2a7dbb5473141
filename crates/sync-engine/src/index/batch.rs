//! A write batch: the tree edits and bookkeeping of one completed operation, applied in one
//! transaction.

use super::rows::{
    Ctime, hash_blob, load_keys, load_subtree, mark, put_local, put_remote, put_synced, subtree_end,
};
use super::{IndexError, Result};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::BTreeSet;
use std::path::Path;
use sync_core::{Edit, Key, LocalKind, LocalNode, RemoteNode, Trees};

/// A stored file as a move carries it: inode, size, mtime and hash columns.
type FileIdentity = (i64, Option<i64>, Option<i64>, Option<Vec<u8>>);

/// A write batch: tree edits and bookkeeping applied in one transaction.
pub struct Batch<'a> {
    pub(super) tx: Transaction<'a>,
    pub(super) path: &'a Path,
    /// The ctimes of local rows removed in this batch, by (inode, size, mtime, hash): a move
    /// removes a row and adds it under its new key, and the file's ctime goes with it.
    pub(super) moved_ctimes: std::collections::HashMap<FileIdentity, i64>,
}

impl Batch<'_> {
    pub(super) fn wrap<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
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
