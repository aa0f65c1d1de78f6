//! The one-shot async calls: an extension of the blocking crate's [`Client`] that
//! sends with isahc's async API, and the two functions on a default client.

use std::future::Future;

use smartling_auth_core::{
    BaseUrl, Credentials, Error, HttpRequest, RefreshToken, TokenPair,
    api::parse_token_response_with, authenticate_request, refresh_request,
};
use smartling_auth_isahc::{Client, default_client};

/// The async one-shot calls on a [`Client`]: the blocking crate's `refresh` and
/// `authenticate`, sent with [`Client::send_async`] and parsed with the client's body
/// cap. The futures are `Send` and run on any executor.
///
/// ```
/// use smartling_auth_async_std::{AsyncClientExt, BaseUrl, Client, Credentials};
/// # let emulator = smartling_auth_emulator::Emulator::start()?;
/// # let (user_id, user_secret) = emulator.demo_user();
/// # let base = BaseUrl::parse(&emulator.base_url())?;
/// let client = Client::new()?;
/// let pair = async_std::task::block_on(
///     client.authenticate_async(&base, &Credentials::new(user_id, user_secret)),
/// )?;
/// assert!(pair.expires_in.as_secs() > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AsyncClientExt {
    /// Refreshes: swaps a refresh token for a new pair, async.
    ///
    /// ```
    /// use smartling_auth_async_std::{AsyncClientExt, BaseUrl, Client, Credentials};
    /// # let emulator = smartling_auth_emulator::Emulator::start()?;
    /// # let (user_id, user_secret) = emulator.demo_user();
    /// # let base = BaseUrl::parse(&emulator.base_url())?;
    /// let client = Client::new()?;
    /// smol::block_on(async {
    ///     let pair = client.authenticate_async(&base, &Credentials::new(user_id, user_secret)).await?;
    ///     let renewed = client.refresh_async(&base, &pair.refresh_token).await?;
    ///     assert!(!renewed.refresh_token.same_secret(&pair.refresh_token));
    ///     Ok::<(), smartling_auth_async_std::Error>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn refresh_async(
        &self,
        base: &BaseUrl,
        token: &RefreshToken,
    ) -> impl Future<Output = Result<TokenPair, Error>> + Send;

    /// Logs in with a user identifier and secret, async.
    ///
    /// ```
    /// use smartling_auth_async_std::{AsyncClientExt, BaseUrl, Client, Credentials};
    /// # let emulator = smartling_auth_emulator::Emulator::start()?;
    /// # let (user_id, _) = emulator.demo_user();
    /// # let base = BaseUrl::parse(&emulator.base_url())?;
    /// let client = Client::new()?;
    /// let wrong = Credentials::new(user_id, "not-the-secret");
    /// let err = smol::block_on(client.authenticate_async(&base, &wrong)).unwrap_err();
    /// assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn authenticate_async(
        &self,
        base: &BaseUrl,
        credentials: &Credentials,
    ) -> impl Future<Output = Result<TokenPair, Error>> + Send;
}

impl AsyncClientExt for Client {
    fn refresh_async(
        &self,
        base: &BaseUrl,
        token: &RefreshToken,
    ) -> impl Future<Output = Result<TokenPair, Error>> + Send {
        let request = refresh_request(base, token);
        let token = token.clone();
        async move { exchange(self, &request, token.secret()).await }
    }

    fn authenticate_async(
        &self,
        base: &BaseUrl,
        credentials: &Credentials,
    ) -> impl Future<Output = Result<TokenPair, Error>> + Send {
        let request = authenticate_request(base, credentials);
        let secret = credentials.user_secret().clone();
        async move { exchange(self, &request, secret.secret()).await }
    }
}

/// Sends and parses; `secret` is what the request carried, redacted from any error (a
/// server or proxy may echo the body).
async fn exchange(
    client: &Client,
    request: &HttpRequest,
    secret: &str,
) -> Result<TokenPair, Error> {
    let response = client.send_async(request).await?;
    parse_token_response_with(&response, &client.parse_options())
        .map_err(|e| e.redact_exact(&[secret]))
}

/// Refreshes with the default client, in one line, async.
///
/// ```
/// use smartling_auth_async_std::{BaseUrl, Credentials, authenticate, refresh};
/// # let emulator = smartling_auth_emulator::Emulator::start()?;
/// # let (user_id, user_secret) = emulator.demo_user();
/// # let base = BaseUrl::parse(&emulator.base_url())?;
/// async_std::task::block_on(async {
///     let pair = authenticate(&base, &Credentials::new(user_id, user_secret)).await?;
///     let renewed = refresh(&base, &pair.refresh_token).await?;
///     // Refresh tokens are single use: the old one is spent now.
///     assert!(refresh(&base, &pair.refresh_token).await.is_err());
///     # drop(renewed);
///     Ok::<(), smartling_auth_async_std::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn refresh(base: &BaseUrl, token: &RefreshToken) -> Result<TokenPair, Error> {
    let request = refresh_request(base, token);
    exchange(default_client()?, &request, token.secret()).await
}

/// Logs in with the default client, async.
///
/// ```
/// use smartling_auth_async_std::{BaseUrl, Credentials, authenticate};
/// # let emulator = smartling_auth_emulator::Emulator::start()?;
/// # let (user_id, user_secret) = emulator.demo_user();
/// # let base = BaseUrl::parse(&emulator.base_url())?;
/// let pair = smol::block_on(authenticate(&base, &Credentials::new(user_id, user_secret)))?;
/// assert_eq!(pair.token_type.as_str(), "Bearer");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn authenticate(base: &BaseUrl, credentials: &Credentials) -> Result<TokenPair, Error> {
    let request = authenticate_request(base, credentials);
    exchange(
        default_client()?,
        &request,
        credentials.user_secret().secret(),
    )
    .await
}
