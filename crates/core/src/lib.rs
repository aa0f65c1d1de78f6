//! Sans-IO core of a client for Smartling's authentication API v2.
//!
//! This crate builds requests as plain [`http::Request<SecretBody>`](HttpRequest) values,
//! parses answers from bytes, and runs the whole token lifecycle as a state machine
//! ([`Session`]) that takes the time as an argument. It does no I/O: no sockets, no
//! runtime, no files, no threads. Bring any HTTP client.
//!
//! - [`refresh_request`] and [`authenticate_request`] build the two calls;
//! - [`parse_token_response`] turns an answer into a [`TokenPair`] or a typed [`Error`];
//! - [`Session`] decides when to refresh, when to log in again, and how long to back off;
//! - [`TokenCache`] shares one session between threads or tasks, with single-flight
//!   renewals and a lock-free path for fresh tokens, and [`TokenCache::drive`] is the
//!   one loop that runs a caller's renewal over any [`Transport`]. The
//!   `smartling-auth-isahc` (blocking) and `smartling-auth-async-std` (async) crates
//!   supply only how to send and how to wait.
//!
//! The root holds the loop's types and the request and parse functions. The detail
//! types of errors live in [`error`]; the API's constants and the helpers of a single
//! call (the token type, parse options, the `Authorization` header) in [`api`].
//!
//! Secrets ([`AccessToken`], [`RefreshToken`], [`UserSecret`]) print as `[redacted]`,
//! are wiped on drop, and come out only through `secret()`. The bodies of requests and
//! answers ([`SecretBody`]) hold them too, and are wiped on drop as well.
//!
//! # One call, any client
//! ```
//! use smartling_auth_core::{http, refresh_request, parse_token_response, BaseUrl, RefreshToken};
//!
//! let request = refresh_request(&BaseUrl::default(), &RefreshToken::new("my-refresh-token"));
//! assert_eq!(request.uri().path(), "/auth-api/v2/authenticate/refresh");
//! // send `request` with any HTTP client, then:
//! let answer = http::Response::builder().status(200).body(
//!     r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c","refreshToken":"d.e.f",
//!         "expiresIn":480,"refreshExpiresIn":3660,"tokenType":"Bearer"}}}"#).unwrap();
//! let pair = parse_token_response(&answer).unwrap();
//! assert_eq!(pair.expires_in.as_secs(), 480);
//! ```
//!
//! # Driving the lifecycle from any async runtime
//! For many callers, implement [`Transport`] (send, wait) and await
//! [`TokenCache::drive`]. For one caller, a loop over [`Session::poll`] is all it
//! takes: on [`Action::Send`], await your client's request and feed the answer back; on
//! [`Action::Wait`], sleep until that instant; on [`Action::UseToken`], return the
//! token. The session never blocks and never reads the clock, so the same loop works
//! on tokio, smol, async-std or an executor of your own:
//!
//! ```
//! use smartling_auth_core::*;
//! use std::time::Instant;
//!
//! async fn token(
//!     session: &mut Session,
//!     send: impl AsyncFn(HttpRequest) -> Result<HttpResponse, TransportError>,
//!     sleep_until: impl AsyncFn(Instant),
//! ) -> Result<AccessToken, Error> {
//!     loop {
//!         match session.poll(Instant::now()) {
//!             Action::UseToken(grant) => return Ok(grant.access_token),
//!             Action::Send(tx) => match send(tx.request).await {
//!                 Ok(answer) => { session.handle_response(Instant::now(), tx.id, &answer); }
//!                 Err(e) => { session.handle_transport_error(Instant::now(), tx.id, e); }
//!             },
//!             Action::Wait(until) => sleep_until(until).await,
//!             Action::Fail(e) => return Err(e),
//!         }
//!     }
//! }
//! # use std::future::Future;
//! # let mut session = Session::new(BaseUrl::default(), Policy::default())
//! #     .with_credentials(Credentials::new("id", "secret"));
//! # let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
//! #     "refreshToken":"d.e.f","expiresIn":480,"refreshExpiresIn":3660}}}"#;
//! # let send = async |_: HttpRequest| -> Result<HttpResponse, TransportError> {
//! #     Ok(http::Response::builder().status(200).body(body.into()).unwrap())
//! # };
//! # let sleep_until = async |_: Instant| {};
//! # let mut fut = std::pin::pin!(token(&mut session, send, sleep_until));
//! # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! # let std::task::Poll::Ready(t) = fut.as_mut().poll(&mut cx) else { panic!() };
//! # assert_eq!(t.unwrap().secret(), "a.b.c");
//! ```
//!
//! `examples/ureq.rs` drives a session with the blocking `ureq` 3 client.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

pub mod api;
mod api_error;
mod base_url;
mod call;
mod driver;
pub mod error;
mod excerpt;
mod fast_path;
pub mod provider;
mod request;
mod response;
mod retry_after;
mod secret;
mod session;
pub mod store;
mod token_cache;
mod wire;

/// The listener of [`Call::listener`] and [`Transport::wait`], and the trait with its
/// blocking waits (`wait_deadline`); async code awaits the listener directly.
#[doc(no_inline)]
pub use event_listener::{EventListener, Listener};
pub use http;

pub use base_url::BaseUrl;
pub use call::{Call, Step};
pub use driver::Transport;
pub use error::{Error, TransportError};
pub use request::{HttpRequest, HttpResponse, SecretBody, authenticate_request, refresh_request};
pub use response::{TokenPair, parse_token_response};
pub use secret::{AccessToken, Credentials, RefreshToken, UserSecret};
pub use session::{
    Action, Grant, Handled, Margins, Policy, Reason, RequestId, RequestKind, RetryPolicy, Session,
    Snapshot, Transmit,
};
pub use token_cache::TokenCache;

/// The renewal machine's internals, for the fuzz targets and the test kit's model
/// only (as quinn-proto does): no stability promise, not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::store::flight::{
        Bug, Distrust, Flight, FlightStep, Judged, Judgement, MAX_VERSION, judge, plant,
    };
}
