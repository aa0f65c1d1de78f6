//! The one driver loop over a [`TokenCache`]: a pump that carries out what the renewal
//! machine ([`Call`]) hands out. Every transport (blocking, async, the command line's)
//! runs it and supplies only how to send, how to wait and where to run a store
//! operation, so none of them makes a decision of its own.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use event_listener::EventListener;

use crate::call::{Call, Step};
use crate::error::{Error, TransportError};
use crate::request::{HttpRequest, HttpResponse};
use crate::session::{Grant, Handled, RequestKind};
use crate::store::{StoreDone, StoreTask};
use crate::token_cache::TokenCache;

/// What a driver needs from a transport: a way to send, a way to wait, a clock, and a
/// place to run blocking store operations.
///
/// The driver polls the futures it gets side by side: a request, a store operation
/// (a lease extension runs while the request is out) and a wait. A transport whose
/// `send` does its work before returning a ready future works too, but a lease it
/// holds then cannot be extended during the request. The returned futures need not
/// be `Send`; when they are, so is [`TokenCache::drive`]'s.
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
///     fn send(&self, _: HttpRequest, _: Option<Duration>)
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
/// let drive = cache.drive(&transport, None, |_, handled| {
///     pairs += matches!(handled, Handled::Renewed(_)) as u32;
/// });
/// // Any executor will do; this transport's futures are always ready.
/// let grant = futures_lite::future::block_on(drive);
/// assert_eq!(grant.unwrap().access_token.secret(), "a.b.c");
/// assert_eq!(pairs, 1);
/// ```
pub trait Transport {
    /// Sends one renewal request. `limit` is how long the caller may still wait (its
    /// deadline); a transport should not let the request run past it. The body holds
    /// a secret: never log it.
    fn send(
        &self,
        request: HttpRequest,
        limit: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>>;

    /// Waits until `until`, or until `listener` fires (another caller's renewal
    /// completed), whichever comes first. Returning early is harmless.
    fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()>;

    /// The driver's clock. The default reads [`Instant::now`]; tests may override it.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Runs a blocking token-store operation ([`StoreTask::run`]). The default runs it
    /// in place, which suits a blocking transport; an async transport moves it to a
    /// thread pool (smol's `blocking::unblock`, tokio's `spawn_blocking`) so it never
    /// blocks the executor. Only used when the cache has a store.
    fn offload(&self, task: StoreTask) -> impl Future<Output = StoreDone> + Send {
        std::future::ready(task.run())
    }

    /// Runs a store operation whose answer nobody awaits: the release of a lease by a
    /// caller that went away. The default runs it in place; an async transport
    /// detaches it onto its thread pool.
    fn detach(&self, task: StoreTask) {
        let _ = task.run();
    }
}

/// What woke the pump.
enum Woke<A> {
    Answer(A),
    Stored(StoreDone),
    Waited,
}

/// A call whose caller may go away: the release its machine asks for then goes to the
/// transport's `detach`.
struct Abandoned<'c, 't, T: Transport> {
    call: Call<'c>,
    transport: &'t T,
}

impl<T: Transport> Drop for Abandoned<'_, '_, T> {
    fn drop(&mut self) {
        if let Some(release) = self.call.abandon() {
            self.transport.detach(release);
        }
    }
}

impl TokenCache {
    /// Runs one caller's [`Call`] to a token: carries out the requests and store
    /// operations it hands out, side by side, and waits where told; gives up at
    /// `limit` after the start (if given) with a timeout, or sooner with the last
    /// try's error when no try can be made in time. `observe` sees each renewal this
    /// caller completed (its kind), with what the session made of it (the new pair, a
    /// record adopted from the store, or the error with its status and code): enough
    /// to report it without parsing the answer again.
    ///
    /// With a [store](crate::store) (see [`with_store`](Self::with_store)), the caller
    /// that would renew runs the store protocol first: it may adopt another process's
    /// record ([`Handled::Adopted`]) instead of sending anything.
    ///
    /// Dropping the future hands the renewal to the next caller; a store lease it
    /// holds is released through [`Transport::detach`] (unless its write is out).
    /// Callers normally try [`cached`](Self::cached) first, which costs no lock; see
    /// [`Transport`] for an example.
    pub async fn drive<T: Transport>(
        &self,
        transport: &T,
        limit: Option<Duration>,
        mut observe: impl FnMut(RequestKind, &Handled),
    ) -> Result<Grant, Error> {
        let start = transport.now();
        let call = match limit {
            Some(limit) => self.call_with_deadline(start, limit),
            None => self.call(),
        };
        let mut pump = Abandoned { call, transport };
        let call = &mut pump.call;
        let mut request = None;
        let mut answer = pin!(None);
        let mut stored = pin!(None);
        loop {
            let now = transport.now();
            let step = call.poll(now);
            while let Some((kind, handled)) = call.poll_event() {
                observe(kind, &handled);
            }
            let until = match step {
                Step::UseToken(grant) => return Ok(grant),
                Step::Fail(e) => return Err(e),
                Step::Send(transmit) => {
                    request = Some(transmit.id);
                    answer.set(Some(transport.send(transmit.request, call.remaining(now))));
                    continue;
                }
                Step::Store(task) => {
                    stored.set(Some(transport.offload(task)));
                    continue;
                }
                Step::Wait(until) => until,
            };
            let woke = {
                // Made when first polled, after the others: a transport whose `wait`
                // blocks then never delays an answer that is already in.
                let mut wait = pin!(async { transport.wait(until, call.listener()).await });
                poll_fn(|cx| {
                    if let Some(a) = answer.as_mut().as_pin_mut()
                        && let Poll::Ready(a) = a.poll(cx)
                    {
                        return Poll::Ready(Woke::Answer(a));
                    }
                    if let Some(s) = stored.as_mut().as_pin_mut()
                        && let Poll::Ready(done) = s.poll(cx)
                    {
                        return Poll::Ready(Woke::Stored(done));
                    }
                    wait.as_mut().poll(cx).map(|()| Woke::Waited)
                })
                .await
            };
            let now = transport.now();
            match woke {
                Woke::Answer(a) => {
                    answer.set(None);
                    if let Some(id) = request.take() {
                        call.handle_response(now, id, a);
                    }
                }
                Woke::Stored(done) => {
                    stored.set(None);
                    call.handle_store(now, done);
                }
                Woke::Waited => {}
            }
        }
    }
}
