//! Local read faults for tests and the simulation: a hook registered for a folder decides,
//! before each of the scanner's own calls under it — the `lstat` of an entry, the listing of
//! a folder, the opening of a file to hash it — whether that call fails, and with which
//! error (`EACCES`, `EIO`, `ESTALE`, ...), as a broken disk or network share would. Costs one
//! atomic load per call when no hook is registered.
//!
//! Only with the `testing` feature (and in this crate's unit tests); without it the
//! scanner's checks are empty functions.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The call about to be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `lstat` of an entry.
    Stat,
    /// Listing a folder.
    List,
    /// Opening a file to read it.
    Read,
}

/// Decides whether a call on a path fails.
pub type Hook = Arc<dyn Fn(&Path, Op) -> Option<io::Error> + Send + Sync>;

static ON: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(0);
static HOOKS: RwLock<Vec<(u64, PathBuf, Hook)>> = RwLock::new(Vec::new());

/// Registered until dropped.
#[must_use = "the hook is removed when this is dropped"]
pub struct Injected(u64);

impl Drop for Injected {
    fn drop(&mut self) {
        let mut hooks = HOOKS.write().unwrap_or_else(|p| p.into_inner());
        hooks.retain(|(id, _, _)| *id != self.0);
        ON.store(!hooks.is_empty(), Ordering::SeqCst);
    }
}

/// Ask `hook` before every scanner call on a path below `under` (paths as the scanner
/// forms them: the pair's folder joined with the relative path).
pub fn inject(under: &Path, hook: Hook) -> Injected {
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    let mut hooks = HOOKS.write().unwrap_or_else(|p| p.into_inner());
    hooks.push((id, under.to_path_buf(), hook));
    ON.store(true, Ordering::SeqCst);
    Injected(id)
}

/// Fail the call if a hook says so.
pub(crate) fn check(path: &Path, op: Op) -> io::Result<()> {
    if !ON.load(Ordering::Relaxed) {
        return Ok(());
    }
    let hooks = HOOKS.read().unwrap_or_else(|p| p.into_inner());
    for (_, under, hook) in hooks.iter() {
        if path.starts_with(under) {
            if let Some(e) = hook(path, op) {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// [`check`] for the `lstat` of a listed entry (its path is only formed when a hook is on).
pub(crate) fn check_entry(entry: &std::fs::DirEntry) -> io::Result<()> {
    if !ON.load(Ordering::Relaxed) {
        return Ok(());
    }
    check(&entry.path(), Op::Stat)
}
