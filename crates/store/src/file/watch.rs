//! A waiter's wait on the lease's holder, done by the kernel: a thread blocks on a
//! shared lock of `<record>.lease`, which the holder's exclusive lock keeps out
//! until it releases it (after its write) or dies. Nothing polls and nothing is
//! lost: a release before the thread started lets it through at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use event_listener::{Event, Listener};
use fs4::FileExt;
use smartling_auth_core::store::{StoreError, StoreErrorKind, Watched};

use super::trust::{Opened, Owner};

/// This store's waits, one per lease file.
#[derive(Debug, Default)]
pub(super) struct LockWatches {
    by_path: Mutex<HashMap<PathBuf, Arc<LockWatch>>>,
}

#[derive(Debug, Default)]
struct LockWatch {
    state: Mutex<State>,
    freed: Event,
}

#[derive(Debug, Default)]
struct State {
    /// When the thread last got through: the lease was free.
    freed_at: Option<Instant>,
    /// A thread is blocked on the lock (whose holder is then alive).
    blocked: bool,
    /// Why the last thread could not wait.
    failed: Option<String>,
}

impl LockWatch {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LockWatches {
    /// Waits until the lease at `path` is free (after `since`), or until `until`,
    /// when a lock still held answers that its holder lives.
    pub(super) fn watch(
        &self,
        path: &Path,
        owner: &Owner,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        let watch = self
            .by_path
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(path.to_owned())
            .or_default()
            .clone();
        {
            let mut state = watch.lock();
            let freed = state.freed_at.is_some_and(|at| at > since);
            if !freed && !state.blocked {
                state.blocked = true;
                state.failed = None;
                let (w, path, owner) = (watch.clone(), path.to_owned(), owner.clone());
                let spawned = std::thread::Builder::new()
                    .name("smartling-auth-lease-wait".to_owned())
                    .spawn(move || wait_for_release(&w, &path, &owner));
                if let Err(e) = spawned {
                    state.blocked = false;
                    return Err(StoreError::new(
                        StoreErrorKind::Other,
                        format!("cannot start a thread to wait on the lease: {e}"),
                    ));
                }
            }
        }
        loop {
            let listener = watch.freed.listen();
            let now = Instant::now();
            {
                let mut state = watch.lock();
                if state.freed_at.is_some_and(|at| at > since) {
                    return Ok(Watched::Changed);
                }
                if let Some(why) = state.failed.take() {
                    return Err(StoreError::new(StoreErrorKind::Other, why));
                }
                if now >= until {
                    // Still blocked: the kernel says the holder lives.
                    return Ok(if state.blocked {
                        Watched::Alive(now)
                    } else {
                        Watched::Quiet
                    });
                }
            }
            listener.wait_deadline(until);
        }
    }
}

/// The thread: blocks until the holder's lock is gone, then lets go at once (a
/// shared lock held on would keep the next holder out).
fn wait_for_release(watch: &LockWatch, path: &Path, owner: &Owner) {
    let outcome = match owner.open_lock("lock file", path) {
        // Named through the trait: newer std has an inherent `File::lock_shared` too.
        Opened::File(file) => FileExt::lock_shared(&file)
            .map(drop)
            .map_err(|e| format!("{} cannot be locked: {e}", path.display())),
        Opened::Refused(r) => Err(r.to_string()),
        Opened::Failed(e) => Err(format!("{} cannot be opened: {e}", path.display())),
        // No lease file: no holder.
        Opened::Missing => Ok(()),
    };
    let mut state = watch.lock();
    state.blocked = false;
    match outcome {
        Ok(()) => state.freed_at = Some(Instant::now()),
        Err(why) => state.failed = Some(why),
    }
    drop(state);
    watch.freed.notify(usize::MAX);
}
