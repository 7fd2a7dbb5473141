//! The engine's one way to take a `Mutex`: a lock poisoned by a panic elsewhere still
//! yields what it guards (the index, a queue), so one failed task does not stop the pair.

use std::sync::{Mutex, MutexGuard};

/// Takes the lock; a poisoned lock (a panic elsewhere) still yields the value.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
