//! Helpers shared by the lifecycle tests: canned answers and a fake clock.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use smartling_auth_core::{Action, Grant, HttpResponse, Policy, Transmit};

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A success answer with the given tokens and lifetimes.
pub fn success(
    access: &str,
    refresh: &str,
    expires_in: u64,
    refresh_expires_in: u64,
) -> HttpResponse {
    let body = format!(
        r#"{{"response":{{"code":"SUCCESS","data":{{"accessToken":"{access}","refreshToken":"{refresh}","expiresIn":{expires_in},"refreshExpiresIn":{refresh_expires_in},"tokenType":"Bearer"}}}}}}"#
    );
    http::Response::builder()
        .status(200)
        .body(body.into_bytes())
        .unwrap()
}

/// An error envelope.
pub fn envelope(status: u16, code: &str, key: &str) -> HttpResponse {
    let body = format!(
        r#"{{"response":{{"code":"{code}","errors":[{{"key":"{key}","message":"m","details":{{}}}}]}}}}"#
    );
    http::Response::builder()
        .status(status)
        .body(body.into_bytes())
        .unwrap()
}

pub fn with_header(mut r: HttpResponse, name: &'static str, value: &str) -> HttpResponse {
    r.headers_mut().insert(name, value.parse().unwrap());
    r
}

/// A policy with no refresh jitter and a fixed seed, so instants are exact.
pub fn exact_policy() -> Policy {
    let mut p = Policy::default();
    p.refresh_jitter = Some(Duration::ZERO);
    p.seed = Some(1);
    p
}

pub fn expect_send(a: Action) -> Transmit {
    match a {
        Action::Send(t) => t,
        other => panic!("expected Send, got {other:?}"),
    }
}

pub fn expect_token(a: Action) -> Grant {
    match a {
        Action::UseToken(g) => g,
        other => panic!("expected UseToken, got {other:?}"),
    }
}

pub fn expect_wait(a: Action) -> Instant {
    match a {
        Action::Wait(t) => t,
        other => panic!("expected Wait, got {other:?}"),
    }
}
