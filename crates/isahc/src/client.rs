//! One configured isahc client: moves a core request to the server and the answer
//! back, blocking or async, with timeouts, no redirects and a body cap.

use std::cell::RefCell;
use std::io::Cursor;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt};
use http::uri::Scheme;
use isahc::config::{Configurable, RedirectPolicy};
use isahc::{AsyncBody, HttpClient};
use smartling_auth_core::{
    BaseUrl, Credentials, Error, HttpRequest, HttpResponse, RefreshToken, SecretBody, TokenPair,
    TransportError, api::ParseOptions, api::parse_token_response_with, authenticate_request,
    error::TransportErrorKind, refresh_request,
};

use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;
use zeroize::Zeroizing;

use crate::transport_error::{from_io, from_isahc};

pub use smartling_auth_core::provider::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};

/// An isahc client configured for the auth API. Cheap to clone; reuse it.
///
/// Every request it sends has the connect and total timeouts, never follows a redirect
/// (the request carries secrets), asks for no compression, and reads at most the body
/// cap plus one byte. A plain-http request (loopback only, as [`BaseUrl`] allows it)
/// never goes through a proxy, whether the environment or a ready-made isahc client
/// names one: the proxy would read the secret.
///
/// # Environment variables
///
/// curl and isahc read these from the process environment. Each one changes where
/// requests go or which servers are trusted, so whoever sets them is trusted as much as
/// the program. "Tested" means this crate's tests (`tests/environment`) check the
/// behaviour with the rustls build used here; the rest is from curl's and isahc's
/// sources.
///
/// | Variable | Effect |
/// |---|---|
/// | `https_proxy`, `HTTPS_PROXY` | Proxy for https requests (curl reads the lowercase one first). The request goes through a `CONNECT` tunnel: the proxy learns the host and port; TLS, and so the secret, stays end to end. Tested. |
/// | `all_proxy`, `ALL_PROXY` | Proxy for https when neither of the above is set (curl takes `http://`, `socks4://`, `socks5://` and `socks5h://` proxies). Ignored for plain http. Tested: an `http://` proxy for https; http and SOCKS proxies for plain http. |
/// | `no_proxy`, `NO_PROXY` | Comma-separated hosts or domains (or `*`) that skip the proxy. Tested with one host. |
/// | `http_proxy` | Ignored: plain http never goes through a proxy. curl never reads `HTTP_PROXY`. Tested. |
/// | `SSL_CERT_FILE` | When set and not empty, this PEM bundle holds the only trusted roots, in place of the system's. Tested. |
/// | `SSL_CERT_DIR` | When `SSL_CERT_FILE` is unset: colon-separated directories whose PEM files hold the only trusted roots, in place of the system's. Tested. |
/// | `CURL_CA_BUNDLE` | No effect: it belongs to the `curl` command; libcurl does not read it. Tested. |
/// | `SSLKEYLOGFILE` | curl appends every TLS session's keys to this file: whoever can read it can decrypt captured traffic, secret and tokens included. Tested (the file is opened). |
///
/// # Logging
///
/// This crate's own events (debug level) say what happens, without secrets. isahc can
/// log every byte of a request and its answer (`isahc::wire`, at TRACE, from its agent
/// thread), user secret and tokens included. It turns curl's verbose mode on when a
/// tracing subscriber wants its request span, whenever tracing's `log` feature is on
/// (any crate in the build can turn it on; isahc's own `log` feature does), or, with
/// isahc's `log` feature, when a `log` logger wants isahc's debug records. So:
///
/// - requests are sent under a `NoSubscriber`: isahc's span and events on the calling
///   thread go nowhere;
/// - the agent thread is silenced: the first read of a request body, which curl makes
///   on that thread before it holds a byte of the body (where the secret and the
///   refresh token are), makes that thread's tracing go nowhere for the rest of its
///   life. With a ready-made isahc client, that ends isahc's own agent-thread events
///   too. Until then, bodies are streamed, which curl cannot rewind to resend on a
///   fresh connection; after, they are plain bytes again.
///
/// One setup stays open: tracing's `log-always` feature copies every event, on every
/// thread, to the `log` logger, whatever the thread's subscriber. With it, do not let a
/// `log` logger keep TRACE records of `isahc::wire`.
///
/// A side effect: tracing events fall back to `log` records only while no tracing
/// subscriber has ever been set, and the `NoSubscriber` above counts. After this
/// crate's first request, tracing events no longer reach a `log` logger that way;
/// that is also what keeps isahc's wire log out of it.
///
/// ```
/// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
/// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
/// use smartling_auth_isahc::{Client, Credentials};
/// let client = Client::new()?;
/// let pair = client.authenticate(&base, &Credentials::new("id", "secret"))?;
/// let next = client.refresh(&base, &pair.refresh_token)?;
/// assert!(!next.refresh_token.same_secret(&pair.refresh_token));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    http: HttpClient,
    parse: ParseOptions,
    connect_timeout: Duration,
    timeout: Duration,
}

impl Client {
    /// A client with the default timeouts and body cap.
    ///
    /// ```
    /// let client = smartling_auth_isahc::Client::new().unwrap();
    /// assert_eq!(client.timeout(), smartling_auth_isahc::DEFAULT_TIMEOUT);
    /// ```
    pub fn new() -> Result<Self, Error> {
        let http = HttpClient::builder()
            .redirect_policy(RedirectPolicy::None)
            .automatic_decompression(false)
            .build()
            .map_err(|e| Error::Transport(from_isahc(&e)))?;
        Ok(Self::with_http_client(http))
    }

    /// Wraps a ready-made isahc client (for its proxy, TLS or connection-pool settings).
    /// The timeouts, the redirect policy and the body cap are still applied per request,
    /// and plain http still skips any proxy the client names.
    ///
    /// ```
    /// let http = isahc::HttpClient::new().unwrap();
    /// let client = smartling_auth_isahc::Client::with_http_client(http);
    /// assert_eq!(client.max_body_bytes(), 64 * 1024);
    /// ```
    pub fn with_http_client(http: HttpClient) -> Self {
        Self {
            http,
            parse: ParseOptions::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the connect and total timeouts.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = smartling_auth_isahc::Client::new().unwrap()
    ///     .timeouts(Duration::from_secs(2), Duration::from_secs(5));
    /// assert_eq!(c.timeout(), Duration::from_secs(5));
    /// ```
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = total;
        self
    }

    /// Sets the body cap in bytes (default 64 KiB).
    ///
    /// ```
    /// let c = smartling_auth_isahc::Client::new().unwrap().max_body(1024);
    /// assert_eq!(c.max_body_bytes(), 1024);
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.parse = self.parse.max_body(bytes);
        self
    }

    /// The total timeout of one request.
    ///
    /// ```
    /// assert_eq!(smartling_auth_isahc::Client::new().unwrap().timeout().as_secs(), 30);
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How answers are parsed (the body cap).
    ///
    /// ```
    /// let c = smartling_auth_isahc::Client::new().unwrap().max_body(10);
    /// assert_eq!(c.parse_options().max_body_bytes(), 10);
    /// ```
    pub fn parse_options(&self) -> ParseOptions {
        self.parse
    }

    /// The isahc client underneath (its settings, without this client's per-request
    /// timeouts and body cap).
    ///
    /// ```
    /// let client = smartling_auth_isahc::Client::new()?;
    /// let _: &isahc::HttpClient = client.http_client();
    /// # Ok::<(), smartling_auth_isahc::Error>(())
    /// ```
    pub fn http_client(&self) -> &HttpClient {
        &self.http
    }

    /// The body cap in bytes.
    ///
    /// ```
    /// assert_eq!(smartling_auth_isahc::Client::new().unwrap().max_body_bytes(), 64 * 1024);
    /// ```
    pub fn max_body_bytes(&self) -> usize {
        self.parse.max_body_bytes()
    }

    /// Refreshes: swaps a refresh token for a new pair.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// # let refresh_token = smartling_auth_isahc::authenticate(&base, &smartling_auth_isahc::Credentials::new("id", "secret"))?.refresh_token;
    /// use smartling_auth_isahc::Client;
    /// let pair = Client::new()?.refresh(&base, &refresh_token)?;
    /// assert_eq!(pair.expires_in.as_secs(), 480);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh(&self, base: &BaseUrl, token: &RefreshToken) -> Result<TokenPair, Error> {
        self.exchange(&refresh_request(base, token), token.secret())
    }

    /// Logs in with a user identifier and secret.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_isahc::{Client, Credentials};
    /// let pair = Client::new()?.authenticate(&base, &Credentials::new("id", "secret"))?;
    /// assert_eq!(pair.refresh_expires_in.as_secs(), 3660);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authenticate(
        &self,
        base: &BaseUrl,
        credentials: &Credentials,
    ) -> Result<TokenPair, Error> {
        self.exchange(
            &authenticate_request(base, credentials),
            credentials.user_secret().secret(),
        )
    }

    /// Sends and parses; `secret` is what the request carried, redacted from any error
    /// (a server or proxy may echo the body).
    fn exchange(&self, request: &HttpRequest, secret: &str) -> Result<TokenPair, Error> {
        let response = self.send(request)?;
        parse_token_response_with(&response, &self.parse).map_err(|e| e.redact_exact(&[secret]))
    }

    /// Sends a core request and reads the answer, blocking.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_isahc::{refresh_request, Client, RefreshToken};
    /// let req = refresh_request(&base, &RefreshToken::new("not-a-real-token"));
    /// let answer = Client::new()?.send(&req)?;
    /// assert_eq!(answer.status(), 401);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        // isahc's own blocking `send` is this same `block_on`; going through the async
        // path keeps one way of building the request body (see `QuietBody`).
        futures_lite::future::block_on(self.send_async(request))
    }

    /// Sends a core request and reads the answer, asynchronously, on any executor.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_isahc::{authenticate_request, Client, Credentials};
    /// let req = authenticate_request(&base, &Credentials::new("id", "secret"));
    /// let answer = futures_lite::future::block_on(Client::new()?.send_async(&req))?;
    /// assert_eq!(answer.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_async(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let request = self.prepare(request)?;
        let response = self
            .http
            .send_async(request)
            .with_subscriber(NoSubscriber::default())
            .await
            .map_err(|e| from_isahc(&e))?;
        let (parts, body) = response.into_parts();
        let bytes = read_body(body, &parts.headers, self.read_limit())
            .await
            .map_err(|e| from_io(&e))?;
        finish(parts, bytes)
    }

    /// [`send`](Self::send), ending the request by `limit` if that comes before the
    /// client's own timeouts: how a caller's deadline bounds the request it sends.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_isahc::{authenticate_request, Client, Credentials};
    /// use std::time::Duration;
    /// let req = authenticate_request(&base, &Credentials::new("id", "secret"));
    /// let answer = Client::new()?.send_within(&req, Some(Duration::from_secs(5)))?;
    /// assert_eq!(answer.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_within(
        &self,
        request: &HttpRequest,
        limit: Option<Duration>,
    ) -> Result<HttpResponse, TransportError> {
        match self.bounded(limit) {
            Some(client) => client.send(request),
            None => self.send(request),
        }
    }

    /// [`send_async`](Self::send_async), ending the request by `limit` if that comes
    /// before the client's own timeouts.
    ///
    /// ```
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_isahc::{authenticate_request, Client, Credentials};
    /// let req = authenticate_request(&base, &Credentials::new("id", "secret"));
    /// let answer = futures_lite::future::block_on(Client::new()?.send_async_within(&req, None))?;
    /// assert_eq!(answer.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_async_within(
        &self,
        request: &HttpRequest,
        limit: Option<Duration>,
    ) -> Result<HttpResponse, TransportError> {
        match self.bounded(limit) {
            Some(client) => client.send_async(request).await,
            None => self.send_async(request).await,
        }
    }

    /// A copy whose timeouts end by `limit`, when that is sooner than this client's.
    /// curl reads a zero timeout as none, so the copy keeps at least a millisecond.
    fn bounded(&self, limit: Option<Duration>) -> Option<Client> {
        let limit = limit
            .filter(|l| *l < self.timeout)?
            .max(Duration::from_millis(1));
        Some(
            self.clone()
                .timeouts(self.connect_timeout.min(limit), limit),
        )
    }

    /// One byte past the cap, so that an oversized body is seen as such.
    fn read_limit(&self) -> u64 {
        self.parse.max_body_bytes() as u64 + 1
    }

    fn builder(&self, request: &HttpRequest) -> http::request::Builder {
        let mut b = http::Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .redirect_policy(RedirectPolicy::None)
            .automatic_decompression(false)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout);
        if request.uri().scheme() != Some(&Scheme::HTTPS) {
            // Plain http (loopback only, as `BaseUrl` allows it) would show the secret
            // to a proxy: no proxy at all, whatever the environment or the client says.
            b = b.proxy(None);
        }
        if let Some(headers) = b.headers_mut() {
            headers.extend(request.headers().clone());
        }
        b
    }

    fn prepare(&self, request: &HttpRequest) -> Result<http::Request<AsyncBody>, TransportError> {
        self.builder(request)
            .body(self.body(request.body()))
            .map_err(|_| TransportError::new(TransportErrorKind::Other, "invalid request"))
    }

    /// The request body: a [`QuietBody`] over a copy that is wiped when isahc drops
    /// it. Plain bytes (`Vec<u8>`, which isahc could rewind if curl had to resend them
    /// on a reused connection that died) would be freed unwiped, with the secret or the
    /// refresh token in them; without a rewind, such a request fails as a transport
    /// error, which the renewal retries like any other.
    fn body(&self, bytes: &SecretBody) -> AsyncBody {
        if bytes.is_empty() {
            return AsyncBody::empty();
        }
        let len = bytes.len() as u64;
        AsyncBody::from_reader_sized(
            QuietBody {
                bytes: Cursor::new(bytes.clone()),
            },
            len,
        )
    }
}

/// Reads an answer body of at most `limit` bytes into a [`SecretBody`] sized from
/// `Content-Length` (within the limit), so that it does not grow; the chunk it reads
/// through is wiped when done. isahc's own pipe buffers and curl's receive buffer,
/// which the bytes crossed on the way, are out of reach.
async fn read_body(
    mut body: AsyncBody,
    headers: &http::HeaderMap,
    limit: u64,
) -> std::io::Result<SecretBody> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut bytes = SecretBody::with_capacity(declared.unwrap_or(4096).min(limit) as usize);
    let mut chunk = Zeroizing::new([0u8; 4096]);
    let mut left = limit;
    while left > 0 {
        let want = (chunk.len() as u64).min(left) as usize;
        let n = body.read(&mut chunk[..want]).await?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        left -= n as u64;
    }
    Ok(bytes)
}

/// The name isahc gives the thread that runs curl for a client (`isahc-agent-<n>`).
const AGENT_THREAD_PREFIX: &str = "isahc-agent-";

thread_local! {
    /// Once this thread is a silenced agent thread: its default dispatcher, for life.
    static SILENCED: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// If this is one of isahc's agent threads, makes its tracing go nowhere for the rest
/// of its life.
///
/// curl's verbose output reaches tracing on that thread (`isahc::wire`, raw request and
/// answer bytes). isahc turns verbose on when its request span is not `Span::none()`,
/// which is always the case once any crate enables tracing's `log` feature, or when a
/// `log` logger wants isahc's debug records: the calling thread's `NoSubscriber`
/// cannot prevent it, so the thread that logs is silenced instead.
fn silence_agent_thread() {
    let agent = std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with(AGENT_THREAD_PREFIX));
    if agent {
        let _ = SILENCED.try_with(|s| {
            s.borrow_mut().get_or_insert_with(|| {
                tracing::dispatcher::set_default(&Dispatch::new(NoSubscriber::default()))
            });
        });
    }
}

/// A request body that silences the thread reading it, isahc's agent thread, before
/// curl holds a byte of it: the body is where the secret and the refresh token are.
/// Its bytes are wiped when isahc drops it.
struct QuietBody {
    bytes: Cursor<SecretBody>,
}

impl AsyncRead for QuietBody {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        silence_agent_thread();
        Poll::Ready(std::io::Read::read(&mut self.get_mut().bytes, buf))
    }
}

fn finish(parts: http::response::Parts, body: SecretBody) -> Result<HttpResponse, TransportError> {
    if parts.status.is_redirection() {
        return Err(TransportError::new(
            TransportErrorKind::Redirect,
            format!(
                "HTTP {}: redirects are never followed (the request carries secrets)",
                parts.status.as_u16()
            ),
        ));
    }
    Ok(http::Response::from_parts(parts, body))
}

/// The process-wide default client behind the one-shot functions (of this crate and
/// of the async transport), made on first use: each isahc client owns a background
/// thread, so one per call would be wasteful.
///
/// ```
/// let a = smartling_auth_isahc::default_client().unwrap();
/// let b = smartling_auth_isahc::default_client().unwrap();
/// assert!(std::ptr::eq(a, b));
/// ```
pub fn default_client() -> Result<&'static Client, Error> {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let c = Client::new()?;
    Ok(CLIENT.get_or_init(|| c))
}
