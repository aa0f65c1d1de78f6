//! The provider shell every transport shares: how a token provider is built (its
//! token sources, policy, token store and limits, in [`Builder`]) and what it is made
//! of ([`ProviderState`]: the token cache, the client that sends its renewals, and the
//! longest one call may wait). A transport crate supplies only its client and its
//! provider type ([`Provider`]); the rules of which source is used, whose record a
//! store holds and how it is sealed are written here once.
//!
//! [`ProviderState::builder`] builds a state with no client at all, for a program that
//! drives the [`TokenCache`](crate::TokenCache) over a transport of its own:
//!
//! ```
//! use smartling_auth_core::{BaseUrl, Credentials, provider::ProviderState};
//! let state = ProviderState::builder(BaseUrl::default())
//!     .credentials(Credentials::new("id", "secret"))
//!     .build()?;
//! assert!(state.cached().is_none()); // nothing fetched yet
//! # Ok::<(), smartling_auth_core::Error>(())
//! ```

mod builder;
mod state;

use std::sync::Arc;
use std::time::Duration;

pub use builder::Builder;
pub use state::ProviderState;

use crate::Error;

/// Default connect timeout of each request: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of each request, body included: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest time one call waits for a token: 60 s.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// What a transport's client is made with: the builder's per-request limits.
///
/// ```
/// let limits = smartling_auth_core::provider::Limits::default();
/// assert_eq!(limits.timeout, smartling_auth_core::provider::DEFAULT_TIMEOUT);
/// assert_eq!(limits.max_body, 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connect timeout of each request.
    pub connect_timeout: Duration,
    /// Total timeout of each request, body included.
    pub timeout: Duration,
    /// The body cap in bytes.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body: crate::api::DEFAULT_MAX_BODY,
        }
    }
}

/// An answer to an authorised API call: whether the server refused its token (401), so
/// that a provider's `call` drops that token and retries once. Implemented for
/// `http::Response`; implement it for your client's answer type.
///
/// ```
/// use smartling_auth_core::{http, provider::Answer};
/// let refused = http::Response::builder().status(401).body(()).unwrap();
/// assert!(refused.is_unauthorized());
/// assert!(!http::Response::new(()).is_unauthorized());
/// ```
pub trait Answer {
    /// Whether the server answered 401 Unauthorized.
    fn is_unauthorized(&self) -> bool;
}

impl<B> Answer for http::Response<B> {
    fn is_unauthorized(&self) -> bool {
        self.status() == http::StatusCode::UNAUTHORIZED
    }
}

/// A token provider type a [`Builder`] can build: it names the client it sends with
/// and wraps the shared [`ProviderState`].
///
/// ```
/// use smartling_auth_core::{BaseUrl, Credentials, Error, provider::{Builder, Limits, Provider, ProviderState}};
/// use std::sync::Arc;
///
/// /// A provider of one's own: here, one that never renews.
/// struct CachedOnly(Arc<ProviderState<()>>);
///
/// impl Provider for CachedOnly {
///     type HttpClient = ();
///     type Client = ();
///     fn client(_: &Limits, _: Option<()>) -> Result<(), Error> {
///         Ok(())
///     }
///     fn from_state(state: Arc<ProviderState<()>>) -> Self {
///         CachedOnly(state)
///     }
/// }
///
/// let p: CachedOnly = Builder::new(BaseUrl::default())
///     .credentials(Credentials::new("id", "secret"))
///     .build()?;
/// assert!(p.0.cached().is_none());
/// # Ok::<(), Error>(())
/// ```
pub trait Provider: Sized {
    /// A ready-made HTTP client the builder may be handed
    /// ([`Builder::http_client`]), such as isahc's or reqwest's.
    type HttpClient;
    /// What sends renewals.
    type Client;
    /// Makes the client from the builder's limits, around `given` if the user handed
    /// one over.
    fn client(limits: &Limits, given: Option<Self::HttpClient>) -> Result<Self::Client, Error>;
    /// Wraps the built state.
    fn from_state(state: Arc<ProviderState<Self::Client>>) -> Self;
}

/// The provider without a client: the token cache, wired to its store, for a program
/// that drives it over a transport of its own ([`ProviderState::builder`]).
impl Provider for Arc<ProviderState<()>> {
    type HttpClient = ();
    type Client = ();
    fn client(_: &Limits, _: Option<()>) -> Result<(), Error> {
        Ok(())
    }
    fn from_state(state: Arc<ProviderState<()>>) -> Self {
        state
    }
}
