//! The local signatures a scan compares the folder with, by display path, packed: every path
//! in one string, one row per path, and a hash table of row numbers. A restart of a pair of
//! 1,000,000 files holds all of them at once; as a map of owned strings they took 214 MB
//! (a string, its heap block and a 64-byte slot in a table kept at most seven-eighths full),
//! packed about 120 MB, in three blocks that are freed at once.

use super::Sig;
use std::hash::BuildHasher;

/// Signatures by display path (see the module's doc).
#[derive(Clone, Default)]
pub struct Sigs {
    text: String,
    rows: Vec<Row>,
    /// Row numbers, hashed by their path.
    table: hashbrown::HashTable<u32>,
}

#[derive(Clone, Copy)]
struct Row {
    start: usize,
    len: u32,
    sig: Sig,
}

/// A fast hash: a restart looks up every path of the folder.
fn hash(path: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(path)
}

impl Sigs {
    fn path(&self, r: &Row) -> &str {
        &self.text[r.start..r.start + r.len as usize]
    }

    fn find(&self, path: &str) -> Option<u32> {
        self.table
            .find(hash(path), |&i| self.path(&self.rows[i as usize]) == path)
            .copied()
    }

    /// The signature of `path`.
    pub fn get(&self, path: &str) -> Option<&Sig> {
        self.find(path).map(|i| &self.rows[i as usize].sig)
    }

    /// `path` has `sig` (in place of what it had).
    pub fn insert(&mut self, path: &str, sig: Sig) {
        if let Some(i) = self.find(path) {
            self.rows[i as usize].sig = sig;
            return;
        }
        let i = u32::try_from(self.rows.len()).expect("fewer than 4 billion paths in a pair");
        let len = u32::try_from(path.len()).expect("a path is shorter than 4 GiB");
        self.rows.push(Row {
            start: self.text.len(),
            len,
            sig,
        });
        self.text.push_str(path);
        let (text, rows) = (&self.text, &self.rows);
        self.table.insert_unique(hash(path), i, |&j| {
            let r = &rows[j as usize];
            hash(&text[r.start..r.start + r.len as usize])
        });
    }

    /// How many paths.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No paths.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every path, in the order they were put in.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|r| self.path(r))
    }
}

impl<S: AsRef<str>> FromIterator<(S, Sig)> for Sigs {
    fn from_iter<I: IntoIterator<Item = (S, Sig)>>(iter: I) -> Sigs {
        let mut out = Sigs::default();
        for (p, s) in iter {
            out.insert(p.as_ref(), s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sig(n: u64) -> Sig {
        Sig {
            folder: n % 5 == 0,
            inode: n,
            size: n * 3,
            mtime_ns: n as i64,
            ctime_ns: -(n as i64),
        }
    }

    /// Against a plain map: every path found with its last signature, none that was not put
    /// in, paths that share a prefix or differ in case or form kept apart, through the
    /// table's growth.
    #[test]
    fn packed_signatures_answer_as_a_map_would() {
        let mut packed = Sigs::default();
        let mut plain: HashMap<String, Sig> = HashMap::new();
        let names = |i: u64| match i % 4 {
            0 => format!("/d{}/f{i}", i % 97),
            1 => format!("/D{}/F{i}", i % 97),
            2 => format!("/d{}/f{i}/", i % 97),
            _ => format!("/d{}/cafe\u{301}{i}", i % 7),
        };
        for i in 0..50_000u64 {
            // Every seventh one again, with another signature.
            let (p, s) = if i % 7 == 3 {
                (names(i / 2), sig(i + 1_000_000))
            } else {
                (names(i), sig(i))
            };
            packed.insert(&p, s);
            plain.insert(p, s);
        }
        assert_eq!(packed.len(), plain.len());
        for (p, s) in &plain {
            assert_eq!(packed.get(p), Some(s), "{p}");
        }
        for p in ["", "/", "/d1", "/d1/f", "/d1/f1/x", "/café1"] {
            assert_eq!(packed.get(p), plain.get(p), "{p}");
        }
        let mut keys: Vec<&str> = packed.keys().collect();
        keys.sort_unstable();
        let mut want: Vec<&str> = plain.keys().map(|k| k.as_str()).collect();
        want.sort_unstable();
        assert_eq!(keys, want);
        let again: Sigs = plain.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        assert_eq!(again.len(), packed.len());
        assert!(Sigs::default().is_empty() && Sigs::default().get("").is_none());
    }
}
