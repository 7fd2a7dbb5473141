//! Dropbox's `content_hash`: SHA-256 over the concatenated SHA-256 digests of 4 MiB blocks.
//!
//! The hasher is streaming: feed it any chunking of the data and it yields the same hash,
//! so files are hashed while they are read or transferred, never held whole in memory.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Dropbox hashes content in blocks of this many bytes (4 MiB).
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// A Dropbox content hash: 32 bytes, shown as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `data`, computed in one call.
    pub fn of(data: &[u8]) -> Self {
        let mut h = ContentHasher::new();
        h.update(data);
        h.finish()
    }

    /// The hash of the empty file (no blocks: SHA-256 of nothing).
    pub fn empty() -> Self {
        ContentHasher::new().finish()
    }

    /// Lowercase hex, as Dropbox writes it.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }
}

/// A `content_hash` string was not 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadContentHash;

impl fmt::Display for BadContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a content hash must be 64 hexadecimal characters")
    }
}

impl std::error::Error for BadContentHash {}

impl FromStr for ContentHash {
    type Err = BadContentHash;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(BadContentHash);
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).ok_or(BadContentHash)?;
            let lo = (pair[1] as char).to_digit(16).ok_or(BadContentHash)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Ok(ContentHash(out))
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", &self.to_hex()[..12])
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Streaming content hasher. Feed bytes in any chunking with [`update`](Self::update).
#[derive(Clone)]
pub struct ContentHasher {
    overall: Sha256,
    block: Sha256,
    block_len: usize,
    total: u64,
}

impl Default for ContentHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        ContentHasher {
            overall: Sha256::new(),
            block: Sha256::new(),
            block_len: 0,
            total: 0,
        }
    }

    /// Add `data` to the hash.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let room = BLOCK_SIZE - self.block_len;
            let take = room.min(data.len());
            self.block.update(&data[..take]);
            self.block_len += take;
            data = &data[take..];
            if self.block_len == BLOCK_SIZE {
                let digest = std::mem::take(&mut self.block).finalize();
                self.overall.update(digest);
                self.block_len = 0;
            }
        }
    }

    /// How many bytes have been fed so far.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when no bytes have been fed.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The hash of everything fed so far.
    pub fn finish(mut self) -> ContentHash {
        if self.block_len > 0 {
            let digest = self.block.finalize();
            self.overall.update(digest);
        }
        ContentHash(self.overall.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const B: usize = BLOCK_SIZE;

    /// The reference: hash whole blocks independently, exactly as Dropbox documents it.
    fn reference(data: &[u8]) -> ContentHash {
        let mut overall = Sha256::new();
        for block in data.chunks(B) {
            overall.update(Sha256::digest(block));
        }
        ContentHash(overall.finalize().into())
    }

    #[test]
    fn known_vectors() {
        // Vectors of Dropbox's content hash (SHA-256 of each 4 MiB block's SHA-256), computed
        // with Python's hashlib.
        assert_eq!(
            ContentHash::empty().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            ContentHash::of(b"hello").to_hex(),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
        assert_eq!(
            ContentHash::of(&[0u8]).to_hex(),
            "1406e05881e299367766d313e26c05564ec91bf721d31726bd6e46e60689539a"
        );
        assert_eq!(
            ContentHash::of(&vec![0u8; B]).to_hex(),
            "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58"
        );
        assert_eq!(
            ContentHash::of(&vec![0u8; B + 1]).to_hex(),
            "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6"
        );
    }

    /// The official hasher test shapes: sizes around the block boundary, fed in pieces.
    #[test]
    fn block_boundary_shapes_match_reference() {
        let shapes: Vec<Vec<usize>> = vec![
            vec![0],
            vec![100],
            vec![B - 1],
            vec![B],
            vec![B + 1],
            vec![B - 2, 1],
            vec![B - 2, 2],
            vec![B - 2, 3],
            vec![B - 2, B + 1],
            vec![B - 2, B + 2],
            vec![B - 2, B + 3],
            vec![5, 5, 5, 3 * B],
        ];
        for shape in shapes {
            let total: usize = shape.iter().sum();
            let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
            let mut h = ContentHasher::new();
            let mut at = 0;
            for piece in &shape {
                h.update(&data[at..at + piece]);
                at += piece;
            }
            assert_eq!(h.finish(), reference(&data), "shape {shape:?}");
        }
    }

    #[test]
    fn hex_round_trip() {
        let h = ContentHash::of(b"round trip");
        assert_eq!(h.to_hex().parse::<ContentHash>().unwrap(), h);
        assert!("zz".parse::<ContentHash>().is_err());
        assert!("g".repeat(64).parse::<ContentHash>().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Any chunking of the same bytes gives the same hash (small blocks scaled down by
        /// cutting the data at arbitrary points, including around 4 MiB multiples).
        #[test]
        fn chunking_does_not_matter(len in 0usize..(2 * B + 17), cuts in proptest::collection::vec(0usize..(2 * B + 17), 0..6), seed in any::<u8>()) {
            let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
            cuts.push(0);
            cuts.push(len);
            cuts.sort_unstable();
            let mut h = ContentHasher::new();
            for w in cuts.windows(2) {
                h.update(&data[w[0]..w[1]]);
            }
            prop_assert_eq!(h.len(), len as u64);
            prop_assert_eq!(h.finish(), reference(&data));
        }
    }
}
