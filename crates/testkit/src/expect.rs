//! Unwrapping what a poll said, with the whole [`Action`] in the panic message when it
//! said something else.

use std::time::Instant;

use smartling_auth_core::{Action, Grant, Transmit};

/// The request of an [`Action::Send`].
///
/// ```
/// use smartling_auth_core::{BaseUrl, Credentials, RequestKind, Session};
/// let mut s = Session::new(BaseUrl::default(), Default::default())
///     .with_credentials(Credentials::new("id", "secret"));
/// let tx = smartling_auth_testkit::expect::expect_send(s.poll(std::time::Instant::now()));
/// assert_eq!(tx.kind, RequestKind::Authenticate);
/// ```
#[track_caller]
pub fn expect_send(a: Action) -> Transmit {
    match a {
        Action::Send(t) => t,
        other => panic!("expected Send, got {other:?}"),
    }
}

/// The grant of an [`Action::UseToken`].
///
/// ```
/// use smartling_auth_core::*;
/// use std::time::{Duration, Instant};
/// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
///     Duration::from_secs(480), Duration::from_secs(3660));
/// let now = Instant::now();
/// let mut s = Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair, now);
/// let grant = smartling_auth_testkit::expect::expect_token(s.poll(now));
/// assert_eq!(grant.access_token.secret(), "a");
/// ```
#[track_caller]
pub fn expect_token(a: Action) -> Grant {
    match a {
        Action::UseToken(g) => g,
        other => panic!("expected UseToken, got {other:?}"),
    }
}

/// The instant of an [`Action::Wait`].
///
/// ```
/// use smartling_auth_core::*;
/// use smartling_auth_testkit::expect::{expect_send, expect_wait};
/// let mut s = Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret"));
/// let now = std::time::Instant::now();
/// let _out = expect_send(s.poll(now)); // one request outstanding, no token yet
/// assert!(expect_wait(s.poll(now)) > now);
/// ```
#[track_caller]
pub fn expect_wait(a: Action) -> Instant {
    match a {
        Action::Wait(t) => t,
        other => panic!("expected Wait, got {other:?}"),
    }
}
