//! Snapshot-restore detection.
//!
//! Each pair keeps a marker in `<root>/.nuvosync/marker.json` with a generation number that
//! the index records too. Every sync round that changed something bumps both. A restored
//! snapshot of the folder brings back an older marker (or none), while the index remembers
//! the newer generation: the engine then stops before it lets Dropbox's newer copies
//! overwrite the restored files.
//!
//! The bump survives a power cut at any point (see `docs/decisions/0004-…` for the proof):
//! 1. the index commits the *pending* generation `g+1` (and, on the first bump, the pair's
//!    id) — durable when the commit returns (`synchronous=FULL`);
//! 2. the marker is replaced durably ([`crate::localfs::Root::write_state`]: a new file
//!    written and synced, renamed over the old one, the folder synced): after a cut it is
//!    whole, `g` or `g+1`;
//! 3. the index commits `generation = g+1` and drops the pending one, in one transaction.
//!
//! So the marker is always `generation` or `pending` after a cut, and [`verdict`] takes
//! both for consistent. A marker *newer* than both is never a restored snapshot (a snapshot
//! brings back an older state): the index is the older one (restored from a backup of the
//! state folder) and the engine goes on with it ([`Verdict::IndexBehind`]). A marker with
//! no index at all is not a new pair: the index was deleted, and without it a restored
//! snapshot cannot be told from the current state ([`Verdict::IndexMissing`]).

use crate::localfs::Root;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the marker file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Identifies the pair (survives restores, so a restored marker is recognised as ours).
    pub pair_id: String,
    /// Increases with every sync round that changed something.
    pub generation: u64,
}

/// The marker's name in the state folder.
pub const NAME: &str = "marker.json";

/// The marker file of a pair folder (for messages and tests; it is read and written
/// through the file layer).
pub fn marker_path(root: &Path) -> PathBuf {
    root.join(crate::rules::STATE_DIR).join(NAME)
}

/// Read the marker: `None` if there is none or it is not a marker. A marker that cannot be
/// read (a link, no permission) is an error, never "no marker".
pub fn read_at(root: &Root) -> std::io::Result<Option<Marker>> {
    match root.read_state(NAME) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Read the marker of the folder at `root` on the real disk; `None` if there is none or it
/// cannot be read.
pub fn read(root: &Path) -> Option<Marker> {
    let r = Root::open(crate::localfs::real(), root).ok()?;
    read_at(&r).ok().flatten()
}

/// Replace the marker durably.
pub fn write(root: &Root, m: &Marker) -> std::io::Result<()> {
    root.write_state(
        NAME,
        &serde_json::to_vec_pretty(m).map_err(std::io::Error::other)?,
    )
}

/// What the marker says about the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A new pair (no generation recorded, no marker of a previous index), or one whose
    /// state was reset on purpose (the index keeps the pair's id).
    Fresh,
    /// Marker and index agree (or a bump was interrupted and can be completed).
    Consistent,
    /// The folder holds an older state than the index knows: a snapshot was restored.
    Restored {
        /// Marker generation found (`None`: marker missing).
        found: Option<u64>,
        /// Generation the index expects.
        expected: u64,
    },
    /// The marker is newer than the index: the index is the older one (restored from a
    /// backup); not a restore of the folder. The index takes the marker's generation.
    IndexBehind {
        /// Marker generation found.
        found: u64,
        /// Generation the index had.
        expected: u64,
    },
    /// A marker, and no index that ever synced: the index was deleted.
    IndexMissing {
        /// Marker generation found.
        found: u64,
    },
}

/// Compare the marker on disk with the index's generation, pending generation and pair id.
pub fn verdict(
    marker: Option<&Marker>,
    pair_id: Option<&str>,
    expected: Option<u64>,
    pending: Option<u64>,
) -> Verdict {
    let Some(expected) = expected else {
        return match (marker, pair_id) {
            // Synced before (a marker), but the index knows nothing, not even the pair.
            (Some(m), None) => Verdict::IndexMissing {
                found: m.generation,
            },
            _ => Verdict::Fresh,
        };
    };
    match marker {
        None => Verdict::Restored {
            found: None,
            expected,
        },
        Some(m) if pair_id.is_some_and(|p| p != m.pair_id) => Verdict::Restored {
            found: None,
            expected,
        },
        Some(m) if m.generation == expected || Some(m.generation) == pending => Verdict::Consistent,
        Some(m) if m.generation > expected => Verdict::IndexBehind {
            found: m.generation,
            expected,
        },
        Some(m) => Verdict::Restored {
            found: Some(m.generation),
            expected,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let m = |g| Marker {
            pair_id: "p".into(),
            generation: g,
        };
        assert_eq!(verdict(None, None, None, None), Verdict::Fresh);
        assert_eq!(
            verdict(Some(&m(5)), Some("p"), Some(5), None),
            Verdict::Consistent
        );
        assert_eq!(
            verdict(Some(&m(6)), Some("p"), Some(5), Some(6)),
            Verdict::Consistent,
            "an interrupted bump completes"
        );
        assert_eq!(
            verdict(Some(&m(3)), Some("p"), Some(5), None),
            Verdict::Restored {
                found: Some(3),
                expected: 5
            }
        );
        assert_eq!(
            verdict(None, Some("p"), Some(5), None),
            Verdict::Restored {
                found: None,
                expected: 5
            }
        );
        assert_eq!(
            verdict(Some(&m(5)), Some("q"), Some(5), None),
            Verdict::Restored {
                found: None,
                expected: 5
            },
            "another pair's marker"
        );
    }

    #[test]
    fn a_newer_marker_is_not_a_restore() {
        let m = Marker {
            pair_id: "p".into(),
            generation: 9,
        };
        assert_eq!(
            verdict(Some(&m), Some("p"), Some(5), None),
            Verdict::IndexBehind {
                found: 9,
                expected: 5
            }
        );
    }

    #[test]
    fn a_marker_without_an_index_is_not_a_new_pair() {
        let m = Marker {
            pair_id: "p".into(),
            generation: 4,
        };
        assert_eq!(
            verdict(Some(&m), None, None, None),
            Verdict::IndexMissing { found: 4 }
        );
        // A reset on purpose (the restore's "apply") keeps the pair's id: fresh.
        assert_eq!(verdict(Some(&m), Some("p"), None, None), Verdict::Fresh);
        assert_eq!(
            verdict(Some(&m), Some("p"), None, Some(4)),
            Verdict::Fresh,
            "a first bump interrupted after the marker was written"
        );
    }

    #[test]
    fn marker_round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()), None);
        let m = Marker {
            pair_id: "x".into(),
            generation: 2,
        };
        let root = Root::open(crate::localfs::real(), d.path()).unwrap();
        write(&root, &m).unwrap();
        assert_eq!(read(d.path()), Some(m));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(marker_path(d.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
