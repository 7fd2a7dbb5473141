//! Nodes a scan found, staged in a temporary table while the scan still runs. A first sync
//! of a million files finds a million nodes; held in memory until the scan ends they took
//! some 320 MB (a node, a key and a path each). Staged, they take a SQLite page cache of a
//! few MB: the temporary database lives in a file of its own (`temp_store = FILE`, made by
//! SQLite readable by its owner only and deleted as soon as it is opened), never in the
//! index's own file or journal.
//!
//! Each table is one scan's or one listing's ([`Temp`]), numbered by [`Temp::next_id`] so that
//! no two share one; [`Index::drop_temp`] drops it once it is done with or the work broke off
//! (and every one goes with the connection).
//!
//! A full listing of Dropbox keeps the keys it listed the same way ([`Index::start_listed`]):
//! what the index has that the listing did not list is gone. Held in memory, the keys of a
//! million entries took about 100 MB, and the index's remote keys read back to compare another
//! 80 MB.

use super::batch::Batch;
use super::rows::{local_columns, local_row};
use super::{Index, Result};
use rusqlite::{OptionalExtension, params};
use sync_core::{Key, LocalNode};

/// A staged node: its key, the node, the ctime the scanner saw.
pub type Staged = (Key, LocalNode, Option<i64>);

/// A temporary table of the index's connection.
#[derive(Clone, Copy, Debug)]
pub enum Temp {
    /// A scan's staged nodes (see [`Index::stage`]).
    Stage(u64),
    /// The keys a full listing listed (see [`Index::start_listed`]).
    Listed(u64),
}

/// Numbers for this process's temporary tables.
static TEMP_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Temp {
    /// A number no other temporary table of this process has.
    pub fn next_id() -> u64 {
        TEMP_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Its qualified name.
    fn name(self) -> String {
        match self {
            Temp::Stage(id) => format!("temp.scanned_{id}"),
            Temp::Listed(id) => format!("temp.listed_{id}"),
        }
    }
}

/// The table of stage `id`.
fn table(id: u64) -> String {
    Temp::Stage(id).name()
}

fn create(id: u64) -> String {
    format!(
        "CREATE TEMP TABLE IF NOT EXISTS scanned_{id} (key TEXT NOT NULL, path TEXT NOT NULL, folder INTEGER NOT NULL,
         inode INTEGER NOT NULL, size INTEGER, mtime_ns INTEGER, hash BLOB, ctime_ns INTEGER)"
    )
}

impl Index {
    /// Drop a temporary table (none made: nothing done).
    pub fn drop_temp(&self, t: Temp) -> Result<()> {
        self.wrap(
            self.conn
                .execute_batch(&format!("DROP TABLE IF EXISTS {}", t.name())),
        )
    }

    /// Stage some found nodes (one transaction of the temporary database only: the index's
    /// own file is not written).
    pub fn stage<'n>(
        &self,
        id: u64,
        nodes: impl IntoIterator<Item = (&'n str, &'n LocalNode, Option<i64>)>,
    ) -> Result<()> {
        let r = (|| {
            self.conn.execute_batch(&create(id))?;
            let tx = self.conn.unchecked_transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "INSERT INTO {} (key, path, folder, inode, size, mtime_ns, hash, ctime_ns)
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                    table(id)
                ))?;
                for (k, n, ctime) in nodes {
                    let (folder, size, mtime, hash) = local_columns(n);
                    // A folder keeps no ctime.
                    let ctime = if folder { None } else { ctime };
                    st.execute(params![k, n.path, folder, n.inode as i64, size, mtime, hash, ctime])?;
                }
            }
            tx.commit()
        })();
        self.wrap(r)
    }

    /// Take out of the stage (something was staged) the nodes that cannot simply become the
    /// local rows of their keys,
    /// for [`resolve_clashes`](crate::scan::resolve_clashes) to decide: those whose key another
    /// staged node has too (names equal but for case or Unicode form, or one entry seen
    /// twice), and those whose key the index knows under another path (`synced` first, then
    /// `local`: the owner hint). What stays is one node per key, each its key's owner.
    pub fn take_unsettled(&self, id: u64) -> Result<Vec<Staged>> {
        let t = table(id);
        let r = (|| {
            self.conn.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS temp.scanned_{id}_key ON scanned_{id} (key)"
            ))?;
            let keys: Vec<Key> = {
                let mut st = self.conn.prepare(&format!(
                    "SELECT s.key FROM {t} s GROUP BY s.key
                     HAVING count(*) > 1
                        OR coalesce((SELECT y.path FROM main.synced y WHERE y.key = s.key),
                                    (SELECT l.path FROM main.local l WHERE l.key = s.key),
                                    min(s.path)) != min(s.path)"
                ))?;
                st.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let mut out = Vec::new();
            let tx = self.conn.unchecked_transaction()?;
            {
                let mut read = tx.prepare(&format!(
                    "SELECT key, path, folder, inode, size, mtime_ns, hash, ctime_ns FROM {t} WHERE key = ?1"
                ))?;
                let mut del = tx.prepare(&format!("DELETE FROM {t} WHERE key = ?1"))?;
                for k in &keys {
                    let rows = read.query_map([k], |r| {
                        let (key, node) = local_row(r)?;
                        Ok((key, node, r.get::<_, Option<i64>>(7)?))
                    })?;
                    for row in rows {
                        out.push(row?);
                    }
                    del.execute([k])?;
                }
            }
            tx.commit()?;
            Ok(out)
        })();
        self.wrap(r)
    }
}

impl Batch<'_> {
    /// Whether stage `id` holds a node with key `k` (which then owns that key).
    pub fn is_staged(&self, id: u64, k: &str) -> Result<bool> {
        let r = self
            .tx
            .prepare_cached(&format!("SELECT 1 FROM {} WHERE key = ?1", table(id)))
            .and_then(|mut st| st.query_row([k], |_| Ok(())).optional());
        self.wrap(r.map(|o| o.is_some()))
    }

    /// Write every staged node as the local row of its key, as
    /// [`put_local_scanned`](Batch::put_local_scanned) writes one (a folder keeps no ctime),
    /// and mark each key dirty. Run after [`Index::take_unsettled`]. Returns how many.
    pub fn put_local_staged(&mut self, id: u64) -> Result<usize> {
        let t = table(id);
        let r = (|| {
            let n = self.tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO main.local (key, path, folder, inode, size, mtime_ns, hash, ctime_ns)
                     SELECT key, path, folder, inode, size, mtime_ns, hash, CASE WHEN folder THEN NULL ELSE ctime_ns END
                     FROM {t} ORDER BY key"
                ),
                [],
            )?;
            self.tx.execute(
                &format!("INSERT OR IGNORE INTO main.dirty (key) SELECT key FROM {t} ORDER BY key"),
                [],
            )?;
            Ok(n)
        })();
        self.wrap(r)
    }
}

/// The table of listing `id`.
fn listed(id: u64) -> String {
    Temp::Listed(id).name()
}

/// Notes one key in listing `id`'s table.
fn insert_listed(id: u64) -> String {
    format!("INSERT OR IGNORE INTO {} (key) VALUES (?1)", listed(id))
}

impl Index {
    /// Start keeping the keys a full listing lists; returns its number, for
    /// [`Batch::note_listed`] and [`Index::unlisted_remote_keys`] (dropped as [`Temp::Listed`]).
    pub fn start_listed(&self) -> Result<u64> {
        let id = Temp::next_id();
        self.wrap(self.conn.execute_batch(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS listed_{id} (key TEXT PRIMARY KEY) WITHOUT ROWID"
        )))?;
        Ok(id)
    }

    /// Note keys listed outside a batch.
    pub fn note_listed<'k>(&self, id: u64, keys: impl IntoIterator<Item = &'k Key>) -> Result<()> {
        let r = (|| {
            let mut st = self.conn.prepare_cached(&insert_listed(id))?;
            for k in keys {
                st.execute([k])?;
            }
            Ok(())
        })();
        self.wrap(r)
    }

    /// The keys of the remote tree that listing `id` did not list, in key order.
    pub fn unlisted_remote_keys(&self, id: u64) -> Result<Vec<Key>> {
        let r = (|| {
            let mut st = self.conn.prepare(&format!(
                "SELECT r.key FROM main.remote r WHERE NOT EXISTS (SELECT 1 FROM {} l WHERE l.key = r.key) ORDER BY r.key",
                listed(id)
            ))?;
            st.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<Key>>>()
        })();
        self.wrap(r)
    }
}

impl Batch<'_> {
    /// Note that listing `id` listed `k` (written, or not, with the batch).
    pub fn note_listed(&mut self, id: u64, k: &str) -> Result<()> {
        let r = self
            .tx
            .prepare_cached(&insert_listed(id))
            .and_then(|mut st| st.execute([k]));
        self.wrap(r.map(|_| ()))
    }
}
