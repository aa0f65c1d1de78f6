//! Running a future without a runtime: the core's driver over a blocking or scripted
//! transport, and a provider's hot path, complete on their first poll.

use std::future::Future;
use std::pin::pin;
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
