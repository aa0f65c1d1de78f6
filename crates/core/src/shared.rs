//! A [`Session`] shared by many callers: the part of a token provider that does not
//! depend on how bytes move or how a caller waits. Both transports are thin loops over
//! [`Call::step`].

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use event_listener::{Event, EventListener};
use http::Response;
use tracing::debug;

use crate::error::{Error, TransportError};
use crate::fast_path::FastPath;
use crate::request::HttpRequest;
use crate::secret::AccessToken;
use crate::session::{Action, Grant, Reason, RequestId, RequestKind, Session, Snapshot};

/// A session behind a lock, with a lock-free fast path for fresh tokens and a wake-up
/// event for callers waiting on a renewal.
///
/// Driver loop (blocking form; an async driver awaits the listener instead):
///
/// ```
/// use smartling_auth_core::*;
/// use std::time::{Duration, Instant};
///
/// fn access_token(shared: &SharedSession, send: impl Fn(&HttpRequest) -> http::Response<Vec<u8>>)
///     -> Result<AccessToken, Error>
/// {
///     if let Some(token) = shared.cached(Instant::now()) {
///         return Ok(token); // hot path: no lock
///     }
///     let mut call = shared.call();
///     loop {
///         match call.step(Instant::now()) {
///             Step::Token(grant) => return Ok(grant.access_token),
///             Step::Send(renewal) => {
///                 let answer = send(renewal.request());
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
/// let shared = SharedSession::new(session);
/// let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///     "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660}}}"#;
/// let send = |_: &HttpRequest| http::Response::builder().status(200).body(body.into()).unwrap();
/// assert_eq!(access_token(&shared, send).unwrap().secret(), "a.b.c");
/// assert!(shared.cached(Instant::now()).is_some());
/// ```
pub struct SharedSession {
    session: Mutex<Session>,
    fast: FastPath,
    changed: Event,
}

impl std::fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSession")
            .field("session", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl SharedSession {
    /// Wraps a session.
    ///
    /// ```
    /// let shared = smartling_auth_core::SharedSession::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(shared.cached(std::time::Instant::now()).is_none());
    /// ```
    pub fn new(session: Session) -> Self {
        Self {
            session: Mutex::new(session),
            fast: FastPath::new(),
            changed: Event::new(),
        }
    }

    /// The hot path: a fresh token without taking any lock, or `None` when the caller
    /// must go through [`call`](Self::call). After the first call on a thread, a hit
    /// costs an atomic load and a reference-count increment on a thread-private copy.
    ///
    /// ```
    /// let shared = smartling_auth_core::SharedSession::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(shared.cached(std::time::Instant::now()).is_none());
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
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default()));
    /// let mut call = shared.call();
    /// assert!(matches!(call.step(std::time::Instant::now()), Step::Fail(Error::SessionEnded(_))));
    /// ```
    pub fn call(&self) -> Call<'_> {
        Call {
            shared: self,
            epoch: None,
            deadline: None,
        }
    }

    /// Like [`call`](Self::call), but the call gives up with a timeout error once
    /// `limit` has passed since `now`, and never waits past that point.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use std::time::{Duration, Instant};
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = Instant::now();
    /// let _renewal = shared.call().step(now); // someone else is renewing
    /// let mut call = shared.call_with_deadline(now, Duration::from_secs(5));
    /// assert!(matches!(call.step(now), Step::Wait(until, _) if until <= now + Duration::from_secs(5)));
    /// assert!(matches!(call.step(now + Duration::from_secs(5)), Step::Fail(Error::Transport(_))));
    /// ```
    pub fn call_with_deadline(&self, now: Instant, limit: Duration) -> Call<'_> {
        Call {
            shared: self,
            epoch: None,
            deadline: now.checked_add(limit).map(|at| (at, limit)),
        }
    }

    /// Reports that an API call with `token` got a 401; see [`Session::invalidate`].
    ///
    /// ```
    /// let shared = smartling_auth_core::SharedSession::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(!shared.invalidate(&smartling_auth_core::AccessToken::new("t")));
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
    /// let shared = smartling_auth_core::SharedSession::new(
    ///     smartling_auth_core::Session::new(Default::default(), Default::default()));
    /// assert!(shared.snapshot(std::time::Instant::now(), std::time::SystemTime::now()).is_none());
    /// ```
    pub fn snapshot(&self, now: Instant, wall_now: SystemTime) -> Option<Snapshot> {
        self.lock().snapshot(now, wall_now)
    }

    /// The session is only ever left mid-update by a panic inside the session itself;
    /// a caller's panic elsewhere must not lock everyone else out, so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finish(&self, id: RequestId, f: impl FnOnce(&mut Session, RequestId)) {
        {
            let mut session = self.lock();
            f(&mut session, id);
            // The published token may be the one just replaced (or refused).
            self.fast.withdraw();
        }
        self.changed.notify(usize::MAX);
    }
}

/// One caller's walk to a token. See [`SharedSession`] for the loop.
#[derive(Debug)]
pub struct Call<'a> {
    shared: &'a SharedSession,
    /// The failure epoch when this call started; `None` before the first step.
    epoch: Option<u64>,
    /// When the call gives up, and the limit it was given (for the message).
    deadline: Option<(Instant, Duration)>,
}

impl<'a> Call<'a> {
    /// Asks the session what this caller should do now.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let Step::Send(renewal) = shared.call().step(now) else { panic!() };
    /// // a second caller waits for the first one's renewal
    /// assert!(matches!(shared.call().step(now), Step::Wait(..)));
    /// # drop(renewal);
    /// ```
    pub fn step(&mut self, now: Instant) -> Step<'a> {
        let shared = self.shared;
        if let Some((at, limit)) = self.deadline {
            if now >= at {
                return Step::Fail(Error::Transport(TransportError::timeout(limit)));
            }
        }
        let mut session = shared.lock();
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
                shared.fast.publish(&grant.access_token, grant.fresh_until);
                Step::Token(grant)
            }
            Action::Send(tx) => Step::Send(Renewal {
                shared,
                id: tx.id,
                kind: tx.kind,
                reason: tx.reason,
                attempt: tx.attempt,
                request: tx.request,
                done: false,
            }),
            // Listen before the lock is released, so a completion in between is not missed.
            Action::Wait(until) => {
                let until = self.deadline.map_or(until, |(at, _)| until.min(at));
                let wait_ms = until.saturating_duration_since(now).as_millis() as u64;
                debug!(wait_ms, "waiting for a renewal or a backoff");
                Step::Wait(until, shared.changed.listen())
            }
            Action::Fail(e) => Step::Fail(e),
        }
    }
}

/// What a caller should do next.
#[derive(Debug)]
pub enum Step<'a> {
    /// Use this token.
    Token(Grant),
    /// Send this renewal and complete it. Dropping it unfinished (a cancelled future, a
    /// panic) hands the renewal to another caller at once.
    Send(Renewal<'a>),
    /// Wait until the instant or until the listener fires, whichever is first; then step
    /// again.
    Wait(Instant, EventListener),
    /// Give up with this error.
    Fail(Error),
}

/// The one outstanding renewal request, owned by the caller that sends it.
pub struct Renewal<'a> {
    shared: &'a SharedSession,
    id: RequestId,
    kind: RequestKind,
    reason: Reason,
    attempt: u32,
    request: HttpRequest,
    done: bool,
}

impl std::fmt::Debug for Renewal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewal")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl Renewal<'_> {
    /// The request to send. Its body carries a secret: never log it.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let Step::Send(r) = shared.call().step(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(r.request().uri().path(), "/auth-api/v2/authenticate");
    /// ```
    pub fn request(&self) -> &HttpRequest {
        &self.request
    }

    /// Authenticate or Refresh.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let Step::Send(r) = shared.call().step(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(r.kind(), RequestKind::Authenticate);
    /// assert_eq!(r.reason(), Reason::Initial);
    /// assert_eq!(r.attempt(), 1);
    /// ```
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// Why the session renews.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_refresh_token(RefreshToken::new("r")));
    /// let Step::Send(r) = shared.call().step(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(r.reason(), Reason::Initial);
    /// ```
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// 1 for the first try of a renewal, then 2, 3, ...
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_refresh_token(RefreshToken::new("r")));
    /// let Step::Send(r) = shared.call().step(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(r.attempt(), 1);
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Feeds the outcome back and wakes every waiting caller.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let shared = SharedSession::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let Step::Send(r) = shared.call().step(now) else { panic!() };
    /// r.complete(now, Err(TransportError::new(TransportErrorKind::Connect, "refused")));
    /// ```
    pub fn complete(mut self, now: Instant, result: Result<Response<Vec<u8>>, TransportError>) {
        self.done = true;
        if let Err(e) = &result {
            debug!(request = ?self.id, kind = ?self.kind, error = %e, "request failed");
        }
        self.shared.finish(self.id, |session, id| {
            match result {
                Ok(response) => session.handle_response(now, id, &response),
                Err(error) => session.handle_transport_error(now, id, error),
            };
        });
    }
}

impl Drop for Renewal<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.finish(self.id, |session, id| {
                session.abandon(id);
            });
        }
    }
}
