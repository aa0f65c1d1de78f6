//! The test policies. Two needs, two functions: fake-clock tests want exact instants
//! ([`exact_policy`]: no refresh jitter, a fixed seed, the default retries), and tests
//! against the emulator want failures to resolve in milliseconds ([`quick_policy`]:
//! the same, with [`quick_retry`]).

use std::time::Duration;

use smartling_auth_core::{Policy, RetryPolicy};

/// The seed of every test policy, so a failing run replays.
pub const SEED: u64 = 7;

/// The default policy with no refresh jitter and the seed [`SEED`]: every instant a
/// session reports is exact, and the backoff's jitter is the same on every run.
///
/// ```
/// use std::time::Duration;
/// let p = smartling_auth_testkit::policy::exact_policy();
/// assert_eq!(p.refresh_jitter, Some(Duration::ZERO));
/// assert_eq!(p.retry, Default::default());
/// ```
pub fn exact_policy() -> Policy {
    let mut p = Policy::default();
    p.refresh_jitter = Some(Duration::ZERO);
    p.seed = Some(SEED);
    p
}

/// Retries in tens of milliseconds: 20 ms doubling up to 200 ms, six attempts, a
/// server's `Retry-After` honoured up to 2 s.
///
/// ```
/// let r = smartling_auth_testkit::policy::quick_retry();
/// assert_eq!(r.max_delay.as_millis(), 200);
/// assert_eq!(r.max_attempts, 6);
/// ```
pub fn quick_retry() -> RetryPolicy {
    let mut r = RetryPolicy::default();
    r.base_delay = Duration::from_millis(20);
    r.max_delay = Duration::from_millis(200);
    r.max_attempts = 6;
    r.max_retry_after = Duration::from_secs(2);
    r
}

/// [`exact_policy`] with [`quick_retry`]: for tests against a real server, where a
/// fault should resolve quickly and the same way on every run.
///
/// ```
/// let p = smartling_auth_testkit::policy::quick_policy();
/// assert_eq!(p.retry, smartling_auth_testkit::policy::quick_retry());
/// assert_eq!(p.seed, Some(smartling_auth_testkit::policy::SEED));
/// ```
pub fn quick_policy() -> Policy {
    let mut p = exact_policy();
    p.retry = quick_retry();
    p
}
