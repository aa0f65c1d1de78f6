//! Answers built from fuzz input (statuses, headers), and the checks every parsed answer
//! must pass whatever its body.

use http::{HeaderMap, HeaderValue, Response, StatusCode};
use smartling_auth_core::{Error, api::MAX_LIFETIME, error::RetryAfter, TokenPair, parse_token_response};

/// Statuses a selector byte picks from (`sel % len`). Index 0 is 200, so a seed that
/// starts with a zero byte is a plain success. 2xx, the documented error statuses, the
/// ones proxies send, and odd ones (1xx, 3xx, 599, 999).
pub const STATUSES: [u16; 32] = [
    200, 201, 202, 204, 206, 299, 400, 401, 403, 404, 408, 409, 410, 423, 429, 500, 502, 503, 504,
    100, 101, 103, 301, 302, 304, 307, 418, 451, 505, 599, 600, 999,
];

/// The status a selector byte names.
pub fn status(sel: u8) -> StatusCode {
    StatusCode::from_u16(STATUSES[sel as usize % STATUSES.len()]).expect("table holds valid codes")
}

/// A `Date` header value used with HTTP-date `Retry-After`s.
pub const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

/// A response with `status`, `body` and headers; header values that are not valid header
/// bytes are left out (a real client could not have received them).
pub fn response(
    status: StatusCode,
    retry_after: Option<&[u8]>,
    date: Option<&[u8]>,
    body: Vec<u8>,
) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let headers = r.headers_mut();
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(http::header::RETRY_AFTER, v);
    }
    if let Some(v) = date.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(http::header::DATE, v);
    }
    r
}

/// Tokens go into headers: non-empty visible ASCII.
pub fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// What must hold of any parse result, whatever the input:
/// - `Ok` only on 2xx, with header-safe tokens, whole-second lifetimes up to
///   [`MAX_LIFETIME`], and a pair that survives `secret_json` and the parser again;
/// - an error carries the answer's status, is of a kind that fits it (2xx: malformed
///   success, a bad field, or the API error its error code says; otherwise: an API
///   error or an unexpected answer), carries the answer's `Retry-After` when it is a
///   failure, and prints no control character.
pub fn check_result(status: StatusCode, headers: &HeaderMap, result: &Result<TokenPair, Error>) {
    match result {
        Ok(pair) => {
            assert!(status.is_success(), "a pair from a {status} answer");
            check_pair(pair);
            let again = reparse(pair);
            assert_same_pair(pair, &again);
        }
        Err(e) => check_error(status, headers, e),
    }
}

/// The checks on a parsed pair.
pub fn check_pair(pair: &TokenPair) {
    assert!(
        header_safe(pair.access_token.secret()),
        "access token not header-safe"
    );
    assert!(
        header_safe(pair.refresh_token.secret()),
        "refresh token not header-safe"
    );
    assert!(
        header_safe(pair.token_type.as_str()),
        "token type not header-safe"
    );
    for d in [pair.expires_in, pair.refresh_expires_in] {
        assert!(d <= MAX_LIFETIME, "lifetime {d:?} above the maximum");
        assert_eq!(d.subsec_nanos(), 0, "lifetime {d:?} not whole seconds");
    }
    if pair.token_type.as_str().eq_ignore_ascii_case("bearer") {
        assert_eq!(pair.token_type.as_str(), "Bearer", "bearer not normalised");
    }
    let header = smartling_auth_core::api::authorization_header(&pair.access_token);
    assert_eq!(
        header.as_bytes(),
        format!("Bearer {}", pair.access_token.secret()).as_bytes(),
        "authorization header mangled a parsed token"
    );
}

/// `secret_json` in the success envelope, parsed again.
pub fn reparse(pair: &TokenPair) -> TokenPair {
    let json = format!(
        r#"{{"response":{{"code":"SUCCESS","data":{}}}}}"#,
        pair.secret_json()
    );
    let answer = Response::builder()
        .status(200)
        .body(json.into_bytes())
        .expect("a valid response");
    match parse_token_response(&answer) {
        Ok(p) => p,
        Err(e) => panic!("secret_json of a parsed pair does not parse again: {e}"),
    }
}

/// Same secrets, lifetimes and token type.
pub fn assert_same_pair(a: &TokenPair, b: &TokenPair) {
    assert_eq!(
        a.access_token.secret(),
        b.access_token.secret(),
        "access token"
    );
    assert_eq!(
        a.refresh_token.secret(),
        b.refresh_token.secret(),
        "refresh token"
    );
    assert_eq!(a.expires_in, b.expires_in, "expiresIn");
    assert_eq!(
        a.refresh_expires_in, b.refresh_expires_in,
        "refreshExpiresIn"
    );
    assert_eq!(a.token_type.as_str(), b.token_type.as_str(), "tokenType");
}

/// The checks on a parse error.
pub fn check_error(status: StatusCode, headers: &HeaderMap, e: &Error) {
    assert_eq!(e.status(), Some(status), "error lost the status: {e:?}");
    if status.is_success() {
        assert!(
            matches!(
                e,
                Error::MalformedSuccess { .. }
                    | Error::InvalidField { .. }
                    | Error::BodyTooLarge { .. }
                    | Error::Api(_)
            ),
            "a 2xx answer failed as {e:?}"
        );
        if e.api().is_some() {
            assert!(
                !e.is_retryable(),
                "an error code on a 2xx is retryable: {e:?}"
            );
        }
        assert_eq!(e.retry_after(), None);
    } else {
        assert!(
            matches!(
                e,
                Error::Api(_) | Error::UnexpectedResponse { .. } | Error::BodyTooLarge { .. }
            ),
            "a {status} answer failed as {e:?}"
        );
        if !matches!(e, Error::BodyTooLarge { .. }) {
            assert_eq!(
                e.retry_after(),
                RetryAfter::from_headers(headers).as_ref(),
                "Retry-After not carried"
            );
        }
    }
    let shown = e.to_string();
    assert!(
        !shown.chars().any(char::is_control),
        "control character in Display: {shown:?}"
    );
    let debug = format!("{e:?}");
    assert!(
        !debug.chars().any(char::is_control),
        "control character in Debug: {debug:?}"
    );
    let _ = e.is_retryable();
}
