//! The knobs of the lifecycle, with the defaults the issue tracker settled on.

use std::time::Duration;

use crate::response::ParseOptions;

/// How a [`Session`](crate::Session) renews, retries and judges token lifetimes.
///
/// Fields are public so a policy reads like configuration; the struct is
/// `#[non_exhaustive]`, so start from [`Policy::default`] and set what you need.
///
/// ```
/// use smartling_auth_core::Policy;
/// use std::time::Duration;
/// let mut policy = Policy::default();
/// policy.refresh_ahead = Duration::from_secs(90);
/// policy.retry.max_attempts = 10;
/// policy.seed = Some(7); // deterministic jitter, for tests
/// assert_eq!(policy.min_validity, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// Start renewing once the access token is this close to expiry. Default 60 s.
    pub refresh_ahead: Duration,
    /// A random extra in `0..=refresh_jitter` added to `refresh_ahead` per token, so a
    /// fleet started together does not refresh in step. Default 30 s.
    pub refresh_jitter: Duration,
    /// A token is handed out only with at least this much life left: the hard margin
    /// that covers the latency of the caller's own API call. Default 30 s.
    pub min_validity: Duration,
    /// A request not answered within this long is taken as lost (its late answer is
    /// ignored) and retried. A safety net above the transport's own timeouts.
    /// Default 120 s.
    pub request_timeout: Duration,
    /// Backoff and retries on 429, 5xx and transport errors.
    pub retry: RetryPolicy,
    /// How answers are parsed (the body cap).
    pub parse: ParseOptions,
    /// Seed for the jitter. `None` seeds from the process's entropy.
    pub seed: Option<u64>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            refresh_ahead: Duration::from_secs(60),
            refresh_jitter: Duration::from_secs(30),
            min_validity: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            parse: ParseOptions::default(),
            seed: None,
        }
    }
}

/// Exponential backoff with full jitter, and how `Retry-After` is honoured.
///
/// ```
/// let r = smartling_auth_core::RetryPolicy::default();
/// assert_eq!(r.max_attempts, 6);
/// assert_eq!(r.max_delay.as_secs(), 30);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The first retry waits up to this long; each further one doubles it. Default 250 ms.
    pub base_delay: Duration,
    /// The cap of the exponential backoff. Default 30 s.
    pub max_delay: Duration,
    /// Requests per renewal, the first included. Default 6.
    pub max_attempts: u32,
    /// A server's `Retry-After` is honoured up to this long. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_attempts: 6,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the backoff before the `failures`-th retry (1-based), before
    /// jitter: `min(max_delay, base_delay * 2^(failures - 1))`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = smartling_auth_core::RetryPolicy::default();
    /// assert_eq!(r.ceiling(1), Duration::from_millis(250));
    /// assert_eq!(r.ceiling(3), Duration::from_secs(1));
    /// assert_eq!(r.ceiling(40), Duration::from_secs(30));
    /// ```
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The longest single wait this policy can ask for.
    ///
    /// ```
    /// let r = smartling_auth_core::RetryPolicy::default();
    /// assert_eq!(r.longest_wait().as_secs(), 60);
    /// ```
    pub fn longest_wait(&self) -> std::time::Duration {
        self.max_delay.max(self.max_retry_after)
    }
}
