//! Building the two requests as plain `http::Request<SecretBody>` values, and the body
//! type of requests and answers.

use std::fmt;
use std::ops::Deref;

use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use serde::Serialize;
use zeroize::{Zeroize, Zeroizing};

use crate::base_url::BaseUrl;
use crate::secret::{Credentials, RefreshToken};

/// An HTTP request as the core builds it. Its body holds the user secret or the
/// refresh token, and is wiped when dropped.
pub type HttpRequest = Request<SecretBody>;
/// An HTTP response as the core parses it. Its body holds the tokens, and is wiped
/// when dropped.
pub type HttpResponse = http::Response<SecretBody>;

/// The body of a request or an answer: bytes that may hold secrets (the user secret,
/// a refresh token, the tokens an answer carries), wiped when dropped and when it
/// grows, and never shown by `Debug`.
///
/// It reads as a byte slice (`Deref<Target = [u8]>`, `AsRef<[u8]>`), is made from
/// bytes or strings (`From`), and compares with them (`==`), for tests. A transport
/// that reads an answer writes into it ([`std::io::Write`], or
/// [`extend_from_slice`](Self::extend_from_slice)): unlike a `Vec<u8>`, which leaves
/// its old buffer unwiped on the heap each time it grows, it wipes the old buffer
/// before freeing it. Presize it with [`with_capacity`](Self::with_capacity) (the
/// `Content-Length`, bounded by the body cap) and it does not grow at all.
///
/// ```
/// use smartling_auth_core::{http, SecretBody};
/// use std::io::Write;
/// let mut body = SecretBody::with_capacity(16);
/// body.write_all(br#"{"a":"#)?;
/// body.write_all(b"1}")?;
/// assert_eq!(body, br#"{"a":1}"#);
/// assert_eq!(format!("{body:?}"), "SecretBody(7 bytes)");
/// let answer = http::Response::builder().status(200).body(body)?;
/// assert_eq!(answer.body().len(), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct SecretBody(Zeroizing<Vec<u8>>);

impl SecretBody {
    /// An empty body.
    ///
    /// ```
    /// assert!(smartling_auth_core::SecretBody::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty body with room for `capacity` bytes: writing up to that many never
    /// moves it.
    ///
    /// ```
    /// let body = smartling_auth_core::SecretBody::with_capacity(1024);
    /// assert!(body.is_empty());
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    /// Appends `bytes`. When they do not fit, the body moves to a buffer twice as
    /// large (at least), and the old one is wiped before it is freed.
    ///
    /// ```
    /// let mut body = smartling_auth_core::SecretBody::new();
    /// body.extend_from_slice(b"abc");
    /// body.extend_from_slice(b"def");
    /// assert_eq!(body, "abcdef");
    /// ```
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let needed = self.0.len() + bytes.len();
        if needed > self.0.capacity() {
            let mut grown = Vec::with_capacity(needed.max(2 * self.0.capacity()).max(64));
            grown.extend_from_slice(&self.0);
            // The old buffer is wiped (all its capacity) when `Zeroizing` drops it.
            self.0 = Zeroizing::new(grown);
        }
        self.0.extend_from_slice(bytes);
    }

    /// The bytes as a string, moved out without a copy (empty if they are not UTF-8):
    /// for the core's own JSON, whose caller owns the secret in it.
    pub(crate) fn into_string(mut self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0)).unwrap_or_default()
    }
}

impl Deref for SecretBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SecretBody {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::io::Write for SecretBody {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for SecretBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBody({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for SecretBody {
    /// Takes the vector over, without a copy.
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl From<String> for SecretBody {
    /// Takes the string's buffer over, without a copy.
    fn from(text: String) -> Self {
        Self::from(text.into_bytes())
    }
}

impl From<&[u8]> for SecretBody {
    fn from(bytes: &[u8]) -> Self {
        Self::from(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for SecretBody {
    fn from(bytes: &[u8; N]) -> Self {
        Self::from(bytes.to_vec())
    }
}

impl From<&str> for SecretBody {
    fn from(text: &str) -> Self {
        Self::from(text.as_bytes())
    }
}

impl PartialEq for SecretBody {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl Eq for SecretBody {}

/// Comparisons with plain bytes and strings, for tests; they are not constant-time.
macro_rules! body_eq {
    ($($(#[$g:meta])* [$($gen:tt)*] $other:ty => |$o:ident| $bytes:expr;)*) => {$(
        impl<$($gen)*> PartialEq<$other> for SecretBody {
            fn eq(&self, $o: &$other) -> bool {
                self[..] == $bytes[..]
            }
        }
    )*};
}

body_eq! {
    [] [u8] => |o| o;
    ['a] &'a [u8] => |o| o;
    [const N: usize] [u8; N] => |o| o;
    ['a, const N: usize] &'a [u8; N] => |o| o;
    [] Vec<u8> => |o| o;
    [] str => |o| o.as_bytes();
    ['a] &'a str => |o| o.as_bytes();
}

/// The Authenticate path, under the base URL.
pub const AUTHENTICATE_PATH: &str = "/auth-api/v2/authenticate";
/// The Refresh path, under the base URL.
pub const REFRESH_PATH: &str = "/auth-api/v2/authenticate/refresh";

/// `User-Agent` of every request: this crate and its version.
pub const USER_AGENT_VALUE: &str = concat!("smartling-auth-core/", env!("CARGO_PKG_VERSION"));

/// Builds `POST /auth-api/v2/authenticate/refresh` with `{"refreshToken": ...}`.
///
/// ```
/// use smartling_auth_core::{refresh_request, BaseUrl, RefreshToken};
/// let req = refresh_request(&BaseUrl::default(), &RefreshToken::new("r\"1"));
/// assert_eq!(req.uri(), "https://api.smartling.com/auth-api/v2/authenticate/refresh");
/// assert_eq!(req.body(), br#"{"refreshToken":"r\"1"}"#);
/// ```
pub fn refresh_request(base: &BaseUrl, token: &RefreshToken) -> HttpRequest {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        refresh_token: &'a str,
    }
    post(
        base,
        REFRESH_PATH,
        json(
            &Body {
                refresh_token: token.secret(),
            },
            token.secret().len(),
        ),
    )
}

/// Builds `POST /auth-api/v2/authenticate` with `{"userIdentifier": ..., "userSecret": ...}`.
///
/// ```
/// use smartling_auth_core::{authenticate_request, BaseUrl, Credentials};
/// let req = authenticate_request(&BaseUrl::default(), &Credentials::new("id", "s"));
/// assert_eq!(req.method(), "POST");
/// assert_eq!(req.headers()["content-type"], "application/json");
/// assert_eq!(req.body(), br#"{"userIdentifier":"id","userSecret":"s"}"#);
/// ```
pub fn authenticate_request(base: &BaseUrl, credentials: &Credentials) -> HttpRequest {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        user_identifier: &'a str,
        user_secret: &'a str,
    }
    post(
        base,
        AUTHENTICATE_PATH,
        json(
            &Body {
                user_identifier: credentials.user_identifier(),
                user_secret: credentials.user_secret().secret(),
            },
            credentials.user_identifier().len() + credentials.user_secret().secret().len(),
        ),
    )
}

fn json(body: &impl Serialize, len_hint: usize) -> SecretBody {
    // Structs of `&str` always serialise: serde_json escapes quotes, backslashes and
    // control characters, and passes other unicode through as UTF-8. Written into a
    // `SecretBody`, which wipes each buffer it outgrows (a `Vec` would leave them).
    let mut out = SecretBody::with_capacity(len_hint + 64);
    if serde_json::to_writer(&mut out, body).is_err() {
        out.0.zeroize();
    }
    out
}

fn post(base: &BaseUrl, path: &str, body: SecretBody) -> HttpRequest {
    let mut req = Request::new(body);
    *req.method_mut() = Method::POST;
    // `BaseUrl::parse` already accepted the base as a `Uri`, and the paths are fixed
    // ASCII, so the joined URL is a valid `Uri` too.
    *req.uri_mut() = Uri::try_from(base.join(path)).unwrap_or_default();
    let headers = req.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    req
}
