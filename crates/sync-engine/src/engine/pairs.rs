//! The engine of a process: the pairs it has open, the tuning they share, the event channel
//! they report into, and the lock that keeps their commits one at a time.

use super::PairHandle;
use crate::events::Events;
use crate::pair::{Pair, PairSpec, SyncError, Tuning};
use crate::remote::Remote;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The open pairs of a process, each opened on first use and kept until closed.
pub struct Engine {
    pairs: Mutex<HashMap<String, PairHandle>>,
    tuning: Tuning,
    events: Events,
    commit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Engine {
    /// An engine with no pair open yet; every pair it opens shares `tuning` (a setting
    /// changed there applies to them all at once) and reports into one event channel.
    pub fn new(tuning: Tuning) -> Engine {
        Engine {
            pairs: Mutex::new(HashMap::new()),
            tuning,
            events: Events::default(),
            commit_lock: Arc::default(),
        }
    }

    /// The tuning every pair shares.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// The event channel every pair reports into.
    pub fn events(&self) -> &Events {
        &self.events
    }

    fn pairs(&self) -> MutexGuard<'_, HashMap<String, PairHandle>> {
        self.pairs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pair named `name`, if it is open.
    pub fn get(&self, name: &str) -> Option<PairHandle> {
        self.pairs().get(name).cloned()
    }

    /// The pair of `spec`: the one open under its name, else opened now (its index is
    /// created on first use) with `remote` as its Dropbox. nuvosync's own folders
    /// (`private`) are never synced, wherever they are.
    pub fn open(
        &self,
        spec: PairSpec,
        remote: Arc<dyn Remote>,
        private: &[PathBuf],
    ) -> Result<PairHandle, SyncError> {
        if let Some(h) = self.get(&spec.name) {
            return Ok(h);
        }
        let name = spec.name.clone();
        let pair = Pair::open_with_events(
            spec,
            self.tuning.clone(),
            remote,
            self.commit_lock.clone(),
            self.events.clone(),
        )?;
        pair.set_private_folders(private);
        let handle = PairHandle::new(Arc::new(pair));
        self.pairs().insert(name, handle.clone());
        Ok(handle)
    }

    /// Close the pair `name` (once no handle of it is left; it is opened afresh on next use).
    pub fn close(&self, name: &str) {
        self.pairs().remove(name);
    }

    /// Close every pair.
    pub fn close_all(&self) {
        self.pairs().clear();
    }

    /// Forget the pair `name` for good: close it, delete its index (`index`, with SQLite's
    /// journal files) and the restore marker in its folder `local` — that marker belonged to
    /// the index, so the folder added again is a new pair, not one whose index went missing.
    /// The pair's files stay where they are, on both sides.
    pub fn forget(&self, name: &str, index: &Path, local: Option<&Path>) {
        self.close(name);
        for f in [
            index.to_path_buf(),
            index.with_extension("db-wal"),
            index.with_extension("db-shm"),
        ] {
            let _ = std::fs::remove_file(f);
        }
        if let Some(local) = local {
            if let Ok(root) = crate::localfs::Root::open(crate::localfs::real(), local) {
                let _ = root.remove_state(crate::marker::NAME);
            }
        }
    }

    /// The open pairs, by name.
    pub fn handles(&self) -> Vec<(String, PairHandle)> {
        let mut all: Vec<_> = self
            .pairs()
            .iter()
            .map(|(n, h)| (n.clone(), h.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nuvosync_dropbox::{Client, Credential, Endpoints, Secret};

    #[test]
    fn a_pair_is_opened_once_and_forgetting_it_removes_its_index_and_marker() {
        let d = tempfile::tempdir().unwrap();
        let local = d.path().join("lab");
        std::fs::create_dir_all(&local).unwrap();
        let state = d.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let index = state.join("lab.db");
        // Never called: opening a pair asks nothing of Dropbox.
        let client = Arc::new(
            Client::new(
                Endpoints::dropbox(),
                Credential::Either {
                    token: Secret::new("unused"),
                    app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
                },
            )
            .unwrap(),
        );
        let spec = PairSpec {
            name: "lab".into(),
            local_root: local.clone(),
            remote_root: "/Acme/Research/Lab".into(),
            excluded: vec![],
            index_path: index.clone(),
        };
        let engine = Engine::new(Tuning::default());
        let a = engine.open(spec.clone(), client.clone(), &[]).unwrap();
        let b = engine.open(spec, client, &[]).unwrap();
        assert!(
            Arc::ptr_eq(&a.pair, &b.pair),
            "the open pair is handed out again"
        );
        let names: Vec<String> = engine.handles().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["lab"]);
        assert!(index.exists(), "its index is made on first use");

        engine.close("lab");
        assert!(engine.get("lab").is_none());
        assert!(index.exists(), "closing keeps the index");

        let marker = local
            .join(crate::rules::STATE_DIR)
            .join(crate::marker::NAME);
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(&marker, "{}").unwrap();
        drop((a, b));
        engine.forget("lab", &index, Some(&local));
        assert!(!index.exists(), "the index is deleted");
        assert!(!marker.exists(), "the marker that belonged to it too");
        assert!(local.is_dir(), "the folder stays");
    }
}
