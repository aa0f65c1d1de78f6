//! Advisory file locks: `<record file>.lease` for the renewal lease, `<record
//! file>.lock` for the short compare-and-set of a write.
//!
//! The kernel drops the lock when its holder exits, even on `kill -9`, so a crashed
//! renewer never blocks the next one. A lock file that is not a private file of ours
//! is refused rather than followed or waited on.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use fs4::{FileExt, TryLockError};

use super::trust::{Opened, Owner, Refusal};

/// Held while this process renews; released on drop (closing the file).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another process held it until the deadline.
    TimedOut,
    /// The lock file is not a private file of ours (a symlink, another user's file):
    /// it is neither followed nor waited on.
    Refused(Refusal),
    /// The lock file could not be opened or locked.
    Io(io::Error),
}

/// Takes the exclusive lock on `path`, waiting until `deadline`. The wait polls
/// rather than blocks, so that a holder stuck forever (stopped, hung on a dead NFS
/// mount) fails this process at its deadline instead of hanging the script. The file
/// is created private, never through a symlink, and used only if it is `owner`'s.
pub(crate) fn acquire(path: &Path, deadline: Instant, owner: &Owner) -> Result<Lock, LockError> {
    let file = match owner.open_lock("lock file", path) {
        Opened::File(file) => file,
        Opened::Refused(refusal) => return Err(LockError::Refused(refusal)),
        Opened::Failed(e) => return Err(LockError::Io(e)),
        Opened::Missing => return Err(LockError::Io(io::ErrorKind::NotFound.into())),
    };
    let mut pause = Duration::from_millis(2);
    loop {
        // Named through the trait: newer std has an inherent `File::try_lock` too.
        match FileExt::try_lock(&file) {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

/// Takes the exclusive lock on `path` if no one holds it; `Ok(None)` when someone
/// does. Never waits.
pub(crate) fn try_acquire(path: &Path, owner: &Owner) -> Result<Option<Lock>, LockError> {
    let file = match owner.open_lock("lock file", path) {
        Opened::File(file) => file,
        Opened::Refused(refusal) => return Err(LockError::Refused(refusal)),
        Opened::Failed(e) => return Err(LockError::Io(e)),
        Opened::Missing => return Err(LockError::Io(io::ErrorKind::NotFound.into())),
    };
    // Waiters hold the lease's lock shared for an instant when it frees (see
    // `watch`): the lease is free while no one can hold it exclusive, so a lock we
    // can share is theirs, and is tried again shortly. Bounded: 20 tries, 1 ms apart.
    for _ in 0..20 {
        match FileExt::try_lock(&file) {
            Ok(()) => return Ok(Some(Lock { _file: file })),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        match FileExt::try_lock_shared(&file) {
            Ok(()) => FileExt::unlock(&file).map_err(LockError::Io)?,
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let owner = Owner::current();
        let held = acquire(&path, Instant::now(), &owner).unwrap();
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(matches!(
            acquire(&path, soon, &owner),
            Err(LockError::TimedOut)
        ));
        drop(held);
        assert!(acquire(&path, Instant::now(), &owner).is_ok());
    }
}
