//! Fixtures against the emulator: one known user, its base URL and credentials, a
//! provider builder pointed at it, a provider whose tokens are already old, and a
//! `whoami` check of a token.

use std::time::{Duration, Instant};

use smartling_auth_core::http::{self, header::AUTHORIZATION};
use smartling_auth_core::{
    AccessToken, BaseUrl, Credentials, Policy, TokenPair, api::authorization_header,
    authenticate_request, parse_token_response,
};
use smartling_auth_emulator::{Emulator, EmulatorBuilder, Endpoint, Fault, Outcome};
use smartling_auth_isahc::{Builder, Client, Provider, default_client};

/// The user every [`start`]ed emulator knows.
pub const USER: &str = "test-user";
/// Its secret: a quote, a backslash and non-ASCII letters, so that every request
/// escapes it in JSON. A test that searches output for it should also search for
/// [`SECRET_HEAD`], which every escaped form of it contains.
pub const SECRET: &str = "test-secret-Zq9\"\\ünï";
/// The part of [`SECRET`] before its first character that JSON or a byte-escaping log
/// would rewrite.
pub const SECRET_HEAD: &str = "test-secret-Zq9";

/// Starts `builder` with the user [`USER`] on a loopback port.
///
/// ```
/// use smartling_auth_emulator::Emulator;
/// let emu = smartling_auth_testkit::emulator::start(Emulator::builder());
/// assert_eq!(emu.demo_user().0, smartling_auth_testkit::emulator::USER);
/// ```
pub fn start(builder: EmulatorBuilder) -> Emulator {
    builder
        .user(USER, SECRET)
        .bind("127.0.0.1:0")
        .start()
        .expect("emulator starts")
}

/// An emulator with the defaults and the user [`USER`].
///
/// ```
/// let emu = smartling_auth_testkit::emulator::emulator();
/// assert!(emu.base_url().starts_with("http://127.0.0.1:"));
/// ```
pub fn emulator() -> Emulator {
    start(Emulator::builder())
}

/// The emulator's base URL.
///
/// ```
/// use smartling_auth_testkit::emulator::{base, emulator};
/// let emu = emulator();
/// assert_eq!(base(&emu).as_str(), emu.base_url());
/// ```
pub fn base(emu: &Emulator) -> BaseUrl {
    BaseUrl::parse(&emu.base_url()).expect("a loopback base URL")
}

/// The credentials of [`USER`].
///
/// ```
/// let c = smartling_auth_testkit::emulator::credentials();
/// assert_eq!(c.user_identifier(), smartling_auth_testkit::emulator::USER);
/// ```
pub fn credentials() -> Credentials {
    Credentials::new(USER, SECRET)
}

/// The fault that answers with `status` and the Smartling error envelope that goes
/// with it, without `Retry-After`.
///
/// ```
/// use smartling_auth_emulator::{Endpoint, Outcome};
/// use smartling_auth_testkit::emulator::{base, credentials, emulator, error_envelope};
/// let emu = emulator();
/// emu.inject(Endpoint::Authenticate, error_envelope(503), 1);
/// let err = smartling_auth_isahc::authenticate(&base(&emu), &credentials()).unwrap_err();
/// assert_eq!(err.status().unwrap().as_u16(), 503);
/// ```
pub fn error_envelope(status: u16) -> Fault {
    Fault::Status {
        status,
        envelope: true,
        retry_after: None,
    }
}

/// A provider builder for the emulator's user with `policy`, and timeouts that let a
/// test against a loopback server fail in seconds (connect 2 s, request 3 s, a call at
/// most 20 s). `new` is the provider's own `builder`, which names its type:
/// `for_emulator(TokenProvider::builder, &emu, policy)`.
///
/// ```
/// use smartling_auth_isahc::TokenProvider;
/// use smartling_auth_testkit::{emulator::*, policy::quick_policy};
/// let emu = emulator();
/// let provider = for_emulator(TokenProvider::builder, &emu, quick_policy()).build().unwrap();
/// assert_eq!(whoami(&emu, &provider.access_token().unwrap()), 200);
/// ```
pub fn for_emulator<P: Provider>(
    new: fn(BaseUrl) -> Builder<P>,
    emu: &Emulator,
    policy: Policy,
) -> Builder<P> {
    new(base(emu))
        .credentials(credentials())
        .policy(policy)
        .timeouts(Duration::from_secs(2), Duration::from_secs(3))
        .deadline(Duration::from_secs(20))
}

/// A provider (with [`quick_policy`](crate::policy::quick_policy)) whose first login
/// the server holds for `hold` before answering, while the provider would wait 20 s:
/// the scene of a renewal in flight that other callers line up behind, or whose
/// caller goes away.
///
/// ```
/// use std::time::Duration;
/// use smartling_auth_emulator::Endpoint;
/// use smartling_auth_isahc::TokenProvider;
/// use smartling_auth_testkit::emulator::*;
/// let emu = emulator();
/// let provider = held_login(TokenProvider::builder, &emu, Duration::from_millis(50));
/// assert_eq!(emu.pending_faults(Endpoint::Authenticate), 1);
/// assert_eq!(whoami(&emu, &provider.access_token().unwrap()), 200);
/// ```
pub fn held_login<P: Provider>(
    new: fn(BaseUrl) -> Builder<P>,
    emu: &Emulator,
    hold: Duration,
) -> P {
    emu.inject(Endpoint::Authenticate, Fault::DelayHeaders(hold), 1);
    for_emulator(new, emu, crate::policy::quick_policy())
        .timeouts(Duration::from_secs(2), Duration::from_secs(20))
        .build()
        .expect("a provider")
}

/// After callers used a provider for `lives` lifetimes of a short-lived token: one
/// login, every refresh a success, and at most about two renewals per lifetime (plus
/// the one in flight at the end). Renewals stayed single-flight and did not spin.
///
/// ```
/// use smartling_auth_isahc::TokenProvider;
/// use smartling_auth_testkit::{emulator::*, policy::quick_policy};
/// let emu = emulator();
/// let provider = for_emulator(TokenProvider::builder, &emu, quick_policy()).build().unwrap();
/// let token = provider.access_token().unwrap();
/// assert!(provider.invalidate(&token));
/// provider.access_token().unwrap();
/// assert_renewals_per_lifetime(&emu, 1);
/// ```
#[track_caller]
pub fn assert_renewals_per_lifetime(emu: &Emulator, lives: u32) {
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1, "one login");
    let refreshes = c.total(Endpoint::Refresh);
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), refreshes);
    assert!(
        (1..=2 * u64::from(lives) + 1).contains(&refreshes),
        "{refreshes} refreshes in {lives} lifetimes"
    );
}

/// How old the tokens of an [`aged`] provider are: 430 s of a 480 s access token, past
/// the default refresh-ahead point (60 s before expiry) but still valid for 20 s more
/// under the 30 s hard margin.
pub const AGE: Duration = Duration::from_secs(430);

/// Logs in with a one-shot call, then builds a provider (from `builder`) that starts
/// from that pair as if it had been obtained `age` ago, and moves the emulator's clock
/// by the same `age`: both sides then agree that `age` has passed, without waiting.
/// Returns the provider and the pair it started from.
///
/// ```
/// use smartling_auth_isahc::TokenProvider;
/// use smartling_auth_testkit::{emulator::*, policy::quick_policy};
/// let emu = emulator();
/// let builder = for_emulator(TokenProvider::builder, &emu, quick_policy());
/// let (provider, pair) = futures_lite::future::block_on(aged(&emu, builder, AGE));
/// // Past the refresh-ahead point: the next call refreshes.
/// assert!(!provider.access_token().unwrap().same_secret(&pair.access_token));
/// ```
pub async fn aged<P: Provider>(
    emu: &Emulator,
    builder: Builder<P>,
    age: Duration,
) -> (P, TokenPair) {
    let login = authenticate_request(&base(emu), &credentials());
    let answer = client()
        .send_async(&login)
        .await
        .expect("the one-shot login is answered");
    let pair = parse_token_response(&answer).expect("the one-shot login succeeds");
    let sent_at = Instant::now()
        .checked_sub(age)
        .expect("an instant in the past");
    let provider = builder
        .token_pair(pair.clone(), sent_at)
        .build()
        .expect("a provider");
    emu.advance(age);
    (provider, pair)
}

/// `GET /auth-api/v2/whoami` with `token`, blocking: the status the emulator answers
/// (200 for a live token, 401 otherwise).
///
/// ```
/// use smartling_auth_core::AccessToken;
/// use smartling_auth_testkit::emulator::{emulator, whoami};
/// assert_eq!(whoami(&emulator(), &AccessToken::new("never-issued")), 401);
/// ```
pub fn whoami(emu: &Emulator, token: &AccessToken) -> u16 {
    let answer = client().send(&whoami_request(emu, token));
    answer.expect("whoami is answered").status().as_u16()
}

/// [`whoami`] for async tests: the same request, awaited on any executor.
///
/// ```
/// use smartling_auth_core::AccessToken;
/// use smartling_auth_testkit::emulator::{emulator, whoami_async};
/// let status = futures_lite::future::block_on(whoami_async(&emulator(), &AccessToken::new("x")));
/// assert_eq!(status, 401);
/// ```
pub async fn whoami_async(emu: &Emulator, token: &AccessToken) -> u16 {
    let answer = client().send_async(&whoami_request(emu, token)).await;
    answer.expect("whoami is answered").status().as_u16()
}

/// The process-wide client: one isahc agent thread for every fixture call.
fn client() -> &'static Client {
    default_client().expect("the default client")
}

fn whoami_request(emu: &Emulator, token: &AccessToken) -> smartling_auth_core::HttpRequest {
    http::Request::get(emu.url("/auth-api/v2/whoami"))
        .header(AUTHORIZATION, authorization_header(token))
        .body(smartling_auth_core::SecretBody::new())
        .expect("a request")
}

/// Polls `done` every 10 ms until it holds or `limit` passes; returns whether it held.
/// A bound on a wait, not a measure of speed.
///
/// ```
/// use std::time::Duration;
/// let held = futures_lite::future::block_on(
///     smartling_auth_testkit::emulator::eventually(Duration::from_secs(1), || true));
/// assert!(held);
/// ```
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

/// The number of logins the emulator counted, once it is at least `at_least` or 15 s
/// have passed: a login the server held is counted only when its delay ends, after its
/// caller may have gone.
///
/// ```
/// use smartling_auth_testkit::emulator::*;
/// let emu = emulator();
/// smartling_auth_isahc::authenticate(&base(&emu), &credentials()).unwrap();
/// assert_eq!(futures_lite::future::block_on(logins_once_counted(&emu, 1)), 1);
/// ```
pub async fn logins_once_counted(emu: &Emulator, at_least: u64) -> u64 {
    let logins = || emu.counters().total(Endpoint::Authenticate);
    eventually(Duration::from_secs(15), || logins() >= at_least).await;
    logins()
}

/// `future`'s output, or `None` if `limit` passes first: a bound on a test's wait, not
/// a measure of speed.
///
/// ```
/// use std::time::Duration;
/// use smartling_auth_testkit::emulator::within;
/// let done = futures_lite::future::block_on(within(Duration::from_secs(5), async { 1 }));
/// assert_eq!(done, Some(1));
/// let never = futures_lite::future::block_on(
///     within(Duration::from_millis(10), std::future::pending::<()>()));
/// assert_eq!(never, None);
/// ```
pub async fn within<F: std::future::Future>(limit: Duration, future: F) -> Option<F::Output> {
    let bound = async {
        async_io::Timer::after(limit).await;
        None
    };
    futures_lite::future::or(async { Some(future.await) }, bound).await
}
