//! The in-process token cache: one [`Session`] behind a lock for many callers, with
//! single-flight renewals, wake-ups for waiters and a lock-free path for fresh tokens.
//! It is the part of a token provider that does not depend on how bytes move or how a
//! caller waits; [`TokenCache::drive`] adds the one loop every transport runs over it.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use event_listener::Event;

use crate::call::Call;
use crate::fast_path::FastPath;
use crate::secret::AccessToken;
use crate::session::{Handled, Session, Snapshot};
use crate::store::SharedStore;

/// A session behind a lock, with a lock-free fast path for fresh tokens and a wake-up
/// event for callers waiting on a renewal.
///
/// Each caller first tries [`cached`](Self::cached); on a miss it starts a [`Call`],
/// the renewal machine, and does what each [`Step`](crate::Step) says. That loop is
/// written once, in [`TokenCache::drive`]; [`Call`] shows it by hand.
///
/// ```
/// use smartling_auth_core::*;
/// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret")));
/// let now = std::time::Instant::now();
/// assert!(cache.cached(now).is_none());
/// assert!(matches!(cache.call().poll(now), Step::Send(_)));
/// ```
pub struct TokenCache {
    session: Mutex<Session>,
    pub(crate) fast: FastPath,
    pub(crate) changed: Event,
    store: Option<SharedStore>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("session", &*self.lock())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Wraps a session.
    ///
    /// ```
    /// let cache = smartling_auth_core::TokenCache::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(cache.cached(std::time::Instant::now()).is_none());
    /// ```
    pub fn new(session: Session) -> Self {
        Self {
            session: Mutex::new(session),
            fast: FastPath::new(),
            changed: Event::new(),
            store: None,
        }
    }

    /// Shares renewals with other processes through a token store: on a local miss the
    /// driver reads the store first, and only one process of all that share it renews
    /// (see [`store`](crate::store)). A fresh local token never touches the store.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, SharedStore};
    /// use smartling_auth_core::{BaseUrl, Policy, Session, TokenCache};
    /// let shared = SharedStore::for_user(std::sync::Arc::new(MemoryStore::unsealed()),
    ///     &BaseUrl::default(), "user", None, &Policy::default()).unwrap();
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default()))
    ///     .with_store(shared);
    /// assert!(cache.store().is_some());
    /// ```
    pub fn with_store(mut self, store: SharedStore) -> Self {
        self.store = Some(store);
        self
    }

    /// The token store renewals are shared through, if any.
    ///
    /// ```
    /// let cache = smartling_auth_core::TokenCache::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(cache.store().is_none());
    /// ```
    pub fn store(&self) -> Option<&SharedStore> {
        self.store.as_ref()
    }

    /// The hot path: a fresh token without taking any lock, or `None` when the caller
    /// must go through [`call`](Self::call). After the first call on a thread, a hit
    /// costs an atomic load and a reference-count increment on a thread-private copy.
    ///
    /// ```
    /// let cache = smartling_auth_core::TokenCache::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(cache.cached(std::time::Instant::now()).is_none());
    /// ```
    #[inline]
    pub fn cached(&self, now: Instant) -> Option<AccessToken> {
        self.fast.get(now)
    }

    /// Starts one caller's request for a token. A new call clears a failure latched by
    /// an earlier one (the next call tries again); a call that waited on a renewal that
    /// failed gets that failure.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default()));
    /// let mut call = cache.call();
    /// assert!(matches!(call.poll(std::time::Instant::now()), Step::Fail(Error::SessionEnded(_))));
    /// ```
    pub fn call(&self) -> Call<'_> {
        Call::new(self, None)
    }

    /// Like [`call`](Self::call), but the call gives up with a timeout error once
    /// `limit` has passed since `now`, and never waits past that point.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Duration, Instant};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = Instant::now();
    /// let mut renewing = cache.call();
    /// let _ = renewing.poll(now); // someone else is renewing
    /// let mut call = cache.call_with_deadline(now, Duration::from_secs(5));
    /// assert!(matches!(call.poll(now), Step::Wait(until) if until <= now + Duration::from_secs(5)));
    /// assert!(matches!(call.poll(now + Duration::from_secs(5)), Step::Fail(Error::Transport(_))));
    /// ```
    pub fn call_with_deadline(&self, now: Instant, limit: Duration) -> Call<'_> {
        Call::new(self, now.checked_add(limit).map(|at| (at, limit)))
    }

    /// Reports that an API call with `token` got a 401; see [`Session::invalidate`].
    ///
    /// ```
    /// let cache = smartling_auth_core::TokenCache::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(!cache.invalidate(&smartling_auth_core::AccessToken::new("t")));
    /// ```
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        let mut session = self.lock();
        let current = session.invalidate(token);
        if current {
            self.fast.withdraw();
        }
        current
    }

    /// A snapshot of the session; see [`Session::snapshot`].
    ///
    /// ```
    /// let cache = smartling_auth_core::TokenCache::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(cache.snapshot(std::time::Instant::now(), std::time::SystemTime::now()).is_none());
    /// ```
    pub fn snapshot(&self, now: Instant, wall_now: SystemTime) -> Option<Snapshot> {
        self.lock().snapshot(now, wall_now)
    }

    /// The access token an API call refused, if the session still holds it.
    pub(crate) fn rejected_token(&self) -> Option<AccessToken> {
        self.lock().rejected_token().cloned()
    }

    /// The session is only ever left mid-update by a panic inside the session itself;
    /// a caller's panic elsewhere must not lock everyone else out, so poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn finish(&self, f: impl FnOnce(&mut Session) -> Handled) -> Handled {
        let handled = {
            let mut session = self.lock();
            let handled = f(&mut session);
            // The published token may be the one just replaced (or refused).
            self.fast.withdraw();
            handled
        };
        self.changed.notify(usize::MAX);
        handled
    }
}
