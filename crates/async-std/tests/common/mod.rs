//! Helpers shared by the integration tests: emulators, providers with test policies,
//! and a `whoami` check of a token against the emulator.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use smartling_auth_async_std::http::{self, header::AUTHORIZATION};
use smartling_auth_async_std::{
    AccessToken, BaseUrl, Builder, Client, Credentials, Policy, RetryPolicy, TokenPair,
    TokenProvider, authenticate, authorization_header,
};
use smartling_auth_emulator::{Emulator, EmulatorBuilder};

/// Starts an emulator with one known user.
pub fn start(builder: EmulatorBuilder) -> Emulator {
    builder
        .user("test-user", "test-user-secret-0123456789")
        .bind("127.0.0.1:0")
        .start()
        .expect("emulator starts")
}

pub fn base(emu: &Emulator) -> BaseUrl {
    BaseUrl::parse(&emu.base_url()).expect("loopback base URL")
}

pub fn credentials(emu: &Emulator) -> Credentials {
    let (id, secret) = emu.demo_user();
    Credentials::new(id, secret)
}

/// Fast retries with no jitter, so failures resolve quickly and deterministically.
pub fn quick_retry() -> RetryPolicy {
    let mut r = RetryPolicy::default();
    r.base_delay = Duration::from_millis(20);
    r.max_delay = Duration::from_millis(200);
    r.max_attempts = 6;
    r.max_retry_after = Duration::from_secs(2);
    r
}

/// The default policy, with no jitter, a fixed seed and quick retries.
pub fn policy() -> Policy {
    let mut p = Policy::default();
    p.refresh_jitter = Some(Duration::ZERO);
    p.seed = Some(7);
    p.retry = quick_retry();
    p
}

/// A provider builder for `emu`, with credentials and short timeouts.
pub fn builder(emu: &Emulator, policy: Policy) -> Builder<TokenProvider> {
    TokenProvider::builder(base(emu))
        .credentials(credentials(emu))
        .policy(policy)
        .timeouts(Duration::from_secs(2), Duration::from_secs(3))
        .deadline(Duration::from_secs(20))
}

/// How old the tokens of an [`aged`] provider are: 430 s of a 480 s access token, past
/// the default refresh-ahead point (60 s before expiry) but still valid for 20 s more
/// under the 30 s hard margin.
pub const AGE: Duration = Duration::from_secs(430);

/// Logs in with the one-shot call, then builds a provider (from `builder`) that starts
/// from that pair as if it had been obtained `age` ago, and moves the emulator's clock
/// by the same `age`: both sides then agree that `age` has passed, without waiting.
pub async fn aged(
    emu: &Emulator,
    builder: Builder<TokenProvider>,
    age: Duration,
) -> (TokenProvider, TokenPair) {
    let pair = authenticate(&base(emu), &credentials(emu))
        .await
        .expect("one-shot login");
    let sent_at = Instant::now()
        .checked_sub(age)
        .expect("an instant in the past");
    let provider = builder
        .token_pair(pair.clone(), sent_at)
        .build()
        .expect("provider");
    emu.advance(age);
    (provider, pair)
}

/// `GET /auth-api/v2/whoami` with `token`: the status the emulator answers.
pub async fn whoami(emu: &Emulator, token: &AccessToken) -> u16 {
    let request = http::Request::get(emu.url("/auth-api/v2/whoami"))
        .header(AUTHORIZATION, authorization_header(token))
        .body(Vec::new())
        .expect("request");
    Client::new()
        .expect("client")
        .send_async(&request)
        .await
        .expect("whoami answered")
        .status()
        .as_u16()
}

/// Polls `done` every 10 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    for _ in 0..100_000 {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        async_io::Timer::after(Duration::from_millis(10)).await;
    }
    false
}

/// Asserts at compile time that a future is `Send`.
pub fn assert_send<F: Future + Send>(f: F) -> F {
    f
}
