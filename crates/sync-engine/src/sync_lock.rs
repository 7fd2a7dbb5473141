//! The engine's one way to take a `Mutex` — a lock poisoned by a panic elsewhere still
//! yields what it guards (the index, a queue), so one failed task does not stop the pair —
//! and its one way to run blocking work from async code.

use std::sync::{Mutex, MutexGuard};

/// Takes the lock; a poisoned lock (a panic elsewhere) still yields the value.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run blocking work without stalling other tasks of a multi-threaded runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
