//! Blocking transport for Smartling's authentication API, on [isahc] (curl underneath,
//! rustls for TLS).
//!
//! ```no_run
//! use smartling_auth_isahc::{BaseUrl, Credentials, TokenProvider};
//!
//! // One provider per user, shared by every thread (it is `Clone + Send + Sync`).
//! let provider = TokenProvider::new(
//!     BaseUrl::default(),
//!     Credentials::new(std::env::var("SMARTLING_USER_IDENTIFIER")?, std::env::var("SMARTLING_USER_SECRET")?),
//! )?;
//!
//! // Before each API call: a token with at least 30 s of life, renewed ahead of expiry
//! // by a single caller, with backoff on 429 and 5xx, and a fresh login when the
//! // refresh token runs out.
//! let auth = provider.authorization_header()?;
//! let response = isahc::Request::get("https://api.smartling.com/accounts-api/v2/accounts")
//!     .header("Authorization", auth)
//!     .body(())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The seed's call alone, without a provider:
//!
//! ```no_run
//! use smartling_auth_isahc::{refresh, BaseUrl, RefreshToken};
//! let pair = refresh(&BaseUrl::default(), &RefreshToken::new("..."))?;
//! println!("{}", pair.secret_json());
//! # Ok::<(), smartling_auth_isahc::Error>(())
//! ```
//!
//! Every lifecycle decision is made by [`smartling_auth_core::Session`]; this crate
//! moves bytes and blocks. Its [`Client`] never follows redirects, enforces connect and
//! total timeouts, and reads at most the body cap. Requests, retries, waits and
//! fallbacks to login are `tracing` events at debug level, free of secrets.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod client;
mod provider;
mod transport_error;

pub use smartling_auth_core::*;

pub use builder::{Builder, DEFAULT_DEADLINE, FromParts, Parts};
pub use client::{Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
pub use provider::{TokenProvider, authenticate, refresh};
