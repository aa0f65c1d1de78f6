//! What every token provider is made of: the token cache, the client that sends its
//! renewals, and the longest one call may wait.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::Builder;
use crate::{AccessToken, BaseUrl, Snapshot, TokenCache};

/// The parts of a token provider that do not depend on how it sends or waits.
///
/// A [`Builder`] makes one and hands it to the provider type in an `Arc`
/// ([`Provider::from_state`](super::Provider::from_state)). The transports' providers
/// wrap it and add only `access_token`: a look at the lock-free
/// [`cached`](Self::cached) token, then, on a miss, [`TokenCache::drive`] with a
/// transport that blocks or awaits.
///
/// ```
/// use smartling_auth_core::{BaseUrl, Credentials, provider::ProviderState};
/// let state = ProviderState::builder(BaseUrl::default())
///     .credentials(Credentials::new("id", "secret"))
///     .build()?;
/// assert_eq!(state.deadline(), smartling_auth_core::provider::DEFAULT_DEADLINE);
/// # Ok::<(), smartling_auth_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ProviderState<C> {
    base: BaseUrl,
    cache: TokenCache,
    client: C,
    deadline: Duration,
}

impl ProviderState<()> {
    /// A builder of a state without a client: the token cache with its sources and
    /// store, for a program that drives it over a transport of its own.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, RefreshToken, provider::ProviderState};
    /// let state = ProviderState::builder(BaseUrl::default())
    ///     .refresh_token(RefreshToken::new("r"))
    ///     .build()?;
    /// assert!(state.cache().store().is_none());
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn builder(base: BaseUrl) -> Builder<Arc<ProviderState<()>>> {
        Builder::new(base)
    }
}

impl<C> ProviderState<C> {
    pub(crate) fn new(base: BaseUrl, cache: TokenCache, client: C, deadline: Duration) -> Self {
        Self {
            base,
            cache,
            client,
            deadline,
        }
    }

    /// The API's base URL, whose host the tokens are for.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// assert_eq!(state.base_url().as_str(), "https://api.smartling.com");
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// The token cache: the session, its single flight and its lock-free fast path.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// assert!(state.cache().cached(std::time::Instant::now()).is_none());
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// The client that sends renewals.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// let () = *state.client(); // this one has none
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The longest one `access_token` call may take.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// assert_eq!(state.deadline(), smartling_auth_core::provider::DEFAULT_DEADLINE);
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The hot path: a fresh token without any lock, or `None` when the caller must
    /// drive the cache.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// assert!(state.cached().is_none()); // nothing fetched yet
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    #[inline]
    pub fn cached(&self) -> Option<AccessToken> {
        self.cache.cached(Instant::now())
    }

    /// Reports that an API call with `token` was answered 401: unless a newer token
    /// has replaced it, the next call renews. Returns whether it was the current token.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// assert!(!state.invalidate(&smartling_auth_core::AccessToken::new("not-ours")));
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.cache.invalidate(token)
    }

    /// A snapshot of the current tokens with wall-clock expiry, for persisting.
    ///
    /// ```
    /// # let state = smartling_auth_core::provider::ProviderState::builder(Default::default()).build()?;
    /// assert!(state.snapshot().is_none()); // nothing fetched yet
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.cache.snapshot(Instant::now(), SystemTime::now())
    }
}
