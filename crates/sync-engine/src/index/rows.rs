//! The three trees as rows: reading a row into a node, writing a node into its table, and
//! loading the trees of some keys or of a subtree.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeSet;
use sync_core::{
    ContentHash, Key, LocalKind, LocalNode, RemoteKind, RemoteNode, SyncedKind, SyncedNode, Trees,
};

/// A dirty key new on both sides with the same name and content: key, local path, folder,
/// local inode, Dropbox id, revision, size, hash.
pub(super) type AgreeRow = (
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
pub(super) const AGREE_SQL: &str = "SELECT d.key, l.path, l.folder, l.inode, r.id, r.rev, r.size, r.hash \
     FROM dirty d JOIN local l ON l.key = d.key JOIN remote r ON r.key = d.key \
     WHERE d.key > ?1 \
       AND NOT EXISTS (SELECT 1 FROM synced s WHERE s.key = d.key) \
       AND l.path = r.path \
       AND ((l.folder AND r.folder) \
            OR (NOT l.folder AND NOT r.folder AND l.hash IS NOT NULL AND l.hash = r.hash)) \
     ORDER BY d.key LIMIT ?2";

/// Dirty keys (after `?1`, at most `?2`) that are in sync all the same: the local and the
/// remote node are the merge base's — the same name, kind, inode, Dropbox id, revision and
/// content — so the planner has nothing to do there (a touched file: only its mtime moved).
/// Not those with an issue (they are looked at once it is gone).
pub(super) const IN_SYNC_SQL: &str = "SELECT d.key, l.path \
     FROM dirty d JOIN local l ON l.key = d.key JOIN remote r ON r.key = d.key \
       JOIN synced s ON s.key = d.key \
     WHERE d.key > ?1 \
       AND l.path = s.path AND r.path = s.path \
       AND l.inode = s.inode AND r.id = s.id \
       AND ((l.folder AND r.folder AND s.folder) \
            OR (NOT l.folder AND NOT r.folder AND NOT s.folder AND s.hash IS NOT NULL \
                AND l.hash = s.hash AND r.hash = s.hash AND r.rev IS s.rev)) \
       AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.path = l.path) \
     ORDER BY d.key LIMIT ?2";

pub(super) fn hash_blob(h: Option<ContentHash>) -> Option<Vec<u8>> {
    h.map(|h| h.0.to_vec())
}

pub(super) fn blob_hash(b: Option<Vec<u8>>) -> Option<ContentHash> {
    let b = b?;
    let arr: [u8; 32] = b.try_into().ok()?;
    Some(ContentHash(arr))
}

pub(super) fn local_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Key, LocalNode)> {
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

pub(super) fn remote_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Key, RemoteNode)> {
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

pub(super) fn synced_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Key, SyncedNode)> {
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

pub(super) const LOCAL_COLS: &str = "key, path, folder, inode, size, mtime_ns, hash";
pub(super) const REMOTE_COLS: &str = "key, path, folder, id, rev, size, hash";
pub(super) const SYNCED_COLS: &str = "key, path, folder, id, inode, rev, size, hash";

/// The upper bound of a subtree's key range (`/a` → `/a0`: '0' follows '/').
pub(super) fn subtree_end(key: &str) -> String {
    format!("{key}0")
}

/// The ctime stored with a local node.
#[derive(Clone, Copy)]
pub(super) enum Ctime {
    /// What the scanner saw with the hash (`None`: nothing to trust).
    Scanned(Option<i64>),
    /// Not known to the writer (the executor's records): a ctime already stored for the very
    /// same file (inode, size, mtime and hash) — or given by `Some` from a move in the same
    /// batch — is kept, any other is forgotten, and the next scan hashes the file again.
    Keep(Option<i64>),
}

/// A local node's `folder`, `size`, `mtime_ns` and `hash` columns.
pub(super) fn local_columns(n: &LocalNode) -> (bool, Option<i64>, Option<i64>, Option<Vec<u8>>) {
    match &n.kind {
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
    }
}

/// Store a local node with its ctime.
pub(super) fn put_local(
    tx: &Transaction<'_>,
    k: &str,
    n: &LocalNode,
    ctime: Ctime,
) -> rusqlite::Result<()> {
    let (folder, size, mtime, hash) = local_columns(n);
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

pub(super) fn put_remote(tx: &Transaction<'_>, k: &str, n: &RemoteNode) -> rusqlite::Result<()> {
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

pub(super) fn put_synced(tx: &Transaction<'_>, k: &str, n: &SyncedNode) -> rusqlite::Result<()> {
    let (folder, rev, size, hash) = match &n.kind {
        SyncedKind::Folder => (true, None, None, None),
        SyncedKind::File { rev, size, hash } => (
            false,
            Some(rev.clone()),
            Some(*size as i64),
            hash_blob(Some(*hash)),
        ),
    };
    // An upsert, not INSERT OR REPLACE: the totals' triggers see it as an update.
    tx.prepare_cached(
        "INSERT INTO synced (key, path, folder, id, inode, rev, size, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)
         ON CONFLICT (key) DO UPDATE SET path = excluded.path, folder = excluded.folder, id = excluded.id,
             inode = excluded.inode, rev = excluded.rev, size = excluded.size, hash = excluded.hash",
    )?
        .execute(params![k, n.path, folder, n.id, n.inode as i64, rev, size, hash])?;
    Ok(())
}

pub(super) fn mark(tx: &Transaction<'_>, k: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO dirty (key) VALUES (?1)")?
        .execute([k])?;
    Ok(())
}

pub(super) fn load_keys(
    conn: &Connection,
    keys: &BTreeSet<Key>,
    trees: &mut Trees,
) -> rusqlite::Result<()> {
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

pub(super) fn load_subtree(
    conn: &Connection,
    key: &str,
    trees: &mut Trees,
) -> rusqlite::Result<()> {
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
