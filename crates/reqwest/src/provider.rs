//! The token provider on tokio: the core's one driver over a transport that awaits
//! reqwest, waits on tokio's timers and runs store operations on tokio's blocking
//! pool.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;
use http::HeaderValue;
use smartling_auth_core::provider::{Builder, Limits, Provider, ProviderState};
use smartling_auth_core::store::{StoreDone, StoreTask};
use smartling_auth_core::{
    AccessToken, BaseUrl, Credentials, Error, EventListener, HttpRequest, HttpResponse, Snapshot,
    Transport, TransportError,
};

use crate::client::Client;

/// A valid access token from any tokio task, renewed ahead of expiry by one caller
/// while the others keep going. `Clone + Send + Sync`; its futures are `Send`.
///
/// - A fresh token costs no lock and no allocation beyond a reference count.
/// - Inside the refresh-ahead window, one caller renews; the others get the current
///   token at once. Callers whose token has truly expired await that one renewal.
/// - Dropping the future that is renewing (a cancelled task, a timeout) hands the
///   renewal to another caller at once.
/// - Token-store operations (a file lock, a Redis round trip) run on tokio's blocking
///   pool, so the runtime keeps polling other tasks; this works on the
///   multi-thread and the current-thread runtime alike.
///
/// For authorised calls through reqwest, put [`Authorize`](crate::Authorize) on a
/// `reqwest_middleware` client: it adds the header and retries once after a 401.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
/// # let base = smartling_auth_reqwest::BaseUrl::parse(&emu.base_url())?;
/// use smartling_auth_reqwest::{Credentials, TokenProvider};
/// let provider = TokenProvider::new(base, Credentials::new("id", "secret"))?;
/// let header = provider.authorization_header().await?; // "Bearer eyJ..."
/// assert!(header.is_sensitive());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TokenProvider(Arc<ProviderState<Client>>);

impl TokenProvider {
    /// A provider that logs in with `credentials` on first use. Nothing is sent yet.
    ///
    /// ```
    /// use smartling_auth_reqwest::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// assert!(p.snapshot().is_none());
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn new(base: BaseUrl, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(base).credentials(credentials).build()
    }

    /// A builder, for timeouts, retries, the body cap, the per-call deadline, a
    /// reqwest client builder of your own ([`Builder::http_client`]), a token store or
    /// a starting token pair. Every transport's provider takes exactly these options.
    ///
    /// ```
    /// use smartling_auth_reqwest::{BaseUrl, RefreshToken, TokenProvider};
    /// use std::time::Duration;
    /// let p = TokenProvider::builder(BaseUrl::default())
    ///     .refresh_token(RefreshToken::new("r"))
    ///     .timeouts(Duration::from_secs(2), Duration::from_secs(10))
    ///     .deadline(Duration::from_secs(20))
    ///     .build()?;
    /// # drop(p);
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn builder(base: BaseUrl) -> Builder<TokenProvider> {
        Builder::new(base)
    }

    /// A valid access token, with at least the policy's hard margin of life left. A
    /// fresh token is ready on the first poll; otherwise the call renews (or awaits
    /// another caller's renewal) for at most the builder's deadline (60 s by default).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), smartling_auth_reqwest::Error> {
    /// use smartling_auth_reqwest::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// assert_eq!(p.access_token().await?.secret(), "a");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        match self.0.cached() {
            Some(token) => Ok(token),
            None => self.renew().await,
        }
    }

    /// `Authorization: Bearer <token>` as a header value marked sensitive, with the
    /// token it carries (hand that to [`invalidate`](Self::invalidate) after a 401).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), smartling_auth_reqwest::Error> {
    /// use smartling_auth_reqwest::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a.b.c"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// let (header, token) = p.authorization().await?;
    /// assert_eq!(header, "Bearer a.b.c");
    /// assert!(p.invalidate(&token));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn authorization(&self) -> Result<(HeaderValue, AccessToken), Error> {
        let token = self.access_token().await?;
        Ok((
            smartling_auth_core::api::authorization_header(&token),
            token,
        ))
    }

    /// `Authorization: Bearer <token>` as a header value marked sensitive (HTTP/2
    /// stacks will not index it; debug output of it is redacted by `http`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), smartling_auth_reqwest::Error> {
    /// use smartling_auth_reqwest::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a.b.c"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// assert!(p.authorization_header().await?.is_sensitive());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn authorization_header(&self) -> Result<HeaderValue, Error> {
        Ok(self.authorization().await?.0)
    }

    /// Reports that an API call with `token` was answered 401: unless a newer token
    /// has replaced it, the next call renews. Returns whether it was the current token.
    ///
    /// ```
    /// use smartling_auth_reqwest::{AccessToken, BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// assert!(!p.invalidate(&AccessToken::new("not-ours")));
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.0.invalidate(token)
    }

    /// A snapshot of the current tokens with wall-clock expiry, for persisting.
    ///
    /// ```
    /// use smartling_auth_reqwest::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// assert!(p.snapshot().is_none()); // nothing fetched yet
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.0.snapshot()
    }

    /// What the provider is made of: its token cache (with the token store, if any),
    /// its client and its deadline.
    ///
    /// ```
    /// use smartling_auth_reqwest::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// assert!(p.state().cache().store().is_none());
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn state(&self) -> &ProviderState<Client> {
        &self.0
    }

    /// The core's driver over the tokio transport.
    #[cold]
    async fn renew(&self) -> Result<AccessToken, Error> {
        let transport = Tokio(self.0.client());
        let drive = self
            .0
            .cache()
            .drive(&transport, Some(self.0.deadline()), |_, _| {});
        drive.await.map(|grant| grant.access_token)
    }
}

/// What the builder makes a provider from.
impl Provider for TokenProvider {
    type HttpClient = reqwest::ClientBuilder;
    type Client = Client;

    fn client(limits: &Limits, given: Option<reqwest::ClientBuilder>) -> Result<Client, Error> {
        Client::with_limits(limits, given)
    }

    fn from_state(state: Arc<ProviderState<Client>>) -> Self {
        Self(state)
    }
}

/// The tokio transport: reqwest, waits that race the cache's event listener against
/// a tokio timer, store operations on the blocking pool.
struct Tokio<'a>(&'a Client);

impl Transport for Tokio<'_> {
    fn send(
        &self,
        request: HttpRequest,
        limit: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        // Dropping this future drops the renewal, which hands it to the next caller.
        self.0.send(request, limit)
    }

    fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()> {
        future::or(listener, async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
        })
    }

    async fn offload(&self, task: StoreTask) -> StoreDone {
        match tokio::task::spawn_blocking(move || task.run()).await {
            Ok(done) => done,
            // A store that panicked: the panic goes on in the caller, as it would have
            // had the operation run in place.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down, and this caller with it.
            Err(_) => std::future::pending().await,
        }
    }

    fn detach(&self, task: StoreTask) {
        drop(tokio::task::spawn_blocking(move || task.run()));
    }
}
