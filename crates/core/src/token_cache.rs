//! The in-process token cache: one [`Session`] behind a lock for many callers, with
//! single-flight renewals, wake-ups for waiters and a lock-free path for fresh tokens.
//! It is the part of a token provider that does not depend on how bytes move or how a
//! caller waits; [`TokenCache::drive`] adds the one loop every transport runs over it.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use event_listener::{Event, EventListener};
use tracing::debug;

use crate::error::{Error, TransportError};
use crate::fast_path::FastPath;
use crate::request::HttpResponse;
use crate::response::TokenPair;
use crate::secret::AccessToken;
use crate::session::{Action, Grant, Handled, Session, Snapshot, Transmit};
use crate::store::SharedStore;

/// A session behind a lock, with a lock-free fast path for fresh tokens and a wake-up
/// event for callers waiting on a renewal.
///
/// Each caller first tries [`cached`](Self::cached); on a miss it starts a [`Call`] and
/// does what each [`Step`] says, with the same four verbs as [`Action`]. That loop is
/// written once, in [`TokenCache::drive`]; a transport supplies only
/// how to send and how to wait. By hand, in blocking form:
///
/// ```
/// use smartling_auth_core::*;
/// use smartling_auth_core::{api::*, error::*};
/// use std::time::{Duration, Instant};
///
/// fn access_token(cache: &TokenCache, send: impl Fn(&HttpRequest) -> HttpResponse)
///     -> Result<AccessToken, Error>
/// {
///     if let Some(token) = cache.cached(Instant::now()) {
///         return Ok(token); // hot path: no lock
///     }
///     let mut call = cache.call();
///     loop {
///         match call.step(Instant::now()) {
///             Step::UseToken(grant) => return Ok(grant.access_token),
///             Step::Send(renewal) => {
///                 let answer = send(&renewal.transmit().request);
///                 renewal.complete(Instant::now(), Ok(answer));
///             }
///             Step::Wait(until, listener) => { listener.wait_deadline(until); }
///             Step::Fail(e) => return Err(e),
///         }
///     }
/// }
///
/// let session = Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret"));
/// let cache = TokenCache::new(session);
/// let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///     "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660}}}"#;
/// let send = |_: &HttpRequest| http::Response::builder().status(200).body(body.into()).unwrap();
/// assert_eq!(access_token(&cache, send).unwrap().secret(), "a.b.c");
/// assert!(cache.cached(Instant::now()).is_some());
/// ```
pub struct TokenCache {
    session: Mutex<Session>,
    fast: FastPath,
    changed: Event,
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
    /// assert!(matches!(call.step(std::time::Instant::now()), Step::Fail(Error::SessionEnded(_))));
    /// ```
    pub fn call(&self) -> Call<'_> {
        Call {
            cache: self,
            epoch: None,
            deadline: None,
        }
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
    /// let _renewal = cache.call().step(now); // someone else is renewing
    /// let mut call = cache.call_with_deadline(now, Duration::from_secs(5));
    /// assert!(matches!(call.step(now), Step::Wait(until, _) if until <= now + Duration::from_secs(5)));
    /// assert!(matches!(call.step(now + Duration::from_secs(5)), Step::Fail(Error::Transport(_))));
    /// ```
    pub fn call_with_deadline(&self, now: Instant, limit: Duration) -> Call<'_> {
        Call {
            cache: self,
            epoch: None,
            deadline: now.checked_add(limit).map(|at| (at, limit)),
        }
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
    fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finish(&self, f: impl FnOnce(&mut Session) -> Handled) -> Handled {
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

/// One caller's walk to a token. See [`TokenCache`] for the loop.
#[derive(Debug)]
pub struct Call<'a> {
    cache: &'a TokenCache,
    /// The failure epoch when this call started; `None` before the first step.
    epoch: Option<u64>,
    /// When the call gives up, and the limit it was given (for the message).
    deadline: Option<(Instant, Duration)>,
}

impl<'a> Call<'a> {
    /// Asks the session what this caller should do now.
    ///
    /// With a deadline, the call fails once it has passed, and fails at once (with the
    /// error of the last try) when the session is backing off until after it: no
    /// request can be sent in time, so waiting would only delay the same answer.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let Step::Send(renewal) = cache.call().step(now) else { panic!() };
    /// // a second caller waits for the first one's renewal
    /// assert!(matches!(cache.call().step(now), Step::Wait(..)));
    /// # drop(renewal);
    /// ```
    pub fn step(&mut self, now: Instant) -> Step<'a> {
        let cache = self.cache;
        if let Some((at, limit)) = self.deadline
            && now >= at
        {
            return Step::Fail(Error::Transport(TransportError::timeout(limit)));
        }
        let mut session = cache.lock();
        match self.epoch {
            None => {
                self.epoch = Some(session.failure_epoch());
                session.rearm();
            }
            Some(epoch) if session.failure_epoch() > epoch => {
                if let Some(e) = session.last_failure() {
                    return Step::Fail(e.clone());
                }
            }
            Some(_) => {}
        }
        match session.poll(now) {
            Action::UseToken(grant) => {
                cache.fast.publish(&grant.access_token, grant.fresh_until);
                Step::UseToken(grant)
            }
            Action::Send(transmit) => Step::Send(Renewal {
                cache,
                transmit,
                done: false,
            }),
            Action::Wait(until) => {
                if let Some((at, _)) = self.deadline.filter(|(at, _)| until >= *at) {
                    if let Some(e) = session.backing_off() {
                        debug!("the next try falls after the call's deadline; giving up");
                        return Step::Fail(e.clone());
                    }
                    // Listen before the lock is released, so a completion in between
                    // is not missed.
                    return Step::Wait(at, cache.changed.listen());
                }
                let wait_ms = until.saturating_duration_since(now).as_millis() as u64;
                debug!(wait_ms, "waiting for a renewal or a backoff");
                Step::Wait(until, cache.changed.listen())
            }
            Action::Fail(e) => Step::Fail(e),
        }
    }

    /// How long the call may still take from `now`, if it has a deadline.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Duration, Instant};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default()));
    /// let now = Instant::now();
    /// assert_eq!(cache.call().remaining(now), None);
    /// let call = cache.call_with_deadline(now, Duration::from_secs(5));
    /// assert_eq!(call.remaining(now + Duration::from_secs(2)), Some(Duration::from_secs(3)));
    /// ```
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.deadline
            .map(|(at, _)| at.saturating_duration_since(now))
    }

    /// When the call gives up, if it has a deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline.map(|(at, _)| at)
    }
}

/// What a caller should do next: [`Action`]'s verbs, for one caller of a shared cache.
#[derive(Debug)]
pub enum Step<'a> {
    /// Use this token.
    UseToken(Grant),
    /// Send this renewal and complete it. Dropping it unfinished (a cancelled future, a
    /// panic) hands the renewal to another caller at once.
    Send(Renewal<'a>),
    /// Wait until the instant or until the listener fires, whichever is first; then step
    /// again.
    Wait(Instant, EventListener),
    /// Give up with this error.
    Fail(Error),
}

/// The one outstanding renewal request, owned by the caller that sends it: a
/// [`Transmit`] that hands itself back to the cache when completed or dropped.
pub struct Renewal<'a> {
    cache: &'a TokenCache,
    transmit: Transmit,
    done: bool,
}

impl std::fmt::Debug for Renewal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewal")
            .field("transmit", &self.transmit)
            .finish_non_exhaustive()
    }
}

impl Renewal<'_> {
    /// The request to send, with its kind, reason and attempt number. Its body carries
    /// a secret: never log it.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let Step::Send(r) = cache.call().step(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(r.transmit().request.uri().path(), "/auth-api/v2/authenticate");
    /// assert_eq!(r.transmit().kind, RequestKind::Authenticate);
    /// assert_eq!(r.transmit().reason, Reason::Initial);
    /// assert_eq!(r.transmit().attempt, 1);
    /// ```
    pub fn transmit(&self) -> &Transmit {
        &self.transmit
    }

    /// Feeds the outcome back, wakes every waiting caller, and says what the session
    /// made of it.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let Step::Send(r) = cache.call().step(now) else { panic!() };
    /// let handled = r.complete(now, Err(TransportError::new(TransportErrorKind::Connect, "refused")));
    /// assert!(matches!(handled, Handled::WillRetry(Error::Transport(_))));
    /// ```
    pub fn complete(
        mut self,
        now: Instant,
        result: Result<HttpResponse, TransportError>,
    ) -> Handled {
        self.done = true;
        let id = self.transmit.id;
        if let Err(e) = &result {
            debug!(request = ?id, kind = ?self.transmit.kind, error = %e, "request failed");
        }
        self.cache.finish(|session| match result {
            Ok(response) => session.handle_response(now, id, &response),
            Err(error) => session.handle_transport_error(now, id, error),
        })
    }
}

impl Renewal<'_> {
    /// Answers the renewal with tokens another process obtained, read from a shared
    /// store (see [`Session::adopt`]), and wakes every waiting caller.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use std::time::{Duration, Instant};
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = Instant::now();
    /// let Step::Send(r) = cache.call().step(now) else { panic!() };
    /// let pair = TokenPair::new(AccessToken::new("shared"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// assert!(matches!(r.adopt(now, pair, now), Handled::Adopted(_)));
    /// assert_eq!(cache.cached(now).is_some() || matches!(cache.call().step(now), Step::UseToken(_)), true);
    /// ```
    pub fn adopt(mut self, now: Instant, pair: TokenPair, issued: Instant) -> Handled {
        self.done = true;
        let id = self.transmit.id;
        self.cache
            .finish(|session| session.adopt(now, id, pair, issued))
    }

    /// Restarts the renewal's clock (see [`Session::restart`]): a driver that waits
    /// before sending (for another process's record) calls it between its waits, so
    /// the renewal never times out while it is being worked on. Never call it once the
    /// request is on the wire (see [`Session::restart`]). Returns whether the renewal
    /// is still outstanding.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let Step::Send(r) = cache.call().step(now) else { panic!() };
    /// assert!(r.restart(now + std::time::Duration::from_secs(60)));
    /// ```
    pub fn restart(&self, now: Instant) -> bool {
        self.cache.lock().restart(now, self.transmit.id)
    }
}

impl Drop for Renewal<'_> {
    fn drop(&mut self) {
        if !self.done {
            let id = self.transmit.id;
            self.cache.finish(|session| session.abandon(id));
        }
    }
}
