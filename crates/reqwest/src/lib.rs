//! Transport for Smartling's authentication API on [reqwest] and tokio: a cloneable
//! [`TokenProvider`], and [`Authorize`], a [`reqwest_middleware`] layer that puts the
//! token on every call to the API and retries once after a 401.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emu = smartling_auth_emulator::Emulator::builder().user("my-id", "my-secret").start()?;
//! # let api = emu.base_url(); // a local emulator here; in production: BaseUrl::default()
//! use smartling_auth_reqwest::{Authorize, BaseUrl, Credentials, TokenProvider};
//!
//! // One provider per API user, shared by every task (it is `Clone + Send + Sync`).
//! let provider = TokenProvider::new(BaseUrl::parse(&api)?, Credentials::new("my-id", "my-secret"))?;
//! // Every call through this client carries a token with at least 30 s of life,
//! // renewed ahead of expiry by one caller; a 401 drops it and retries once.
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(Authorize::new(provider))
//!     .build();
//! let answer = client.get(format!("{api}/auth-api/v2/whoami")).send().await?;
//! assert_eq!(answer.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! Every lifecycle decision is made by [`smartling_auth_core::Session`], every renewal
//! runs the core's one driver loop ([`TokenCache::drive`]), and the provider is built by
//! the core's [`Builder`], as the other transports' are; this crate moves bytes and
//! awaits. Its [`Client`] never follows redirects, enforces connect and total
//! timeouts, reads at most the body cap, and sends plain `http` (loopback only) without
//! a proxy. It builds on reqwest's `rustls` feature (aws-lc-rs, the platform's roots):
//! no curl, and one TLS crypto library.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod middleware;
mod provider;

// The names a user of this crate needs, from the core; the rest stays in the core's
// `api` and `error` modules, re-exported as such.
pub use smartling_auth_core::provider::{
    Builder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_TIMEOUT, Limits, Provider,
    ProviderState,
};
pub use smartling_auth_core::{
    AccessToken, BaseUrl, Credentials, Error, Grant, Handled, HttpRequest, HttpResponse, Policy,
    RefreshToken, RequestKind, RetryPolicy, SecretBody, Snapshot, TokenCache, TokenPair, Transport,
    TransportError, api, authenticate_request, error, http, parse_token_response, refresh_request,
    store,
};
pub use smartling_auth_store::FileStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use smartling_auth_store::RedisStore;

pub use client::Client;
pub use middleware::Authorize;
pub use provider::TokenProvider;
/// The reqwest crate this one is built on, for a client builder of the same version
/// ([`Builder::http_client`]).
pub use reqwest;
/// The middleware crate [`Authorize`] plugs into.
pub use reqwest_middleware;
