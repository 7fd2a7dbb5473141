//! What the watcher and the longpoll report to a running pair's loop: changed paths,
//! coalesced and bounded, or one full rescan.

use std::collections::BTreeSet;
use std::sync::Mutex;
use tokio::sync::Notify;

use crate::pair::lock;

/// At most this many changed paths wait for the loop; a larger burst (a checkout, an unpacked
/// archive) is looked at as one full rescan instead, so what waits stays small.
pub const MAX_PENDING_PATHS: usize = 10_000;

/// What the watcher and the longpoll ask of the loop, gathered until it looks: bounded, and
/// coalesced — many triggers are one look.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Changed paths (relative display paths; `""`: the pair's folder itself).
    pub paths: BTreeSet<String>,
    /// Look at everything (events were lost, or too many paths).
    pub full: bool,
    /// Dropbox has changes.
    pub remote: bool,
}

/// Where the watcher and the longpoll leave their triggers for the loop.
#[derive(Debug, Default)]
pub struct Triggers {
    pending: Mutex<Pending>,
    pub(super) wake: Notify,
}

impl Triggers {
    /// Paths changed.
    pub fn paths(&self, paths: impl IntoIterator<Item = String>) {
        let mut p = lock(&self.pending);
        if !p.full {
            p.paths.extend(paths);
            if p.paths.len() > MAX_PENDING_PATHS {
                p.full = true;
                p.paths = BTreeSet::new();
            }
        }
        drop(p);
        self.wake.notify_one();
    }

    /// Look at everything: file events were lost (the kernel's queue overflowed) or cannot
    /// be read any more.
    pub fn full(&self) {
        let mut p = lock(&self.pending);
        p.full = true;
        p.paths = BTreeSet::new();
        drop(p);
        self.wake.notify_one();
    }

    /// Dropbox has changes.
    pub fn remote(&self) {
        lock(&self.pending).remote = true;
        self.wake.notify_one();
    }

    /// Everything gathered so far (and nothing is left).
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *lock(&self.pending))
    }

    /// Take in the paths the watcher reports changed (relative display paths; `""`: the pair's
    /// folder), except those in nuvosync's own folder; an edit of the ignore file is a full
    /// rescan with its patterns.
    pub fn changed(&self, paths: Vec<String>) {
        let state = format!("/{}", crate::rules::STATE_DIR);
        let ignore = format!("/{}", crate::rules::IGNORE_FILE);
        let paths: Vec<String> = paths
            .into_iter()
            .filter(|p| !(p.starts_with(&state) && p[state.len()..].chars().next().is_none_or(|c| c == '/')))
            .collect();
        if paths.contains(&ignore) {
            // The patterns changed: what is synced may change anywhere in the folder.
            tracing::info!(
                "{} changed; rescanning with its patterns",
                crate::rules::IGNORE_FILE
            );
            return self.full();
        }
        if !paths.is_empty() {
            self.paths(paths);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_queue_overflow_is_a_full_rescan_and_bursts_stay_bounded() {
        let t = Triggers::default();
        t.changed(paths(&["/a.txt", "/.nuvosync", "/.nuvosync/tmp/x", "/.nuvosyncx"]));
        let got = t.take();
        assert_eq!(
            got.paths.into_iter().collect::<Vec<_>>(),
            ["/.nuvosyncx", "/a.txt"],
            "nuvosync's own folder is left out, and only it"
        );
        assert!(!got.full);
        t.changed(paths(&["/b.txt", "/.nuvosyncignore"]));
        let got = t.take();
        assert!(got.full && got.paths.is_empty(), "an edit of the ignore file");
        t.full();
        assert!(t.take().full, "an overflow of the event queue is a full rescan");
        // More paths than are kept: one full rescan, nothing held.
        for i in 0..(MAX_PENDING_PATHS + 5) {
            t.changed(vec![format!("/f{i}")]);
        }
        let got = t.take();
        assert!(
            got.full && got.paths.is_empty(),
            "{} paths held",
            got.paths.len()
        );
        assert_eq!(t.take(), Pending::default(), "taken means gone");
    }
}
