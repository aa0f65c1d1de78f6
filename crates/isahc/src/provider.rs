//! The blocking, thread-safe token provider: the core's one driver over a transport
//! that blocks.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::{Timer, block_on};
use futures_lite::future;
use http::HeaderValue;
use smartling_auth_core::{
    AccessToken, BaseUrl, Credentials, Error, EventListener, Handled, HttpRequest, HttpResponse,
    RequestKind, Snapshot, Transport, TransportError,
};

use smartling_auth_core::provider::{Answer, Builder, Limits, Provider};

use crate::ProviderState;
use crate::client::Client;

/// A valid access token from any thread, renewed ahead of expiry by one caller while
/// the others keep going.
///
/// - A fresh token costs no lock and no allocation beyond a reference count.
/// - Inside the refresh-ahead window, one caller renews; the others get the current
///   token at once.
/// - Callers whose token has truly expired wait for that one renewal; they never start
///   their own. A renewal that fails wakes them all with the error; the next call tries
///   again.
/// - A panicking or vanished renewer hands the renewal to the next caller.
///
/// ```
/// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
/// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
/// use smartling_auth_isahc::{Credentials, TokenProvider};
/// let provider = TokenProvider::new(base, Credentials::new("id", "secret"))?;
/// let header = provider.authorization_header()?; // "Bearer eyJ..." (marked sensitive)
/// assert!(header.is_sensitive());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TokenProvider(Arc<ProviderState>);

impl Provider for TokenProvider {
    type HttpClient = isahc::HttpClient;
    type Client = Client;

    fn client(limits: &Limits, given: Option<isahc::HttpClient>) -> Result<Client, Error> {
        make_client(limits, given)
    }

    fn from_state(state: Arc<ProviderState>) -> Self {
        Self(state)
    }
}

/// The client of a provider over isahc (this crate's and the async crate's): around
/// `given`, or a new one, with the builder's timeouts and body cap.
///
/// ```
/// use smartling_auth_isahc::{Limits, make_client};
/// let client = make_client(&Limits::default(), None)?;
/// assert_eq!(client.max_body_bytes(), 64 * 1024);
/// # Ok::<(), smartling_auth_isahc::Error>(())
/// ```
pub fn make_client(limits: &Limits, given: Option<isahc::HttpClient>) -> Result<Client, Error> {
    Ok(match given {
        Some(http) => Client::with_http_client(http),
        None => Client::new()?,
    }
    .timeouts(limits.connect_timeout, limits.timeout)
    .max_body(limits.max_body))
}

impl TokenProvider {
    /// A provider that logs in with `credentials` on first use.
    ///
    /// ```
    /// use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret")).unwrap();
    /// # drop(p);
    /// ```
    pub fn new(base: BaseUrl, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(base).credentials(credentials).build()
    }

    /// A valid access token, with at least the policy's hard margin of life left.
    ///
    /// ```
    /// use smartling_auth_isahc::{AccessToken, BaseUrl, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build().unwrap();
    /// assert_eq!(p.access_token().unwrap().secret(), "a");
    /// ```
    #[inline]
    pub fn access_token(&self) -> Result<AccessToken, Error> {
        match self.0.cached() {
            Some(token) => Ok(token),
            None => self.access_token_with(|_, _| {}),
        }
    }

    /// A builder, for timeouts, retries, the body cap, a ready-made isahc client, or a
    /// starting token pair.
    ///
    /// ```
    /// use smartling_auth_isahc::{BaseUrl, RefreshToken, TokenProvider};
    /// let p = TokenProvider::builder(BaseUrl::default())
    ///     .refresh_token(RefreshToken::new("r"))
    ///     .build()
    ///     .unwrap();
    /// # drop(p);
    /// ```
    pub fn builder(base: BaseUrl) -> Builder<TokenProvider> {
        Builder::new(base)
    }

    /// Like [`access_token`](Self::access_token), but renews through the session even
    /// when a fresh token is cached, and shows `observe` each renewal request this call
    /// sends with what came of it: the new pair, or the error with its status and code.
    /// For tools that report what the server said, such as the `smartling-auth`
    /// command.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_isahc::{Credentials, Handled, RequestKind, TokenProvider};
    /// let provider = TokenProvider::new(base, Credentials::new("id", "secret"))?;
    /// let mut lifetimes = Vec::new();
    /// provider.access_token_with(|kind, handled| {
    ///     if let Handled::Renewed(pair) = handled {
    ///         lifetimes.push((kind, pair.expires_in.as_secs()));
    ///     }
    /// })?;
    /// assert_eq!(lifetimes, [(RequestKind::Authenticate, 480)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn access_token_with(
        &self,
        observe: impl FnMut(RequestKind, &Handled),
    ) -> Result<AccessToken, Error> {
        let transport = Blocking(self.0.client());
        let drive = self
            .0
            .cache()
            .drive(&transport, Some(self.0.deadline()), observe);
        // The caller's thread runs the driver: the request goes out through isahc's
        // own agent thread, so the thread is free to extend a store lease meanwhile
        // (store operations run in place, as the driver hands them out).
        block_on(drive).map(|grant| grant.access_token)
    }

    /// `Authorization: Bearer <token>` as a header value marked sensitive (HTTP/2
    /// stacks will not index it; debug output of it is redacted by `http`).
    ///
    /// ```
    /// use smartling_auth_isahc::{AccessToken, BaseUrl, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a.b.c"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build().unwrap();
    /// let h = p.authorization_header().unwrap();
    /// assert!(h.is_sensitive());
    /// assert_eq!(h, "Bearer a.b.c");
    /// ```
    pub fn authorization_header(&self) -> Result<HeaderValue, Error> {
        Ok(smartling_auth_core::api::authorization_header(
            &self.access_token()?,
        ))
    }

    /// `Authorization: Bearer <token>` marked sensitive, with the token it carries:
    /// hand that to [`invalidate`](Self::invalidate) after a 401.
    ///
    /// ```
    /// use smartling_auth_isahc::{AccessToken, RefreshToken, TokenPair, TokenProvider};
    /// use std::time::{Duration, Instant};
    /// let pair = TokenPair::new(AccessToken::new("a.b.c"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let p = TokenProvider::builder(Default::default()).token_pair(pair, Instant::now()).build()?;
    /// let (header, token) = p.authorization()?;
    /// assert_eq!(header, "Bearer a.b.c");
    /// assert!(p.invalidate(&token));
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn authorization(&self) -> Result<(HeaderValue, AccessToken), Error> {
        let token = self.access_token()?;
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
    /// use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
    /// let provider = TokenProvider::new(BaseUrl::parse(&api)?, Credentials::new("id", "secret"))?;
    /// let answer = provider.call(|authorization| -> Result<_, Box<dyn std::error::Error>> {
    ///     let request = isahc::Request::get(format!("{api}/auth-api/v2/whoami"))
    ///         .header("Authorization", authorization)
    ///         .body(())?;
    ///     Ok(isahc::send(request)?)
    /// })?;
    /// assert_eq!(answer.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call<R, E>(&self, mut call: impl FnMut(&HeaderValue) -> Result<R, E>) -> Result<R, E>
    where
        R: Answer,
        E: From<Error>,
    {
        let (header, token) = self.authorization()?;
        let answer = call(&header)?;
        if !answer.is_unauthorized() {
            return Ok(answer);
        }
        self.invalidate(&token);
        let (header, fresh) = self.authorization()?;
        if fresh.same_secret(&token) {
            return Ok(answer);
        }
        drop(answer);
        call(&header)
    }

    /// Sends `request` through the provider's own isahc client with a fresh token, and
    /// after a 401 once more with a new one (the body is cloned for that). Redirects
    /// are not followed.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let api = emu.base_url();
    /// use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
    /// let provider = TokenProvider::new(BaseUrl::parse(&api)?, Credentials::new("id", "secret"))?;
    /// let request = isahc::Request::get(format!("{api}/auth-api/v2/whoami")).body(())?;
    /// assert_eq!(provider.send_authorized(request)?.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_authorized<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<isahc::Body>, Error>
    where
        B: Clone + Into<isahc::Body>,
    {
        let http = self.0.client().http_client();
        self.call(|authorization| {
            let mut request = request.clone();
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, authorization.clone());
            http.send(request)
                .map_err(|e| Error::Transport(crate::transport_error::from_isahc(&e)))
        })
    }

    /// Reports that an API call with `token` was answered 401: unless a newer token has
    /// replaced it, the next call renews. Returns whether it was the current token.
    ///
    /// ```
    /// use smartling_auth_isahc::{AccessToken, BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret")).unwrap();
    /// assert!(!p.invalidate(&AccessToken::new("not-ours")));
    /// ```
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.0.invalidate(token)
    }

    /// A snapshot of the current tokens with wall-clock expiry, for persisting.
    ///
    /// ```
    /// use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
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
    /// use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret")).unwrap();
    /// assert!(p.state().cache().store().is_none());
    /// ```
    pub fn state(&self) -> &ProviderState {
        &self.0
    }
}

/// The blocking transport: the caller's thread runs the driver under `block_on`, the
/// request is isahc's async send (carried by isahc's agent thread), waits are
/// `async-io` timers raced against the cache's listener, and store operations run in
/// place. No thread is spent per renewal.
struct Blocking<'a>(&'a Client);

impl Transport for Blocking<'_> {
    fn send(
        &self,
        request: HttpRequest,
        limit: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        // A panic in here drops the renewal, which hands it to the next caller.
        let client = self.0;
        async move { client.send_async_within(&request, limit).await }
    }

    fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()> {
        future::or(listener, async move {
            Timer::at(until).await;
        })
    }
}

/// Refreshes with the default client: one Refresh call, in one line.
///
/// ```
/// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
/// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
/// # let refresh_token = smartling_auth_isahc::authenticate(&base, &smartling_auth_isahc::Credentials::new("id", "secret"))?.refresh_token;
/// let pair = smartling_auth_isahc::refresh(&base, &refresh_token)?;
/// assert!(!pair.refresh_token.same_secret(&refresh_token));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn refresh(
    base: &BaseUrl,
    token: &smartling_auth_core::RefreshToken,
) -> Result<smartling_auth_core::TokenPair, Error> {
    crate::client::default_client()?.refresh(base, token)
}

/// Logs in with the default client.
///
/// ```
/// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
/// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
/// use smartling_auth_isahc::Credentials;
/// let pair = smartling_auth_isahc::authenticate(&base, &Credentials::new("id", "secret"))?;
/// assert_eq!(pair.expires_in.as_secs(), 480);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn authenticate(
    base: &BaseUrl,
    credentials: &Credentials,
) -> Result<smartling_auth_core::TokenPair, Error> {
    crate::client::default_client()?.authenticate(base, credentials)
}
