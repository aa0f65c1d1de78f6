//! The reqwest client a provider sends its renewals with: no redirects, timeouts,
//! a body cap, no proxy for plain `http`, request bodies wiped when hyper drops them,
//! and reqwest's errors mapped to the core's kinds.

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use smartling_auth_core::error::TransportErrorKind;
use smartling_auth_core::provider::Limits;
use smartling_auth_core::{Error, HttpRequest, HttpResponse, SecretBody, TransportError};

/// A reqwest client configured for the auth API. Cheap to clone; reuse it.
///
/// Every request it sends has the connect and total timeouts, never follows a redirect
/// (the request carries secrets), and reads at most the body cap plus one byte. A
/// plain-`http` request (loopback only, as [`BaseUrl`](smartling_auth_core::BaseUrl)
/// allows it) never goes through a proxy, whatever the environment names: the proxy
/// would read the secret. `https` may go through one (`HTTPS_PROXY`), as a tunnel.
///
/// ```
/// let client = smartling_auth_reqwest::Client::new()?;
/// assert_eq!(client.limits().max_body, 64 * 1024);
/// # Ok::<(), smartling_auth_reqwest::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    /// For `https`: the user's settings (proxy, roots), no redirects.
    secure: reqwest::Client,
    /// For plain `http` to loopback: no proxy at all.
    direct: reqwest::Client,
    limits: Limits,
}

impl Client {
    /// A client with the default limits.
    ///
    /// ```
    /// let client = smartling_auth_reqwest::Client::new()?;
    /// assert_eq!(client.limits().timeout, smartling_auth_reqwest::DEFAULT_TIMEOUT);
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        Self::with_limits(&Limits::default(), None)
    }

    /// A client with `limits`, built from `given` (your proxy, roots or pool
    /// settings) when you hand one over: its redirect policy is replaced by none and
    /// its timeouts by these.
    ///
    /// ```
    /// use smartling_auth_reqwest::{Client, Limits};
    /// let given = reqwest::Client::builder().user_agent("my-service/1.0");
    /// let client = Client::with_limits(&Limits::default(), Some(given))?;
    /// # drop(client);
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn with_limits(
        limits: &Limits,
        given: Option<reqwest::ClientBuilder>,
    ) -> Result<Self, Error> {
        let settle = |b: reqwest::ClientBuilder| {
            b.redirect(reqwest::redirect::Policy::none())
                .connect_timeout(limits.connect_timeout)
                .timeout(limits.timeout)
                .build()
                .map_err(|e| Error::Transport(map_error(&e)))
        };
        let secure = settle(given.unwrap_or_default())?;
        let direct = settle(reqwest::Client::builder().no_proxy())?;
        Ok(Self {
            secure,
            direct,
            limits: *limits,
        })
    }

    /// The limits every request has.
    ///
    /// ```
    /// let client = smartling_auth_reqwest::Client::new()?;
    /// assert_eq!(client.limits().connect_timeout, smartling_auth_reqwest::DEFAULT_CONNECT_TIMEOUT);
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sends `request`, ending by `limit` when that is sooner than the client's own
    /// total timeout, and reads at most the body cap plus one byte (so that an
    /// oversized body is seen as such). The request's body goes to hyper without a
    /// copy and is wiped when hyper drops it; the answer's is read into a
    /// [`SecretBody`] sized up front.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// # let base = smartling_auth_reqwest::BaseUrl::parse(&emu.base_url())?;
    /// use smartling_auth_reqwest::{Client, Credentials, authenticate_request, parse_token_response};
    /// let client = Client::new()?;
    /// let answer = client.send(authenticate_request(&base, &Credentials::new("id", "secret")), None).await?;
    /// assert_eq!(parse_token_response(&answer)?.expires_in.as_secs(), 480);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(
        &self,
        request: HttpRequest,
        limit: Option<Duration>,
    ) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let client = if parts.uri.scheme() == Some(&Scheme::HTTPS) {
            &self.secure
        } else {
            &self.direct
        };
        let url = parts.uri.to_string();
        let timeout = limit.map_or(self.limits.timeout, |l| {
            l.min(self.limits.timeout).max(Duration::from_millis(1))
        });
        let answer = client
            .request(parts.method, url)
            .headers(parts.headers)
            .timeout(timeout)
            // No copy: hyper holds the wiping buffer itself, and drops it when sent.
            .body(Bytes::from_owner(body))
            .send()
            .await
            .map_err(|e| map_error(&e))?;
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = self.read(answer).await?;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// Reads the answer's body, up to the cap plus one byte.
    async fn read(&self, mut answer: reqwest::Response) -> Result<SecretBody, TransportError> {
        let limit = self.limits.max_body.saturating_add(1);
        let hint = answer
            .content_length()
            .map_or(4096, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let mut body = SecretBody::with_capacity(hint.min(limit));
        while body.len() < limit {
            match answer.chunk().await.map_err(|e| map_error(&e))? {
                Some(chunk) => {
                    let room = limit - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                None => break,
            }
        }
        Ok(body)
    }
}

/// reqwest's error as one of the core's kinds, with a message that names no URL (it
/// names none of the request's secrets either way).
pub(crate) fn map_error(e: &reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_redirect() {
        TransportErrorKind::Redirect
    } else if tls_in_chain(e) {
        TransportErrorKind::Tls
    } else if e.is_connect() {
        if chain_text(e).contains("dns error") {
            TransportErrorKind::Dns
        } else {
            TransportErrorKind::Connect
        }
    } else if e.is_body() || e.is_decode() {
        TransportErrorKind::Protocol
    } else if io_kind(e).is_some_and(|k| {
        matches!(
            k,
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
    }) {
        TransportErrorKind::Reset
    } else if e.is_request() {
        TransportErrorKind::Protocol
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, chain_text(e))
}

/// The messages of `e` and its sources, joined.
fn chain_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "…");
    }
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The kind of the first `io::Error` among `e`'s sources.
fn io_kind(e: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = s.source();
    }
    None
}

/// Whether a TLS failure (a certificate refused, a handshake that failed) is among
/// `e`'s sources: reqwest reports them through errors whose messages say so, and its
/// TLS types are not part of its API.
fn tls_in_chain(e: &reqwest::Error) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return true;
        }
        source = s.source();
    }
    false
}
