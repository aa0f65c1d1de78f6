//! A local emulator of Smartling's authentication API v2, for tests.
//!
//! [`Emulator`] is a real HTTP server on a loopback port (hyper on a tokio runtime
//! owned by a background thread), started inside a test and stopped on drop. It
//! issues JWT-shaped tokens, rotates refresh tokens (single use by default), enforces
//! token expiry and the 12-hour session cap against a virtual clock you can
//! [`advance`](Emulator::advance),
//! answers bad input with Smartling error envelopes, and serves [`Fault`]s on demand:
//! error statuses, HTML proxy pages, delays, truncated bodies, connection resets and
//! oversized bodies. [`Counters`] tell how many requests each [`Endpoint`] answered,
//! by [`Outcome`].
//!
//! Endpoints:
//!
//! | method and path | what |
//! |---|---|
//! | `POST /auth-api/v2/authenticate` | `{"userIdentifier", "userSecret"}` → token pair |
//! | `POST /auth-api/v2/authenticate/refresh` | `{"refreshToken"}` → new token pair |
//! | `GET /auth-api/v2/whoami` | emulator extension: checks `Authorization: Bearer <accessToken>` |
//! | `POST /_emulator/clock/advance` | admin: `{"seconds": N}` |
//! | `POST /_emulator/faults`, `DELETE /_emulator/faults` | admin: inject or clear faults |
//! | `GET /_emulator/counters`, `POST /_emulator/counters/reset` | admin: counters |
//! | `POST /_emulator/panic` | admin: makes the handler panic (answered 500) |
//!
//! Admin requests need `Authorization: Bearer <token>` with the emulator's
//! [`admin_token`](Emulator::admin_token), a `Host` naming the emulator's address, no
//! cross-site `Origin`, and `Content-Type: application/json` when they have a body.
//!
//! # Layers
//!
//! Each module imports only modules below it:
//!
//! | layer | modules | what they hold |
//! |---|---|---|
//! | start | `builder` | [`EmulatorBuilder`], `Emulator::builder`, `Emulator::start` |
//! | handle | `emulator` | [`Emulator`]: addresses, test controls, shutdown |
//! | I/O | `listener` | background thread, tokio runtime, accept loop, connection cap |
//! | | `server` | one request: route, guard, body, fault effect, count, answer |
//! | | `body`, `conn` | response body delivery; the socket: write timeout, reset, close |
//! | requests | `admin`, `guard`, `handlers` | admin API, its checks, the API calls |
//! | state | `state` | the state every request reads: clock, tokens, faults, counters, users |
//! | parts | `faults`, `reply`, `tokens`, `counters`, `ratelimit`, `envelope` | what the state and answers are made of |
//! | leaves | `endpoint`, `clock`, `random` | no imports from this crate |
//!
//! A new fault touches `crates/emulator/src/faults.rs` only: a [`Fault`] variant, its
//! JSON form in the admin API and its effect on a request (replace the answer, wait
//! first, or deliver the answer differently). Its test goes in
//! `crates/emulator/tests/faults.rs`. Only a new way of writing to the socket also
//! needs a `Delivery` (in the `reply` module) carried out by the `body` module.
//!
//! ```
//! use std::time::Duration;
//! use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
//!
//! let emu = Emulator::builder().user("user-id", "user-secret").start()?;
//! // Point the client under test at emu.base_url(), then e.g.:
//! emu.inject(Endpoint::Refresh, Fault::Status { status: 503, envelope: true, retry_after: Some("1".into()) }, 2);
//! emu.advance(Duration::from_secs(481)); // access tokens issued so far have expired
//! assert_eq!(emu.counters().get(Endpoint::Authenticate, Outcome::Success), 0);
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod body;
mod builder;
mod clock;
mod conn;
mod counters;
mod emulator;
mod endpoint;
mod envelope;
mod faults;
mod guard;
mod handlers;
mod listener;
mod random;
mod ratelimit;
mod reply;
mod server;
mod state;
mod tokens;

pub use builder::EmulatorBuilder;
pub use counters::{Counters, Outcome};
pub use emulator::Emulator;
pub use endpoint::Endpoint;
pub use faults::Fault;
