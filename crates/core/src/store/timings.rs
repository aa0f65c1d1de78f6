//! The store protocol's timings: how long a lease lives, how often it is extended, how
//! long waiters wait for word before they look, and the backoff of a failed store.

use std::time::Duration;

use crate::Policy;

/// How long a renewal lease lives unless its holder extends it. A holder extends it
/// every third of this while it renews, so a waiter behind a holder that died takes
/// over within this long, however long a live holder's login takes.
///
/// ```
/// assert_eq!(smartling_auth_core::store::LEASE_TTL.as_secs(), 5);
/// ```
pub const LEASE_TTL: Duration = Duration::from_secs(5);

/// The protocol's timings.
///
/// ```
/// use smartling_auth_core::{Policy, store::{LEASE_TTL, Timings}};
/// let t = Timings::for_policy(&Policy::default());
/// assert_eq!(t.lease_ttl, LEASE_TTL);
/// assert!(t.poll <= std::time::Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// How long a renewal lease lasts unless its holder extends it ([`LEASE_TTL`] by
    /// default). The holder extends it every third of this while it renews.
    pub lease_ttl: Duration,
    /// How often a waiter reads the store while another process renews, when the
    /// store cannot wake it ([`Store::watch`](super::Store::watch) unsupported).
    pub poll: Duration,
    /// The first pause before a failed store is tried again; it doubles per failure.
    pub retry_first: Duration,
    /// The longest pause before a failed store is tried again.
    pub retry_max: Duration,
}

impl Timings {
    /// The timings for a session with `policy`.
    ///
    /// ```
    /// let t = smartling_auth_core::store::Timings::for_policy(&Default::default());
    /// assert!(t.retry_first <= t.retry_max);
    /// ```
    pub fn for_policy(_policy: &Policy) -> Self {
        Self {
            lease_ttl: LEASE_TTL,
            poll: Duration::from_millis(50),
            retry_first: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
        }
    }

    /// How often a holder extends its lease: a third of its time to live, so two
    /// extensions may fail or be late before the lease ends under a live holder.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = smartling_auth_core::store::Timings::default().with_lease_ttl(Duration::from_secs(3));
    /// assert_eq!(t.extend_every(), Duration::from_secs(1));
    /// ```
    pub fn extend_every(&self) -> Duration {
        self.lease_ttl / 3
    }

    /// How long a waiter woken by the store ([`Store::watch`](super::Store::watch))
    /// waits without word of the holder before it reads the store: half the lease's
    /// time to live. A live holder speaks every third of it (each extension says it
    /// lives), so a healthy renewal never runs into it, however slow; a lost wake-up
    /// costs one such wait; and the lease of a holder that died ends within two.
    ///
    /// ```
    /// let t = smartling_auth_core::store::Timings::default();
    /// assert_eq!(t.quiet().as_millis(), 2500);
    /// assert!(t.quiet() > t.extend_every());
    /// ```
    pub fn quiet(&self) -> Duration {
        self.lease_ttl / 2
    }

    /// Sets how often waiters poll the store.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = smartling_auth_core::store::Timings::default().with_poll(Duration::from_millis(20));
    /// assert_eq!(t.poll, Duration::from_millis(20));
    /// ```
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }

    /// Sets the lease's lifetime.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = smartling_auth_core::store::Timings::default().with_lease_ttl(Duration::from_secs(3));
    /// assert_eq!(t.lease_ttl, Duration::from_secs(3));
    /// ```
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(1));
        self
    }
}

impl Default for Timings {
    fn default() -> Self {
        Self::for_policy(&Policy::default())
    }
}
