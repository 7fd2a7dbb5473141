//! The local signatures a scan compares the folder with, by display path. A restart of a pair
//! of 1,000,000 files holds all of them at once, so they are kept small: a row per path holds a
//! 128-bit hash of the path and a 64-bit digest of its signature (24 bytes, not the path nor
//! the 40-byte signature), and a hash table holds the row numbers. As a map of owned strings
//! they took 214 MB at a million paths; with the paths packed into one string, 120 MB; as
//! hashes, about 35 MB. A scan that needs the paths themselves (those not seen again, which are
//! gone) reads them from the index again.
//!
//! Both are SipHash-1-3 with keys drawn at random for each set. Two paths of a set of a million
//! share a hash by chance about once in 2⁹⁰ sets; a changed signature keeps its digest once in
//! 2⁶⁴ changes (the file is then taken for unchanged until it changes again). Nobody can make
//! either happen on purpose without the keys. Rows are kept in blocks of a fixed size rather
//! than in one growing buffer: a buffer that doubles copies itself into one twice its size, and
//! for a moment holds three times what it needs.

use super::Sig;
use siphasher::sip128::SipHasher13;
use std::hash::BuildHasher;

/// Rows per block.
const ROW_BLOCK: usize = 1 << 14;

/// Signatures by display path (see the module's doc).
#[derive(Clone)]
pub struct Sigs {
    hasher: SipHasher13,
    rows: Vec<Vec<Row>>,
    len: usize,
    /// Row numbers, by the first half of their path's hash.
    table: hashbrown::HashTable<u32>,
}

#[derive(Clone, Copy)]
struct Row {
    id: [u64; 2],
    digest: u64,
}

impl Default for Sigs {
    fn default() -> Sigs {
        let random = std::hash::RandomState::new();
        Sigs {
            hasher: SipHasher13::new_with_keys(random.hash_one(0u8), random.hash_one(1u8)),
            rows: Vec::new(),
            len: 0,
            table: hashbrown::HashTable::new(),
        }
    }
}

impl Sigs {
    fn id(&self, path: &str) -> [u64; 2] {
        let h = self.hasher.hash(path.as_bytes());
        [h.h1, h.h2]
    }

    fn digest(&self, sig: &Sig) -> u64 {
        let mut bytes = [0u8; 33];
        bytes[0] = sig.folder as u8;
        bytes[1..9].copy_from_slice(&sig.inode.to_le_bytes());
        bytes[9..17].copy_from_slice(&sig.size.to_le_bytes());
        bytes[17..25].copy_from_slice(&sig.mtime_ns.to_le_bytes());
        bytes[25..33].copy_from_slice(&sig.ctime_ns.to_le_bytes());
        self.hasher.hash(&bytes).h1
    }

    fn row(&self, i: usize) -> &Row {
        &self.rows[i / ROW_BLOCK][i % ROW_BLOCK]
    }

    fn find(&self, id: [u64; 2]) -> Option<usize> {
        self.table
            .find(id[0], |&i| self.row(i as usize).id == id)
            .map(|&i| i as usize)
    }

    /// The row number of `path`: an index for [`has_at`](Self::has_at), below
    /// [`len`](Self::len). Rows are numbered in the order paths were put in.
    pub fn position(&self, path: &str) -> Option<usize> {
        self.find(self.id(path))
    }

    /// Whether row `i` has the signature `sig`.
    pub fn has_at(&self, i: usize, sig: &Sig) -> bool {
        self.row(i).digest == self.digest(sig)
    }

    /// Whether `path` is known.
    pub fn contains(&self, path: &str) -> bool {
        self.position(path).is_some()
    }

    /// Whether `path` is known with the signature `sig`.
    #[cfg(test)]
    pub fn has(&self, path: &str, sig: &Sig) -> bool {
        self.position(path).is_some_and(|i| self.has_at(i, sig))
    }

    /// `path` has `sig` (in place of what it had).
    pub fn insert(&mut self, path: &str, sig: Sig) {
        let (id, digest) = (self.id(path), self.digest(&sig));
        if let Some(i) = self.find(id) {
            self.rows[i / ROW_BLOCK][i % ROW_BLOCK].digest = digest;
            return;
        }
        let i = u32::try_from(self.len).expect("fewer than 4 billion paths in a pair");
        if self.len % ROW_BLOCK == 0 {
            self.rows.push(Vec::with_capacity(ROW_BLOCK));
        }
        if let Some(last) = self.rows.last_mut() {
            last.push(Row { id, digest });
        }
        self.len += 1;
        let rows = &self.rows;
        self.table.insert_unique(id[0], i, |&j| {
            let j = j as usize;
            rows[j / ROW_BLOCK][j % ROW_BLOCK].id[0]
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
    /// table's growth and across blocks of rows.
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
            assert!(packed.has(p, s), "{p}");
            // Any field changed: another signature.
            for other in [
                Sig {
                    folder: !s.folder,
                    ..*s
                },
                Sig {
                    inode: s.inode + 1,
                    ..*s
                },
                Sig {
                    size: s.size ^ 1 << 40,
                    ..*s
                },
                Sig {
                    mtime_ns: s.mtime_ns - 1,
                    ..*s
                },
                Sig {
                    ctime_ns: s.ctime_ns + 1,
                    ..*s
                },
            ] {
                assert!(!packed.has(p, &other), "{p} {other:?}");
            }
        }
        for p in ["", "/", "/d1", "/d1/f", "/d1/f1/x", "/café1"] {
            assert_eq!(packed.contains(p), plain.contains_key(p), "{p}");
        }
        let mut rows: Vec<usize> = plain.keys().map(|p| packed.position(p).unwrap()).collect();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(rows, (0..plain.len()).collect::<Vec<_>>(), "a row each");
        for (p, s) in &plain {
            assert!(packed.has_at(packed.position(p).unwrap(), s));
        }
        let again: Sigs = plain.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        assert_eq!(again.len(), packed.len());
        for (p, s) in &plain {
            assert!(again.has(p, s), "{p}");
        }
        assert!(Sigs::default().is_empty() && !Sigs::default().contains(""));
    }
}
