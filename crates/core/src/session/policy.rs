//! The knobs of the lifecycle and their defaults, including how the default margins
//! scale with a token's lifetime.

use std::time::Duration;

use crate::response::ParseOptions;

/// How a [`Session`](crate::Session) renews, retries and judges token lifetimes.
///
/// Fields are public so a policy reads like configuration; the struct is
/// `#[non_exhaustive]`, so start from [`Policy::default`] and set what you need.
///
/// # Margins that scale with the token
/// The three margins ([`min_validity`](Self::min_validity),
/// [`refresh_ahead`](Self::refresh_ahead), [`refresh_jitter`](Self::refresh_jitter)) are
/// `None` by default, which means "scale with the token's lifetime `L`": a quarter, a
/// third and an eighth of `L`, capped at 30 s, 60 s and 30 s. A 480 s token thus gets
/// the classic 30 s hard margin and a renewal 60-90 s before expiry, while a server
/// that hands out 2 s tokens (a test server, or Smartling near its session cap) gets
/// 0.5 s and 0.67 s, and is still served. A value set explicitly is used as it is, for
/// every lifetime: a token that does not outlive an explicit `min_validity` is never
/// handed out. See [`Policy::margins`].
///
/// ```
/// use smartling_auth_core::Policy;
/// use std::time::Duration;
/// let mut policy = Policy::default();
/// policy.refresh_ahead = Some(Duration::from_secs(90));
/// policy.retry.max_attempts = 10;
/// policy.seed = Some(7); // deterministic jitter, for tests
/// assert_eq!(policy.min_validity, None); // scales with the token
/// assert_eq!(policy.margins(Duration::from_secs(480)).min_validity, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// Start renewing once the access token is this close to expiry (but never before
    /// half its life). `None` (the default): `min(60 s, L / 3)`.
    pub refresh_ahead: Option<Duration>,
    /// A random extra in `0..=refresh_jitter` added to `refresh_ahead` per token, so a
    /// fleet started together does not refresh in step. `None` (the default):
    /// `min(30 s, L / 8)`.
    pub refresh_jitter: Option<Duration>,
    /// A token is handed out only with at least this much life left: the hard margin
    /// that covers the latency of the caller's own API call. `None` (the default):
    /// `min(30 s, L / 4)`.
    pub min_validity: Option<Duration>,
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
            refresh_ahead: None,
            refresh_jitter: None,
            min_validity: None,
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            parse: ParseOptions::default(),
            seed: None,
        }
    }
}

/// The margins a [`Policy`] gives a token of a given lifetime.
///
/// ```
/// use smartling_auth_core::Policy;
/// use std::time::Duration;
/// let m = Policy::default().margins(Duration::from_secs(2));
/// assert_eq!(m.min_validity, Duration::from_millis(500));
/// assert_eq!(m.refresh_ahead.as_millis(), 666);
/// assert_eq!(m.refresh_jitter, Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Margins {
    /// The hard margin: the token is handed out only while it has this much life left.
    pub min_validity: Duration,
    /// Renewal starts this long (plus the jitter) before expiry.
    pub refresh_ahead: Duration,
    /// The largest random extra added to `refresh_ahead`.
    pub refresh_jitter: Duration,
}

/// The default hard margin's cap.
const MAX_MIN_VALIDITY: Duration = Duration::from_secs(30);
/// The default refresh-ahead window's cap.
const MAX_REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// The default jitter's cap.
const MAX_REFRESH_JITTER: Duration = Duration::from_secs(30);

impl Policy {
    /// The margins for a token that lives `lifetime`: the explicit ones as set, the
    /// others scaled (see the type's docs).
    ///
    /// ```
    /// use smartling_auth_core::Policy;
    /// use std::time::Duration;
    /// let mut policy = Policy::default();
    /// policy.min_validity = Some(Duration::from_secs(30));
    /// let m = policy.margins(Duration::from_secs(4));
    /// assert_eq!(m.min_validity, Duration::from_secs(30)); // explicit: kept
    /// assert_eq!(m.refresh_ahead.as_millis(), 1333); // scaled
    /// ```
    pub fn margins(&self, lifetime: Duration) -> Margins {
        Margins {
            min_validity: self
                .min_validity
                .unwrap_or_else(|| (lifetime / 4).min(MAX_MIN_VALIDITY)),
            refresh_ahead: self
                .refresh_ahead
                .unwrap_or_else(|| (lifetime / 3).min(MAX_REFRESH_AHEAD)),
            refresh_jitter: self
                .refresh_jitter
                .unwrap_or_else(|| (lifetime / 8).min(MAX_REFRESH_JITTER)),
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
