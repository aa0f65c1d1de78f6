//! One session's link to a store: the store, the record's name and key, the
//! protocol's timings, and the store's health between calls.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, warn};

use super::flight::{Distrust, Judged, Judgement, judge};
use super::health::Health;
use super::{
    Fetched, Flight, LeaseId, Origin, Record, RecordName, SealKey, Store, StoreError, Stored,
    Timings,
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
    /// Whether the store's clock was found too far off (warned once).
    clock_warned: AtomicBool,
    /// This machine's wall clock, the store clock's witness.
    local_clock: LocalClock,
}

/// A wall clock: [`SystemTime::now`] unless a simulation gives its own.
type LocalClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How far the store's clock may read from this machine's before it is not believed.
/// The store's clock is what a fleet's members agree on (their own may be off from
/// each other by seconds or a minute); a server that is hours off, or lies, is not a
/// clock to date tokens by.
pub const MAX_STORE_CLOCK_GAP: Duration = Duration::from_secs(600);

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
            clock_warned: AtomicBool::new(false),
            local_clock: Arc::new(SystemTime::now),
        })
    }

    /// Makes this the record of a session started from the refresh token `origin`
    /// stands for (see [`RecordName::with_origin`]): a record of another origin is
    /// ignored and replaced, never used. Give it to a session without credentials that
    /// starts from a bare refresh token, so another token (another account's) that
    /// shares its name never hands it the wrong tokens.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, Origin, SharedStore};
    /// use smartling_auth_core::{BaseUrl, RefreshToken};
    /// let origin = Origin::of(&BaseUrl::default(), &RefreshToken::new("r"));
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &BaseUrl::default(), "", None, &Default::default()).unwrap()
    ///     .with_origin(origin);
    /// assert_eq!(shared.name().origin(), Some(origin));
    /// ```
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.name = self.name.with_origin(origin);
        self
    }

    /// Replaces this machine's wall clock, which the store's clock is checked against
    /// (default [`SystemTime::now`]): for simulations that run on a clock of their own.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, SharedStore};
    /// use std::time::{Duration, SystemTime};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &Default::default(), "u", None, &Default::default()).unwrap()
    ///     .with_local_clock(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// # let _ = shared;
    /// ```
    pub fn with_local_clock(
        mut self,
        clock: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.local_clock = Arc::new(clock);
        self
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
                let record = Record::decode(&self.name, version, payload, self.key.as_ref()).ok();
                let origin = record.as_ref().and_then(|r| r.origin);
                let pair = record.and_then(|record| {
                    let age = fetched.now.duration_since(record.issued_at).ok()?;
                    Some((record.pair, read_at.checked_sub(age)?))
                });
                Inspected::Stale {
                    version,
                    pair,
                    origin,
                }
            }
        }
    }

    /// [`judge`] on a read of this link's record, with this machine's clock as a
    /// second witness: a store clock more than [`MAX_STORE_CLOCK_GAP`] from it is
    /// replaced by it (with a warning), and a record it says is dead is never fresh.
    fn judged(
        &self,
        fetched: &Fetched,
        read_at: Instant,
        rejected: Option<&AccessToken>,
    ) -> Judgement {
        self.judged_at(fetched, read_at, rejected, (self.local_clock)())
    }

    fn judged_at(
        &self,
        fetched: &Fetched,
        read_at: Instant,
        rejected: Option<&AccessToken>,
        local: SystemTime,
    ) -> Judgement {
        let stored = fetched
            .record
            .as_ref()
            .map(|s| (s.version, s.payload.as_slice()));
        let gap = fetched
            .now
            .duration_since(local)
            .unwrap_or_else(|e| e.duration());
        let store_now = if gap > MAX_STORE_CLOCK_GAP {
            if !self.clock_warned.swap(true, Ordering::Relaxed) {
                warn!(
                    record = %self.name,
                    gap_s = gap.as_secs(),
                    "the token store's clock is far from this machine's; dating its records by this machine's clock"
                );
            }
            local
        } else {
            fetched.now
        };
        let mut judgement = judge(
            stored,
            store_now,
            read_at,
            &self.name,
            self.key.as_ref(),
            &self.policy,
            rejected,
        );
        // A record replayed with a store clock of its own time (within the gap) looks
        // alive by that clock: this machine's must agree.
        if let Judged::Fresh { record, .. } = &judgement.judged
            && record.access_left(local).is_none()
        {
            let version = fetched.record.as_ref().map_or(0, |s| s.version);
            judgement.judged = match record.refresh_left(local) {
                Some(_) => Judged::Stale { version },
                None => Judged::Untrusted {
                    version,
                    why: Distrust::Expired,
                },
            };
        }
        judgement
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
        /// The refresh token its session started from, if any: a session that renews
        /// from `pair` continues that one ([`SharedStore::with_origin`]).
        origin: Option<Origin>,
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
    use crate::store::MemoryStore;
    use crate::{AccessToken, RefreshToken};

    fn shared() -> SharedStore {
        SharedStore::for_user(
            Arc::new(MemoryStore::unsealed()),
            &BaseUrl::default(),
            "u",
            None,
            &Policy::default(),
        )
        .unwrap()
    }

    /// A record issued at `issued` (480 s access, 3660 s refresh), read with the store
    /// clock saying `store_now`.
    fn read(shared: &SharedStore, issued: SystemTime, store_now: SystemTime) -> Fetched {
        let pair = TokenPair::new(
            AccessToken::new("a.b.c"),
            RefreshToken::new("r.s.t"),
            Duration::from_secs(480),
            Duration::from_secs(3660),
        );
        Fetched {
            record: Some(shared.encode(&Record::new(pair, issued), 7)),
            now: store_now,
        }
    }

    #[test]
    fn a_replayed_record_with_a_store_clock_of_its_own_time_is_not_fresh() {
        let shared = shared();
        let local = SystemTime::now();
        let read_at = Instant::now();
        // A record issued 10 minutes ago, its access token dead by this clock...
        let old = local - Duration::from_secs(600);
        // ...replayed with a store clock a minute after its issue (within the gap).
        let replay = read(&shared, old, old + Duration::from_secs(60));
        let j = shared.judged_at(&replay, read_at, None, local);
        assert!(
            matches!(j.judged, Judged::Stale { version: 7 }),
            "{:?}",
            j.judged
        );
        // Two hours ago: the store's clock is not believed either way, and both the
        // tokens are dead.
        let older = local - Duration::from_secs(2 * 3600);
        let replay = read(&shared, older, older + Duration::from_secs(60));
        let j = shared.judged_at(&replay, read_at, None, local);
        assert!(
            matches!(
                j.judged,
                Judged::Untrusted {
                    why: Distrust::Expired,
                    ..
                }
            ),
            "{:?}",
            j.judged
        );
        // The same record read honestly is fresh.
        let honest = read(&shared, local - Duration::from_secs(60), local);
        let j = shared.judged_at(&honest, read_at, None, local);
        assert!(matches!(j.judged, Judged::Fresh { .. }), "{:?}", j.judged);
    }

    #[test]
    fn a_store_clock_far_from_this_machines_is_replaced_by_it() {
        let shared = shared();
        let local = SystemTime::now();
        let read_at = Instant::now();
        // Fresh by this machine's clock; a store clock a day ahead would call it dead.
        let record = read(
            &shared,
            local - Duration::from_secs(60),
            local + Duration::from_secs(86_400),
        );
        let j = shared.judged_at(&record, read_at, None, local);
        assert_eq!(j.store_now, local);
        assert!(matches!(j.judged, Judged::Fresh { .. }), "{:?}", j.judged);
        // A minute's gap is a fleet's ordinary skew: the store's clock stands.
        let skewed = local + Duration::from_secs(60);
        let record = read(&shared, local - Duration::from_secs(60), skewed);
        assert_eq!(
            shared.judged_at(&record, read_at, None, local).store_now,
            skewed
        );
    }

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
