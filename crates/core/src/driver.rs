//! The one driver loop over a [`TokenCache`]: every transport (blocking, async, the
//! command line's) runs this loop and supplies only how to send a request and how to
//! wait, so none of them makes a lifecycle decision of its own.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use event_listener::EventListener;

use event_listener::Event;
use tracing::debug;

use crate::error::{Error, TransportError};
use crate::request::{HttpRequest, HttpResponse};
use crate::session::{Grant, Handled, RequestKind};
use crate::store::{Fetched, FlightStep, Record, SharedStore, StoreError};
use crate::token_cache::{Step, TokenCache};

/// What a driver needs from a transport: a way to send, a way to wait, and a clock.
///
/// A blocking transport does its work when `send` or `wait` is called and returns a
/// ready future ([`std::future::ready`]); the loop then runs under any `block_on` (for
/// example `futures_lite::future::block_on`) without ever being pending. An async
/// transport returns its real futures. The returned futures need not be `Send`; when
/// they are, so is [`TokenCache::drive`]'s.
///
/// ```
/// use smartling_auth_core::*;
/// use std::future::{Future, ready};
/// use std::time::{Duration, Instant};
///
/// /// Answers every request with the same body, and waits by blocking the thread.
/// struct Canned(&'static str);
///
/// impl Transport for Canned {
///     fn send(&self, _: &HttpRequest, _: Option<Duration>)
///         -> impl Future<Output = Result<HttpResponse, TransportError>> {
///         ready(Ok(http::Response::builder().status(200).body(self.0.into()).unwrap()))
///     }
///     fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()> {
///         listener.wait_deadline(until);
///         ready(())
///     }
/// }
///
/// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret")));
/// let transport = Canned(r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///     "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660}}}"#);
/// let mut pairs = 0;
/// let grant = {
///     let drive = cache.drive(&transport, None, |_, handled| {
///         pairs += matches!(handled, Handled::Renewed(_)) as u32;
///     });
///     // Any `block_on` will do; a blocking transport's futures are always ready.
///     # let mut drive = std::pin::pin!(drive);
///     # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
///     # let std::task::Poll::Ready(grant) = drive.as_mut().poll(&mut cx) else { panic!() };
///     grant
/// };
/// assert_eq!(grant.unwrap().access_token.secret(), "a.b.c");
/// assert_eq!(pairs, 1);
/// ```
pub trait Transport {
    /// Sends one renewal request. `limit` is how long the caller may still wait (its
    /// deadline); a transport should not let the request run past it.
    fn send(
        &self,
        request: &HttpRequest,
        limit: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>>;

    /// Waits until `until`, or until `listener` fires (another caller's renewal
    /// completed), whichever comes first. Returning early is harmless.
    fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()>;

    /// The driver's clock. The default reads [`Instant::now`]; tests may override it.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Runs a blocking token-store operation (see [`Store`](crate::store::Store)). The
    /// default runs it in place, which suits a blocking transport; an async transport
    /// moves it to a thread pool (smol's `blocking::unblock`, tokio's `spawn_blocking`)
    /// so it never blocks the executor. Only used when the cache has a store.
    fn offload(&self, job: StoreJob) -> impl Future<Output = StoreAnswer> + Send {
        std::future::ready(job.run())
    }

    /// Runs a store operation whose answer nobody awaits: the release of a lease by a
    /// caller that went away. The default runs it in place; an async transport
    /// detaches it onto its thread pool.
    fn detach(&self, job: StoreJob) {
        let _ = job.run();
    }
}

impl TokenCache {
    /// Runs one caller's [`Call`](crate::Call) to a token: sends the renewals it is
    /// handed, waits where told, and gives up at `limit` after the start (if given)
    /// with a timeout, or sooner with the last try's error when no try can be made in
    /// time. `observe` sees each renewal this caller sent (its kind), with what the session made
    /// of its answer (the new pair, or the error with its status and code): enough to
    /// report it without parsing the answer again.
    ///
    /// With a [store](crate::store) (see [`with_store`](Self::with_store)), the caller
    /// that would renew runs the store protocol first: it may adopt another process's
    /// record ([`Handled::Adopted`]) instead of sending anything.
    ///
    /// Dropping the future while it sends hands the renewal to the next caller; a
    /// store lease it holds is released (or, while its write is out, left to that
    /// write and its time to live).
    /// Callers normally try [`cached`](Self::cached) first, which costs no lock; see
    /// [`Transport`] for an example.
    pub async fn drive<T: Transport>(
        &self,
        transport: &T,
        limit: Option<Duration>,
        mut observe: impl FnMut(RequestKind, &Handled),
    ) -> Result<Grant, Error> {
        let start = transport.now();
        let mut call = match limit {
            Some(limit) => self.call_with_deadline(start, limit),
            None => self.call(),
        };
        loop {
            let now = transport.now();
            let renewal = match call.step(now) {
                Step::UseToken(grant) => return Ok(grant),
                Step::Send(renewal) => renewal,
                Step::Wait(until, listener) => {
                    transport.wait(until, listener).await;
                    continue;
                }
                Step::Fail(e) => return Err(e),
            };
            let kind = renewal.transmit().kind;
            let Some(shared) = self.store() else {
                let answer = transport
                    .send(&renewal.transmit().request, call.remaining(now))
                    .await;
                let handled = renewal.complete(transport.now(), answer);
                observe(kind, &handled);
                continue;
            };
            // The store protocol: the flight decides, this carries out what it says.
            // (Written inline: a nested async fn here loses the future's `Send`.)
            let mut renewal = Some(renewal);
            let mut flight = shared.flight(now, call.deadline());
            // The pair this process obtained, for the write.
            let mut renewed = None;
            // Said once per flight, not at every poll.
            let mut waiting = false;
            // Waits between polls are plain sleeps: nothing local can end them early.
            let never = Event::new();
            // A caller that goes away while it holds the lease (a dropped future)
            // releases it, so the fleet does not wait out its time to live.
            let mut held = Held {
                transport,
                shared,
                holder: None,
            };
            loop {
                let now = transport.now();
                // Time spent on the store is part of renewing: the session must not
                // time the renewal out while the flight waits for another process.
                // Should a store operation have outlasted the session's timeout, the
                // renewal is gone (another caller may hold a new one): leave the
                // flight (a held lease is released) rather than send a request whose
                // answer would be dropped, and step the call again.
                if renewal.as_ref().is_some_and(|r| !r.restart(now)) {
                    break;
                }
                match flight.step(now) {
                    FlightStep::Read => {
                        let outcome = transport.offload(jobs::read(shared)).await.read();
                        let done = transport.now();
                        shared.note(done, &outcome, "read");
                        // The token refused by an API call as of now: one refused
                        // while this flight waited is never adopted back.
                        let rejected = self.rejected_token();
                        flight.read_done(
                            done,
                            outcome.map(|f| shared.judge(&f, now, rejected.as_ref())),
                        );
                    }
                    FlightStep::Lease { holder, ttl } => {
                        let outcome = transport
                            .offload(jobs::lease(shared, holder, ttl))
                            .await
                            .flag();
                        let done = transport.now();
                        shared.note(done, &outcome, "lease");
                        if let Ok(false) = outcome
                            && !waiting
                        {
                            waiting = true;
                            debug!(record = %shared.name(), "another process is renewing; waiting for its record");
                        }
                        flight.lease_done(done, outcome);
                        if flight.holding() {
                            held.holder = Some(holder);
                        }
                    }
                    FlightStep::Wait(until) => transport.wait(until, never.listen()).await,
                    FlightStep::Extend { holder, ttl } => {
                        // Handed out only while a request is out (see `Send` below).
                        let outcome = transport
                            .offload(jobs::extend(shared, holder, ttl))
                            .await
                            .flag();
                        let done = transport.now();
                        shared.note(done, &outcome, "extend");
                        flight.extend_done(done, outcome);
                        if !flight.holding() {
                            held.holder = None;
                        }
                    }
                    FlightStep::Pending(_) => {
                        // Every outcome is fed back before the next step, so nothing is
                        // ever awaited here; leave the flight rather than spin.
                        debug_assert!(false, "the flight awaits an outcome nobody runs");
                        break;
                    }
                    FlightStep::Adopt { record, issued } => {
                        if let Some(renewal) = renewal.take() {
                            let handled = renewal.adopt(transport.now(), record.pair, issued);
                            observe(kind, &handled);
                        }
                    }
                    FlightStep::Send => {
                        let Some(renewal) = renewal.take() else {
                            break;
                        };
                        let sent_at = transport.now();
                        // While the request is out, the flight extends the lease it
                        // holds, so a slow server never lets it lapse under a live
                        // holder. The request and one extension run side by side.
                        let answer = {
                            let mut send = pin!(
                                transport
                                    .send(&renewal.transmit().request, call.remaining(sent_at))
                            );
                            let mut extension = pin!(None);
                            let mut answer = None;
                            while answer.is_none() || extension.is_some() {
                                let mut due = None;
                                if answer.is_none() && extension.is_none() {
                                    match flight.step(transport.now()) {
                                        FlightStep::Extend { holder, ttl } => extension.set(Some(
                                            transport.offload(jobs::extend(shared, holder, ttl)),
                                        )),
                                        FlightStep::Pending(at) => due = at,
                                        other => debug_assert!(false, "{other:?} while sending"),
                                    }
                                }
                                // Made when first polled, after the request and the
                                // extension: a transport whose `wait` blocks then never
                                // delays an answer that is already in.
                                let mut timer = pin!(async {
                                    match due {
                                        Some(at) => transport.wait(at, never.listen()).await,
                                        None => std::future::pending().await,
                                    }
                                });
                                let sending = answer.is_none();
                                let woke = std::future::poll_fn(|cx| {
                                    if sending && let Poll::Ready(a) = send.as_mut().poll(cx) {
                                        return Poll::Ready(Woke::Answer(a));
                                    }
                                    if let Some(e) = extension.as_mut().as_pin_mut()
                                        && let Poll::Ready(outcome) = e.poll(cx)
                                    {
                                        return Poll::Ready(Woke::Extended(outcome.flag()));
                                    }
                                    timer.as_mut().poll(cx).map(|()| Woke::Due)
                                })
                                .await;
                                match woke {
                                    Woke::Answer(a) => answer = Some(a),
                                    Woke::Extended(outcome) => {
                                        extension.set(None);
                                        let done = transport.now();
                                        shared.note(done, &outcome, "extend");
                                        flight.extend_done(done, outcome);
                                        if !flight.holding() {
                                            held.holder = None;
                                        }
                                    }
                                    Woke::Due => {}
                                }
                            }
                            let Some(answer) = answer else {
                                unreachable!("the loop ends with the answer in")
                            };
                            answer
                        };
                        let handled = renewal.complete(transport.now(), answer);
                        observe(kind, &handled);
                        if let Handled::Renewed(pair) = &handled {
                            renewed = Some(pair.clone());
                        }
                        flight.sent(transport.now(), renewed.as_ref().map(|_| sent_at));
                    }
                    FlightStep::Write {
                        expected,
                        version,
                        issued_at,
                    } => {
                        let Some(pair) = renewed.take() else {
                            flight.write_done(transport.now(), Ok(false));
                            continue;
                        };
                        let record = Record::new(pair, issued_at);
                        let ttl = SharedStore::record_ttl(&record);
                        let stored = shared.encode(&record, version);
                        // While the write is out, a caller that goes away leaves the
                        // lease to it: a release could overtake the write, and let
                        // another process renew over a record about to land. The
                        // others adopt the record on their next poll (or, should the
                        // write fail, take the lease when its time to live ends).
                        let holder = held.holder.take();
                        let outcome = transport
                            .offload(jobs::write(shared, expected, stored, ttl))
                            .await
                            .flag();
                        held.holder = holder;
                        let done = transport.now();
                        shared.note(done, &outcome, "write");
                        match outcome {
                            Ok(true) => {
                                debug!(record = %shared.name(), version, "shared the new tokens")
                            }
                            Ok(false) => {
                                debug!(record = %shared.name(), expected, "a newer record exists; not replacing it")
                            }
                            Err(_) => {}
                        }
                        flight.write_done(done, outcome);
                    }
                    FlightStep::Release { holder } => {
                        let outcome = transport
                            .offload(jobs::release(shared, holder))
                            .await
                            .unit();
                        let done = transport.now();
                        shared.note(done, &outcome, "release");
                        flight.release_done(done, outcome);
                        held.holder = None;
                    }
                    FlightStep::Done => {
                        // Ended as the protocol says: a lease still held here belongs
                        // to a store that failed, and ends with its time to live.
                        held.holder = None;
                        break;
                    }
                }
            }
        }
    }
}

/// What woke the driver while its request was out.
enum Woke<A> {
    Answer(A),
    Extended(Result<bool, StoreError>),
    Due,
}

/// The lease a flight holds, released if the flight is dropped before it ends.
struct Held<'a, T: Transport> {
    transport: &'a T,
    shared: &'a SharedStore,
    holder: Option<crate::store::LeaseId>,
}

impl<T: Transport> Drop for Held<'_, T> {
    fn drop(&mut self) {
        if let Some(holder) = self.holder.take() {
            debug!(record = %self.shared.name(), "renewal dropped while holding the store lease; releasing it");
            self.transport.detach(jobs::release(self.shared, holder));
        }
    }
}

/// A blocking token-store operation, for [`Transport::offload`]: run it where
/// blocking is fine, and hand back its answer.
pub struct StoreJob(Box<dyn FnOnce() -> StoreAnswer + Send + 'static>);

impl std::fmt::Debug for StoreJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreJob")
    }
}

impl StoreJob {
    /// Runs the operation, blocking the thread until it returns (each store bounds its
    /// own operations in time).
    ///
    /// ```
    /// // Transports call it inside `Transport::offload`, e.g. `blocking::unblock(move || job.run())`.
    /// fn takes(job: smartling_auth_core::store::StoreJob) -> smartling_auth_core::store::StoreAnswer { job.run() }
    /// ```
    pub fn run(self) -> StoreAnswer {
        (self.0)()
    }
}

/// What a [`StoreJob`] returned; only the driver reads it.
#[derive(Debug)]
pub struct StoreAnswer(Answer);

#[derive(Debug)]
enum Answer {
    Read(Result<Fetched, StoreError>),
    Flag(Result<bool, StoreError>),
    Unit(Result<(), StoreError>),
}

/// The store operations as jobs. Their types are concrete and carry no lifetimes, which
/// keeps the driver's future `Send` on every executor.
mod jobs {
    use std::time::Duration;

    use super::{Answer, StoreAnswer, StoreJob};
    use crate::store::{Fetched, LeaseId, SharedStore, StoreError, Stored};

    pub(super) fn read(shared: &SharedStore) -> StoreJob {
        let (store, name) = (shared.store().clone(), shared.name().clone());
        StoreJob(Box::new(move || {
            StoreAnswer(Answer::Read(store.read(&name)))
        }))
    }

    pub(super) fn lease(shared: &SharedStore, holder: LeaseId, ttl: Duration) -> StoreJob {
        let (store, name) = (shared.store().clone(), shared.name().clone());
        StoreJob(Box::new(move || {
            StoreAnswer(Answer::Flag(store.lease(&name, holder, ttl)))
        }))
    }

    pub(super) fn extend(shared: &SharedStore, holder: LeaseId, ttl: Duration) -> StoreJob {
        let (store, name) = (shared.store().clone(), shared.name().clone());
        StoreJob(Box::new(move || {
            StoreAnswer(Answer::Flag(store.extend(&name, holder, ttl)))
        }))
    }

    pub(super) fn write(
        shared: &SharedStore,
        expected: u64,
        stored: Stored,
        ttl: Duration,
    ) -> StoreJob {
        let (store, name) = (shared.store().clone(), shared.name().clone());
        StoreJob(Box::new(move || {
            StoreAnswer(Answer::Flag(store.write(&name, expected, &stored, ttl)))
        }))
    }

    pub(super) fn release(shared: &SharedStore, holder: LeaseId) -> StoreJob {
        let (store, name) = (shared.store().clone(), shared.name().clone());
        StoreJob(Box::new(move || {
            StoreAnswer(Answer::Unit(store.release(&name, holder)))
        }))
    }

    fn mismatch() -> StoreError {
        StoreError::new(
            crate::store::StoreErrorKind::Other,
            "a transport's offload returned another job's answer",
        )
    }

    impl StoreAnswer {
        pub(super) fn read(self) -> Result<Fetched, StoreError> {
            match self.0 {
                Answer::Read(r) => r,
                _ => Err(mismatch()),
            }
        }

        pub(super) fn flag(self) -> Result<bool, StoreError> {
            match self.0 {
                Answer::Flag(r) => r,
                _ => Err(mismatch()),
            }
        }

        pub(super) fn unit(self) -> Result<(), StoreError> {
            match self.0 {
                Answer::Unit(r) => r,
                _ => Err(mismatch()),
            }
        }
    }
}
