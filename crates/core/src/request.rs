//! Building the two requests as plain `http::Request<Vec<u8>>` values.

use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use serde::Serialize;

use crate::base_url::BaseUrl;
use crate::secret::{Credentials, RefreshToken};

/// An HTTP request as the core builds it.
pub type HttpRequest = Request<Vec<u8>>;
/// An HTTP response as the core parses it.
pub type HttpResponse = http::Response<Vec<u8>>;

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
        json(&Body {
            refresh_token: token.secret(),
        }),
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
        json(&Body {
            user_identifier: credentials.user_identifier(),
            user_secret: credentials.user_secret().secret(),
        }),
    )
}

fn json(body: &impl Serialize) -> Vec<u8> {
    // Structs of `&str` always serialise: serde_json escapes quotes, backslashes and
    // control characters, and passes other unicode through as UTF-8.
    serde_json::to_vec(body).unwrap_or_default()
}

fn post(base: &BaseUrl, path: &str, body: Vec<u8>) -> HttpRequest {
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
