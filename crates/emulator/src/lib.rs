//! A local emulator of Smartling's authentication API v2, for tests.
//!
//! [`Emulator`] is a real HTTP server on a loopback port (tiny_http behind a small
//! byte relay), started inside a test and stopped on drop. It issues JWT-shaped
//! tokens, rotates refresh tokens (single use by default), enforces token expiry and
//! the 12-hour session cap against a virtual clock you can [`advance`](Emulator::advance),
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

mod admin;
mod clock;
mod config;
mod counters;
mod emulator;
mod endpoint;
mod envelope;
mod faults;
mod handlers;
mod random;
mod ratelimit;
mod relay;
mod reply;
mod server;
mod tokens;

pub use config::EmulatorBuilder;
pub use counters::{Counters, Outcome};
pub use emulator::Emulator;
pub use endpoint::Endpoint;
pub use faults::Fault;
