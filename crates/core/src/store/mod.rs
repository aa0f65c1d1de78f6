//! Token stores: one renewal per expiry for every process that shares a store.
//!
//! A [`Store`] holds one record per base URL and user: the tokens of the last renewal,
//! when they were issued by the store's clock, and a version. Processes that share a
//! store share one token. On a local miss (or when the local token enters its
//! refresh-ahead window) the driver reads the store first and uses a fresh record; only
//! when there is none does one process take the store's renewal lease, renew, write a
//! new version and release the lease, while the others wait for that record.
//!
//! The parts, from the bottom up:
//! - [`Store`] is the I/O: five small operations (read, lease, extend, write, release)
//!   that a backend implements (a file, Redis, a SQL table), and a sixth it may
//!   implement, [`watch`](Store::watch), so waiters are woken instead of polling. It
//!   decides nothing.
//! - [`Record`] is what a store holds, encoded as bytes; [`SealKey`] seals it with
//!   XChaCha20-Poly1305 so a shared store holds no token in clear.
//! - The protocol's rules (when to read, lease, extend, wait, send, write and release,
//!   and which records to trust) are the renewal machine's, [`Call`](crate::Call):
//!   one sans-IO state machine from a caller's local miss to its token, with the
//!   store's operations handed out as plain values ([`StoreOp`]).
//! - [`SharedStore`] ties a store to one session's record name, key and timings, and
//!   keeps the store's health between calls. [`TokenCache::with_store`](crate::TokenCache::with_store)
//!   plugs it into the cache, so every transport gets the same protocol.
//!
//! The store's own clock ([`Fetched::now`]) measures every record's age, so readers on
//! machines whose clocks disagree still agree on when a token dies.
//!
//! ```
//! use smartling_auth_core::store::{MemoryStore, SealKey, SharedStore, Store};
//! use smartling_auth_core::{BaseUrl, Credentials, Policy, Session, TokenCache, UserSecret};
//! use std::sync::Arc;
//!
//! let store = Arc::new(MemoryStore::new()); // stands in for Redis: records are sealed
//! let base = BaseUrl::default();
//! let key = SealKey::derive(&base, "user-id", &UserSecret::new("secret"));
//! let shared = SharedStore::for_user(store.clone(), &base, "user-id", Some(key), &Policy::default())
//!     .unwrap();
//! assert!(store.read(shared.name()).unwrap().record.is_none());
//! let cache = TokenCache::new(Session::new(base, Policy::default())
//!     .with_credentials(Credentials::new("user-id", "secret")))
//!     .with_store(shared);
//! # let _ = cache;
//! ```

pub(crate) mod flight;
mod health;
mod memory;
mod name;
pub(crate) mod op;
mod record;
mod seal;
mod shared;
mod timings;

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

pub use flight::MAX_VERSION;
pub(crate) use flight::{Flight, FlightStep};
pub use memory::MemoryStore;
pub use name::{Origin, RecordName};
pub use op::{StoreDone, StoreOp, StoreTask};
pub use record::{Record, RecordError};
pub use seal::{SealKey, SealKeyError};
pub use shared::{Inspected, MAX_STORE_CLOCK_GAP, SharedStore, StoreSetupError};
pub use timings::{LEASE_TTL, Timings};

/// What a store holds under one name: an opaque payload (a sealed or plain [`Record`])
/// and its version. Versions start at 1 and grow by one per write (after
/// [`MAX_VERSION`] comes 1 again); 0 means "no record, or one the backend could not
/// parse".
#[derive(Clone, PartialEq, Eq)]
pub struct Stored {
    /// The record's version; writes compare and set it.
    pub version: u64,
    /// The encoded record. Never log it: unsealed records carry tokens.
    pub payload: Vec<u8>,
}

/// An unsealed payload holds both tokens in clear: wiped with the record.
impl Drop for Stored {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.payload);
    }
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stored")
            .field("version", &self.version)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// The answer to [`Store::read`]: the record, if any, and the store's clock at the read.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The record under the name, or `None`.
    pub record: Option<Stored>,
    /// The store's clock when it read the record. A backend with a clock of its own
    /// (Redis `TIME`) reports that one, so every reader measures age on one clock; a
    /// backend on one machine reports [`SystemTime::now`].
    pub now: SystemTime,
}

/// What a [`Store::watch`] heard: the word a waiter waits for while another process
/// renews.
///
/// ```
/// use smartling_auth_core::store::{MemoryStore, RecordName, Store, Watched};
/// use std::time::{Duration, Instant};
/// let store = MemoryStore::new();
/// let name = RecordName::new(&Default::default(), "user", None);
/// let now = Instant::now();
/// // No lease, nothing written: nothing to hear.
/// assert!(matches!(store.watch(&name, now, now + Duration::from_millis(10))?, Watched::Quiet));
/// # Ok::<(), smartling_auth_core::store::StoreError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Watched {
    /// A new record was written, and here it is, as [`Store::read`] would return it,
    /// with the store's clock at the write (a backend whose wake-up carries the
    /// record: the waiter needs no read).
    Written(Fetched),
    /// The record or the lease changed (a write, a release): read the store.
    Changed,
    /// The lease's holder was alive at this instant (it extended its lease, or the
    /// kernel still holds its lock). Nothing changed yet.
    Alive(Instant),
    /// Nothing was heard before the wait's end.
    Quiet,
    /// This store cannot wait for word: the waiter polls it instead. The default.
    Unsupported,
}

/// A renewal lease holder's identity: random per renewal, so a holder only ever
/// releases its own lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseId(pub u64);

/// The storage a fleet of processes shares. Implementations do the I/O and nothing
/// else: the protocol's rules (when to read, whom to trust, what to write) are the
/// renewal machine's ([`Call`](crate::Call)) and the same for every backend.
///
/// The methods block. The blocking provider calls them on the caller's thread; the
/// async provider on a blocking thread pool. Each must return within a short time
/// limit of its own (about a second): a hung store delays a caller by at most that,
/// after which the caller renews on its own.
///
/// Errors are reported, never panicked: the driver falls back to renewing locally and
/// tries the store again after a backoff.
///
/// ```
/// use smartling_auth_core::store::*;
/// use std::time::Duration;
///
/// let store = MemoryStore::new();
/// let name = RecordName::new(&Default::default(), "user", None);
/// let holder = LeaseId(7);
/// assert!(store.lease(&name, holder, Duration::from_secs(5)).unwrap());
/// assert!(!store.lease(&name, LeaseId(8), Duration::from_secs(5)).unwrap());
/// assert!(store.extend(&name, holder, Duration::from_secs(5)).unwrap(), "still ours");
/// assert!(!store.extend(&name, LeaseId(8), Duration::from_secs(5)).unwrap());
/// let record = Stored { version: 1, payload: b"...".to_vec() };
/// assert!(store.write(&name, 0, &record, Duration::from_secs(60)).unwrap());
/// assert!(!store.write(&name, 0, &record, Duration::from_secs(60)).unwrap(), "stale writer refused");
/// store.release(&name, holder).unwrap();
/// assert_eq!(store.read(&name).unwrap().record.unwrap().version, 1);
/// ```
pub trait Store: Send + Sync + fmt::Debug {
    /// Reads the record under `name`, with the store's clock.
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError>;

    /// Takes the renewal lease on `name` for `ttl` unless another holder has it
    /// (Redis: `SET lease holder NX PX ttl`). Returns whether `holder` now holds it.
    /// The lease must end by itself after `ttl`, so a holder that dies cannot block
    /// the others for longer.
    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError>;

    /// Extends the lease on `name` to end `ttl` from now, if `holder` still holds it
    /// (Redis: a compare-and-expire script). Returns whether `holder` still holds it.
    ///
    /// A holder extends its lease every third of its time to live while it renews, so
    /// a live holder keeps it however slow the server is, and one that dies, is killed
    /// or loses its network lets it end within one time to live. A backend whose lease
    /// ends with its holder anyway (a lock the kernel releases) answers whether
    /// `holder` holds it.
    fn extend(&self, name: &RecordName, holder: LeaseId, ttl: Duration)
    -> Result<bool, StoreError>;

    /// Writes `record` under `name` if the current version is `expected` (0: no record,
    /// or one that cannot be parsed), atomically. Returns `false`, writing nothing,
    /// when the version differs: a newer record exists, and a stale writer must never
    /// replace it. The record may expire after `ttl` (the refresh token's lifetime).
    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Releases the lease on `name` if `holder` still holds it; a lease that expired
    /// and went to another holder is left alone.
    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError>;

    /// Waits for word of `name`'s record or lease heard after `since`, until `until`
    /// at the latest: a new record ([`Watched::Written`] or [`Watched::Changed`]), a
    /// released lease ([`Watched::Changed`]), or a sign that the holder lives
    /// ([`Watched::Alive`]). Answers at once when such word was heard after `since`
    /// already, and [`Watched::Quiet`] at `until` when none was.
    ///
    /// A waiter calls it while another process holds the lease, so a fleet waits
    /// without polling the store: the holder's write wakes it. The renewal machine
    /// decides how long to wait (about half the lease's time to live after the last
    /// word, the fallback for a lost wake-up) and what to do with the answer; the
    /// backend only listens. Word may come late, twice or never: the machine reads
    /// the store again after a quiet wait, and a [`Watched::Written`] record is judged
    /// like a read one.
    ///
    /// The default answers [`Watched::Unsupported`] at once, and waiters poll the store
    /// ([`Timings::poll`]) as they would without it.
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        let _ = (name, since, until);
        Ok(Watched::Unsupported)
    }

    /// Whether records must be sealed before this store sees them. True unless the
    /// store is private to one user (a `0600` file in a `0700` directory).
    fn needs_sealing(&self) -> bool {
        true
    }
}

/// A shared handle is a store too, so several providers can use one connection pool.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        (**self).read(name)
    }
    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        (**self).lease(name, holder, ttl)
    }
    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        (**self).extend(name, holder, ttl)
    }
    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        (**self).write(name, expected, record, ttl)
    }
    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        (**self).release(name, holder)
    }
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        (**self).watch(name, since, until)
    }
    fn needs_sealing(&self) -> bool {
        (**self).needs_sealing()
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached (refused, reset, name not resolved).
    Unavailable,
    /// The operation ran past its time limit.
    Timeout,
    /// The store answered, but not as expected (a protocol error, a wrong type).
    Protocol,
    /// The store refused the operation (authentication, permissions, a file that
    /// fails its ownership checks).
    Refused,
    /// Anything else.
    Other,
}

/// A failed store operation. Its message never holds a token, a secret, a key or a
/// password: backends write it from their own words.
///
/// ```
/// use smartling_auth_core::store::{StoreError, StoreErrorKind};
/// let e = StoreError::new(StoreErrorKind::Timeout, "read took over 1 s");
/// assert_eq!(e.to_string(), "token store timeout: read took over 1 s");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("token store {}: {message}", kind_word(*.kind))]
#[non_exhaustive]
pub struct StoreError {
    /// What went wrong.
    pub kind: StoreErrorKind,
    /// A short description, free of secrets.
    pub message: String,
}

impl StoreError {
    /// A store error of `kind`.
    ///
    /// ```
    /// let e = smartling_auth_core::store::StoreError::new(
    ///     smartling_auth_core::store::StoreErrorKind::Unavailable, "connection refused");
    /// assert!(e.to_string().contains("unavailable"));
    /// ```
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

fn kind_word(kind: StoreErrorKind) -> &'static str {
    match kind {
        StoreErrorKind::Unavailable => "unavailable",
        StoreErrorKind::Timeout => "timeout",
        StoreErrorKind::Protocol => "protocol error",
        StoreErrorKind::Refused => "refused",
        StoreErrorKind::Other => "error",
    }
}
