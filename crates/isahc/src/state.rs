//! What every token provider is made of, written once for this crate's blocking
//! provider and the async crate's: the token cache, the client that sends its renewals,
//! and the longest one call may wait.

use std::time::{Duration, Instant, SystemTime};

use smartling_auth_core::{AccessToken, Snapshot, TokenCache};

use crate::client::Client;

/// The parts of a token provider that do not depend on how it waits.
///
/// [`Builder::build`](crate::Builder::build) makes one and hands it to the provider
/// type, in an `Arc`, through `From<Arc<ProviderState>>`. This crate's
/// [`TokenProvider`](crate::TokenProvider) and `smartling-auth-async-std`'s wrap it and
/// add only `access_token`: a
/// look at the lock-free [`cached`](Self::cached) token, then, on a miss,
/// [`TokenCache::drive`] with a transport that blocks or awaits. A transport author
/// can build a provider of their own the same way.
///
/// ```
/// use smartling_auth_isahc::{BaseUrl, Builder, Credentials, ProviderState};
/// use std::sync::Arc;
///
/// /// A provider of one's own: here, one that never renews.
/// struct CachedOnly(Arc<ProviderState>);
///
/// impl From<Arc<ProviderState>> for CachedOnly {
///     fn from(state: Arc<ProviderState>) -> Self {
///         CachedOnly(state)
///     }
/// }
///
/// let p: CachedOnly = Builder::new(BaseUrl::default())
///     .credentials(Credentials::new("id", "secret"))
///     .build()?;
/// assert!(p.0.cached().is_none());
/// # Ok::<(), smartling_auth_isahc::Error>(())
/// ```
#[derive(Debug)]
pub struct ProviderState {
    cache: TokenCache,
    client: Client,
    deadline: Duration,
}

impl ProviderState {
    pub(crate) fn new(cache: TokenCache, client: Client, deadline: Duration) -> Self {
        Self {
            cache,
            client,
            deadline,
        }
    }

    /// The token cache: the session, its single flight and its lock-free fast path.
    ///
    /// ```
    /// # let state: std::sync::Arc<smartling_auth_isahc::ProviderState> =
    /// #     smartling_auth_isahc::Builder::new(Default::default()).build()?;
    /// assert!(state.cache().cached(std::time::Instant::now()).is_none());
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// The client that sends renewals (timeouts, body cap, no redirects).
    ///
    /// ```
    /// # let state: std::sync::Arc<smartling_auth_isahc::ProviderState> =
    /// #     smartling_auth_isahc::Builder::new(Default::default()).build()?;
    /// assert_eq!(state.client().timeout(), smartling_auth_isahc::DEFAULT_TIMEOUT);
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The longest one `access_token` call may take.
    ///
    /// ```
    /// # let state: std::sync::Arc<smartling_auth_isahc::ProviderState> =
    /// #     smartling_auth_isahc::Builder::new(Default::default()).build()?;
    /// assert_eq!(state.deadline(), smartling_auth_isahc::DEFAULT_DEADLINE);
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The hot path: a fresh token without any lock, or `None` when the caller must
    /// drive the cache.
    ///
    /// ```
    /// # let state: std::sync::Arc<smartling_auth_isahc::ProviderState> =
    /// #     smartling_auth_isahc::Builder::new(Default::default()).build()?;
    /// assert!(state.cached().is_none()); // nothing fetched yet
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    #[inline]
    pub fn cached(&self) -> Option<AccessToken> {
        self.cache.cached(Instant::now())
    }

    /// Reports that an API call with `token` was answered 401: unless a newer token
    /// has replaced it, the next call renews. Returns whether it was the current token.
    ///
    /// ```
    /// # let state: std::sync::Arc<smartling_auth_isahc::ProviderState> =
    /// #     smartling_auth_isahc::Builder::new(Default::default()).build()?;
    /// assert!(!state.invalidate(&smartling_auth_isahc::AccessToken::new("not-ours")));
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.cache.invalidate(token)
    }

    /// A snapshot of the current tokens with wall-clock expiry, for persisting.
    ///
    /// ```
    /// # let state: std::sync::Arc<smartling_auth_isahc::ProviderState> =
    /// #     smartling_auth_isahc::Builder::new(Default::default()).build()?;
    /// assert!(state.snapshot().is_none()); // nothing fetched yet
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.cache.snapshot(Instant::now(), SystemTime::now())
    }
}
