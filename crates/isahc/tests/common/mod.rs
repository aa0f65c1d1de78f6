//! Helpers for the tests against the emulator.
#![allow(dead_code)]

use std::time::Duration;

use isahc::ReadResponseExt;
use smartling_auth_emulator::Emulator;
use smartling_auth_isahc::{AccessToken, BaseUrl, Credentials, Policy, RetryPolicy};

pub const USER: &str = "test-user";
pub const SECRET: &str = "test-secret-Zq9\"\\ünï";

pub fn emulator() -> Emulator {
    Emulator::builder()
        .user(USER, SECRET)
        .start()
        .expect("emulator starts")
}

pub fn base(emu: &Emulator) -> BaseUrl {
    BaseUrl::parse(&emu.base_url()).unwrap()
}

pub fn credentials() -> Credentials {
    Credentials::new(USER, SECRET)
}

/// Small, deterministic retries so fault tests finish quickly.
pub fn quick_policy() -> Policy {
    let mut p = Policy::default();
    p.seed = Some(7);
    p.refresh_jitter = Some(Duration::ZERO);
    let mut r = RetryPolicy::default();
    r.base_delay = Duration::from_millis(20);
    r.max_delay = Duration::from_millis(200);
    r.max_retry_after = Duration::from_secs(2);
    p.retry = r;
    p
}

/// `GET /auth-api/v2/whoami` with the token: the emulator's protected endpoint.
pub fn whoami(emu: &Emulator, token: &AccessToken) -> u16 {
    let req = isahc::Request::get(emu.url("/auth-api/v2/whoami"))
        .header("Authorization", format!("Bearer {}", token.secret()))
        .body(())
        .unwrap();
    let mut resp = isahc::send(req).expect("whoami answers");
    let _ = resp.bytes();
    resp.status().as_u16()
}
