//! Async transport for Smartling's authentication API v2: one-shot calls and a
//! cloneable token provider for [async-std], [smol] or any other executor.
//!
//! async-std was discontinued in favour of smol, so this crate is built on the smol
//! crates themselves ([`async_io`][async-io] timers, [`futures_lite`][futures-lite],
//! the core's `event-listener` wake-ups) and on isahc's async API for HTTP. It runs on
//! async-std, on smol, and on any executor: isahc and `async-io` drive their own I/O.
//!
//! # On async-std
//!
//! ```
//! use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
//! # let emulator = smartling_auth_emulator::Emulator::start()?;
//! # let (user_id, user_secret) = emulator.demo_user();
//! # let base = BaseUrl::parse(&emulator.base_url())?;
//! // In production: `BaseUrl::default()` and your API user's identifier and secret.
//!
//! async_std::task::block_on(async {
//!     // One provider per API user, cloned into every task (`Clone + Send + Sync`).
//!     let provider = TokenProvider::new(base, Credentials::new(user_id, user_secret))?;
//!
//!     // Before each API call: a token with at least 30 s of life left, renewed ahead
//!     // of expiry by one task while the others keep going, with backoff on 429 and 5xx
//!     // and a fresh login when the refresh token runs out.
//!     let tasks: Vec<_> = (0..4)
//!         .map(|_| {
//!             let provider = provider.clone();
//!             async_std::task::spawn(async move { provider.authorization_header().await })
//!         })
//!         .collect();
//!     for task in tasks {
//!         let header = task.await?;
//!         assert!(header.to_str()?.starts_with("Bearer "));
//!     }
//!     Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! # On smol
//!
//! ```
//! use smartling_auth_async_std::{BaseUrl, Credentials, TokenProvider};
//! # let emulator = smartling_auth_emulator::Emulator::start()?;
//! # let (user_id, user_secret) = emulator.demo_user();
//! # let base = BaseUrl::parse(&emulator.base_url())?;
//!
//! smol::block_on(async {
//!     let provider = TokenProvider::new(base, Credentials::new(user_id, user_secret))?;
//!     let token = provider.access_token().await?;
//!     // A second call is served from the cache: no lock, no await.
//!     assert!(provider.access_token().await?.same_secret(&token));
//!     Ok::<(), smartling_auth_async_std::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! # One call, without a provider
//!
//! ```
//! use smartling_auth_async_std::{BaseUrl, Credentials, authenticate, refresh};
//! # let emulator = smartling_auth_emulator::Emulator::start()?;
//! # let (user_id, user_secret) = emulator.demo_user();
//! # let base = BaseUrl::parse(&emulator.base_url())?;
//! smol::block_on(async {
//!     let pair = authenticate(&base, &Credentials::new(user_id, user_secret)).await?;
//!     let renewed = refresh(&base, &pair.refresh_token).await?;
//!     assert!(!renewed.access_token.same_secret(&pair.access_token));
//!     Ok::<(), smartling_auth_async_std::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! Every lifecycle decision (when to refresh, when to log in again, how long to back
//! off, who renews) is made by the core's [`Session`](smartling_auth_core::Session) and [`TokenCache`], and every
//! renewal runs the core's one driver loop ([`TokenCache::drive`]); this crate only
//! supplies an async transport that moves bytes and awaits. Waiting tasks await an event listener raced against an `async-io`
//! timer: no thread ever blocks on a lock or sleeps. A fresh token is handed out on the
//! first poll, without any lock. The provider's builder is the core's
//! [`Builder`] (the shell every provider shares, with [`ProviderState`]), so all take
//! exactly the same options.
//!
//! [async-std]: https://docs.rs/async-std
//! [smol]: https://docs.rs/smol
//! [async-io]: https://docs.rs/async-io
//! [futures-lite]: https://docs.rs/futures-lite

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod client;
mod provider;

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

pub use client::{AsyncClientExt, authenticate, refresh};
pub use provider::{AccessTokenFuture, TokenProvider};
pub use smartling_auth_isahc::{
    Builder, Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_TIMEOUT, Limits, Provider,
    ProviderState,
};
