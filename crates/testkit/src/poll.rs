//! Running a future without a runtime (the core's driver over a blocking or scripted
//! transport, and a provider's hot path, complete on their first poll), and lining a
//! caller up behind a renewal in flight.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Polls `future` once with a no-op waker: its output, or `None` if it is pending.
///
/// ```
/// use smartling_auth_testkit::poll::poll_once;
/// assert_eq!(poll_once(async { 7 }), Some(7));
/// assert_eq!(poll_once(std::future::pending::<u8>()), None);
/// ```
#[inline]
pub fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// The output of a future that must be ready on its first poll; panics if it is not
/// (a scripted transport never waits for real).
///
/// ```
/// assert_eq!(smartling_auth_testkit::poll::ready_now(async { "done" }), "done");
/// ```
#[track_caller]
pub fn ready_now<F: Future>(future: F) -> F::Output {
    poll_once(future).expect("a future over a scripted transport is never pending")
}

/// Polls `future` once (a provider's call finds the renewal in flight and starts
/// waiting for it), adds one to `waiting`, then awaits it. A test spawns many of these
/// and waits for `waiting` to reach their number: every caller is then in line.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use smartling_auth_testkit::poll::{poll_once, wait_in_line};
/// let waiting = AtomicUsize::new(0);
/// assert_eq!(poll_once(wait_in_line(async { 3 }, &waiting)), Some(3));
/// assert_eq!(waiting.load(Ordering::SeqCst), 1);
/// ```
pub async fn wait_in_line<F: Future>(future: F, waiting: &AtomicUsize) -> F::Output {
    let mut future = pin!(future);
    let first = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    waiting.fetch_add(1, Ordering::SeqCst);
    match first {
        Poll::Ready(output) => output,
        Poll::Pending => future.await,
    }
}
