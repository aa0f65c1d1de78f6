//! The provider builder every transport shares, so all take exactly the same options
//! and the same token sources, and the rules of a token store are written once.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{DEFAULT_DEADLINE, Limits, Provider, ProviderState};
use crate::store::{Origin, SealKey, SharedStore, Store, StoreSetupError, Timings};
use crate::{
    BaseUrl, Credentials, Error, Policy, RefreshToken, RetryPolicy, Session, Snapshot, TokenCache,
    TokenPair,
};

/// Builds a token provider `P` (any [`Provider`]: the transports' `TokenProvider`s, or
/// [`ProviderState::builder`]'s bare state).
///
/// # Token sources
/// A provider may start from a [`snapshot`](Self::snapshot) or a
/// [`token_pair`](Self::token_pair), a bare [`refresh_token`](Self::refresh_token), and
/// [`credentials`](Self::credentials). It uses them in that order, whatever order they
/// were given in: the snapshot's or pair's tokens first (the most recent state), the
/// bare refresh token once that session is spent (refused, expired, or at the session
/// cap), and a login with the credentials whenever no refresh token can be used.
///
/// ```
/// use smartling_auth_core::{BaseUrl, Credentials, provider::ProviderState};
/// use std::time::Duration;
/// let provider = ProviderState::builder(BaseUrl::default())
///     .credentials(Credentials::new("id", "secret"))
///     .timeouts(Duration::from_secs(5), Duration::from_secs(20))
///     .max_body(32 * 1024)
///     .build()
///     .unwrap();
/// # drop(provider);
/// ```
#[must_use]
pub struct Builder<P: Provider> {
    base: BaseUrl,
    credentials: Option<Credentials>,
    refresh_token: Option<RefreshToken>,
    pair: Option<(TokenPair, Instant)>,
    snapshot: Option<Snapshot>,
    policy: Policy,
    limits: Limits,
    deadline: Duration,
    http_client: Option<P::HttpClient>,
    store: Option<Arc<dyn Store>>,
    store_key: Option<SealKey>,
    store_identity: Option<String>,
    store_origin: Option<Origin>,
    store_timings: Option<Timings>,
}

impl<P: Provider> std::fmt::Debug for Builder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("base", &self.base)
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .field("deadline", &self.deadline)
            .field("http_client", &self.http_client.is_some())
            .field("store", &self.store)
            .field("store_key", &self.store_key)
            .finish_non_exhaustive()
    }
}

impl<P: Provider> Builder<P> {
    /// A builder for the API at `base`. Give it credentials, a refresh token, a token
    /// pair or a snapshot before building.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, provider::{Builder, ProviderState}};
    /// use std::sync::Arc;
    /// let b: Builder<Arc<ProviderState<()>>> = Builder::new(BaseUrl::default());
    /// # drop(b);
    /// ```
    pub fn new(base: BaseUrl) -> Self {
        Self {
            base,
            credentials: None,
            refresh_token: None,
            pair: None,
            snapshot: None,
            policy: Policy::default(),
            limits: Limits::default(),
            deadline: DEFAULT_DEADLINE,
            http_client: None,
            store: None,
            store_key: None,
            store_identity: None,
            store_origin: None,
            store_timings: None,
        }
    }

    /// Credentials to log in with, first and whenever the refresh token cannot be used.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, Credentials, provider::ProviderState};
    /// let p = ProviderState::builder(BaseUrl::default())
    ///     .credentials(Credentials::new("id", "secret")).build().unwrap();
    /// # drop(p);
    /// ```
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Starts from a bare refresh token (the first use refreshes), or, with a snapshot
    /// or a pair, keeps it for when their session is spent.
    ///
    /// With [`credentials`](Self::credentials) and a [`store`](Self::store), it is not
    /// used (a warning says so): the credentials decide whose record the store holds,
    /// and a refresh token does not say whose it is.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, RefreshToken, provider::ProviderState};
    /// let p = ProviderState::builder(BaseUrl::default())
    ///     .refresh_token(RefreshToken::new("r")).build().unwrap();
    /// # drop(p);
    /// ```
    pub fn refresh_token(mut self, token: RefreshToken) -> Self {
        self.refresh_token = Some(token);
        self
    }

    /// Starts from an existing token pair, obtained by a request sent at `sent_at`.
    ///
    /// ```
    /// use smartling_auth_core::{AccessToken, BaseUrl, RefreshToken, TokenPair, provider::ProviderState};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = ProviderState::builder(BaseUrl::default())
    ///     .token_pair(pair, Instant::now()).build().unwrap();
    /// assert_eq!(p.snapshot().unwrap().access_token.secret(), "a");
    /// ```
    pub fn token_pair(mut self, pair: TokenPair, sent_at: Instant) -> Self {
        self.pair = Some((pair, sent_at));
        self
    }

    /// Starts from a snapshot taken earlier, perhaps by another process.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, Snapshot, provider::ProviderState};
    /// let json = br#"{"accessToken":"a","refreshToken":"r","tokenType":"Bearer",
    ///   "accessExpiresAt":4102444800,"refreshExpiresAt":4102444800,"refreshUsable":true}"#;
    /// let p = ProviderState::builder(BaseUrl::default())
    ///     .snapshot(Snapshot::from_json(json).unwrap()).build().unwrap();
    /// assert_eq!(p.snapshot().unwrap().access_token.secret(), "a");
    /// ```
    pub fn snapshot(mut self, snapshot: Snapshot) -> Self {
        self.snapshot = Some(snapshot);
        self
    }

    /// The lifecycle policy: refresh-ahead window, hard margin, retries.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, Policy, provider::ProviderState};
    /// let mut policy = Policy::default();
    /// policy.refresh_ahead = Some(std::time::Duration::from_secs(120));
    /// let b = ProviderState::builder(BaseUrl::default()).policy(policy);
    /// # drop(b);
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The retry policy alone.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, RetryPolicy, provider::ProviderState};
    /// let mut retry = RetryPolicy::default();
    /// retry.max_attempts = 3;
    /// let b = ProviderState::builder(BaseUrl::default()).retry(retry);
    /// # drop(b);
    /// ```
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.policy.retry = retry;
        self
    }

    /// Connect and total timeouts of each request (defaults 10 s and 30 s).
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, provider::ProviderState};
    /// use std::time::Duration;
    /// let b = ProviderState::builder(BaseUrl::default())
    ///     .timeouts(Duration::from_secs(1), Duration::from_secs(3));
    /// # drop(b);
    /// ```
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.limits.connect_timeout = connect;
        self.limits.timeout = total;
        self
    }

    /// The longest one call waits for a token before it fails with a timeout
    /// (default 60 s). A request already on the wire may overrun it by up to its own
    /// total timeout.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, provider::ProviderState};
    /// let b = ProviderState::builder(BaseUrl::default()).deadline(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The body cap in bytes (default 64 KiB).
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, provider::ProviderState};
    /// let b = ProviderState::builder(BaseUrl::default()).max_body(8 * 1024);
    /// # drop(b);
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.limits.max_body = bytes;
        self
    }

    /// A ready-made HTTP client of the transport's to send with (isahc's
    /// `HttpClient`, reqwest's `Client`); the builder's limits still apply to each
    /// request.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, provider::ProviderState};
    /// let b = ProviderState::builder(BaseUrl::default()).http_client(());
    /// # drop(b);
    /// ```
    pub fn http_client(mut self, client: P::HttpClient) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Shares tokens with other processes through `store`: a [`FileStore`] for the
    /// processes of one machine, a `RedisStore` (feature `redis`) for a fleet, or a
    /// store of your own. A fresh local token never touches the store; on a local miss
    /// the provider reads the store first, and only one process of all that share it
    /// renews (see [`crate::store`]). If the store fails, the provider
    /// renews on its own and tries the store again later: no call fails because of it.
    ///
    /// The record is named after the credentials' user identifier (or
    /// [`store_identity`](Self::store_identity)). A store shared beyond one user's files
    /// (Redis) holds only sealed records, under a key derived from the user secret (or
    /// [`store_key`](Self::store_key)).
    ///
    /// [`FileStore`]: https://docs.rs/smartling-auth-store/latest/smartling_auth_store/struct.FileStore.html
    ///
    /// ```
    /// use smartling_auth_core::{Credentials, provider::ProviderState, store::MemoryStore};
    /// let p = ProviderState::builder(Default::default())
    ///     .credentials(Credentials::new("user", "secret"))
    ///     .store(MemoryStore::new())
    ///     .build()?;
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn store(mut self, store: impl Store + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The key that seals stored records, instead of one derived from the user secret.
    /// A process that starts from a refresh token alone needs it for a shared store,
    /// and so do the processes it shares records with.
    ///
    /// ```
    /// use smartling_auth_core::{RefreshToken, provider::ProviderState, store::{MemoryStore, SealKey}};
    /// let key = SealKey::parse("3f9c0e51a7d2b8460c1e95f3a27d6b08e4c1795a0d3b6f2e8a51c7940b6de2f1").unwrap();
    /// let p = ProviderState::builder(Default::default())
    ///     .refresh_token(RefreshToken::new("r"))
    ///     .store(MemoryStore::new())
    ///     .store_identity("user")
    ///     .store_key(key)
    ///     .build()?;
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn store_key(mut self, key: SealKey) -> Self {
        self.store_key = Some(key);
        self
    }

    /// The name the stored record is filed under: the user identifier, or any name
    /// the processes that share a record agree on. Defaults to the credentials' user
    /// identifier; a session without credentials needs it.
    ///
    /// ```
    /// use smartling_auth_core::{RefreshToken, provider::ProviderState, store::MemoryStore};
    /// let err = ProviderState::builder(Default::default())
    ///     .refresh_token(RefreshToken::new("r"))
    ///     .store(MemoryStore::unsealed())
    ///     .build().unwrap_err();
    /// assert!(err.to_string().contains("user identifier"));
    /// ```
    pub fn store_identity(mut self, identity: impl Into<String>) -> Self {
        self.store_identity = Some(identity.into());
        self
    }

    /// The refresh token the stored session started from, for a provider without
    /// credentials that continues it from the store's own tokens (a
    /// [`token_pair`](Self::token_pair) read from the record). A provider started from
    /// a bare [`refresh_token`](Self::refresh_token) without credentials gets that
    /// token's origin by itself: a record of another refresh token's session (perhaps
    /// another account's, filed under the same identity) is then never used, only
    /// replaced. See [`Origin`].
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, RefreshToken, provider::ProviderState, store::{MemoryStore, Origin}};
    /// let origin = Origin::of(&BaseUrl::default(), &RefreshToken::new("seed"));
    /// let p = ProviderState::builder(BaseUrl::default())
    ///     .refresh_token(RefreshToken::new("rotated"))
    ///     .store(MemoryStore::unsealed())
    ///     .store_identity("")
    ///     .store_origin(origin)
    ///     .build()?;
    /// assert_eq!(p.cache().store().unwrap().name().origin(), Some(origin));
    /// # Ok::<(), smartling_auth_core::Error>(())
    /// ```
    pub fn store_origin(mut self, origin: Origin) -> Self {
        self.store_origin = Some(origin);
        self
    }

    /// The store protocol's timings (how often waiters poll, how long a lease lasts
    /// unless its holder extends it); by default [`Timings::for_policy`]: a lease of
    /// [`LEASE_TTL`](crate::store::LEASE_TTL), extended every third of
    /// that while its holder renews.
    ///
    /// ```
    /// use smartling_auth_core::{provider::ProviderState, store::Timings};
    /// let b = ProviderState::builder(Default::default())
    ///     .store_timings(Timings::default().with_poll(std::time::Duration::from_millis(20)));
    /// # let _ = b;
    /// ```
    pub fn store_timings(mut self, timings: Timings) -> Self {
        self.store_timings = Some(timings);
        self
    }

    /// Builds the provider. Nothing is sent until the first token is asked for.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, Credentials, provider::ProviderState};
    /// let p = ProviderState::builder(BaseUrl::default())
    ///     .credentials(Credentials::new("id", "secret"))
    ///     .build();
    /// assert!(p.is_ok());
    /// ```
    pub fn build(self) -> Result<P, Error> {
        let client = P::client(&self.limits, self.http_client)?;
        let mut policy = self.policy;
        policy.parse = policy.parse.max_body(self.limits.max_body);
        // The session's notion of a lost request stays above the transport's own
        // timeout, so it never gives up on a request that is still running.
        policy.request_timeout = policy
            .request_timeout
            .max(self.limits.timeout.saturating_add(Duration::from_secs(5)));
        let mut session = match &self.snapshot {
            Some(snap) => Session::from_snapshot(
                self.base.clone(),
                policy.clone(),
                snap,
                Instant::now(),
                SystemTime::now(),
            ),
            None => Session::new(self.base.clone(), policy.clone()),
        };
        let shared = match self.store {
            None => None,
            Some(store) => {
                let user = self
                    .store_identity
                    .as_deref()
                    .or(self.credentials.as_ref().map(Credentials::user_identifier))
                    .ok_or(Error::Store(StoreSetupError::NeedsIdentity))?;
                // Only a store that needs sealing gets a derived key: a private file
                // stays readable plain text, like ssh's and gcloud's.
                let key = self.store_key.or_else(|| {
                    let c = self
                        .credentials
                        .as_ref()
                        .filter(|_| store.needs_sealing())?;
                    Some(SealKey::derive(&self.base, user, c.user_secret()))
                });
                let mut shared = SharedStore::for_user(store, &self.base, user, key, &policy)
                    .map_err(Error::Store)?;
                // A bare refresh token names no account: the session it starts owns
                // its record only by that token's origin.
                let seeded = self
                    .refresh_token
                    .as_ref()
                    .filter(|_| self.credentials.is_none())
                    .map(|t| Origin::of(&self.base, t));
                if let Some(origin) = self.store_origin.or(seeded) {
                    shared = shared.with_origin(origin);
                }
                let timings = self
                    .store_timings
                    .unwrap_or_else(|| Timings::for_policy(&policy));
                Some(shared.with_timings(timings))
            }
        };
        let has_credentials = self.credentials.is_some();
        if let Some(c) = self.credentials {
            session = session.with_credentials(c);
        }
        match self.refresh_token {
            // The credentials decide whose record this is; a refresh token that came
            // with them may be another account's, and what it renews would be filed
            // (and shared) as theirs.
            Some(_) if shared.is_some() && has_credentials => {
                tracing::warn!(
                    "a bare refresh token given with credentials and a token store is not used: the credentials decide whose record this is"
                );
            }
            Some(t) => session = session.with_refresh_token(t),
            None => {}
        }
        if let Some((pair, sent_at)) = self.pair {
            session = session.with_token_pair(pair, sent_at);
        }
        let mut cache = TokenCache::new(session);
        if let Some(shared) = shared {
            cache = cache.with_store(shared);
        }
        Ok(P::from_state(Arc::new(ProviderState::new(
            self.base,
            cache,
            client,
            self.deadline,
        ))))
    }
}
