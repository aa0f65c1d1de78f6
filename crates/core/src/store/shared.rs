//! One session's link to a store: the store, the record's name and key, the
//! protocol's timings, and the store's health between calls.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::flight::{Distrust, Judged, Judgement, judge};
use super::health::Health;
use super::{
    Fetched, Flight, LeaseId, Record, RecordName, SealKey, Store, StoreError, Stored, Timings,
};
use crate::{AccessToken, BaseUrl, Policy, TokenPair};

/// A lease id unique to this renewal: a per-process random seed mixed with a counter
/// through a bijection of `u64`, so ids never repeat within a process, and two
/// processes that made `a` and `b` renewals share one with a chance of about
/// `a * b / 2^64`. One OS random call per process, not one per renewal: every store
/// adoption starts a flight, and the syscall was a measurable part of one.
fn next_lease_id() -> LeaseId {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut id = [0u8; 8];
        // Uniqueness matters, not secrecy; a failing OS generator still gives a usable
        // (if guessable) seed from the clock and the process.
        if getrandom::fill(&mut id).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64;
            id = (u64::from(std::process::id()) << 32 ^ nanos).to_le_bytes();
        }
        u64::from_le_bytes(id)
    });
    // Multiplying by an odd constant is a bijection mod 2^64: distinct counts give
    // distinct ids.
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    LeaseId(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A store as one session uses it: which record, under which key, with which timings,
/// and whether the store failed lately. Plug it into a
/// [`TokenCache`](crate::TokenCache) with
/// [`with_store`](crate::TokenCache::with_store).
///
/// ```
/// use smartling_auth_core::store::{MemoryStore, SharedStore, SealKey};
/// use smartling_auth_core::{BaseUrl, Policy};
/// use std::sync::Arc;
/// let store = Arc::new(MemoryStore::new());
/// // A shared store needs a key; this in-memory one says so.
/// assert!(SharedStore::for_user(store.clone(), &BaseUrl::default(), "user", None, &Policy::default()).is_err());
/// let key = SealKey::from_bytes([1; 32]);
/// let shared = SharedStore::for_user(store, &BaseUrl::default(), "user", Some(key), &Policy::default()).unwrap();
/// assert!(shared.name().as_str().ends_with(&SealKey::from_bytes([1; 32]).fingerprint()));
/// ```
pub struct SharedStore {
    store: Arc<dyn Store>,
    name: RecordName,
    key: Option<SealKey>,
    policy: Policy,
    timings: Timings,
    health: Mutex<Health>,
}

/// A token store that cannot be set up as configured.
///
/// ```
/// let e = smartling_auth_core::store::StoreSetupError::NeedsKey;
/// assert!(e.to_string().contains("key"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreSetupError {
    /// A store shared beyond one user's files needs its records sealed, and no key was
    /// given or derivable (a session from a bare refresh token has no user secret).
    #[error(
        "this token store needs a key to seal its records: give credentials (the key is derived from the user secret) or an explicit store key"
    )]
    NeedsKey,
    /// The record is named after the user; a session without credentials must be told
    /// the user identifier or an explicit record name.
    #[error(
        "a token store needs the user identifier (or an explicit record name) when the session has no credentials"
    )]
    NeedsIdentity,
}

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedStore")
            .field("store", &self.store)
            .field("name", &self.name)
            .field("key", &self.key)
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Links `store` to the record of `user` (a user identifier, or an explicit record
    /// name) at `base`, sealed under `key`. Fails when the store needs sealing and no
    /// key is given.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, SharedStore};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "user", None, &Default::default()).unwrap();
    /// assert!(shared.name().as_str().ends_with(".plain"));
    /// ```
    pub fn for_user(
        store: Arc<dyn Store>,
        base: &BaseUrl,
        user: &str,
        key: Option<SealKey>,
        policy: &Policy,
    ) -> Result<Self, StoreSetupError> {
        if key.is_none() && store.needs_sealing() {
            return Err(StoreSetupError::NeedsKey);
        }
        let name = RecordName::new(base, user, key.as_ref());
        Ok(Self {
            store,
            name,
            key,
            policy: policy.clone(),
            timings: Timings::for_policy(policy),
            health: Mutex::new(Health::default()),
        })
    }

    /// Replaces the protocol's timings.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, SharedStore, Timings};
    /// use std::time::Duration;
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "u", None, &Default::default()).unwrap()
    ///     .with_timings(Timings::default().with_poll(Duration::from_millis(10)));
    /// assert_eq!(shared.timings().poll, Duration::from_millis(10));
    /// ```
    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// The store.
    ///
    /// ```
    /// # use smartling_auth_core::store::{MemoryStore, SharedStore};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "u", None, &Default::default()).unwrap();
    /// assert!(shared.store().read(shared.name()).unwrap().record.is_none());
    /// ```
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The record's name.
    ///
    /// ```
    /// # use smartling_auth_core::store::{MemoryStore, SharedStore};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "u", None, &Default::default()).unwrap();
    /// assert!(!shared.name().as_str().contains('u'));
    /// ```
    pub fn name(&self) -> &RecordName {
        &self.name
    }

    /// The protocol's timings.
    ///
    /// ```
    /// # use smartling_auth_core::store::{MemoryStore, SharedStore};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "u", None, &Default::default()).unwrap();
    /// assert!(shared.timings().lease_ttl.as_secs() > 0);
    /// ```
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// A flight for one renewal, with a fresh lease id; it only sends while the store
    /// is backing off after a failure.
    pub(crate) fn flight(&self, now: Instant, deadline: Option<Instant>) -> Flight {
        let available = self.lock_health().available(now);
        Flight::new(self.timings, deadline, next_lease_id(), available)
    }

    /// Judges a read (see [`judge`]), and warns about a record that cannot be trusted.
    pub(crate) fn judge(
        &self,
        fetched: &Fetched,
        read_at: Instant,
        rejected: Option<&AccessToken>,
    ) -> Judgement {
        let judgement = self.judged(fetched, read_at, rejected);
        match &judgement.judged {
            Judged::Untrusted { version, why } => {
                warn!(record = %self.name, version, reason = %reason(why), "ignoring a stored token record; it will be replaced");
            }
            Judged::Stale { version } => {
                debug!(record = %self.name, version, "stored record due for renewal")
            }
            _ => {}
        }
        judgement
    }

    /// What a read found, judged as the renewal machine judges it, for tools that look
    /// at the store without renewing: the command line's fast path (a fresh record
    /// printed without an HTTP client), a status report. `read_at` is this process's
    /// clock when the read started.
    ///
    /// ```
    /// use smartling_auth_core::store::{Fetched, Inspected, MemoryStore, SharedStore};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "u", None, &Default::default()).unwrap();
    /// let read = Fetched { record: None, now: std::time::SystemTime::now() };
    /// assert!(matches!(shared.inspect(&read, std::time::Instant::now()), Inspected::Absent));
    /// ```
    pub fn inspect(&self, fetched: &Fetched, read_at: Instant) -> Inspected {
        match self.judged(fetched, read_at, None).judged {
            Judged::Fresh { record, issued } => Inspected::Fresh {
                pair: record.pair,
                issued,
            },
            Judged::Absent => Inspected::Absent,
            Judged::Untrusted { version, why } => Inspected::Untrusted {
                version,
                reason: reason(&why),
            },
            Judged::Stale { version } => {
                // Its refresh token may still renew: the pair, dated on this clock.
                let payload = fetched.record.as_ref().map_or(&[][..], |r| &r.payload);
                let pair = Record::decode(&self.name, version, payload, self.key.as_ref())
                    .ok()
                    .and_then(|record| {
                        let age = fetched.now.duration_since(record.issued_at).ok()?;
                        Some((record.pair, read_at.checked_sub(age)?))
                    });
                Inspected::Stale { version, pair }
            }
        }
    }

    /// [`judge`] on a read of this link's record.
    fn judged(
        &self,
        fetched: &Fetched,
        read_at: Instant,
        rejected: Option<&AccessToken>,
    ) -> Judgement {
        let stored = fetched
            .record
            .as_ref()
            .map(|s| (s.version, s.payload.as_slice()));
        judge(
            stored,
            fetched.now,
            read_at,
            &self.name,
            self.key.as_ref(),
            &self.policy,
            rejected,
        )
    }

    /// Encodes `record` as `version`, sealed if this link has a key.
    pub(crate) fn encode(&self, record: &Record, version: u64) -> Stored {
        Stored {
            version,
            payload: record.encode(&self.name, version, self.key.as_ref()),
        }
    }

    /// How long a record of `record` may live in the store: its refresh token's
    /// lifetime (at least a second).
    pub(crate) fn record_ttl(record: &Record) -> Duration {
        record.pair.refresh_expires_in.max(Duration::from_secs(1))
    }

    /// Records an operation's outcome for the store's health.
    pub(crate) fn note(&self, now: Instant, error: Option<&StoreError>, what: &str) {
        self.lock_health().note(now, error, &self.timings, what);
    }

    fn lock_health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a record is not trusted, in words for a warning.
fn reason(why: &Distrust) -> String {
    match why {
        Distrust::Record(e) => e.to_string(),
        Distrust::Expired => "both tokens expired".to_owned(),
        Distrust::FromTheFuture => "issued ahead of the store's clock".to_owned(),
    }
}

/// A record as [`SharedStore::inspect`] finds it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Inspected {
    /// No record.
    Absent,
    /// A record fresh enough to use as it is.
    Fresh {
        /// Its tokens.
        pair: TokenPair,
        /// When they were issued, on this process's clock.
        issued: Instant,
    },
    /// A trusted record due for renewal.
    Stale {
        /// Its version.
        version: u64,
        /// Its tokens and their issue instant on this process's clock (its refresh
        /// token may still renew), when they can be dated here.
        pair: Option<(TokenPair, Instant)>,
    },
    /// A record that cannot be trusted: it will be replaced.
    Untrusted {
        /// Its version.
        version: u64,
        /// Why, in words.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_never_repeat_within_a_process() {
        let ids: std::collections::HashSet<_> = (0..100_000).map(|_| next_lease_id()).collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn lease_ids_are_unique_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..10_000).map(|_| next_lease_id()).collect::<Vec<_>>())
            })
            .collect();
        let ids: std::collections::HashSet<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(ids.len(), 40_000);
    }
}
