//! Blocking transport for Smartling's authentication API, on [isahc] (curl underneath,
//! rustls for TLS).
//!
//! ```
//! # let emu = smartling_auth_emulator::Emulator::builder().user("my-id", "my-secret").start()?;
//! # let api = emu.base_url(); // a local emulator here; in production: BaseUrl::default()
//! use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
//!
//! // One provider per API user, shared by every thread (it is `Clone + Send + Sync`).
//! let provider = TokenProvider::new(BaseUrl::parse(&api)?, Credentials::new("my-id", "my-secret"))?;
//!
//! // Before each API call: a token with at least 30 s of life, renewed ahead of expiry
//! // by a single caller, with backoff on 429 and 5xx, and a fresh login when the
//! // refresh token runs out.
//! let request = isahc::Request::get(format!("{api}/auth-api/v2/whoami"))
//!     .header("Authorization", provider.authorization_header()?)
//!     .body(())?;
//! assert_eq!(isahc::send(request)?.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! One Refresh call, without a provider:
//!
//! ```
//! # let emu = smartling_auth_emulator::Emulator::builder().user("my-id", "my-secret").start()?;
//! # let base = smartling_auth_isahc::BaseUrl::parse(&emu.base_url())?;
//! # let refresh_token = smartling_auth_isahc::authenticate(&base, &smartling_auth_isahc::Credentials::new("my-id", "my-secret"))?.refresh_token;
//! use smartling_auth_isahc::refresh;
//! let pair = refresh(&base, &refresh_token)?;
//! assert_eq!(pair.token_type.as_str(), "Bearer");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every lifecycle decision is made by [`smartling_auth_core::Session`], and every
//! renewal runs the core's one driver loop ([`TokenCache::drive`]); this crate moves
//! bytes and blocks. Its [`Client`] never follows redirects, enforces connect and
//! total timeouts, and reads at most the body cap. Requests, retries, waits and
//! fallbacks to login are `tracing` events at debug level, free of secrets.
//!
//! [isahc]: https://docs.rs/isahc

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod client;
mod provider;
mod transport_error;

// The names a user of this crate needs, from the core; the rest stays in the core's
// `api` and `error` modules, re-exported as such.
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

pub use client::{Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, default_client};
/// The isahc crate this one is built on, for a ready-made client
/// ([`Builder::http_client`]) of the same version.
pub use isahc;
pub use provider::{TokenProvider, authenticate, make_client, refresh};
pub use smartling_auth_core::provider::{Builder, DEFAULT_DEADLINE, Limits, Provider};

/// What a provider over this crate's [`Client`] is made of (the core's shell): the
/// token cache, the client and the per-call deadline. Both this crate's
/// [`TokenProvider`] and `smartling-auth-async-std`'s wrap one.
///
/// ```
/// # let p = smartling_auth_isahc::TokenProvider::new(Default::default(), smartling_auth_isahc::Credentials::new("id", "s"))?;
/// let state: &smartling_auth_isahc::ProviderState = p.state();
/// assert_eq!(state.client().timeout(), smartling_auth_isahc::DEFAULT_TIMEOUT);
/// # Ok::<(), smartling_auth_isahc::Error>(())
/// ```
pub type ProviderState = smartling_auth_core::provider::ProviderState<Client>;
