//! The transfer stage of a running pair: big transfers (files above
//! [`crate::Tuning::single_request_limit`]: upload sessions, long downloads) run here, each in
//! a task of its own that outlives the round that planned it, while rounds — observe, plan,
//! execute the small operations — go on. A small change anywhere is then sent within a round,
//! not after the big file (see `docs/decisions/0005-continuous-scheduler.md`).
//!
//! The rules that keep this safe:
//! - a key with a transfer in flight is *held*: the planner plans nothing at it, above it or
//!   below it (its observations stay dirty and are planned once the transfer ended);
//! - rounds and the end of a transfer take turns ([`Stage::turn`]): a transfer makes its last
//!   checks, commits (`upload_session/finish`, the rename into place) and records the result
//!   in the index while no round observes or plans, so nothing a round saw is overwritten by
//!   an older result, and nothing recorded is missed by a round;
//! - the transfer itself still checks everything the executor checks (strict uploads with
//!   the synced rev, the file unchanged since it was planned — after every chunk, so an edit
//!   stops a stale upload at once; downloads verified, the file they replace proven, and the
//!   Dropbox row still the version downloaded);
//! - a pause (a guard's or the user's) and a stop cancel every transfer: an upload session's
//!   progress is stored and a download is staged outside the folder, so both go on at the
//!   next start and nothing partial is ever visible.
//!
//! Without a runner (one-shot syncs, the restore wizard) the stage is off and the executor
//! waits for every transfer itself, as before.

use crate::exec::{Ctx, Turn};
use crate::outcome::SyncError;
use crate::settings::Tuning;
use crate::sync_lock::lock;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use sync_core::path::is_within;
use sync_core::{Key, Op};
use tokio::sync::{Notify, Semaphore};

/// Big transfers at once (each upload also holds one of the pair's `large_uploads`).
const SLOTS: usize = 4;

/// What the stage's tasks work for: the pair, which lends them its parts and holds the stage.
pub(crate) trait Owner: Send + Sync {
    /// The pair's parts for the executor.
    fn ctx(&self) -> Ctx<'_>;
    /// The pair's stage.
    fn stage(&self) -> &Stage;
}

/// The stage of one pair.
pub struct Stage {
    /// On while a runner runs the pair.
    on: AtomicBool,
    /// The pair, for the tasks the stage starts (set by the runner).
    owner: Mutex<Option<Weak<dyn Owner>>>,
    /// Keys with a transfer in flight, with the task carrying it.
    flying: Mutex<HashMap<Key, (u64, tokio::task::JoinHandle<()>)>>,
    /// Tells tasks apart (a task that ends removes only its own entry).
    next: AtomicU64,
    /// Rounds and the ends of transfers take turns (see the module's rules).
    pub(crate) turn: Arc<tokio::sync::Mutex<()>>,
    /// A transfer ended: the runner plans again.
    pub(crate) ended: Notify,
    /// A failure of a transfer that stops the pair (credentials, the folder gone).
    fatal: Mutex<Option<SyncError>>,
    /// Failures in a row per key: a failing transfer is tried again after a growing pause.
    failures: Mutex<HashMap<Key, u32>>,
    slots: Arc<Semaphore>,
}

impl Default for Stage {
    fn default() -> Self {
        Stage {
            on: AtomicBool::new(false),
            owner: Mutex::new(None),
            flying: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            turn: Arc::default(),
            ended: Notify::new(),
            fatal: Mutex::new(None),
            failures: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(SLOTS)),
        }
    }
}

impl Stage {
    /// Start taking big transfers for `owner` (a runner starts).
    pub(crate) fn start(&self, owner: Weak<dyn Owner>) {
        *lock(&self.owner) = Some(owner);
        self.on.store(true, Ordering::SeqCst);
    }

    /// Stop taking transfers and cancel the ones in flight, waiting until they are gone.
    pub(crate) async fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
        self.cancel().await;
    }

    /// Stop taking transfers and cancel the ones in flight without waiting (a dropped runner).
    pub(crate) fn stop_now(&self) {
        self.on.store(false, Ordering::SeqCst);
        self.abort_all();
    }

    /// Cancel every transfer in flight without waiting for the tasks to go (a user's pause).
    pub(crate) fn abort_all(&self) {
        let tasks: Vec<_> = lock(&self.flying).drain().map(|(_, (_, t))| t).collect();
        for t in &tasks {
            t.abort();
        }
    }

    /// Cancel every transfer in flight (a pause): what was sent or staged stays for the next
    /// attempt. Waits until the tasks are gone.
    pub(crate) async fn cancel(&self) {
        let tasks: Vec<_> = lock(&self.flying).drain().map(|(_, (_, t))| t).collect();
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Is a transfer in flight at `key`, above it or below it? Nothing is planned there.
    pub fn holds(&self, key: &str) -> bool {
        lock(&self.flying)
            .keys()
            .any(|f| is_within(key, f) || is_within(f, key))
    }

    /// Transfers in flight.
    pub fn busy(&self) -> usize {
        lock(&self.flying).len()
    }

    /// The keys of transfers in flight (for status and tests).
    pub fn in_flight(&self) -> BTreeSet<Key> {
        lock(&self.flying).keys().cloned().collect()
    }

    /// A failure of a transfer that stops the pair, once.
    pub(crate) fn take_fatal(&self) -> Option<SyncError> {
        lock(&self.fatal).take()
    }

    /// Take `op` if it is a big transfer and the stage is on: it runs in a task of its own,
    /// and its key is held until it ended. Returns `op` back otherwise.
    pub(crate) fn take(&self, tuning: &Tuning, op: Op) -> Option<Op> {
        if !self.on.load(Ordering::SeqCst) || !big(tuning, &op) {
            return Some(op);
        }
        let Some(me) = lock(&self.owner).as_ref().and_then(Weak::upgrade) else {
            return Some(op);
        };
        let key = op.key().to_string();
        let mut flying = lock(&self.flying);
        if flying.contains_key(&key) {
            // Planned while held cannot happen; if it did, the transfer in flight stays.
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let task = tokio::spawn(transfer(me, op, id));
        flying.insert(key, (id, task));
        None
    }
}

/// A big transfer: an upload that needs a session, or a download of a file that big (with a
/// content hash, so it is staged under a stable name and goes on after an interruption).
fn big(tuning: &Tuning, op: &Op) -> bool {
    let limit = tuning.single_request_limit as u64;
    match op {
        Op::Upload { local, .. } => {
            matches!(local.kind, sync_core::LocalKind::File { size, .. } if size > limit)
        }
        Op::Download { remote, .. } => {
            remote.hash().is_some()
                && matches!(remote.kind, sync_core::RemoteKind::File { size, .. } if size > limit)
        }
        _ => false,
    }
}

/// Removes a transfer's key from the flying set when its task ends — done, failed or
/// cancelled — and lets the runner plan again.
struct Flying {
    owner: Arc<dyn Owner>,
    key: Key,
    id: u64,
}

impl Drop for Flying {
    fn drop(&mut self) {
        let stage = self.owner.stage();
        let mut flying = lock(&stage.flying);
        if flying.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            flying.remove(&self.key);
        }
        drop(flying);
        stage.ended.notify_one();
    }
}

async fn transfer(owner: Arc<dyn Owner>, op: Op, id: u64) {
    let key = op.key().to_string();
    let _flying = Flying {
        owner: owner.clone(),
        key: key.clone(),
        id,
    };
    let (cx, stage) = (owner.ctx(), owner.stage());
    let Ok(_slot) = stage.slots.clone().acquire_owned().await else {
        return;
    };
    let turn = Turn::new(stage.turn.clone());
    let result = crate::exec::run_turned(&cx, op, Some(&turn)).await;
    let failed = matches!(result.2, Err(crate::exec::Fail::Failed { .. }));
    // The result is recorded in turn, as a round would record it.
    turn.take().await;
    let executed = crate::exec::settle(&cx, vec![result], true).await;
    drop(turn);
    if let Some(e) = executed.fatal {
        tracing::warn!(pair = %cx.name, path = %key, "a big transfer stopped: {e}");
        *lock(&stage.fatal) = Some(e);
        return;
    }
    if failed {
        // Tried again after a pause that grows with each failure in a row (the key stays
        // held meanwhile, so the next round does not start it again at once).
        let n = {
            let mut f = lock(&stage.failures);
            let n = f.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let wait = crate::RETRY_TRANSFER.delay(n);
        tokio::time::sleep(wait).await;
    } else {
        lock(&stage.failures).remove(&key);
    }
}
