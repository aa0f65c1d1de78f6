//! The renewal machine: one caller's walk from a local miss to a token, sans-IO. It
//! owns every decision between the two: the session step, the store protocol
//! ([`Flight`]), judging the records it reads, building and sealing the record it
//! writes, the store's health, the token an API call refused, and the restart of a
//! renewal's clock while it waits on another process. A driver only carries out what
//! [`Call::poll`] hands out and feeds each outcome back.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use event_listener::EventListener;
use tracing::debug;

use crate::error::{Error, TransportError};
use crate::request::HttpResponse;
use crate::response::TokenPair;
use crate::session::{Action, Grant, Handled, RequestId, RequestKind, Transmit};
use crate::store::op::Outcome;
use crate::store::{
    Flight, FlightStep, Record, SharedStore, StoreDone, StoreOp, StoreTask, Watched,
};
use crate::token_cache::TokenCache;

/// How long a [`Step::Wait`] lasts when nothing but an outstanding answer can end it
/// (no deadline): the driver is woken by the answer long before.
const IDLE: Duration = Duration::from_secs(3600);

/// What a caller's driver does next: the verbs of [`Action`], plus a store operation.
///
/// ```
/// use smartling_auth_core::*;
/// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret")));
/// assert!(matches!(cache.call().poll(std::time::Instant::now()), Step::Send(_)));
/// ```
#[derive(Debug)]
pub enum Step {
    /// Use this token.
    UseToken(Grant),
    /// Send this request and feed its answer to [`Call::handle_response`] with its id.
    /// Dropping the call before that hands the renewal to another caller.
    Send(Transmit),
    /// Carry out this store operation and feed what it returns to
    /// [`Call::handle_store`]. Only with a [store](crate::store).
    Store(StoreTask),
    /// Nothing to do before this instant, unless an answer or a store outcome arrives,
    /// or [`Call::listener`] fires (another caller's renewal ended): wait for
    /// whichever comes first, then poll again.
    Wait(Instant),
    /// Give up with this error.
    Fail(Error),
}

/// The renewal this caller owns: handed out by the session, answered or adopted once.
#[derive(Debug)]
struct Owned {
    id: RequestId,
    kind: RequestKind,
    /// The request, until it is handed out.
    transmit: Option<Transmit>,
    /// When it was handed out; from then on its clock is never restarted.
    sent_at: Option<Instant>,
}

/// The store operation out, and what the machine needs to take its outcome back.
#[derive(Debug, Clone, Copy)]
struct Out {
    id: u64,
    what: Kind,
    /// When it was handed out: a read is judged from its start.
    at: Instant,
}

/// Which operation is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Lease,
    Extend,
    Write,
    Release,
    Watch,
}

impl Kind {
    fn of(op: &StoreOp) -> Self {
        match op {
            StoreOp::Read => Kind::Read,
            StoreOp::Lease { .. } => Kind::Lease,
            StoreOp::Extend { .. } => Kind::Extend,
            StoreOp::Write { .. } => Kind::Write,
            StoreOp::Release { .. } => Kind::Release,
            StoreOp::Watch { .. } => Kind::Watch,
        }
    }

    /// Its name in the store's health warnings.
    fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Lease => "lease",
            Kind::Extend => "extend",
            Kind::Write => "write",
            Kind::Release => "release",
            Kind::Watch => "watch",
        }
    }
}

/// One caller's walk to a token over a [`TokenCache`]: a sans-IO state machine with
/// quinn-proto's contract.
///
/// - [`poll`](Self::poll) says what to do next. Call it after every input until it
///   answers [`Step::Wait`], [`Step::UseToken`] or [`Step::Fail`]. Each
///   [`Step::Send`] and [`Step::Store`] is handed out once; at most one request and
///   one store operation are out at a time (a lease extension runs beside the
///   request). Polling again early is harmless: it answers the same wait.
/// - [`handle_response`](Self::handle_response) and
///   [`handle_store`](Self::handle_store) feed each outcome back, tagged with the id
///   it was handed out with; an outcome with a stale id is ignored.
/// - [`poll_event`](Self::poll_event) reports each renewal this caller completed
///   (sent and answered, or adopted from the store).
/// - A caller that goes away calls [`abandon`](Self::abandon) and carries out the
///   release it returns, if any (dropping the call hands its renewal back, but cannot
///   do the store's I/O).
///
/// [`TokenCache::drive`] is that loop for any [`Transport`](crate::Transport). By hand,
/// blocking, without a store:
///
/// ```
/// use smartling_auth_core::*;
/// use std::time::Instant;
///
/// fn access_token(cache: &TokenCache, send: impl Fn(&HttpRequest) -> HttpResponse)
///     -> Result<AccessToken, Error>
/// {
///     if let Some(token) = cache.cached(Instant::now()) {
///         return Ok(token); // hot path: no lock
///     }
///     let mut call = cache.call();
///     loop {
///         match call.poll(Instant::now()) {
///             Step::UseToken(grant) => return Ok(grant.access_token),
///             Step::Send(tx) => {
///                 let answer = send(&tx.request);
///                 call.handle_response(Instant::now(), tx.id, Ok(answer));
///             }
///             Step::Store(task) => call.handle_store(Instant::now(), task.run()),
///             Step::Wait(until) => { call.listener().wait_deadline(until); }
///             Step::Fail(e) => return Err(e),
///         }
///     }
/// }
///
/// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret")));
/// let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///     "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660}}}"#;
/// let send = |_: &HttpRequest| http::Response::builder().status(200).body(body.into()).unwrap();
/// assert_eq!(access_token(&cache, send).unwrap().secret(), "a.b.c");
/// assert!(cache.cached(Instant::now()).is_some());
/// ```
#[derive(Debug)]
pub struct Call<'a> {
    cache: &'a TokenCache,
    /// The failure epoch when this call started; `None` before the first poll.
    epoch: Option<u64>,
    /// When the call gives up, and the limit it was given (for the message).
    deadline: Option<(Instant, Duration)>,
    renewal: Option<Owned>,
    flight: Option<Flight>,
    /// The store operation out, if any.
    out: Option<Out>,
    next_op: u64,
    /// The pair this caller's renewal obtained, for the flight's write.
    renewed: Option<TokenPair>,
    events: VecDeque<(RequestKind, Handled)>,
    /// Armed under the session's lock when the session said wait, so a renewal that
    /// ends in between is not missed.
    listener: Option<EventListener>,
    /// "Another process is renewing" is said once per flight.
    said_waiting: bool,
    /// This flight's last read: when it was handed out, and the store's clock in it.
    /// A record a watch hears of that is newer than that read found, written by a
    /// later store clock, was written after the read began.
    last_read: Option<(Instant, SystemTime)>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(cache: &'a TokenCache, deadline: Option<(Instant, Duration)>) -> Self {
        Self {
            cache,
            epoch: None,
            deadline,
            renewal: None,
            flight: None,
            out: None,
            next_op: 0,
            renewed: None,
            events: VecDeque::new(),
            listener: None,
            said_waiting: false,
            last_read: None,
        }
    }

    /// What to do now; see [`Call`] for the contract.
    ///
    /// With a deadline, the call fails once it has passed, and fails at once (with the
    /// error of the last try) when the session is backing off until after it: no
    /// request can be sent in time, so waiting would only delay the same answer.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let mut first = cache.call();
    /// let Step::Send(_) = first.poll(now) else { panic!() };
    /// // a second caller waits for the first one's renewal
    /// assert!(matches!(cache.call().poll(now), Step::Wait(_)));
    /// ```
    pub fn poll(&mut self, now: Instant) -> Step {
        loop {
            if self.flight.is_some() {
                if let Some(step) = self.poll_flight(now) {
                    return step;
                }
                continue;
            }
            if let Some(owned) = &mut self.renewal {
                if let Some(transmit) = owned.transmit.take() {
                    owned.sent_at = Some(now);
                    return Step::Send(transmit);
                }
                // The answer is awaited; the transport ends the request by the deadline.
                return Step::Wait(self.wait_limit(now, now + IDLE));
            }
            if let Some(step) = self.poll_session(now) {
                return step;
            }
        }
    }

    /// Feeds the answer to the request handed out as `id` back (a stale id is
    /// ignored), and wakes every waiting caller. What the session made of it comes out
    /// of [`poll_event`](Self::poll_event).
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::error::TransportErrorKind;
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let now = std::time::Instant::now();
    /// let mut call = cache.call();
    /// let Step::Send(tx) = call.poll(now) else { panic!() };
    /// call.handle_response(now, tx.id, Err(TransportError::new(TransportErrorKind::Connect, "refused")));
    /// assert!(matches!(call.poll_event(), Some((_, Handled::WillRetry(_)))));
    /// ```
    pub fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<HttpResponse, TransportError>,
    ) {
        let Some(owned) = self.renewal.take_if(|o| o.id == id && o.sent_at.is_some()) else {
            return;
        };
        if let Err(e) = &result {
            debug!(request = ?id, kind = ?owned.kind, error = %e, "request failed");
        }
        let handled = self.cache.finish(|session| match result {
            Ok(response) => session.handle_response(now, id, &response),
            Err(error) => session.handle_transport_error(now, id, error),
        });
        if let Some(flight) = &mut self.flight {
            let renewed = match &handled {
                Handled::Renewed(pair) => {
                    self.renewed = Some(pair.clone());
                    owned.sent_at
                }
                _ => None,
            };
            flight.sent(now, renewed);
        }
        self.events.push_back((owned.kind, handled));
    }

    /// Feeds a store operation's outcome back (one with a stale id is ignored): the
    /// record read is judged, the store's health noted, and the flight moves on.
    ///
    /// See [`StoreTask`] for an example.
    pub fn handle_store(&mut self, now: Instant, done: StoreDone) {
        let Some(out) = self.out.take_if(|o| o.id == done.id) else {
            return;
        };
        let (Some(shared), Some(flight)) = (self.cache.store(), self.flight.as_mut()) else {
            return;
        };
        // A watch that fails costs a quiet wait, not the store's use: the read after
        // it notes whether the store is down.
        if out.what != Kind::Watch {
            shared.note(now, done.outcome.error(), out.what.name());
        }
        match (out.what, done.outcome) {
            (Kind::Read, Outcome::Read(read)) => {
                self.last_read = read.as_ref().ok().map(|f| (out.at, f.now));
                // The token refused by an API call as of now: one refused while this
                // flight waited is never adopted back.
                let rejected = self.cache.rejected_token();
                let judged = read.map(|f| shared.judge(&f, out.at, rejected.as_ref()));
                flight.read_done(now, judged);
            }
            (Kind::Watch, Outcome::Watch(Ok(Watched::Written(fetched))))
                if let Some((read_at, store_then)) = self.last_read
                    && fetched.now > store_then
                    && fetched
                        .record
                        .as_ref()
                        .is_some_and(|r| r.version > flight.expected()) =>
            {
                // Written after this flight's last read began (a newer version, by a
                // later store clock: a late word of a record the store has since lost
                // is neither), so judged from that instant: never younger than it
                // is, however late the word came.
                let rejected = self.cache.rejected_token();
                let judged = shared.judge(&fetched, read_at, rejected.as_ref());
                flight.read_done(now, Ok(judged));
            }
            (Kind::Watch, Outcome::Watch(heard)) => {
                if let Err(e) = &heard {
                    debug!(error = %e, "the store's watch failed; reading it after a quiet wait");
                }
                // Old news (a record no newer than the last read's, or written by an
                // earlier store clock) reads the store.
                let heard = heard.map(|w| match w {
                    Watched::Written(_) => Watched::Changed,
                    other => other,
                });
                flight.watch_done(now, heard);
            }
            (Kind::Lease, Outcome::Flag(taken)) => {
                if let Ok(false) = taken
                    && !std::mem::replace(&mut self.said_waiting, true)
                {
                    debug!(record = %shared.name(), "another process is renewing; waiting for its record");
                }
                flight.lease_done(now, taken);
            }
            (Kind::Extend, Outcome::Flag(held)) => flight.extend_done(now, held),
            (Kind::Write, Outcome::Flag(written)) => {
                match written {
                    Ok(true) => debug!(record = %shared.name(), "shared the new tokens"),
                    Ok(false) => {
                        debug!(record = %shared.name(), "a newer record exists; not replacing it")
                    }
                    Err(_) => {}
                }
                flight.write_done(now, written);
            }
            (Kind::Release, Outcome::Unit(released)) => flight.release_done(now, released),
            (what, outcome) => unreachable!("a {what:?} answered with {outcome:?}"),
        }
    }

    /// The next renewal this caller completed: its kind, and what the session made of
    /// it ([`Handled::Renewed`], [`Handled::Adopted`], or the error).
    ///
    /// See [`handle_response`](Self::handle_response) for an example.
    pub fn poll_event(&mut self) -> Option<(RequestKind, Handled)> {
        self.events.pop_front()
    }

    /// What [`Step::Wait`] also waits for: another caller's renewal ending. Armed by
    /// the poll that answered the wait, so nothing in between is missed.
    ///
    /// ```
    /// use smartling_auth_core::{Listener, Session, Step, TokenCache};
    /// let cache = TokenCache::new(Session::new(Default::default(), Default::default()));
    /// let mut call = cache.call();
    /// let _ = call.listener().wait_timeout(std::time::Duration::ZERO);
    /// ```
    pub fn listener(&mut self) -> EventListener {
        self.listener
            .take()
            .unwrap_or_else(|| self.cache.changed.listen())
    }

    /// How long the call may still take from `now`, if it has a deadline: the limit of
    /// the request a driver sends.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use std::time::{Duration, Instant, SystemTime};
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

    /// The caller goes away (a dropped future, a panic): its renewal is handed to the
    /// next caller, and a store lease it holds is to be released with the task this
    /// returns (run it, or hand it to a thread pool; nobody awaits it). While its write
    /// is out, the lease is left to that write: a release could overtake it and let
    /// another process renew over a record about to land.
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
    ///     .with_credentials(Credentials::new("id", "secret")));
    /// let mut call = cache.call();
    /// let Step::Send(_) = call.poll(std::time::Instant::now()) else { panic!() };
    /// assert!(call.abandon().is_none()); // no store, no lease
    /// // the renewal was handed back: the next caller sends
    /// assert!(matches!(cache.call().poll(std::time::Instant::now()), Step::Send(_)));
    /// ```
    pub fn abandon(&mut self) -> Option<StoreTask> {
        self.hand_back();
        let flight = self.flight.take()?;
        let writing = self.out.is_some_and(|o| o.what == Kind::Write);
        if !flight.holding() || writing {
            return None;
        }
        debug!("renewal dropped while holding the store lease; releasing it");
        let shared = self.cache.store()?;
        Some(self.task(
            shared,
            StoreOp::Release {
                holder: flight.holder(),
            },
        ))
    }

    /// The session's step, when no renewal of this caller's is under way. `None`: a
    /// renewal was handed out, poll again.
    fn poll_session(&mut self, now: Instant) -> Option<Step> {
        let cache = self.cache;
        if let Some((at, limit)) = self.deadline
            && now >= at
        {
            return Some(Step::Fail(Error::Transport(TransportError::timeout(limit))));
        }
        let mut session = cache.lock();
        match self.epoch {
            None => {
                self.epoch = Some(session.failure_epoch());
                session.rearm();
            }
            Some(epoch) if session.failure_epoch() > epoch => {
                if let Some(e) = session.last_failure() {
                    return Some(Step::Fail(e.clone()));
                }
            }
            Some(_) => {}
        }
        Some(match session.poll(now) {
            Action::UseToken(grant) => {
                cache.fast.publish(&grant.access_token, grant.fresh_until);
                Step::UseToken(grant)
            }
            Action::Send(transmit) => {
                self.renewal = Some(Owned {
                    id: transmit.id,
                    kind: transmit.kind,
                    transmit: Some(transmit),
                    sent_at: None,
                });
                // With a store, the protocol first: another process may have renewed.
                if let Some(shared) = cache.store() {
                    self.flight = Some(shared.flight(now, self.deadline.map(|(at, _)| at)));
                    self.said_waiting = false;
                    self.last_read = None;
                }
                return None;
            }
            Action::Wait(until) => {
                // Listen before the lock is released, so a completion in between is
                // not missed.
                self.listener = Some(cache.changed.listen());
                if let Some((at, _)) = self.deadline.filter(|(at, _)| until >= *at) {
                    if let Some(e) = session.backing_off() {
                        debug!("the next try falls after the call's deadline; giving up");
                        return Some(Step::Fail(e.clone()));
                    }
                    return Some(Step::Wait(at));
                }
                let wait_ms = until.saturating_duration_since(now).as_millis() as u64;
                debug!(wait_ms, "waiting for a renewal or a backoff");
                Step::Wait(until)
            }
            Action::Fail(e) => Step::Fail(e),
        })
    }

    /// The flight's step. `None`: the flight moved on without I/O, poll again.
    fn poll_flight(&mut self, now: Instant) -> Option<Step> {
        let shared = self.cache.store()?;
        let flight = self.flight.as_mut()?;
        // Time spent on the store is part of renewing: the session must not time the
        // renewal out while the flight waits for another process. Should a store
        // operation have outlasted the session's timeout, the renewal is gone (another
        // caller may hold a new one): leave the flight rather than send a request
        // whose answer would be dropped.
        if let Some(owned) = &self.renewal
            && owned.sent_at.is_none()
            && self.out.is_none()
            && !self.cache.lock().restart(now, owned.id)
        {
            self.renewal = None;
            flight.renewal_lost();
        }
        match flight.step(now) {
            FlightStep::Read => Some(self.hand_out(now, shared, StoreOp::Read)),
            FlightStep::Lease { holder, ttl } => {
                Some(self.hand_out(now, shared, StoreOp::Lease { holder, ttl }))
            }
            FlightStep::Extend { holder, ttl } => {
                Some(self.hand_out(now, shared, StoreOp::Extend { holder, ttl }))
            }
            FlightStep::Wait(until) => Some(Step::Wait(until)),
            FlightStep::Watch { since, until } => {
                Some(self.hand_out(now, shared, StoreOp::Watch { since, until }))
            }
            FlightStep::Pending(at) => {
                Some(Step::Wait(self.wait_limit(now, at.unwrap_or(now + IDLE))))
            }
            FlightStep::Adopt { record, issued } => {
                if let Some(owned) = self.renewal.take() {
                    let handled = self
                        .cache
                        .finish(|session| session.adopt(now, owned.id, record.pair, issued));
                    self.events.push_back((owned.kind, handled));
                }
                None
            }
            FlightStep::Send => {
                match self.renewal.as_mut() {
                    Some(owned) if owned.transmit.is_some() => {
                        owned.sent_at = Some(now);
                        owned.transmit.take().map(Step::Send)
                    }
                    // Never reached: a lost renewal leaves the flight first.
                    _ => {
                        flight.sent(now, None);
                        None
                    }
                }
            }
            FlightStep::Write {
                expected,
                version,
                issued_at,
            } => {
                let Some(pair) = self.renewed.take() else {
                    flight.write_done(now, Ok(false));
                    return None;
                };
                let record = Record::new(pair, issued_at);
                let ttl = SharedStore::record_ttl(&record);
                let record = shared.encode(&record, version);
                Some(self.hand_out(
                    now,
                    shared,
                    StoreOp::Write {
                        expected,
                        record,
                        ttl,
                    },
                ))
            }
            FlightStep::Release { holder } => {
                Some(self.hand_out(now, shared, StoreOp::Release { holder }))
            }
            FlightStep::Done => {
                self.flight = None;
                // The flight ended without sending (the caller's deadline passed while
                // another process renewed, or the renewal was lost): hand the renewal
                // back; the session step then fails the call or starts anew.
                if self.renewal.as_ref().is_some_and(|o| o.sent_at.is_none()) {
                    self.hand_back();
                }
                None
            }
        }
    }

    fn hand_out(&mut self, now: Instant, shared: &SharedStore, op: StoreOp) -> Step {
        let what = Kind::of(&op);
        let task = self.task(shared, op);
        self.out = Some(Out {
            id: task.id,
            what,
            at: now,
        });
        Step::Store(task)
    }

    fn task(&mut self, shared: &SharedStore, op: StoreOp) -> StoreTask {
        self.next_op += 1;
        StoreTask {
            id: self.next_op,
            op,
            store: shared.store().clone(),
            name: shared.name().clone(),
        }
    }

    /// Hands an unanswered renewal back to the session, for the next caller.
    fn hand_back(&mut self) {
        if let Some(owned) = self.renewal.take() {
            self.cache.finish(|session| session.abandon(owned.id));
        }
    }

    /// `until`, or the deadline if sooner. Once the deadline has passed, only the
    /// answer that is out can move the call on (the transport ends the request by
    /// the deadline): a wait that ended at once would only spin.
    fn wait_limit(&self, now: Instant, until: Instant) -> Instant {
        match self.deadline {
            Some((at, _)) if at > now => until.min(at),
            _ => until,
        }
    }
}

impl Drop for Call<'_> {
    /// Dropped unfinished (a cancelled future, a panic): the renewal goes to the next
    /// caller at once. A held lease needs I/O to release: see [`Call::abandon`].
    fn drop(&mut self) {
        self.hand_back();
    }
}
