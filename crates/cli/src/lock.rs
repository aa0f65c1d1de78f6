//! The cross-process single flight: an advisory lock on `<cache file>.lock`.
//!
//! The kernel drops the lock when its holder exits, even on `kill -9`, so a crashed
//! renewer never blocks the next one.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use fs4::{FileExt, TryLockError};

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
    /// The lock file could not be opened or locked.
    Io(io::Error),
}

/// Takes the exclusive lock on `path`, waiting until `deadline`. The wait polls
/// rather than blocks, so that a holder stuck forever (stopped, hung on a dead NFS
/// mount) fails this process at its deadline instead of hanging the script.
pub(crate) fn acquire(path: &Path, deadline: Instant) -> Result<Lock, LockError> {
    let file = open(path).map_err(LockError::Io)?;
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

#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = acquire(&path, Instant::now()).unwrap();
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(matches!(acquire(&path, soon), Err(LockError::TimedOut)));
        drop(held);
        assert!(acquire(&path, Instant::now()).is_ok());
    }
}
