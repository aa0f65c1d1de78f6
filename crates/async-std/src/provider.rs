//! The async token provider: the core's one driver over a transport that awaits
//! where the blocking provider blocks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use http::HeaderValue;
use smartling_auth_core::provider::Answer;
use smartling_auth_core::{
    AccessToken, BaseUrl, Credentials, Error, EventListener, HttpRequest, HttpResponse, Snapshot,
    Transport, TransportError,
    store::{StoreDone, StoreTask},
};
use smartling_auth_isahc::{Builder, Client, Limits, Provider, ProviderState};

/// A valid access token from any task, renewed ahead of expiry by one caller while the
/// others keep going. `Clone + Send + Sync`; its futures are `Send`.
///
/// - A fresh token is returned on the first poll, with no lock and no allocation
///   beyond a reference count.
/// - Inside the refresh-ahead window, one caller renews; the others get the current
///   token at once.
/// - Callers whose token has truly expired await that one renewal (an event listener
///   raced against an `async-io` timer); they never start their own. A renewal that
///   fails wakes them all with the error; the next call tries again.
/// - Dropping the future that is renewing (a cancelled task, a timeout) hands the
///   renewal to another caller at once; nothing stays locked.
/// - Backoff waits are timers: no thread sleeps.
///
/// ```
/// use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
/// # let emulator = smartling_auth_emulator::Emulator::start()?;
/// # let (user_id, user_secret) = emulator.demo_user();
/// # let base = BaseUrl::parse(&emulator.base_url())?;
/// let provider = TokenProvider::new(base, Credentials::new(user_id, user_secret))?;
/// let header = async_std::task::block_on(provider.authorization_header())?;
/// assert!(header.is_sensitive()); // "Bearer eyJ...", redacted in debug output
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TokenProvider(Arc<ProviderState>);

impl TokenProvider {
    /// A builder, for timeouts, retries, the body cap, the per-call deadline, a
    /// ready-made isahc client, or a starting token pair. It is the blocking crate's
    /// builder: both providers take exactly the same options.
    ///
    /// ```
    /// use smartling_auth_async_std::{BaseUrl, RefreshToken, RetryPolicy, TokenProvider};
    /// use std::time::Duration;
    /// let mut retry = RetryPolicy::default();
    /// retry.max_attempts = 3;
    /// let p = TokenProvider::builder(BaseUrl::default())
    ///     .refresh_token(RefreshToken::new("r"))
    ///     .timeouts(Duration::from_secs(2), Duration::from_secs(10))
    ///     .deadline(Duration::from_secs(20))
    ///     .retry(retry)
    ///     .build()
    ///     .unwrap();
    /// # drop(p);
    /// ```
    pub fn builder(base: BaseUrl) -> Builder<TokenProvider> {
        Builder::new(base)
    }

    /// A provider that logs in with `credentials` on first use. Nothing is sent yet.
    ///
    /// ```
    /// use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret")).unwrap();
    /// assert!(p.snapshot().is_none());
    /// ```
    pub fn new(base: BaseUrl, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(base).credentials(credentials).build()
    }

    /// A valid access token, with at least the policy's hard margin of life left.
    ///
    /// A fresh token completes on the first poll. Otherwise the call renews (or awaits
    /// another caller's renewal) for at most the builder's deadline (default 60 s); a
    /// request already on the wire may overrun it by up to its own total timeout.
    ///
    /// ```
    /// use smartling_auth_async_std::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// let token = smol::block_on(p.access_token())?;
    /// assert_eq!(token.secret(), "a");
    /// # Ok::<(), smartling_auth_async_std::Error>(())
    /// ```
    #[inline]
    pub fn access_token(&self) -> AccessTokenFuture<'_> {
        AccessTokenFuture {
            provider: self,
            renewal: None,
        }
    }

    /// `Authorization: Bearer <token>` as a header value marked sensitive (HTTP/2
    /// stacks will not index it; debug output of it is redacted by `http`).
    ///
    /// ```
    /// use smartling_auth_async_std::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a.b.c"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// let h = async_std::task::block_on(p.authorization_header())?;
    /// assert!(h.is_sensitive());
    /// assert_eq!(h, "Bearer a.b.c");
    /// # Ok::<(), smartling_auth_async_std::Error>(())
    /// ```
    pub async fn authorization_header(&self) -> Result<HeaderValue, Error> {
        Ok(smartling_auth_core::api::authorization_header(
            &self.access_token().await?,
        ))
    }

    /// `Authorization: Bearer <token>` marked sensitive, with the token it carries:
    /// hand that to [`invalidate`](Self::invalidate) after a 401.
    ///
    /// ```
    /// use smartling_auth_async_std::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a.b.c"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// let (header, token) = smol::block_on(p.authorization())?;
    /// assert_eq!(header, "Bearer a.b.c");
    /// assert!(p.invalidate(&token));
    /// # Ok::<(), smartling_auth_async_std::Error>(())
    /// ```
    pub async fn authorization(&self) -> Result<(HeaderValue, AccessToken), Error> {
        let token = self.access_token().await?;
        Ok((
            smartling_auth_core::api::authorization_header(&token),
            token,
        ))
    }

    /// Runs an authorised API call with any client: `call` gets the `Authorization`
    /// header value; if its answer is a 401, the token it carried is dropped
    /// ([`invalidate`](Self::invalidate)) and `call` runs once more with a fresh one
    /// (never twice, and not when no newer token comes). A failure to get a token is
    /// returned as `E` (any error type that takes this crate's [`Error`]).
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let api = emu.base_url();
    /// use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
    /// let provider = TokenProvider::new(BaseUrl::parse(&api)?, Credentials::new("id", "secret"))?;
    /// let answer = smol::block_on(provider.call(|authorization| {
    ///     let url = format!("{api}/auth-api/v2/whoami");
    ///     async move {
    ///         let request = isahc::Request::get(url).header("Authorization", authorization).body(())?;
    ///         Ok::<_, Box<dyn std::error::Error>>(isahc::send_async(request).await?)
    ///     }
    /// }))?;
    /// assert_eq!(answer.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn call<R, E, F, Fut>(&self, mut call: F) -> Result<R, E>
    where
        F: FnMut(HeaderValue) -> Fut,
        Fut: Future<Output = Result<R, E>>,
        R: Answer,
        E: From<Error>,
    {
        let (header, token) = self.authorization().await?;
        let answer = call(header).await?;
        if !answer.is_unauthorized() {
            return Ok(answer);
        }
        self.invalidate(&token);
        let (header, fresh) = self.authorization().await?;
        if fresh.same_secret(&token) {
            return Ok(answer);
        }
        drop(answer);
        call(header).await
    }

    /// Reports that an API call with `token` was answered 401: unless a newer token has
    /// replaced it, the next call renews. Returns whether it was the current token.
    ///
    /// ```
    /// use smartling_auth_async_std::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// assert!(!p.invalidate(&AccessToken::new("not-ours")));
    /// assert!(p.invalidate(&AccessToken::new("a")));
    /// # Ok::<(), smartling_auth_async_std::Error>(())
    /// ```
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.0.invalidate(token)
    }

    /// A snapshot of the current tokens with wall-clock expiry, for persisting.
    ///
    /// ```
    /// use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret")).unwrap();
    /// assert!(p.snapshot().is_none()); // nothing fetched yet
    /// ```
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.0.snapshot()
    }

    /// What the provider is made of: its token cache (with the token store, if any)
    /// and its HTTP client.
    ///
    /// ```
    /// use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret")).unwrap();
    /// assert!(p.state().cache().store().is_none());
    /// ```
    pub fn state(&self) -> &ProviderState {
        &self.0
    }

    /// The core's driver over the async transport.
    #[cold]
    async fn renew(&self) -> Result<AccessToken, Error> {
        let transport = Async(self.0.client());
        let drive = self
            .0
            .cache()
            .drive(&transport, Some(self.0.deadline()), |_, _| {});
        drive.await.map(|grant| grant.access_token)
    }
}

/// What the builder makes a provider from.
impl Provider for TokenProvider {
    type HttpClient = smartling_auth_isahc::isahc::HttpClient;
    type Client = Client;

    fn client(
        limits: &Limits,
        given: Option<smartling_auth_isahc::isahc::HttpClient>,
    ) -> Result<Client, Error> {
        smartling_auth_isahc::make_client(limits, given)
    }

    fn from_state(state: Arc<ProviderState>) -> Self {
        Self(state)
    }
}

/// The async transport: isahc's async client, and waits that race the cache's event
/// listener against an `async-io` timer.
struct Async<'a>(&'a Client);

impl Transport for Async<'_> {
    fn send(
        &self,
        request: HttpRequest,
        limit: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        // Dropping this future drops the renewal, which hands it to the next caller.
        let client = self.0;
        async move { client.send_async_within(&request, limit).await }
    }

    fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()> {
        future::or(listener, async move {
            Timer::at(until).await;
        })
    }

    fn offload(&self, task: StoreTask) -> impl Future<Output = StoreDone> + Send {
        // Store backends block (a file lock, a Redis round trip): run them on smol's
        // thread pool so the executor keeps polling other tasks.
        blocking::unblock(move || task.run())
    }

    fn detach(&self, task: StoreTask) {
        blocking::unblock(move || task.run()).detach();
    }
}

/// The boxed renewal of an `AccessTokenFuture` that missed the hot path.
type Renewing<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, Error>> + Send + 'a>>;

/// The future of [`TokenProvider::access_token`].
///
/// A hand-written future rather than an `async fn`: its first poll checks the hot path
/// directly and returns at once, without the state machine of the renewal, which is
/// boxed and made only when a renewal is needed. It is `Send`.
///
/// ```
/// use smartling_auth_async_std::{AccessToken, RefreshToken, TokenPair, TokenProvider};
/// use std::time::{Duration, Instant};
/// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
///     Duration::from_secs(480), Duration::from_secs(3660));
/// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
/// let future: smartling_auth_async_std::AccessTokenFuture<'_> = p.access_token();
/// assert_eq!(smol::block_on(future)?.secret(), "a");
/// # Ok::<(), smartling_auth_async_std::Error>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct AccessTokenFuture<'a> {
    provider: &'a TokenProvider,
    renewal: Option<Renewing<'a>>,
}

impl std::fmt::Debug for AccessTokenFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenFuture")
            .field("renewing", &self.renewal.is_some())
            .finish_non_exhaustive()
    }
}

impl Future for AccessTokenFuture<'_> {
    type Output = Result<AccessToken, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let provider = this.provider;
        let renewal = match &mut this.renewal {
            Some(renewal) => renewal,
            None => {
                // The hot path: no lock, no suspension point.
                if let Some(token) = provider.0.cached() {
                    return Poll::Ready(Ok(token));
                }
                this.renewal.insert(Box::pin(provider.renew()))
            }
        };
        renewal.as_mut().poll(cx)
    }
}
