//! The local signatures a scan compares the folder with, by display path, packed: the paths
//! in a few large strings, one row per path, and a hash table of row numbers. A restart of a
//! pair of 1,000,000 files holds all of them at once; as a map of owned strings they took
//! 214 MB (a string, its heap block and a 64-byte slot in a table kept at most seven-eighths
//! full), packed about 120 MB. The strings and rows are kept in blocks of a fixed size rather
//! than in one growing buffer each: a buffer that doubles copies itself into one twice its
//! size, so at the moment it grows it holds three times what it needs (at a million paths,
//! 60 MB of text became 192 MB for a moment, the peak of a restart).

use super::Sig;
use std::hash::BuildHasher;

/// Bytes of path text per block (a longer path gets a block of its own).
const TEXT_BLOCK: usize = 1 << 20;
/// Rows per block.
const ROW_BLOCK: usize = 1 << 14;

/// Signatures by display path (see the module's doc).
#[derive(Clone, Default)]
pub struct Sigs {
    text: Vec<String>,
    rows: Vec<Vec<Row>>,
    len: usize,
    /// Row numbers, hashed by their path.
    table: hashbrown::HashTable<u32>,
}

#[derive(Clone, Copy)]
struct Row {
    block: u32,
    start: u32,
    len: u32,
    sig: Sig,
}

/// A fast hash: a restart looks up every path of the folder.
fn hash(path: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(path)
}

impl Sigs {
    fn row(&self, i: usize) -> &Row {
        &self.rows[i / ROW_BLOCK][i % ROW_BLOCK]
    }

    fn text_of<'a>(text: &'a [String], r: &Row) -> &'a str {
        let start = r.start as usize;
        &text[r.block as usize][start..start + r.len as usize]
    }

    /// The row number of `path`: an index for [`at`](Self::at), below [`len`](Self::len).
    pub fn position(&self, path: &str) -> Option<usize> {
        self.table
            .find(hash(path), |&i| {
                Self::text_of(&self.text, self.row(i as usize)) == path
            })
            .map(|&i| i as usize)
    }

    /// The path and signature in row `i` (rows are numbered in the order paths were put in).
    pub fn at(&self, i: usize) -> (&str, &Sig) {
        let r = self.row(i);
        (Self::text_of(&self.text, r), &r.sig)
    }

    /// The signature of `path`.
    pub fn get(&self, path: &str) -> Option<&Sig> {
        self.position(path).map(|i| &self.row(i).sig)
    }

    /// `path` has `sig` (in place of what it had).
    pub fn insert(&mut self, path: &str, sig: Sig) {
        if let Some(i) = self.position(path) {
            self.rows[i / ROW_BLOCK][i % ROW_BLOCK].sig = sig;
            return;
        }
        let i = u32::try_from(self.len).expect("fewer than 4 billion paths in a pair");
        let len = u32::try_from(path.len()).expect("a path is shorter than 4 GiB");
        let room = self
            .text
            .last()
            .is_some_and(|t| t.capacity() - t.len() >= path.len());
        if !room {
            self.text
                .push(String::with_capacity(TEXT_BLOCK.max(path.len())));
        }
        let block = self.text.len() - 1;
        let text = &mut self.text[block];
        let start = u32::try_from(text.len()).expect("a block is shorter than 4 GiB");
        text.push_str(path);
        if self.len % ROW_BLOCK == 0 {
            self.rows.push(Vec::with_capacity(ROW_BLOCK));
        }
        if let Some(last) = self.rows.last_mut() {
            last.push(Row {
                block: block as u32,
                start,
                len,
                sig,
            });
        }
        self.len += 1;
        let (text, rows) = (&self.text, &self.rows);
        self.table.insert_unique(hash(path), i, |&j| {
            let j = j as usize;
            hash(Self::text_of(text, &rows[j / ROW_BLOCK][j % ROW_BLOCK]))
        });
    }

    /// How many paths.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No paths.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every path, in the order they were put in.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rows
            .iter()
            .flatten()
            .map(|r| Self::text_of(&self.text, r))
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
    /// table's growth and across blocks of text (about 1.7 MB here) and of rows.
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
        for i in 0..150_000u64 {
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
        for (i, p) in packed.keys().enumerate() {
            assert_eq!(packed.position(p), Some(i));
            assert_eq!(packed.at(i), (p, &plain[p]));
        }
        // A path longer than a block of text gets one of its own; the next starts another.
        let long = "/l".repeat(TEXT_BLOCK);
        packed.insert(&long, sig(7));
        packed.insert("/after-the-long-one", sig(8));
        assert_eq!(packed.get(&long), Some(&sig(7)));
        assert_eq!(packed.get("/after-the-long-one"), Some(&sig(8)));
        assert_eq!(packed.len(), plain.len() + 2);
        assert!(Sigs::default().is_empty() && Sigs::default().get("").is_none());
    }
}
