//! The token lifecycle as a sans-IO state machine.
//!
//! The session never reads a clock and never does I/O: time comes in as `now`, requests
//! go out as [`Action::Send`], answers come back through `handle_*`. Every decision
//! (refresh ahead, refresh versus login, backoff, single flight) is made here, once, for
//! every transport.

mod action;
mod outcome;
mod policy;
mod snapshot;
mod tokens;

use std::time::{Duration, Instant, SystemTime};

use http::Response;
use tracing::debug;

pub use action::{Action, Grant, Handled, Reason, RequestId, RequestKind, Transmit};
pub use policy::{Margins, Policy, RetryPolicy};
pub use snapshot::{Snapshot, SnapshotError};

use crate::base_url::BaseUrl;
use crate::error::{Error, SessionEnd, TransportError};
use crate::request::{authenticate_request, refresh_request};
use crate::response::{TokenPair, TokenType, parse_token_response_with};
use crate::secret::{AccessToken, Credentials, RefreshToken, UserSecret};

/// One client's token lifecycle: the current pair, the credentials to log in again, and
/// what to do next.
///
/// # Driving it
/// Call [`poll`](Self::poll) with the current time and do what it says:
/// - [`Action::UseToken`]: done, use the token;
/// - [`Action::Send`]: send the request, then call [`handle_response`](Self::handle_response)
///   or [`handle_transport_error`](Self::handle_transport_error) with its id;
/// - [`Action::Wait`]: wait until that instant or until an answer arrives, then poll;
/// - [`Action::Fail`]: give up with the error.
///
/// After every input, poll again. **Contract:** `poll` is repeatable. Polling twice at
/// the same instant with no input in between gives the same answer, except that a
/// `Send` is handed out once: the request is then outstanding, and until its answer (or
/// its [`Policy::request_timeout`]) polls say `UseToken` or `Wait`, never a second
/// `Send`. A `Wait` is always for a later instant than `now`, so a driver never spins.
/// A spurious poll is harmless.
///
/// ```
/// use smartling_auth_core::{Action, BaseUrl, Credentials, Policy, Session};
/// use std::time::{Duration, Instant};
///
/// let mut session = Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("user", "secret"));
/// let t0 = Instant::now();
/// let Action::Send(tx) = session.poll(t0) else { panic!("first poll logs in") };
/// // ... send tx.request with any HTTP client; here, a canned answer:
/// let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///     "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660,"tokenType":"Bearer"}}}"#;
/// let answer = http::Response::builder().status(200).body(body).unwrap();
/// session.handle_response(t0 + Duration::from_millis(80), tx.id, &answer);
/// let Action::UseToken(grant) = session.poll(t0 + Duration::from_secs(1)) else { panic!() };
/// assert_eq!(grant.access_token.secret(), "a.b.c");
/// ```
#[derive(Debug)]
pub struct Session {
    base: BaseUrl,
    policy: Policy,
    credentials: Option<Credentials>,
    access: Option<Access>,
    refresh: Option<Refresh>,
    inflight: Option<InFlight>,
    next_id: u64,
    /// Consecutive failed tries of the current renewal.
    failures: u32,
    /// Backoff: no request before this instant.
    not_before: Option<Instant>,
    /// The latched failure that polls report until `rearm`.
    failed: Option<Error>,
    last_failure: Option<Error>,
    failure_epoch: u64,
    /// The error of the last try while a renewal is backing off before its next one.
    retrying: Option<Error>,
    /// A bare refresh token held back while a newer session (a snapshot or a pair) is
    /// in use: the next source once that session is spent.
    spare_refresh: Option<RefreshToken>,
    /// `expires_in` and `refresh_expires_in` of the last pair installed.
    last_lifetimes: Option<(Duration, Duration)>,
    rng: fastrand::Rng,
}

#[derive(Debug)]
struct Access {
    token: AccessToken,
    token_type: TokenType,
    expires: Instant,
    renew_at: Instant,
    /// The hard margin for this token (see [`Policy::margins`]).
    margin: Duration,
    invalidated: bool,
}

#[derive(Debug)]
struct Refresh {
    token: RefreshToken,
    /// `None` when the session started from a bare refresh token.
    expires: Option<Instant>,
    /// How much life it must have left to be worth sending.
    margin: Duration,
    state: RefreshState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Usable,
    /// The server answered 401 to it.
    Refused,
    /// Its lifetime shrank below the refresh-ahead window: the session cap is near.
    Capped,
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    kind: RequestKind,
    sent_at: Instant,
    deadline: Instant,
    /// The secret the request carried, redacted from whatever its answer echoes.
    carried: Carried,
}

/// The secret in a request's body.
#[derive(Debug)]
enum Carried {
    UserSecret(UserSecret),
    RefreshToken(RefreshToken),
}

impl Carried {
    fn secret(&self) -> &str {
        match self {
            Carried::UserSecret(s) => s.secret(),
            Carried::RefreshToken(t) => t.secret(),
        }
    }
}

impl Session {
    /// Creates a session with nothing to start from; add credentials, a refresh token or
    /// a token pair with the `with_*` methods.
    ///
    /// ```
    /// use smartling_auth_core::{Action, BaseUrl, Policy, Session};
    /// let mut s = Session::new(BaseUrl::default(), Policy::default());
    /// assert!(matches!(s.poll(std::time::Instant::now()), Action::Fail(_)));
    /// ```
    pub fn new(base: BaseUrl, policy: Policy) -> Self {
        let rng = policy
            .seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Self {
            base,
            policy,
            credentials: None,
            access: None,
            refresh: None,
            inflight: None,
            next_id: 0,
            failures: 0,
            not_before: None,
            failed: None,
            last_failure: None,
            failure_epoch: 0,
            retrying: None,
            spare_refresh: None,
            last_lifetimes: None,
            rng,
        }
    }

    /// Adds credentials: the session logs in on first use, and again whenever the
    /// refresh token cannot be used.
    ///
    /// ```
    /// use smartling_auth_core::{Action, BaseUrl, Credentials, Policy, RequestKind, Session};
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret"));
    /// let Action::Send(tx) = s.poll(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(tx.kind, RequestKind::Authenticate);
    /// ```
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Continues a session from a bare refresh token whose expiry is unknown: the first
    /// poll refreshes.
    ///
    /// # Which source is used first
    /// A session uses its sources in this order, whatever order they were given in:
    /// 1. the tokens of a snapshot ([`from_snapshot`](Self::from_snapshot)) or a pair
    ///    ([`with_token_pair`](Self::with_token_pair)): the most recent state;
    /// 2. a bare refresh token given here: used once the first session is spent (its
    ///    refresh token refused, expired or near the session cap);
    /// 3. the credentials ([`with_credentials`](Self::with_credentials)): a new login,
    ///    whenever no refresh token can be used.
    ///
    /// ```
    /// use smartling_auth_core::{Action, BaseUrl, Policy, RefreshToken, RequestKind, Session};
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_refresh_token(RefreshToken::new("r"));
    /// let Action::Send(tx) = s.poll(std::time::Instant::now()) else { panic!() };
    /// assert_eq!(tx.kind, RequestKind::Refresh);
    /// ```
    pub fn with_refresh_token(mut self, token: RefreshToken) -> Self {
        if self.refresh.is_some() {
            self.spare_refresh = Some(token);
        } else {
            self.refresh = Some(Refresh::bare(token));
        }
        self
    }

    /// Continues a session from a token pair obtained by a request sent at `sent_at`.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let now = Instant::now();
    /// let mut s = Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair, now);
    /// assert!(matches!(s.poll(now), Action::UseToken(_)));
    /// ```
    pub fn with_token_pair(mut self, pair: TokenPair, sent_at: Instant) -> Self {
        self.hold_back_bare_refresh();
        self.install(sent_at, &pair);
        self
    }

    /// Rebuilds a session from a [`Snapshot`] taken in this or another process.
    /// `now` and `wall_now` are the same moment on the monotonic and the wall clock.
    /// Expired tokens in the snapshot are renewed (or replaced by a login) on first poll.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Duration, Instant, SystemTime};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let (now, wall) = (Instant::now(), SystemTime::now());
    /// let s = Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair, now);
    /// let snap = s.snapshot(now, wall).unwrap();
    /// let later = wall + Duration::from_secs(3600); // the access token is long gone
    /// let mut restored = Session::from_snapshot(BaseUrl::default(), Policy::default(), &snap, now, later);
    /// assert!(matches!(restored.poll(now), Action::Send(_)));
    /// ```
    pub fn from_snapshot(
        base: BaseUrl,
        policy: Policy,
        snapshot: &Snapshot,
        now: Instant,
        wall_now: SystemTime,
    ) -> Self {
        let mut s = Self::new(base, policy);
        let to_instant = |at: SystemTime| match at.duration_since(wall_now) {
            Ok(ahead) => now.checked_add(ahead).unwrap_or(now),
            Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
        };
        let expires = to_instant(snapshot.access_expires_at);
        let refresh_expires = to_instant(snapshot.refresh_expires_at);
        // Margins scale with the lifetime the token was granted. A snapshot that does
        // not record it gets the widest margins (the scaled ones' caps): a short-lived
        // token is then renewed rather than handed out too close to its end.
        let lifetime = snapshot.access_lifetime.unwrap_or(Duration::MAX);
        let margins = s.policy.margins(lifetime);
        s.access = Some(Access {
            token: snapshot.access_token.clone(),
            token_type: snapshot.token_type.clone(),
            expires,
            // When the token was granted is unknown, so the half-life guard of
            // `renew_at` does not apply: refresh ahead as for any token.
            renew_at: s.renew_at_without_guard(now.min(expires), expires, margins),
            margin: margins.min_validity,
            invalidated: false,
        });
        let refresh_left = refresh_expires.saturating_duration_since(now);
        s.refresh = Some(Refresh {
            token: snapshot.refresh_token.clone(),
            expires: Some(refresh_expires),
            margin: s.policy.margins(refresh_left).min_validity,
            state: if snapshot.refresh_usable {
                RefreshState::Usable
            } else {
                RefreshState::Capped
            },
        });
        s.last_lifetimes = snapshot.access_lifetime.map(|a| (a, refresh_left));
        s
    }

    /// Takes a snapshot with wall-clock expiry times, for persisting the session
    /// between processes. `None` before the first token pair.
    ///
    /// # Security
    /// The snapshot holds both tokens; see [`Snapshot::to_json`].
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Instant, SystemTime};
    /// let s = Session::new(BaseUrl::default(), Policy::default());
    /// assert!(s.snapshot(Instant::now(), SystemTime::now()).is_none());
    /// ```
    pub fn snapshot(&self, now: Instant, wall_now: SystemTime) -> Option<Snapshot> {
        let access = self.access.as_ref()?;
        let refresh = self.refresh.as_ref()?;
        let to_wall = |at: Instant| match at.checked_duration_since(now) {
            Some(ahead) => wall_now + ahead,
            None => wall_now - now.duration_since(at),
        };
        Some(Snapshot {
            access_token: access.token.clone(),
            refresh_token: refresh.token.clone(),
            token_type: access.token_type.clone(),
            access_expires_at: to_wall(access.expires),
            // A pair installed through this session always carries its refresh expiry.
            refresh_expires_at: to_wall(refresh.expires.unwrap_or(access.expires)),
            refresh_usable: refresh.state == RefreshState::Usable,
            // A zero lifetime is never handed out and never written: it would not read back.
            access_lifetime: self
                .last_lifetimes
                .map(|(access, _)| access)
                .filter(|a| !a.is_zero()),
        })
    }

    /// Says what to do next. See the contract in the type's docs.
    ///
    /// ```
    /// use smartling_auth_core::{Action, BaseUrl, Credentials, Policy, Session};
    /// use std::time::Instant;
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret"));
    /// let now = Instant::now();
    /// assert!(matches!(s.poll(now), Action::Send(_)));
    /// // single flight: the login is outstanding, so the next poll waits for it
    /// assert!(matches!(s.poll(now), Action::Wait(_)));
    /// ```
    pub fn poll(&mut self, now: Instant) -> Action {
        self.expire_lost_request(now);
        if let Some(e) = &self.failed {
            return Action::Fail(e.clone());
        }
        let valid_until = self.valid_until(now);
        if let Some(f) = &self.inflight {
            let deadline = f.deadline;
            return self.use_or_wait(valid_until, deadline);
        }
        let Some(reason) = self.renewal_reason(now, valid_until) else {
            // No renewal due: `renewal_reason` returns `Some` whenever there is no valid
            // token, so both are present here.
            let renew_at = self.access.as_ref().map_or(now, |a| a.renew_at);
            return self.use_or_wait(valid_until, renew_at);
        };
        if let Some(not_before) = self.not_before.filter(|nb| now < *nb) {
            return self.use_or_wait(valid_until, not_before);
        }
        self.promote_spare_refresh(now);
        match self.next_kind(now) {
            Ok(kind) => Action::Send(self.transmit(now, kind, reason)),
            Err(end) => match valid_until {
                // Nothing can renew it, but the current token still serves until then.
                Some(until) => self.use_or_wait(Some(until), until),
                None => {
                    self.latch(Error::SessionEnded(end));
                    self.poll(now)
                }
            },
        }
    }

    /// Feeds the answer to request `id` back.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::Instant;
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "wrong"));
    /// let now = Instant::now();
    /// let Action::Send(tx) = s.poll(now) else { panic!() };
    /// let body = r#"{"response":{"code":"AUTHENTICATION_ERROR","errors":[{"key":"k","message":"m"}]}}"#;
    /// let answer = http::Response::builder().status(401).body(body).unwrap();
    /// assert!(matches!(s.handle_response(now, tx.id, &answer), Handled::Failed(Error::Api(_))));
    /// assert!(matches!(s.poll(now), Action::Fail(Error::Api(_))));
    /// ```
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &Response<B>,
    ) -> Handled {
        // A request past its `request_timeout` is lost, even if nobody polled since.
        self.expire_lost_request(now);
        if !self.is_outstanding(id) {
            return Handled::Stale;
        }
        let result = parse_token_response_with(response, &self.policy.parse);
        self.complete(now, result)
    }

    /// Reports that request `id` did not complete.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::Instant;
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret"));
    /// let now = Instant::now();
    /// let Action::Send(tx) = s.poll(now) else { panic!() };
    /// let err = TransportError::new(TransportErrorKind::Connect, "refused");
    /// assert!(matches!(s.handle_transport_error(now, tx.id, err), Handled::WillRetry(_)));
    /// assert!(matches!(s.poll(now), Action::Wait(_) | Action::Send(_)));
    /// ```
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        id: RequestId,
        error: TransportError,
    ) -> Handled {
        self.expire_lost_request(now);
        if !self.is_outstanding(id) {
            return Handled::Stale;
        }
        self.complete(now, Err(Error::Transport(error)))
    }

    /// Answers request `id` with tokens another process obtained (read from a shared
    /// token store), issued when that process sent its request (`issued`, on this
    /// process's clock). Nothing is sent; the session treats the pair as that request's
    /// answer, margins and all.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use std::time::{Duration, Instant};
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret"));
    /// let now = Instant::now();
    /// let Action::Send(tx) = s.poll(now) else { panic!() };
    /// let pair = TokenPair::new(AccessToken::new("shared"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// assert!(matches!(s.adopt(now, tx.id, pair, now), Handled::Adopted(_)));
    /// let Action::UseToken(grant) = s.poll(now) else { panic!() };
    /// assert_eq!(grant.access_token.secret(), "shared");
    /// ```
    pub fn adopt(
        &mut self,
        now: Instant,
        id: RequestId,
        pair: TokenPair,
        issued: Instant,
    ) -> Handled {
        self.expire_lost_request(now);
        if !self.is_outstanding(id) {
            return Handled::Stale;
        }
        let Some(mut f) = self.inflight.take() else {
            return Handled::Stale;
        };
        f.sent_at = issued;
        match self.renewed(&f, pair) {
            Handled::Renewed(pair) => Handled::Adopted(pair),
            other => other,
        }
    }

    /// Restarts request `id`'s clock: it goes out only now, after a wait that is part
    /// of renewing (a store flight waiting for another process's record). Its timeout,
    /// and the issue time its answer is dated from, count from `now`. A driver calls
    /// it between its waits, so the session never times out a renewal that is still
    /// being worked on. Never call it once the request is on the wire: its answer
    /// would be dated later than the server issued it. Returns whether `id` is still
    /// outstanding.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use std::time::{Duration, Instant};
    /// let policy = Policy::default();
    /// let mut s = Session::new(BaseUrl::default(), policy.clone())
    ///     .with_credentials(Credentials::new("id", "secret"));
    /// let now = Instant::now();
    /// let Action::Send(tx) = s.poll(now) else { panic!() };
    /// let later = now + policy.request_timeout - Duration::from_secs(1);
    /// assert!(s.restart(later, tx.id));
    /// // Past the first timeout, the request is still outstanding.
    /// assert!(matches!(s.poll(now + policy.request_timeout), Action::Wait(_)));
    /// assert!(!s.restart(later + policy.request_timeout, tx.id)); // timed out since
    /// ```
    pub fn restart(&mut self, now: Instant, id: RequestId) -> bool {
        self.expire_lost_request(now);
        let timeout = self.policy.request_timeout;
        match &mut self.inflight {
            Some(f) if f.id == id => {
                f.sent_at = now;
                f.deadline = now.checked_add(timeout).unwrap_or(now);
                true
            }
            _ => false,
        }
    }

    /// Forgets request `id` without counting a failure: its driver went away (a dropped
    /// future, a panicking thread). The next poll sends a new request at once.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::Instant;
    /// let mut s = Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret"));
    /// let now = Instant::now();
    /// let Action::Send(tx) = s.poll(now) else { panic!() };
    /// assert!(matches!(s.abandon(tx.id), Handled::Abandoned));
    /// assert!(matches!(s.poll(now), Action::Send(_)));
    /// ```
    pub fn abandon(&mut self, id: RequestId) -> Handled {
        if !self.is_outstanding(id) {
            return Handled::Stale;
        }
        self.inflight = None;
        debug!(
            request = id.0,
            "request abandoned by its driver; another caller takes over"
        );
        Handled::Abandoned
    }

    /// Reports that an API call using `token` was answered 401. Unless a newer token
    /// has replaced it already, the next poll renews. Returns whether it was the current
    /// token.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let now = Instant::now();
    /// let mut s = Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair, now);
    /// assert!(!s.invalidate(&AccessToken::new("older")));
    /// assert!(s.invalidate(&AccessToken::new("a")));
    /// assert!(matches!(s.poll(now), Action::Send(_)));
    /// ```
    pub fn invalidate(&mut self, token: &AccessToken) -> bool {
        match &mut self.access {
            Some(a) if !a.invalidated && a.token.same_secret(token) => {
                a.invalidated = true;
                debug!("access token invalidated by a caller");
                true
            }
            _ => false,
        }
    }

    /// The access token an API call refused (see [`invalidate`](Self::invalidate)),
    /// while it is still the session's.
    pub(crate) fn rejected_token(&self) -> Option<&AccessToken> {
        self.access
            .as_ref()
            .filter(|a| a.invalidated)
            .map(|a| &a.token)
    }

    /// Clears a latched failure so that the next poll tries again. A token provider
    /// calls this when a new caller arrives: one failed renewal fails the callers that
    /// waited for it, not every later one.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// let mut s = Session::new(BaseUrl::default(), Policy::default());
    /// let now = std::time::Instant::now();
    /// assert!(matches!(s.poll(now), Action::Fail(_)));
    /// s.rearm();
    /// assert_eq!(s.failure_epoch(), 1);
    /// ```
    pub fn rearm(&mut self) {
        self.failed = None;
    }

    /// Counts the failures latched so far. A waiter that saw epoch `n` before waiting
    /// and finds a larger one after knows its renewal failed.
    ///
    /// ```
    /// let s = smartling_auth_core::Session::new(Default::default(), Default::default());
    /// assert_eq!(s.failure_epoch(), 0);
    /// ```
    pub fn failure_epoch(&self) -> u64 {
        self.failure_epoch
    }

    /// The last latched failure, even after [`rearm`](Self::rearm).
    ///
    /// ```
    /// let s = smartling_auth_core::Session::new(Default::default(), Default::default());
    /// assert!(s.last_failure().is_none());
    /// ```
    pub fn last_failure(&self) -> Option<&Error> {
        self.last_failure.as_ref()
    }

    /// The base URL requests go to.
    ///
    /// ```
    /// let s = smartling_auth_core::Session::new(Default::default(), Default::default());
    /// assert_eq!(s.base_url().as_str(), "https://api.smartling.com");
    /// ```
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// The policy in force.
    ///
    /// ```
    /// let s = smartling_auth_core::Session::new(Default::default(), Default::default());
    /// assert_eq!(s.policy().retry.max_attempts, 6);
    /// ```
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The error of the last try, while the session waits out a backoff before the
    /// next one (no request outstanding). A caller whose deadline falls before the
    /// backoff ends can give up with it at once.
    pub(crate) fn backing_off(&self) -> Option<&Error> {
        self.retrying.as_ref().filter(|_| self.inflight.is_none())
    }

    fn is_outstanding(&self, id: RequestId) -> bool {
        self.inflight.as_ref().is_some_and(|f| f.id == id)
    }

    /// The last instant at which the access token still has `min_validity` left, if it
    /// is usable now.
    fn valid_until(&self, now: Instant) -> Option<Instant> {
        let a = self.access.as_ref().filter(|a| !a.invalidated)?;
        let until = a.expires.checked_sub(a.margin)?;
        (now < until).then_some(until)
    }

    fn use_or_wait(&self, valid_until: Option<Instant>, next_decision: Instant) -> Action {
        match (valid_until, &self.access) {
            (Some(valid_until), Some(a)) => Action::UseToken(Grant {
                access_token: a.token.clone(),
                token_type: a.token_type.clone(),
                valid_until,
                fresh_until: valid_until.min(next_decision),
            }),
            _ => Action::Wait(next_decision),
        }
    }

    fn renewal_reason(&self, now: Instant, valid_until: Option<Instant>) -> Option<Reason> {
        let reason = match &self.access {
            None => Reason::Initial,
            Some(a) if a.invalidated => Reason::Invalidated,
            Some(_) if valid_until.is_none() => Reason::Expired,
            Some(a) if now >= a.renew_at => Reason::RefreshAhead,
            Some(_) => return None,
        };
        Some(if self.failures > 0 {
            Reason::Retry
        } else {
            reason
        })
    }

    fn next_kind(&self, now: Instant) -> Result<RequestKind, SessionEnd> {
        if let Some(r) = &self.refresh {
            let alive = r.is_alive(now);
            if r.state == RefreshState::Usable && alive {
                return Ok(RequestKind::Refresh);
            }
        }
        if self.credentials.is_some() {
            return Ok(RequestKind::Authenticate);
        }
        Err(match &self.refresh {
            None => SessionEnd::NoCredentials,
            Some(r) if r.state == RefreshState::Refused => SessionEnd::RefreshRejected,
            Some(_) => SessionEnd::RefreshExpired,
        })
    }

    fn transmit(&mut self, now: Instant, kind: RequestKind, reason: Reason) -> Transmit {
        let reason = match (kind, &self.refresh) {
            (RequestKind::Authenticate, Some(_)) if self.failures == 0 => Reason::FallbackToLogin,
            _ => reason,
        };
        let (request, carried) = match (kind, &self.credentials, &self.refresh) {
            (RequestKind::Refresh, _, Some(r)) => (
                refresh_request(&self.base, &r.token),
                Carried::RefreshToken(r.token.clone()),
            ),
            (RequestKind::Authenticate, Some(c), _) => (
                authenticate_request(&self.base, c),
                Carried::UserSecret(c.user_secret().clone()),
            ),
            // `next_kind` only picks a kind whose input is present.
            _ => unreachable!("request kind chosen without its input"),
        };
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let attempt = self.failures + 1;
        let deadline = now.checked_add(self.policy.request_timeout).unwrap_or(now);
        self.inflight = Some(InFlight {
            id,
            kind,
            sent_at: now,
            deadline,
            carried,
        });
        debug!(request = id.0, ?kind, ?reason, attempt, "sending");
        Transmit {
            id,
            kind,
            reason,
            attempt,
            request,
        }
    }

    fn expire_lost_request(&mut self, now: Instant) {
        if self.inflight.as_ref().is_some_and(|f| now >= f.deadline) {
            let timeout = TransportError::timeout(self.policy.request_timeout);
            self.complete(now, Err(Error::Transport(timeout)));
        }
    }
}
