//! The daemon's way: both engines running (file events, longpoll, rescans) while the actors
//! edit, with faults switched on and off; then both must converge by themselves.

use super::*;

impl Sim {
    /// The daemon's way: both computers' engines run continuously (file events, Dropbox's
    /// longpoll, periodic rescans) while the actors edit, with faults on and off — slow
    /// longpolls and longpoll backoffs among them. Then the disturbance stops and both must
    /// converge by themselves.
    pub(crate) async fn run_continuous(&mut self) {
        let runners: Vec<sync_engine::Runner> = (0..self.machines.len())
            .map(|m| {
                let pair = self.w.pair_with(
                    &self.machines[m].name,
                    &self.machines[m].root,
                    self.tuning(),
                    Arc::new(self.client()),
                );
                sync_engine::Runner::spawn(
                    Arc::new(pair),
                    sync_engine::RunOptions {
                        rescan_interval: std::time::Duration::from_secs(3),
                        longpoll_secs: 30,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let ops = self.rng.random_range(8..25);
        for _ in 0..ops {
            match self.rng.random_range(0..10) {
                0..=4 => {
                    let m = self.rng.random_range(0..self.machines.len());
                    self.local_op(m);
                    if self.local.rng.random_bool(0.25) {
                        self.coarse_edit(m);
                    }
                }
                5..=6 => self.remote_op().await,
                _ => {
                    let on = self.rng.random_bool(0.6);
                    self.set_faults(on);
                    if on {
                        let mut f = self.w.server.emulator.faults.write();
                        f.longpoll_delay_ms = self.rng.random_range(0..2_000);
                        f.longpoll_backoff_secs = self
                            .rng
                            .random_bool(0.3)
                            .then(|| self.rng.random_range(1..3));
                        let line = format!(
                            "faults on (longpoll answers {} ms late, backoff {:?})",
                            f.longpoll_delay_ms, f.longpoll_backoff_secs
                        );
                        drop(f);
                        self.note(line);
                    } else {
                        self.note("faults off".into());
                    }
                }
            }
            let pause = self.rng.random_range(0..200);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        // The disturbance stops: the engines converge by themselves. A guard's pause is
        // confirmed by the user, as in the one-shot runs.
        self.end_disturbance();
        let start = std::time::Instant::now();
        let mut settled_since: Option<std::time::Instant> = None;
        while start.elapsed() < std::time::Duration::from_secs(90) {
            for r in &runners {
                if r.status().pause.is_some() {
                    r.resume(true);
                }
            }
            let quiet = runners
                .iter()
                .all(|r| r.status().state == sync_engine::PairState::UpToDate);
            if quiet && self.converged() {
                // Converged and staying so for a moment (no late event undoes it).
                match settled_since {
                    Some(t) if t.elapsed() > std::time::Duration::from_millis(500) => break,
                    Some(_) => {}
                    None => settled_since = Some(std::time::Instant::now()),
                }
            } else {
                settled_since = None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let waited = start.elapsed();
        for r in runners {
            r.stop().await;
        }
        self.note(format!("settled after {waited:?}"));
        self.check();
    }
}

/// Continuous runs: `SIM_CONTINUOUS=n` seeds per shard (default 6, 3 shards).
async fn continuous_shard(n: u64) {
    let per: u64 = std::env::var("SIM_CONTINUOUS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    SHARD.store(200 + n, Ordering::Relaxed);
    for i in 0..per {
        let mut sim = Sim::new(7_000_000 + n * 1_000_003 + i).await;
        sim.run_continuous().await;
        STATS.seeds.fetch_add(1, Ordering::Relaxed);
    }
    write_summary();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_0() {
    continuous_shard(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_1() {
    continuous_shard(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_2() {
    continuous_shard(2).await;
}
