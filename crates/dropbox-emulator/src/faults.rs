//! Injected faults and conditions: latency, bandwidth, errors, resets, slow longpoll, and
//! corrupted answers.
//!
//! Every random decision is drawn from one seeded generator in request order, so a run
//! with the same seed and the same request sequence injects the same faults. The settings
//! can be changed at run time through the admin endpoint.
//!
//! A [`Corruption`] spoils the next N successful answers of one route in one way — JSON
//! that does not parse, a body cut short, bytes that do not match their `content_hash`, or an
//! entry whose path leads out of the folder listed — so clients can be tested against a
//! hostile or broken server. Where a corruption needs a choice (which entry, where to cut),
//! it is drawn from the seeded generator.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Fault and condition settings. All probabilities are per request, between 0 and 1.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every request before it is handled (milliseconds).
    pub latency_ms: u64,
    /// Extra random latency, uniform in `0..=latency_jitter_ms`.
    pub latency_jitter_ms: u64,
    /// Cap on upload and download throughput in bytes per second, shared by all requests (0 = none).
    pub bandwidth_bytes_per_sec: u64,
    /// Probability of a 500/503 response instead of handling the request.
    pub p_server_error: f64,
    /// Probability of a 429 `too_many_requests`.
    pub p_rate_limit: f64,
    /// Probability that a write is refused with a 429 `too_many_write_operations`.
    pub p_write_contention: f64,
    /// Probability that a write is refused with the route-level (409) `too_many_write_operations`
    /// — also drawn per entry inside batch commits.
    pub p_write_contention_409: f64,
    /// Probability that the connection is dropped (before the response, or mid-body on downloads).
    pub p_reset: f64,
    /// Seconds sent in `Retry-After` (and `retry_after` for `too_many_requests`).
    pub retry_after_secs: u64,
    /// Send 429 bodies as plain text instead of JSON.
    pub rate_limit_text_body: bool,
    /// Longpoll answers are delayed this long after a change (milliseconds).
    pub longpoll_delay_ms: u64,
    /// When set, longpoll responses carry `backoff` of this many seconds.
    pub longpoll_backoff_secs: Option<u64>,
    /// The most random jitter added to a longpoll's `timeout` when nothing changes
    /// (milliseconds); `None` is Dropbox's "up to 90 seconds" (files.stone
    /// `ListFolderLongpollArg.timeout`), `Some(0)` none.
    pub longpoll_jitter_ms: Option<u64>,
    /// Each write commit holds the account's namespace lock this long (milliseconds); a write
    /// arriving while it is held fails with `too_many_write_operations`, as on Dropbox.
    pub write_lock_ms: u64,
    /// Answers to spoil, in order of precedence (see [`Corruption`]). A spent entry is removed.
    pub corrupt: Vec<Corruption>,
    /// How long a [`Corrupt::Stall`] holds an answer back (milliseconds; 0 = 60 s).
    pub stall_ms: u64,
}

/// Dropbox's longpoll jitter: "plus up to 90 seconds of random jitter added to avoid the
/// thundering herd problem" (files.stone, `ListFolderLongpollArg.timeout`).
pub const LONGPOLL_JITTER_MS: u64 = 90_000;

/// Spoil the next `count` successful answers of `route` in the way `kind` says.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Corruption {
    /// The API route (`files/list_folder/continue`), or `*` for any route `kind` applies to.
    pub route: String,
    /// How.
    pub kind: Corrupt,
    /// How many answers (each answer the corruption applies to counts once).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// Ways to spoil an answer.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Corrupt {
    /// The JSON result (the body, or a download's `Dropbox-API-Result` header) is cut at a
    /// seeded point, so it does not parse.
    MalformedJson,
    /// The body stops at a seeded point although `Content-Length` promises all of it; the
    /// connection is then dropped.
    TruncatedBody,
    /// A download's bytes differ from its `content_hash` (one seeded byte is flipped); the
    /// metadata is unchanged. Downloads only.
    ContentHashMismatch,
    /// One seeded entry's path gets `..` components that climb out of the folder listed:
    /// `/a/b/x` → `/a/b/../../../../../../../../../../../../x`.
    DotDotPath,
    /// One seeded entry's path, kept under its folder, continues with an empty component and
    /// an absolute host path: `/a/b/x` → `/a/b//tmp/nuvosync-escape/x` (a client that joins
    /// it to its local root naively writes to `/tmp`).
    AbsolutePath,
    /// One seeded entry's path is moved outside the folder listed: `/a/b/x` →
    /// `/nuvosync-elsewhere/x`.
    OutsidePath,
    /// The request is carried out, then its answer is held back ([`Faults::stall_ms`]) with
    /// the connection open and silent — a server or network that stops moving mid-call.
    Stall,
}

impl Corrupt {
    /// Whether this corruption can spoil an answer of this shape.
    pub fn applies(self, download: bool, has_paths: bool) -> bool {
        match self {
            Corrupt::MalformedJson | Corrupt::TruncatedBody | Corrupt::Stall => true,
            Corrupt::ContentHashMismatch => download,
            Corrupt::DotDotPath | Corrupt::AbsolutePath | Corrupt::OutsidePath => has_paths,
        }
    }

    /// The path an entry at `path` is given (path kinds only; others return it unchanged).
    pub fn rewrite_path(self, path: &str) -> String {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        match self {
            Corrupt::DotDotPath => format!("{parent}/{}{name}", "../".repeat(12)),
            Corrupt::AbsolutePath => format!("{parent}//tmp/nuvosync-escape/{name}"),
            Corrupt::OutsidePath => format!("/nuvosync-elsewhere/{name}"),
            _ => path.to_string(),
        }
    }
}

impl Faults {
    /// Take one use of the first corruption for `route` that applies to an answer of this
    /// shape (a download or not; with entry paths or not).
    pub fn take_corruption(
        &mut self,
        route: &str,
        download: bool,
        has_paths: bool,
    ) -> Option<Corrupt> {
        let i = self.corrupt.iter().position(|c| {
            c.count > 0
                && (c.route == route || c.route == "*")
                && c.kind.applies(download, has_paths)
        })?;
        let kind = self.corrupt[i].kind;
        self.corrupt[i].count -= 1;
        if self.corrupt[i].count == 0 {
            self.corrupt.remove(i);
        }
        Some(kind)
    }
}

/// Rewrite the path of one entry of a JSON answer (a listing's `entries`, a `metadata`
/// field, or the answer itself): a file entry when there is one, chosen by `pick(n)` among
/// the `n` candidates. Returns whether an entry was changed.
pub fn corrupt_entry_path(
    answer: &mut serde_json::Value,
    kind: Corrupt,
    pick: impl FnOnce(u64) -> u64,
) -> bool {
    let mut candidates: Vec<&mut serde_json::Value> = entries_of(answer);
    let files: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, e)| e.get("content_hash").is_some())
        .map(|(i, _)| i)
        .collect();
    let pool: Vec<usize> = if files.is_empty() {
        (0..candidates.len()).collect()
    } else {
        files
    };
    if pool.is_empty() {
        return false;
    }
    let i = pool[(pick(pool.len() as u64 - 1) as usize).min(pool.len() - 1)];
    let entry = &mut candidates[i];
    let Some(display) = entry.get("path_display").and_then(|p| p.as_str()) else {
        return false;
    };
    let display = kind.rewrite_path(display);
    entry["path_lower"] = serde_json::Value::String(display.to_lowercase());
    entry["path_display"] = serde_json::Value::String(display);
    true
}

/// Whether a JSON answer carries entry paths [`corrupt_entry_path`] can rewrite.
pub fn has_entry_paths(answer: &mut serde_json::Value) -> bool {
    entries_of(answer)
        .iter()
        .any(|e| e.get("path_display").is_some_and(|p| p.is_string()))
}

fn entries_of(answer: &mut serde_json::Value) -> Vec<&mut serde_json::Value> {
    if answer.get("entries").is_some_and(|e| e.is_array()) {
        return answer["entries"]
            .as_array_mut()
            .map(|a| {
                a.iter_mut()
                    .map(|e| {
                        // Batch results wrap their metadata.
                        if e.get("metadata").is_some() {
                            &mut e["metadata"]
                        } else {
                            e
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    if answer.get("metadata").is_some_and(|m| m.is_object()) {
        return vec![&mut answer["metadata"]];
    }
    if answer.get("path_display").is_some() {
        return vec![answer];
    }
    vec![]
}

/// The seeded source of fault decisions.
pub struct FaultRng {
    rng: SmallRng,
}

impl FaultRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        FaultRng {
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// True with probability `p`. Draws nothing when `p` is zero, so enabling a fault does
    /// not shift the other decisions of an otherwise fault-free run.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }

    /// A uniform value in `0..=max`.
    pub fn upto(&mut self, max: u64) -> u64 {
        if max == 0 {
            0
        } else {
            self.rng.random_range(0..=max)
        }
    }

    /// Random bytes (for ids and tokens).
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng.fill(&mut out[..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions() {
        let draw = |seed| {
            let mut r = FaultRng::new(seed);
            (0..100).map(|_| r.chance(0.3)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let mut r = FaultRng::new(1);
        assert!(!(0..1000).any(|_| r.chance(0.0)));
    }

    #[test]
    fn corruptions_are_used_up_in_order_and_only_where_they_apply() {
        let mut f: Faults = serde_json::from_str(
            r#"{"corrupt": [
                {"route": "files/download", "kind": "content_hash_mismatch", "count": 2},
                {"route": "*", "kind": "malformed_json"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(f.corrupt[1].count, 1, "count defaults to one");
        // A listing is no download: the hash mismatch does not apply, the wildcard does.
        assert_eq!(
            f.take_corruption("files/list_folder", false, true),
            Some(Corrupt::MalformedJson)
        );
        assert_eq!(f.take_corruption("files/list_folder", false, true), None);
        assert_eq!(
            f.take_corruption("files/download", true, true),
            Some(Corrupt::ContentHashMismatch)
        );
        assert_eq!(
            f.take_corruption("files/download", true, true),
            Some(Corrupt::ContentHashMismatch)
        );
        assert!(f.corrupt.is_empty(), "spent corruptions are removed");
        assert!(
            serde_json::from_str::<Faults>(r#"{"corrupt": [{"route": "x", "kind": "nope"}]}"#)
                .is_err()
        );
    }

    #[test]
    fn path_corruptions_lead_out_of_the_folder() {
        assert_eq!(
            Corrupt::DotDotPath.rewrite_path("/A/B/x.txt"),
            format!("/A/B/{}x.txt", "../".repeat(12))
        );
        assert_eq!(
            Corrupt::AbsolutePath.rewrite_path("/A/B/x.txt"),
            "/A/B//tmp/nuvosync-escape/x.txt"
        );
        assert_eq!(
            Corrupt::OutsidePath.rewrite_path("/A/B/x.txt"),
            "/nuvosync-elsewhere/x.txt"
        );
        // A listing: the file entry is chosen over the folder, lower-case path follows.
        let mut page = serde_json::json!({"entries": [
            {".tag": "folder", "path_display": "/A", "path_lower": "/a"},
            {".tag": "file", "path_display": "/A/X.txt", "path_lower": "/a/x.txt", "content_hash": "00"}
        ], "cursor": "c", "has_more": false});
        assert!(has_entry_paths(&mut page));
        assert!(corrupt_entry_path(&mut page, Corrupt::OutsidePath, |_| 0));
        assert_eq!(page["entries"][0]["path_display"], "/A");
        assert_eq!(
            page["entries"][1]["path_display"],
            "/nuvosync-elsewhere/X.txt"
        );
        assert_eq!(
            page["entries"][1]["path_lower"],
            "/nuvosync-elsewhere/x.txt"
        );
        // A single metadata answer, and one without paths.
        let mut meta = serde_json::json!({"metadata": {"path_display": "/f", "path_lower": "/f"}});
        assert!(corrupt_entry_path(&mut meta, Corrupt::DotDotPath, |_| 0));
        assert!(
            meta["metadata"]["path_display"]
                .as_str()
                .unwrap()
                .contains("..")
        );
        let mut none = serde_json::json!({"used": 1});
        assert!(!has_entry_paths(&mut none));
        assert!(!corrupt_entry_path(&mut none, Corrupt::DotDotPath, |_| 0));
    }

    #[test]
    fn settings_parse_partially_and_reject_unknown_keys() {
        let f: Faults = serde_json::from_str(r#"{"latency_ms": 20}"#).unwrap();
        assert_eq!(f.latency_ms, 20);
        assert_eq!(f.p_server_error, 0.0);
        assert!(serde_json::from_str::<Faults>(r#"{"latency": 20}"#).is_err());
    }
}
