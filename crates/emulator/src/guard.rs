//! The checks an admin request passes before the admin API sees it.
//!
//! The admin API moves the clock and injects faults, so a web page must not reach
//! it through the user's browser, nor a DNS-rebound name through a local port:
//!
//! - `Host` (and an absolute request target) must name the address the client
//!   connected to: `IP:PORT`, or `localhost:PORT` on a loopback address. A DNS
//!   name that merely resolves there is refused.
//! - An `Origin`, when present, must be that same address over `http`.
//! - `Authorization: Bearer <admin token>` must carry the emulator's token.
//! - A request with a body must declare it `application/json`, which a browser
//!   cannot send cross-site without a preflight.

use std::net::{IpAddr, SocketAddr};

use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING};
use hyper::http::uri::{Authority, Uri};
use hyper::{HeaderMap, http::request::Parts};

use crate::counters::Outcome;
use crate::envelope::ErrorItem;
use crate::reply::Reply;
use crate::state::State;

/// Lets an admin request through, or answers why not. `local` is the address the
/// client connected to.
pub(crate) fn check(state: &State, request: &Parts, local: SocketAddr) -> Result<(), Reply> {
    let headers = &request.headers;
    let host_ok = single(headers, HOST).is_some_and(|host| names(host, local))
        && request
            .uri
            .authority()
            .is_none_or(|authority| names(authority.as_str(), local));
    if !host_ok {
        return Err(refuse(
            403,
            "forbidden_host",
            "Host must name the address the emulator listens on (IP:PORT, or localhost:PORT on loopback)",
        ));
    }
    if !origin_ok(headers, local) {
        return Err(refuse(
            403,
            "forbidden_origin",
            "Cross-site requests to the admin API are refused",
        ));
    }
    let token = single(headers, AUTHORIZATION)
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if !token.is_some_and(|token| state.admin_token_matches(token)) {
        return Err(refuse(
            401,
            "invalid_admin_token",
            "Admin requests need Authorization: Bearer <admin token>",
        )
        .with_header(
            "WWW-Authenticate",
            "Bearer realm=\"smartling-auth-emulator admin\"",
        ));
    }
    if has_body(headers) && !is_json(headers) {
        return Err(refuse(
            415,
            "unsupported_media_type",
            "Admin request bodies must be sent as Content-Type: application/json",
        ));
    }
    Ok(())
}

fn refuse(status: u16, key: &'static str, message: &str) -> Reply {
    Reply::error(status, Outcome::Rejected, &[ErrorItem::new(key, message)])
}

/// The value of a header that appears exactly once, as text.
fn single(headers: &HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()
}

/// Whether `authority` (`host[:port]`) names `local`: the same IP and port, or
/// `localhost` with the same port when `local` is a loopback address.
fn names(authority: &str, local: SocketAddr) -> bool {
    // An authority may carry `user@`; a Host header never does.
    if authority.contains('@') {
        return false;
    }
    let Ok(authority) = authority.parse::<Authority>() else {
        return false;
    };
    if authority.port_u16().unwrap_or(80) != local.port() {
        return false;
    }
    let host = authority.host();
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    // A dual-stack listener sees IPv4 clients as IPv4-mapped IPv6 addresses.
    let local_ip = local.ip().to_canonical();
    match literal.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical() == local_ip,
        Err(_) => host.eq_ignore_ascii_case("localhost") && local_ip.is_loopback(),
    }
}

/// No `Origin`, or `http://` plus an authority that names `local`.
fn origin_ok(headers: &HeaderMap, local: SocketAddr) -> bool {
    if headers.get(ORIGIN).is_none() {
        return true;
    }
    let Some(origin) = single(headers, ORIGIN) else {
        return false;
    };
    let Ok(uri) = origin.parse::<Uri>() else {
        return false;
    };
    uri.scheme_str() == Some("http")
        && uri.path_and_query().is_none_or(|p| p.as_str() == "/")
        && uri
            .authority()
            .is_some_and(|authority| names(authority.as_str(), local))
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .any(|v| v.to_str().map_or(true, |v| v.trim() != "0"))
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    single(headers, CONTENT_TYPE).is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "127.0.0.1:4000";

    fn local() -> SocketAddr {
        LOCAL.parse().unwrap()
    }

    #[test]
    fn host_must_name_the_local_address() {
        for ok in ["127.0.0.1:4000", "localhost:4000", "LOCALHOST:4000"] {
            assert!(names(ok, local()), "{ok}");
        }
        for bad in [
            "127.0.0.1:4001",
            "127.0.0.2:4000",
            "evil.example:4000",
            "localhost.evil.example:4000",
            "127.0.0.1",
            "",
            "127.0.0.1:4000/x",
            "user@127.0.0.1:4000",
        ] {
            assert!(!names(bad, local()), "{bad}");
        }
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        assert!(names("[::1]:4000", v6));
        assert!(names("localhost:4000", v6));
        let public: SocketAddr = "192.0.2.7:80".parse().unwrap();
        assert!(names("192.0.2.7", public), "port 80 may be left out");
        assert!(
            !names("localhost:80", public),
            "localhost is not a public address"
        );
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:80".parse().unwrap();
        assert!(names("192.0.2.7:80", mapped));
        assert!(names("[::ffff:192.0.2.7]:80", mapped));
        let mapped_loopback: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        assert!(names("localhost:4000", mapped_loopback));
        assert!(names("127.0.0.1:4000", mapped_loopback));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn origin_must_be_the_same_address_over_http() {
        assert!(origin_ok(&headers(&[]), local()));
        assert!(origin_ok(
            &headers(&[("origin", "http://127.0.0.1:4000")]),
            local()
        ));
        assert!(origin_ok(
            &headers(&[("origin", "http://localhost:4000")]),
            local()
        ));
        for bad in [
            "null",
            "https://127.0.0.1:4000",
            "http://evil.example:4000",
            "http://127.0.0.1:4001",
            "http://127.0.0.1:4000/path",
            "not a uri",
        ] {
            assert!(!origin_ok(&headers(&[("origin", bad)]), local()), "{bad}");
        }
        let twice = headers(&[
            ("origin", "http://127.0.0.1:4000"),
            ("origin", "http://127.0.0.1:4000"),
        ]);
        assert!(!origin_ok(&twice, local()));
    }

    #[test]
    fn body_needs_json() {
        assert!(!has_body(&headers(&[])));
        assert!(!has_body(&headers(&[("content-length", "0")])));
        assert!(has_body(&headers(&[("content-length", "2")])));
        assert!(has_body(&headers(&[("transfer-encoding", "chunked")])));
        assert!(is_json(&headers(&[("content-type", "application/json")])));
        assert!(is_json(&headers(&[(
            "content-type",
            "Application/JSON; charset=utf-8"
        )])));
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
        ] {
            assert!(!is_json(&headers(&[("content-type", bad)])), "{bad}");
        }
        assert!(!is_json(&headers(&[])));
    }
}
