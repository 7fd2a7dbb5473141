//! What the watcher and the longpoll report to a running pair's loop: changed paths,
//! coalesced and bounded, or one full rescan.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use tokio::sync::Notify;

use super::WATCH_LIMIT_HINT;
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
    /// Why file events are not (all) watched, to show in status.
    pub watch_problem: Option<String>,
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
    /// be trusted; `problem` is shown in status when watching stopped working.
    pub fn full(&self, problem: Option<String>) {
        let mut p = lock(&self.pending);
        p.full = true;
        p.paths = BTreeSet::new();
        if problem.is_some() {
            p.watch_problem = problem;
        }
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

    /// Take in what the watcher reports: the relative paths below `root` (except nuvosync's
    /// own folder `state_dir`); a notice that events were dropped (`IN_Q_OVERFLOW`, notify's
    /// `Rescan` flag) or an error is a full rescan.
    pub fn take_event(&self, root: &Path, state_dir: &Path, res: notify::Result<notify::Event>) {
        let e = match res {
            Ok(e) => e,
            Err(err) => {
                let problem = if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) {
                    WATCH_LIMIT_HINT.to_string()
                } else {
                    tracing::warn!("file events were lost ({err}); rescanning");
                    return self.full(None);
                };
                return self.full(Some(problem));
            }
        };
        if e.need_rescan() {
            // The kernel's event queue overflowed: changes were not reported one by one.
            tracing::info!("the file event queue overflowed; rescanning the whole folder");
            return self.full(None);
        }
        // Opening or reading a file or folder changes nothing, and the engine's own scans and
        // uploads open everything they look at: only a close after writing counts among the
        // access events (else every scan would set off the next).
        if let notify::EventKind::Access(a) = e.kind {
            if !matches!(
                a,
                notify::event::AccessKind::Close(notify::event::AccessMode::Write)
            ) {
                return;
            }
        }
        let paths: Vec<String> = e
            .paths
            .iter()
            .filter(|p| !p.starts_with(state_dir))
            .filter_map(|p| p.strip_prefix(root).ok())
            .map(|rel| {
                if rel.as_os_str().is_empty() {
                    String::new()
                } else {
                    format!("/{}", rel.to_string_lossy())
                }
            })
            .collect();
        if paths
            .iter()
            .any(|p| p.strip_prefix('/') == Some(crate::rules::IGNORE_FILE))
        {
            // The patterns changed: what is synced may change anywhere in the folder.
            tracing::info!(
                "{} changed; rescanning with its patterns",
                crate::rules::IGNORE_FILE
            );
            return self.full(None);
        }
        if !paths.is_empty() {
            self.paths(paths);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn event(kind: notify::EventKind, paths: &[&str]) -> notify::Result<notify::Event> {
        let mut e = notify::Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        Ok(e)
    }

    #[test]
    fn a_queue_overflow_is_a_full_rescan_and_bursts_stay_bounded() {
        let t = Triggers::default();
        let (root, state) = (Path::new("/p"), Path::new("/p/.nuvosync"));
        let write = notify::EventKind::Access(notify::event::AccessKind::Close(
            notify::event::AccessMode::Write,
        ));
        let open = notify::EventKind::Access(notify::event::AccessKind::Open(
            notify::event::AccessMode::Any,
        ));
        t.take_event(
            root,
            state,
            event(write, &["/p/a.txt", "/p/.nuvosync/tmp/x"]),
        );
        t.take_event(root, state, event(open, &["/p/b.txt"]));
        let got = t.take();
        assert_eq!(got.paths.into_iter().collect::<Vec<_>>(), ["/a.txt"]);
        assert!(!got.full);
        // IN_Q_OVERFLOW: notify sends an event with no paths and the Rescan flag.
        let overflow =
            notify::Event::new(notify::EventKind::Other).set_flag(notify::event::Flag::Rescan);
        t.take_event(root, state, Ok(overflow));
        assert!(
            t.take().full,
            "an overflow of the event queue is a full rescan"
        );
        // More paths than are kept: one full rescan, nothing held.
        let create = notify::EventKind::Create(notify::event::CreateKind::File);
        for i in 0..(MAX_PENDING_PATHS + 5) {
            t.take_event(root, state, event(create, &[&format!("/p/f{i}")]));
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
