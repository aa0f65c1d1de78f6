//! Authorised calls through reqwest: a `reqwest_middleware` layer that adds the
//! bearer token to each request for the API's host and retries once after a 401.

use http::Extensions;
use reqwest::{Request, Response, StatusCode, Url, header::AUTHORIZATION};
use reqwest_middleware::{Middleware, Next};

use crate::provider::TokenProvider;

/// A `reqwest_middleware` layer that authorises every request through it with
/// `Authorization: Bearer …` (marked sensitive), and after a 401 drops that token
/// ([`TokenProvider::invalidate`]), takes a fresh one and retries once. It never
/// retries twice, and never a request whose body cannot be cloned (a stream).
///
/// Only requests to the provider's own host (and port) get a token, unless you list
/// another host with [`allow_host`](Self::allow_host); and never over plain `http` to
/// a host that is not loopback, where it would cross the network in clear.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
/// # let api = emu.base_url(); // a local emulator here; in production: BaseUrl::default()
/// use smartling_auth_reqwest::{Authorize, BaseUrl, Credentials, TokenProvider};
///
/// let provider = TokenProvider::new(BaseUrl::parse(&api)?, Credentials::new("id", "secret"))?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(Authorize::new(provider))
///     .build();
/// let answer = client.get(format!("{api}/auth-api/v2/whoami")).send().await?;
/// assert_eq!(answer.status(), 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Authorize {
    provider: TokenProvider,
    hosts: Vec<(String, Option<u16>)>,
}

impl Authorize {
    /// Authorises requests to the host of `provider`'s base URL.
    ///
    /// ```
    /// use smartling_auth_reqwest::{Authorize, BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// let layer = Authorize::new(p);
    /// assert!(format!("{layer:?}").contains("api.smartling.com"));
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn new(provider: TokenProvider) -> Self {
        let base = provider.state().base_url().as_str().to_owned();
        let hosts = Url::parse(&base)
            .ok()
            .and_then(|u| {
                Some((
                    u.host_str()?.to_ascii_lowercase(),
                    u.port_or_known_default(),
                ))
            })
            .into_iter()
            .collect();
        Self { provider, hosts }
    }

    /// Also authorises requests to `host` (a name, any port), such as another
    /// Smartling API host your calls go to.
    ///
    /// ```
    /// use smartling_auth_reqwest::{Authorize, BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// let layer = Authorize::new(p).allow_host("files.example.com");
    /// assert!(format!("{layer:?}").contains("files.example.com"));
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push((host.into().to_ascii_lowercase(), None));
        self
    }

    /// The provider the tokens come from.
    ///
    /// ```
    /// use smartling_auth_reqwest::{Authorize, BaseUrl, Credentials, TokenProvider};
    /// let p = TokenProvider::new(BaseUrl::default(), Credentials::new("id", "secret"))?;
    /// assert!(Authorize::new(p).provider().snapshot().is_none());
    /// # Ok::<(), smartling_auth_reqwest::Error>(())
    /// ```
    pub fn provider(&self) -> &TokenProvider {
        &self.provider
    }

    /// Whether a request to `url` gets a token.
    fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback(&host)) {
            return false;
        }
        let port = url.port_or_known_default();
        self.hosts
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port))
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[async_trait::async_trait]
impl Middleware for Authorize {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !self.allows(request.url()) {
            return next.run(request, extensions).await;
        }
        let again = request.try_clone();
        let (header, token) = self
            .provider
            .authorization()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let mut request = request;
        request.headers_mut().insert(AUTHORIZATION, header);
        let answer = next.clone().run(request, extensions).await?;
        if answer.status() != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        // Once, and only with a body that can be sent again.
        let Some(mut again) = again else {
            return Ok(answer);
        };
        self.provider.invalidate(&token);
        let (header, fresh) = self
            .provider
            .authorization()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        if fresh.same_secret(&token) {
            // Another caller's renewal did not replace it: the 401 stands.
            return Ok(answer);
        }
        tracing::debug!("retrying a call once with a fresh token after a 401");
        drop(answer);
        again.headers_mut().insert(AUTHORIZATION, header);
        next.run(again, extensions).await
    }
}
