//! The sync engine: everything around the pure core that touches the world.
//!
//! Front ends use its façade only: [`engine`] (an [`engine::Engine`] owns a process's open
//! pairs and hands out a [`PairHandle`] per pair, with all a front end asks of a pair), and
//! [`events`] (what front ends hear), and the settings and run types re-exported here. The
//! rest is the engine's own, private to the crate; with the `testing` feature it is public,
//! for the engine's tests and those of front ends:
//!
//! - `index`: the SQLite index of one pair (the three trees, dirty keys, cursor, sessions).
//! - `scan`: the parallel local scanner; `rules`: what is never synced.
//! - `remote`: the Dropbox calls as a trait, and the pair's root on Dropbox.
//! - `exec`: carries out plans safely; `localfs`: careful local file operations.
//! - `pair`: one pair's observe → plan → execute loop and its guards; `marker`: snapshot
//!   restore detection.
//! - `runner`: continuous sync (watcher, longpoll, rescans).
//! - `stage`: the big transfers of a running pair, in flight across its rounds.

/// Declares an internal module of the engine: public with the `testing` feature (for the
/// tests), private to the crate otherwise (front ends go through the façade). Attributes
/// given apply to the private form: a module's re-exports that only the tests use.
macro_rules! internal {
    ($(#[$attr:meta])* $name:ident) => {
        #[cfg(feature = "testing")]
        pub mod $name;
        #[cfg(not(feature = "testing"))]
        $(#[$attr])*
        pub(crate) mod $name;
    };
}

pub(crate) mod clock;
pub mod engine;
pub mod events;
pub(crate) mod exec;
pub(crate) mod export;
internal!(index);
internal!(
    #[allow(unused_imports)] // `Trashed`, for the tests
    localfs
);
internal!(marker);
pub(crate) mod outcome;
internal!(
    #[allow(unused_imports)] // `DELETE_WINDOW`, `hostname`, for the tests
    pair
);
pub mod platform;
internal!(remote);
internal!(rules);
internal!(runner);
internal!(scan);
pub(crate) mod selective;
pub(crate) mod settings;
pub(crate) mod stage;
mod sync_lock;
#[cfg(test)]
mod timing;

pub use engine::PairHandle;
pub use events::{Event, Events, PairState};

/// Set up the memory allocator for a long-running sync process; call first thing in
/// `main`, before any thread starts. glibc gives each thread that allocates an arena of its
/// own (up to eight per core): the walker, hashing, SQLite and runtime threads each keep
/// freed memory in theirs. Two arenas cut the peak of a first sync of 100,000 files by a
/// quarter at no measured cost in speed.
#[allow(unsafe_code)] // one call into the C allocator, nothing else
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable of the allocator; it is called before other
        // threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
/// Give the memory a round freed back to the system. glibc keeps freed heap memory for
/// reuse and returns it only from the top of the heap, so after a round over a large tree (the
/// three trees, the plan, the scan's buffers) an idle daemon would go on holding tens of MB it
/// no longer uses. Called when a running pair becomes idle; it costs a walk of the free lists.
#[allow(unsafe_code)] // one call into the C allocator, nothing else
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only hands free pages of the allocator back to the kernel; it takes
    // the allocator's own locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
/// The waits between tries, all on the Dropbox client's one back-off: a failed round or
/// longpoll (1 s doubling to a minute), a big transfer that failed (1 s doubling to 30 s), and
/// a batch commit's entries Dropbox asked to retry (200 ms doubling to 3.2 s).
pub(crate) const RETRY_RUN: nuvosync_dropbox::Backoff = nuvosync_dropbox::Backoff::new(
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(60),
);
pub(crate) const RETRY_TRANSFER: nuvosync_dropbox::Backoff = nuvosync_dropbox::Backoff::new(
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(30),
);
pub(crate) const RETRY_BATCH: nuvosync_dropbox::Backoff = nuvosync_dropbox::Backoff::new(
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(3200),
);
pub use nuvosync_dropbox::throttle::Limits;
/// The pair itself, for the engine's tests (front ends hold a [`PairHandle`]).
#[cfg(feature = "testing")]
pub use pair::Pair;
pub use pair::{DeleteGuard, PairSpec, PauseReason, Report, Retention, SyncError, Tuning};
pub use remote::{Remote, RemoteRoot};
pub use runner::{RunOptions, RunStatus, Runner};
