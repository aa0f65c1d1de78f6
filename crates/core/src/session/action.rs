//! What the session asks its driver to do.

use std::fmt;
use std::time::Instant;

use crate::error::Error;
use crate::request::HttpRequest;
use crate::response::{TokenPair, TokenType};
use crate::secret::AccessToken;

/// The answer of [`Session::poll`](crate::Session::poll): one of four verbs.
///
/// ```
/// use smartling_auth_core::{Action, BaseUrl, Credentials, Policy, Session};
/// use std::time::Instant;
/// let mut s = Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret"));
/// assert!(matches!(s.poll(Instant::now()), Action::Send(_)));
/// ```
#[derive(Debug)]
pub enum Action {
    /// Use this access token.
    UseToken(Grant),
    /// Send this request, then feed its answer to
    /// [`handle_response`](crate::Session::handle_response) or its failure to
    /// [`handle_transport_error`](crate::Session::handle_transport_error).
    Send(Transmit),
    /// Nothing can be done before this instant, unless an answer arrives first: wait
    /// for whichever comes first, then poll again.
    Wait(Instant),
    /// No token can be had: the last renewal failed with this error. Polling again
    /// returns the same error until [`rearm`](crate::Session::rearm) is called.
    Fail(Error),
}

/// An access token handed out by the session, with how long it may be used.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Grant {
    /// The access token.
    pub access_token: AccessToken,
    /// Its type (`Bearer`).
    pub token_type: TokenType,
    /// The token has at least the policy's `min_validity` left until this instant.
    pub valid_until: Instant,
    /// Until this instant the session would give the same answer without being asked:
    /// a driver may cache the grant until then (and no later) without polling.
    pub fresh_until: Instant,
}

/// A request the session wants sent.
#[non_exhaustive]
pub struct Transmit {
    /// Pass this back with the answer; answers with a stale id are ignored.
    pub id: RequestId,
    /// Authenticate or Refresh.
    pub kind: RequestKind,
    /// Why this request is made.
    pub reason: Reason,
    /// 1 for the first try of a renewal, then 2, 3, ...
    pub attempt: u32,
    /// The request itself. Its body carries a secret: never log it.
    pub request: HttpRequest,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The request body holds a secret, so only its shape is shown.
        f.debug_struct("Transmit")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("attempt", &self.attempt)
            .field("uri", self.request.uri())
            .finish_non_exhaustive()
    }
}

/// Identifies one request of a session.
///
/// ```
/// use smartling_auth_core::{Action, BaseUrl, Credentials, Policy, Session};
/// let mut s = Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret"));
/// let Action::Send(t) = s.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(t.id, t.id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// Which endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `POST /auth-api/v2/authenticate`.
    Authenticate,
    /// `POST /auth-api/v2/authenticate/refresh`.
    Refresh,
}

/// Why the session asks for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// There is no access token yet.
    Initial,
    /// The access token is inside the refresh-ahead window.
    RefreshAhead,
    /// The access token is too close to expiry (or past it) to hand out.
    Expired,
    /// A caller reported the token rejected ([`invalidate`](crate::Session::invalidate)).
    Invalidated,
    /// The refresh token cannot be used (expired, refused, or the session cap is near),
    /// so the session logs in again.
    FallbackToLogin,
    /// The previous try failed and its backoff is over.
    Retry,
}

/// What [`Session::handle_response`](crate::Session::handle_response) made of an answer:
/// the outcome itself, so that a driver that reports it never parses the answer again.
///
/// ```
/// use smartling_auth_core::*;
/// use smartling_auth_core::{api::*, error::*};
/// use std::time::Instant;
/// let mut s = Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("id", "secret"));
/// let now = Instant::now();
/// let Action::Send(tx) = s.poll(now) else { panic!() };
/// let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///     "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660}}}"#;
/// let answer = http::Response::builder().status(200).body(body).unwrap();
/// let Handled::Renewed(pair) = s.handle_response(now, tx.id, &answer) else { panic!() };
/// assert_eq!(pair.expires_in.as_secs(), 480);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Handled {
    /// New tokens were installed: the pair as the server sent it.
    Renewed(TokenPair),
    /// Tokens another process obtained were installed from a shared token store: no
    /// request was sent. The lifetimes count from when that process sent its request.
    Adopted(TokenPair),
    /// The request failed with this error and will be tried again after a backoff.
    WillRetry(Error),
    /// The refresh token cannot be used any more (this error says why: the server
    /// refused it, or the session cap shortened its lifetime); the next request uses
    /// the next source: a spare refresh token, or a login.
    FallingBack(Error),
    /// The renewal failed for good with this error; polls return [`Action::Fail`] (or
    /// keep handing out the current token while it is valid).
    Failed(Error),
    /// The request was forgotten without counting a failure.
    Abandoned,
    /// The id is not the outstanding request's: the answer was ignored.
    Stale,
}

impl Handled {
    /// The error behind the outcome, if the request failed.
    ///
    /// ```
    /// use smartling_auth_core::Handled;
    /// assert!(Handled::Stale.error().is_none());
    /// ```
    pub fn error(&self) -> Option<&Error> {
        match self {
            Handled::WillRetry(e) | Handled::FallingBack(e) | Handled::Failed(e) => Some(e),
            Handled::Renewed(_) | Handled::Adopted(_) | Handled::Abandoned | Handled::Stale => None,
        }
    }
}
