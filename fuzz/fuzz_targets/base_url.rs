//! Arbitrary strings into `BaseUrl::parse`, and arbitrary secrets into the request
//! builders.
//!
//! Input layout (readable seeds): the URL, then the user identifier, the user secret and
//! the refresh token, separated by NUL bytes; missing parts are empty. Non-UTF-8 parts
//! are read lossily.
//!
//! Checks:
//! - no panic; a refusal is `Error::InvalidBaseUrl` and says so;
//! - an accepted URL is `https://...`, or `http://` with a loopback host only
//!   (127.0.0.0/8, `[::1]`, `localhost`), as an independent reading of the normalised
//!   URL with `std::net` finds it; it has no query, fragment or user info, no trailing
//!   slash, it is ASCII, and parsing it again gives the same URL (a finding once:
//!   `crates/core/tests/fuzz_regressions.rs`);
//! - both requests go to the base URL joined with their path, as `POST` with JSON
//!   headers, and their bodies are JSON objects that give the inputs back exactly.

#![no_main]
#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use smartling_auth_core::{
    api::AUTHENTICATE_PATH, BaseUrl, Credentials, Error, HttpRequest, api::REFRESH_PATH, RefreshToken,
    authenticate_request, refresh_request,
};

/// Is the host of a normalised URL (`scheme://authority[/path]`) a loopback host?
fn loopback_host(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, _)) => {
                return v6
                    .parse::<Ipv6Addr>()
                    .is_ok_and(|ip| ip == Ipv6Addr::LOCALHOST);
            }
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| ip.octets()[0] == 127)
}

fn check_request(req: &HttpRequest, base: &BaseUrl, path: &str) -> Value {
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(
        req.uri().to_string(),
        base.join(path),
        "the request does not go to the base URL"
    );
    assert_eq!(req.headers()["content-type"], "application/json");
    match serde_json::from_slice(req.body()) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => panic!("the body is not a JSON object: {other}"),
        Err(e) => panic!("the body is not JSON: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0).map(String::from_utf8_lossy);
    let url = parts.next().unwrap_or_default();
    let user = parts.next().unwrap_or_default();
    let secret = parts.next().unwrap_or_default();
    let refresh = parts.next().unwrap_or_default();

    let base = match BaseUrl::parse(&url) {
        Ok(base) => base,
        Err(e) => {
            assert!(matches!(e, Error::InvalidBaseUrl { .. }), "{e:?}");
            assert!(e.to_string().starts_with("invalid base URL: "), "{e}");
            assert!(url.parse::<BaseUrl>().is_err());
            // A refused URL never reaches the builders; the default one does.
            BaseUrl::default()
        }
    };

    let s = base.as_str();
    let (scheme, rest) = s.split_once("://").expect("a normalised URL has a scheme");
    let authority = rest.split('/').next().unwrap_or_default();
    match scheme {
        "https" => {}
        "http" => assert!(
            loopback_host(authority),
            "plain http accepted for a non-loopback host: {url:?} -> {s}"
        ),
        other => panic!("scheme {other:?} accepted: {url:?} -> {s}"),
    }
    assert!(!authority.is_empty(), "no host: {s}");
    assert!(!authority.contains('@'), "user info kept: {s}");
    assert!(
        !s.contains('?') && !s.contains('#'),
        "query or fragment kept: {s}"
    );
    assert!(!s.ends_with('/'), "trailing slash kept: {s}");
    assert_eq!(base.to_string(), s);
    // A URI is ASCII: raw UTF-8 once went through into the request line and broke
    // this round trip (`crates/core/tests/fuzz_regressions.rs`).
    assert!(s.is_ascii(), "non-ASCII kept: {s:?}");
    match BaseUrl::parse(s) {
        Ok(again) => assert_eq!(again, base, "normalising twice changed {s}"),
        Err(e) => panic!("the normalised URL {s:?} (from {url:?}) is refused: {e}"),
    }

    let token = RefreshToken::new(refresh.as_ref());
    let body = check_request(&refresh_request(&base, &token), &base, REFRESH_PATH);
    assert_eq!(body.as_object().map(|o| o.len()), Some(1));
    assert_eq!(body["refreshToken"].as_str(), Some(refresh.as_ref()));

    let creds = Credentials::new(user.as_ref(), secret.as_ref());
    let body = check_request(
        &authenticate_request(&base, &creds),
        &base,
        AUTHENTICATE_PATH,
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(2));
    assert_eq!(body["userIdentifier"].as_str(), Some(user.as_ref()));
    assert_eq!(body["userSecret"].as_str(), Some(secret.as_ref()));
});
