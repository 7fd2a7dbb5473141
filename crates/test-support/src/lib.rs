//! Fixtures the workspace's tests share, so that each test crate's `tests/common` holds only
//! what is its own: the emulator as a test sees it ([`emulator`]), waiting until something
//! holds ([`eventually`]), writing and reading local trees ([`tree`]), and the run's summary
//! files ([`summary`]). A dev-dependency only: nothing that ships depends on it.

pub mod emulator;
pub mod summary;
pub mod tree;

#[cfg(feature = "http")]
pub mod http;

pub use emulator::{ACCOUNT, TOKEN};
pub use summary::record_bad_inputs;
pub use tree::{local_files, local_tree, write};

use std::time::{Duration, Instant};

/// Wait until `f` holds (checked every `every`); panics with `what` after `limit`. Returns how
/// long it took.
pub async fn eventually_every(
    what: &str,
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return start.elapsed();
        }
        tokio::time::sleep(every).await;
    }
    panic!("{what}: not within {limit:?}");
}

/// Wait until `f` holds (checked every 20 ms); panics with `what` after `limit`. Returns how
/// long it took.
pub async fn eventually(what: &str, limit: Duration, f: impl FnMut() -> bool) -> Duration {
    eventually_every(what, limit, Duration::from_millis(20), f).await
}
