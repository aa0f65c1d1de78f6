//! The test kit of the smartling-auth crates: the helpers their tests, benchmarks and
//! the `session` fuzz target share, written once so that they cannot drift apart.
//!
//! | module | holds | feature |
//! |---|---|---|
//! | [`answers`] | canned server answers: success, error envelope, HTML, truncated, raw | none |
//! | [`policy`] | the test policies: exact instants, quick retries | none |
//! | [`expect`] | `expect_send` / `expect_token` / `expect_wait` over a poll's [`Action`](smartling_auth_core::Action) | none |
//! | [`poll`] | driving a future that is ready at once, without a runtime | none |
//! | [`bench`](mod@bench) | the benchmarks' mutex baseline and two-thread runner | none |
//! | [`child`] | a bounded wait for a test that re-runs its own binary as a child | none |
//! | [`model`] | the lifecycle model: a session under any sequence of operations, with every invariant checked | none (`arbitrary` derives its inputs) |
//! | `logs` | a tracing subscriber writing into a buffer the test reads | `logs` |
//! | `emulator` | an emulator with a known user, providers pointed at it, `whoami` | `emulator` |
//! | `tls` | a CA and a loopback server certificate it signed, in PEM | `redis` |
//! | `drills` | the fleet drills on real processes with default settings: a killed holder, a paused holder, a slow server | `emulator` |
//!
//! The default features need only `smartling-auth-core`, so the fuzz workspace builds
//! the model without curl, a server or a tracing subscriber.
//!
//! ```
//! use smartling_auth_core::{Action, BaseUrl, Credentials, Session};
//! use smartling_auth_testkit::{answers, expect::*, policy::exact_policy, secs};
//! use std::time::Instant;
//!
//! let t0 = Instant::now();
//! let mut s = Session::new(BaseUrl::default(), exact_policy())
//!     .with_credentials(Credentials::new("id", "secret"));
//! let tx = expect_send(s.poll(t0));
//! s.handle_response(t0, tx.id, &answers::success("a", "r", 480, 3660));
//! // The default hard margin of a 480 s token is 30 s.
//! assert_eq!(expect_token(s.poll(t0 + secs(1))).valid_until, t0 + secs(450));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod answers;
pub mod bench;
pub mod child;
#[cfg(feature = "emulator")]
pub mod drills;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod expect;
#[cfg(feature = "logs")]
pub mod logs;
pub mod model;
pub mod policy;
pub mod poll;
#[cfg(feature = "redis")]
pub mod redis;
pub mod store_model;
#[cfg(feature = "redis")]
pub mod tls;

use std::time::Duration;

/// `Duration::from_secs`, short enough for fake-clock arithmetic (`t0 + secs(480)`).
///
/// ```
/// assert_eq!(smartling_auth_testkit::secs(2).as_millis(), 2000);
/// ```
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
