//! Snapshot-restore detection.
//!
//! Each pair keeps a marker in `<root>/.nuvosync/marker.json` with a generation number that
//! the index records too. Every sync round that changed something bumps both. A restored
//! snapshot of the folder brings back an older marker (or none), while the index remembers
//! the newer generation: the engine then stops before it lets Dropbox's newer copies
//! overwrite the restored files.
//!
//! The bump is crash-safe: the index first records the *pending* generation, then the marker
//! is rewritten, then the index commits it. A marker equal to the pending generation means
//! the last bump was interrupted, not that a snapshot came back.

use crate::rules::STATE_DIR;
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

/// The marker file of a pair folder.
pub fn marker_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("marker.json")
}

/// Read the marker; `None` if there is none or it is unreadable.
pub fn read(root: &Path) -> Option<Marker> {
    let bytes = std::fs::read(marker_path(root)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Write the marker atomically.
pub fn write(root: &Path, m: &Marker) -> std::io::Result<()> {
    let dir = crate::localfs::state_dir(root)?;
    let tmp = dir.join("marker.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(m).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, marker_path(root))
}

/// What the marker says about the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A new pair: no generation recorded yet.
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
}

/// Compare the marker on disk with the index's generation and pending generation.
pub fn verdict(
    marker: Option<&Marker>,
    pair_id: Option<&str>,
    expected: Option<u64>,
    pending: Option<u64>,
) -> Verdict {
    let Some(expected) = expected else {
        return Verdict::Fresh;
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
    fn marker_round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()), None);
        let m = Marker {
            pair_id: "x".into(),
            generation: 2,
        };
        write(d.path(), &m).unwrap();
        assert_eq!(read(d.path()), Some(m));
    }
}
