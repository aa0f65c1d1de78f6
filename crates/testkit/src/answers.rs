//! Canned answers of the auth API, as the core reads them (`http::Response<Vec<u8>>`):
//! the success envelope, the error envelope, a proxy's HTML page, a truncated body, or
//! any status and bytes.

use smartling_auth_core::HttpResponse;
use smartling_auth_core::http::{self, HeaderValue, StatusCode};

/// The success envelope's JSON with the given tokens; the lifetimes are written as
/// given, so a test can send `480`, a quoted `"480"` or `-1`.
///
/// ```
/// let json = smartling_auth_testkit::answers::success_json("a", "r", 480, "\"60\"");
/// assert!(json.contains(r#""expiresIn":480,"refreshExpiresIn":"60""#));
/// ```
pub fn success_json(
    access: &str,
    refresh: &str,
    expires_in: impl std::fmt::Display,
    refresh_expires_in: impl std::fmt::Display,
) -> String {
    format!(
        r#"{{"response":{{"code":"SUCCESS","data":{{"accessToken":"{access}","refreshToken":"{refresh}","expiresIn":{expires_in},"refreshExpiresIn":{refresh_expires_in},"tokenType":"Bearer"}}}}}}"#
    )
}

/// A 200 success answer with the given tokens and lifetimes (seconds).
///
/// ```
/// let answer = smartling_auth_testkit::answers::success("a.b.c", "d.e.f", 480, 3660);
/// let pair = smartling_auth_core::parse_token_response(&answer).unwrap();
/// assert_eq!(pair.expires_in.as_secs(), 480);
/// ```
pub fn success(
    access: &str,
    refresh: &str,
    expires_in: u64,
    refresh_expires_in: u64,
) -> HttpResponse {
    response(
        200,
        success_json(access, refresh, expires_in, refresh_expires_in),
    )
}

/// The error envelope's JSON: one error with `key`, a message and empty details.
///
/// ```
/// let json = smartling_auth_testkit::answers::envelope_json("VALIDATION_ERROR", "k");
/// assert!(json.starts_with(r#"{"response":{"code":"VALIDATION_ERROR""#));
/// ```
pub fn envelope_json(code: &str, key: &str) -> String {
    format!(
        r#"{{"response":{{"code":"{code}","errors":[{{"key":"{key}","message":"m","details":{{}}}}]}}}}"#
    )
}

/// An error envelope with `status`, `code` and one error with `key`.
///
/// ```
/// use smartling_auth_core::parse_token_response;
/// let answer = smartling_auth_testkit::answers::envelope(401, "AUTHENTICATION_ERROR", "k");
/// let err = parse_token_response(&answer).unwrap_err();
/// assert_eq!(err.status().unwrap().as_u16(), 401);
/// ```
pub fn envelope(status: u16, code: &str, key: &str) -> HttpResponse {
    response(status, envelope_json(code, key))
}

/// A proxy's HTML error page with `status`.
///
/// ```
/// let answer = smartling_auth_testkit::answers::html(502);
/// assert!(smartling_auth_core::parse_token_response(&answer).is_err());
/// ```
pub fn html(status: u16) -> HttpResponse {
    response(status, "<html><body>Bad gateway</body></html>")
}

/// A 200 whose JSON stops in the middle of the success envelope.
///
/// ```
/// let answer = smartling_auth_testkit::answers::truncated();
/// assert!(smartling_auth_core::parse_token_response(&answer).is_err());
/// ```
pub fn truncated() -> HttpResponse {
    response(200, r#"{"response":{"code":"SUCCESS","data":{"accessTo"#)
}

/// Any status (100 to 999) with any body.
///
/// ```
/// let answer = smartling_auth_testkit::answers::response(200, "not json");
/// assert_eq!(answer.body(), b"not json");
/// ```
pub fn response(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
    let mut r = http::Response::new(smartling_auth_core::SecretBody::from(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).expect("a status code in 100..=999");
    r
}

/// `r` with one more header. Panics on a value that is not valid header bytes: in a
/// test, that is a typo.
///
/// ```
/// use smartling_auth_testkit::answers::{envelope, with_header};
/// let answer = with_header(envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "k"), "retry-after", "2");
/// assert_eq!(answer.headers()["retry-after"], "2");
/// ```
pub fn with_header(mut r: HttpResponse, name: &'static str, value: &str) -> HttpResponse {
    let value = HeaderValue::from_str(value).expect("a valid header value");
    r.headers_mut().insert(name, value);
    r
}
