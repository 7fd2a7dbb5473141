//! A seed's steps: one engine step (possibly crashing mid-flight), the disturbance switched
//! on and off, and the run of a whole seed until it must have converged.

use super::*;

impl Sim {
    /// A digest of every tree (Dropbox's and each computer's), for the step log: two runs of
    /// an exact seed must pass through the same states.
    pub(crate) fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        folded(&self.w.remote_tree()).hash(&mut h);
        for m in &self.machines {
            Self::tree(&m.root).hash(&mut h);
        }
        h.finish()
    }

    /// Log a step, with this run's own paths and port taken out.
    pub(crate) fn note(&mut self, line: String) {
        let line = line
            .replace(&self.w.dir.path().display().to_string(), "<dir>")
            .replace(&self.w.server.url, "<emulator>");
        self.log.push(line);
    }

    /// One engine step on machine `m`, possibly crashing in the middle: every call to Dropbox
    /// fails from the Nth on (before it is sent, or after Dropbox did it and the answer was
    /// lost), or the engine is dropped mid-flight, at whatever await point it has reached —
    /// after a random time, or (exact seeds) right after the answer to its Nth transfer or
    /// change arrived.
    pub(crate) async fn engine_step(&mut self, m: usize, faults: bool) {
        STATS.steps.fetch_add(1, Ordering::Relaxed);
        let crash = faults && self.rng.random_bool(0.35);
        let budget = self.rng.random_range(1..25usize);
        let mode = self.rng.random_range(0..3u8);
        let drop_after = std::time::Duration::from_millis(self.rng.random_range(1..80));
        let after = mode == 1;
        let dropped = crash && mode == 2;
        let name = self.machines[m].name.clone();
        let root = self.machines[m].root.clone();
        // A power cut in steps that crash no other way (so crashes stay as they were).
        let cut = self.power_cut_plan(faults && !crash);
        let client: Arc<dyn sync_engine::Remote> = Arc::new(self.client());
        let pull_plug = Arc::new(tokio::sync::Notify::new());
        let remote: Arc<dyn sync_engine::Remote> = if crash && (mode < 2 || self.exact) {
            let calls = Arc::new(AtomicUsize::new(0));
            let (c1, c2) = (calls.clone(), calls);
            let plug = pull_plug.clone();
            let before: sync_engine::remote::Hook = Box::new(move |_| {
                (mode == 0 && c1.fetch_add(1, Ordering::SeqCst) >= budget)
                    .then(|| Error::Network("simulated crash".into()))
            });
            let after_hook: sync_engine::remote::AfterHook = Box::new(move |_| {
                (mode == 1 && c2.fetch_add(1, Ordering::SeqCst) >= budget)
                    .then(|| Error::Network("simulated crash (answer lost)".into()))
            });
            // Exact seeds drop the engine right after the Nth answer of a transfer or change
            // (listings run where the engine cannot be dropped: inside the walk's overlap).
            let transfers = Arc::new(AtomicUsize::new(0));
            let stall: sync_engine::remote::Stall = Box::new(move |name| {
                let hit = mode == 2
                    && !name.starts_with("list_")
                    && name != "latest_cursor"
                    && name != "account"
                    && transfers.fetch_add(1, Ordering::SeqCst) + 1 == budget;
                if hit {
                    plug.notify_one();
                }
                hit
            });
            Arc::new(
                Hooked::new(client, before)
                    .with_after(after_hook)
                    .with_stall(stall),
            )
        } else {
            client
        };
        // A crash-prone step always runs on a fresh engine, which is dropped afterwards.
        let mut tuning = self.tuning();
        if let Some(c) = &cut {
            tuning.fs = c.twin.clone();
        }
        let local = self.local_faults_plan(m, tuning.fs.clone(), faults, cut.is_none());
        tuning.fs = local.fs.clone();
        let pair = self.w.pair_with(&name, &root, tuning, remote);
        let limit = if dropped && !self.exact {
            drop_after
        } else {
            std::time::Duration::from_secs(120)
        };
        // `None`: the engine was dropped where it stood.
        let power_off = async {
            match &cut {
                Some(c) => c.twin.went_off().await,
                None => std::future::pending().await,
            }
        };
        let r = tokio::select! {
            biased;
            _ = power_off => None,
            _ = pull_plug.notified(), if dropped && self.exact => None,
            r = tokio::time::timeout(limit, pair.sync_once()) => match r {
                Err(_) if dropped => None,
                Err(_) => panic!("seed {}: a sync step hung", self.seed),
                Ok(r) => Some(r),
            },
        };
        let what = match (crash, mode) {
            (false, _) => String::new(),
            (true, 2) if self.exact => format!(" (dropped mid-flight after change {budget})"),
            (true, 2) => format!(" (dropped mid-flight after {drop_after:?})"),
            (true, _) => format!(
                " (crash after {budget} calls{})",
                if after { ", answer lost" } else { "" }
            ),
        };
        self.note(format!("{name} sync{what}"));
        if let Some(c) = cut.filter(|c| c.twin.is_off()) {
            drop(pair);
            self.power_cut(m, c);
            self.local_faults_after(m, local);
            let d = self.digest();
            self.note(format!("  trees {d:016x}"));
            return;
        }
        match r {
            None => {
                // Requests cut off, the process "gone". The next step starts again from the
                // database.
                STATS.crashes.fetch_add(1, Ordering::Relaxed);
                STATS.dropped.fetch_add(1, Ordering::Relaxed);
                self.note(format!("{name} dropped"));
            }
            Some(Ok(_)) => {}
            Some(Err(SyncError::Paused(PauseReason::MassDelete { .. })))
            | Some(Err(SyncError::Paused(PauseReason::EmptyRemote { .. }))) => {
                // The user checks and confirms.
                pair.confirm_deletes();
                let _ = pair.sync_once().await;
            }
            Some(Err(SyncError::Paused(PauseReason::UnsafeStateFolder { .. })))
                if local.fs.state_swapped() =>
            {
                self.note(format!("{name} stopped: its state folder became a link"));
            }
            Some(Err(SyncError::Paused(
                reason @ (PauseReason::RestoreDetected { .. }
                | PauseReason::IndexMissing { .. }
                | PauseReason::UnsafeStateFolder { .. }),
            ))) => {
                // Nothing in a simulation restores a snapshot or touches the state folder.
                self.fail(format!("{name} paused for no reason: {reason}"));
            }
            Some(Err(e)) => {
                if crash {
                    STATS.crashes.fetch_add(1, Ordering::Relaxed);
                }
                self.note(format!("{name} step failed: {e}"));
            }
        }
        drop(pair);
        self.local_faults_after(m, local);
        let d = self.digest();
        self.note(format!("  trees {d:016x}"));
    }

    pub(crate) fn set_faults(&mut self, on: bool) {
        let f = if on {
            dropbox_emulator::Faults {
                p_server_error: self.rng.random_range(0.0..0.04),
                p_rate_limit: self.rng.random_range(0.0..0.03),
                p_write_contention: self.rng.random_range(0.0..0.03),
                p_write_contention_409: self.rng.random_range(0.0..0.03),
                p_reset: self.rng.random_range(0.0..0.03),
                latency_jitter_ms: self.rng.random_range(0..3),
                retry_after_secs: 0,
                ..Default::default()
            }
        } else {
            dropbox_emulator::Faults::default()
        };
        *self.w.server.emulator.faults.write() = f;
    }

    /// Faults off, and the ones the emulator injected counted for the summary.
    pub(crate) fn end_disturbance(&mut self) {
        STATS.faults.fetch_add(
            self.w.server.emulator.stats.faults.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.set_faults(false);
        self.local_faults_end();
    }

    pub(crate) async fn run(&mut self) {
        let ops = self.rng.random_range(8..30);
        for _ in 0..ops {
            match self.rng.random_range(0..10) {
                0..=3 => {
                    let m = self.rng.random_range(0..self.machines.len());
                    self.local_op(m);
                    if self.local.rng.random_bool(0.25) {
                        self.coarse_edit(m);
                    }
                }
                4..=5 => self.remote_op().await,
                6..=8 => {
                    let on = self.rng.random_bool(0.6);
                    self.set_faults(on);
                    let m = self.rng.random_range(0..self.machines.len());
                    self.engine_step(m, on).await;
                    self.set_faults(false);
                }
                _ => {
                    // Clock jumps. Dropbox's: tokens expire, upload sessions age by days. This
                    // computer's, either way (set by hand, NTP, a resume from sleep): stored
                    // session times and conflict dates are read against it.
                    let days = self.rng.random_range(1..4);
                    self.w.server.emulator.advance_clock(days * 86_400);
                    let now = self.w.server.emulator.now();
                    for g in self.w.server.emulator.tokens.lock().access.values_mut() {
                        if g.expires_at.is_some() {
                            g.expires_at = Some(now - 1);
                        }
                    }
                    let local = self.rng.random_range(-3..=3i64) * 86_400
                        + self.rng.random_range(-3_600..3_600i64);
                    let total = sync_engine::pair::shift_clock(local);
                    STATS.clock_jumps.fetch_add(1, Ordering::Relaxed);
                    self.note(format!(
                        "Dropbox's clock +{days} days; this computer's {local:+} s (now {total:+} s)"
                    ));
                }
            }
        }
        // The disturbance stops: converge.
        self.end_disturbance();
        for round in 0..8 {
            for m in 0..self.machines.len() {
                self.engine_step(m, false).await;
            }
            if round >= 1 && self.converged() {
                break;
            }
        }
        self.check();
    }
}
