//! [`FileStore`]: token records in private files, shared by the processes of one
//! machine.

mod lock;
mod place;
mod trust;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use smartling_auth_core::store::{
    Fetched, LeaseId, RecordName, Store, StoreError, StoreErrorKind, Stored, Watched,
};

use lock::{Lock, LockError};
use place::{DirError, Found, Place};
use trust::{Owner, Refusal};

/// The default time limit of one operation (the longest wait for a write's lock).
pub const DEFAULT_FILE_TIMEOUT: Duration = Duration::from_secs(1);

/// A token store in files: one private JSON file per record, for the processes of one
/// machine (and the `smartling-auth` command, whose cache it is).
///
/// It keeps the promises of a cache of secrets on a shared machine, the rules ssh
/// applies to `~/.ssh`:
/// - files are `0600`, directories `0700`, and a file is used only when it is a
///   regular file of the current user, with no group or other permissions, in
///   directories no one else may write; a file that fails these checks (a symlink, a
///   FIFO, a device, another user's file) is neither read nor replaced, and the
///   operation fails with [`StoreErrorKind::Refused`];
/// - writes go to a private temporary file, are synced, and are renamed over the
///   record, so a reader never sees half a file;
/// - the renewal lease is an advisory lock on `<record>.lease`, which the kernel
///   releases when its holder dies, even on `kill -9` (so the lease's time to live is
///   not needed here); a waiter blocks on that lock (a thread per waiting process and
///   record), so the holder's release wakes it without any polling;
/// - a file of ours that cannot be parsed reads as version 0, and the protocol
///   replaces it with a warning.
///
/// Records stay unsealed, like ssh's and gcloud's files: reading the file takes the
/// same access to the account as reading the user secret the key would be derived
/// from, so sealing would protect nothing more. Give the provider a store key to seal
/// them anyway.
///
/// ```
/// use smartling_auth_store::FileStore;
/// use smartling_auth_core::store::{LeaseId, RecordName, Store, Stored};
/// use std::time::Duration;
/// let dir = tempfile::tempdir()?;
/// let store = FileStore::new(dir.path().join("tokens"));
/// let name = RecordName::new(&Default::default(), "user", None);
/// assert!(store.read(&name)?.record.is_none());
/// assert!(store.lease(&name, LeaseId(1), Duration::from_secs(5))?);
/// assert!(!store.lease(&name, LeaseId(2), Duration::from_secs(5))?);
/// let record = Stored { version: 1, payload: br#"{"any":"record"}"#.to_vec() };
/// assert!(store.write(&name, 0, &record, Duration::from_secs(60))?);
/// assert!(!store.write(&name, 0, &record, Duration::from_secs(60))?, "a stale writer is refused");
/// store.release(&name, LeaseId(1))?;
/// assert_eq!(store.read(&name)?.record.unwrap().version, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    target: Target,
    owner: Owner,
    timeout: Duration,
    leases: Mutex<HashMap<(String, LeaseId), Lock>>,
    watches: watch::LockWatches,
}

#[derive(Debug, Clone)]
enum Target {
    /// One file per record name, in this directory (created `0700` when missing).
    Dir { dir: PathBuf, own: bool },
    /// One file for one record, whatever its name.
    File(PathBuf),
}

impl FileStore {
    /// A store keeping one file per record in `dir`, created (mode `0700`) when
    /// missing. A directory that exists is the user's, and is never changed: one that
    /// others may write (a shared `1777` or a setgid `2775` project directory) is
    /// refused, untouched.
    ///
    /// ```
    /// let store = smartling_auth_store::FileStore::new("/tmp/never-created-until-used");
    /// assert!(format!("{store:?}").contains("never-created"));
    /// ```
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::with_target(Target::Dir {
            dir: dir.into(),
            own: false,
        })
    }

    /// A store in the per-user cache directory ([`default_dir`](Self::default_dir)),
    /// or `None` without a home directory. That directory is the store's own: created
    /// `0700`, and tightened back to `0700` should it have been loosened.
    ///
    /// ```
    /// if let Some(store) = smartling_auth_store::FileStore::default_cache() {
    ///     assert!(format!("{store:?}").contains("smartling-auth"));
    /// }
    /// ```
    pub fn default_cache() -> Option<Self> {
        Self::default_dir().map(|dir| Self::with_target(Target::Dir { dir, own: true }))
    }

    /// A store keeping one record in the file `path` (the command line's
    /// `--cache-file`). Its directory must exist and be private; the file's lock files
    /// sit beside it.
    ///
    /// ```
    /// let store = smartling_auth_store::FileStore::file("/tmp/x/token.json");
    /// assert_eq!(store.path_of(&smartling_auth_core::store::RecordName::new(
    ///     &Default::default(), "u", None)), std::path::Path::new("/tmp/x/token.json"));
    /// ```
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::with_target(Target::File(path.into()))
    }

    /// The per-user cache directory of this platform (`~/.cache/smartling-auth` on
    /// Linux), or `None` without a home directory.
    ///
    /// ```
    /// if let Some(dir) = smartling_auth_store::FileStore::default_dir() {
    ///     assert!(dir.ends_with("smartling-auth"));
    /// }
    /// ```
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "smartling-auth").map(|d| d.cache_dir().to_owned())
    }

    /// Sets the longest time one operation waits for a lock (default 1 s).
    ///
    /// ```
    /// let store = smartling_auth_store::FileStore::new("/tmp/t")
    ///     .with_timeout(std::time::Duration::from_millis(200));
    /// # let _ = store;
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The file that holds `name`'s record.
    ///
    /// ```
    /// use smartling_auth_core::store::RecordName;
    /// let store = smartling_auth_store::FileStore::new("/tmp/t");
    /// let name = RecordName::new(&Default::default(), "u", None);
    /// assert_eq!(store.path_of(&name), std::path::Path::new("/tmp/t").join(format!("{name}.json")));
    /// ```
    pub fn path_of(&self, name: &RecordName) -> PathBuf {
        match &self.target {
            Target::Dir { dir, .. } => dir.join(format!("{}.json", name.as_str())),
            Target::File(path) => path.clone(),
        }
    }

    /// Checks, without reading or writing anything, whether `name`'s file and the
    /// directories above it may be used; the error says which path fails which rule.
    ///
    /// ```
    /// use smartling_auth_core::store::RecordName;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = smartling_auth_store::FileStore::new(dir.path().join("t"));
    /// assert!(store.check(&RecordName::new(&Default::default(), "u", None)).is_ok());
    /// ```
    pub fn check(&self, name: &RecordName) -> Result<(), StoreError> {
        let mut place = self.place(name);
        place.inspect().map_err(refused)?;
        place.check_creatable().map_err(refused)?;
        for path in [place.lock_path(), place.lease_path()] {
            self.owner.judge_path("lock file", &path).map_err(refused)?;
        }
        let file = place.path().to_owned();
        self.owner
            .judge_path("cache file", &file)
            .map_err(refused)?;
        Ok(())
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            owner: Owner::current(),
            timeout: DEFAULT_FILE_TIMEOUT,
            leases: Mutex::default(),
            watches: watch::LockWatches::default(),
        }
    }

    fn place(&self, name: &RecordName) -> Place {
        let own = matches!(self.target, Target::Dir { own: true, .. });
        Place::at(self.path_of(name), own, self.owner.clone())
    }

    /// The place, its directory checked and created.
    fn ready(&self, name: &RecordName) -> Result<Place, StoreError> {
        let mut place = self.place(name);
        place.inspect().map_err(refused)?;
        place.prepare().map_err(|e| match e {
            DirError::Refused(r) => refused(r),
            DirError::Io(e) => io_error(place.path(), "cannot create its directory", &e),
        })?;
        Ok(place)
    }

    fn lock_leases(&self) -> std::sync::MutexGuard<'_, HashMap<(String, LeaseId), Lock>> {
        self.leases.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for FileStore {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        let mut place = self.place(name);
        place.inspect().map_err(refused)?;
        let now = SystemTime::now();
        let record = match place.read() {
            Found::Nothing => None,
            Found::Record(stored) => Some(stored),
            // A file of ours we cannot use: as garbage, so it is replaced.
            Found::Unusable(why) => {
                tracing::warn!(path = %place.path().display(), reason = why, "ignoring a token file of ours; it will be replaced");
                Some(Stored {
                    version: 0,
                    payload: Vec::new(),
                })
            }
            Found::Refused(r) => return Err(refused(r)),
        };
        Ok(Fetched { record, now })
    }

    fn lease(
        &self,
        name: &RecordName,
        holder: LeaseId,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        let place = self.ready(name)?;
        match lock::try_acquire(&place.lease_path(), &self.owner) {
            Ok(Some(lock)) => {
                self.lock_leases()
                    .insert((name.as_str().to_owned(), holder), lock);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(lock_error(&place.lease_path(), e)),
        }
    }

    /// The kernel's lock lasts as long as its holder: nothing to extend.
    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock_leases()
            .contains_key(&(name.as_str().to_owned(), holder)))
    }

    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        let place = self.ready(name)?;
        let deadline = Instant::now() + self.timeout;
        let guard = lock::acquire(&place.lock_path(), deadline, &self.owner)
            .map_err(|e| lock_error(&place.lock_path(), e))?;
        let current = match place.read() {
            Found::Nothing | Found::Unusable(_) => 0,
            Found::Record(stored) => stored.version,
            Found::Refused(r) => return Err(refused(r)),
        };
        if current != expected {
            return Ok(false);
        }
        place
            .write(record, Some(&guard))
            .map_err(|e| io_error(place.path(), "cannot be written", &e))?;
        Ok(true)
    }

    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        // Closing the file releases the lock.
        self.lock_leases()
            .remove(&(name.as_str().to_owned(), holder));
        Ok(())
    }

    /// Blocks (on a thread of its own, shared by this process's waiters) until the
    /// holder's lock on the lease is gone; at `until`, a lock still held says its
    /// holder lives.
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        let place = self.ready(name)?;
        self.watches
            .watch(&place.lease_path(), &self.owner, since, until)
    }

    fn needs_sealing(&self) -> bool {
        false
    }
}

fn refused(r: Refusal) -> StoreError {
    StoreError::new(StoreErrorKind::Refused, r.to_string())
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("{} {what}: {e}", path.display()),
    )
}

fn lock_error(path: &Path, e: LockError) -> StoreError {
    match e {
        LockError::TimedOut => StoreError::new(
            StoreErrorKind::Timeout,
            format!(
                "lock file {} stayed locked past the time limit",
                path.display()
            ),
        ),
        LockError::Refused(r) => refused(r),
        LockError::Io(e) => io_error(path, "cannot be locked", &e),
    }
}
