//! Every fault the emulator can inject ends in recovery or a clear error within the
//! configured deadline, on a login and on a refresh.

use std::time::{Duration, Instant};

use smartling_auth_async_std::{Builder, Error, TokenProvider};
use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::{quick_policy, quick_retry};

/// Short per-request timeouts, so slow answers turn into retries quickly.
const CONNECT: Duration = Duration::from_secs(1);
const TOTAL: Duration = Duration::from_secs(1);
/// How long one `access_token()` call may wait.
const DEADLINE: Duration = Duration::from_secs(6);
/// A generous margin for a noisy 2-core machine: a request on the wire may overrun the
/// deadline by its own timeout, and the scheduler adds its own delays.
const SLACK: Duration = Duration::from_secs(5);
/// The body cap of the client under test.
const CAP: usize = 4096;

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A token in the end.
    Recover,
    /// This error, at once (no retry would help).
    TooLarge,
}

fn faults() -> Vec<(&'static str, Fault, Expect)> {
    vec![
        (
            "429 with Retry-After: 1",
            Fault::Status {
                status: 429,
                envelope: true,
                retry_after: Some("1".into()),
            },
            Expect::Recover,
        ),
        ("500", error_envelope(500), Expect::Recover),
        (
            "503 without envelope",
            Fault::Status {
                status: 503,
                envelope: false,
                retry_after: None,
            },
            Expect::Recover,
        ),
        ("HTML 502", Fault::Html { status: 502 }, Expect::Recover),
        (
            "headers later than the client timeout",
            Fault::DelayHeaders(TOTAL * 3),
            Expect::Recover,
        ),
        (
            "body stalls past the client timeout",
            Fault::DelayBody(TOTAL * 3),
            Expect::Recover,
        ),
        ("truncated body", Fault::Truncate, Expect::Recover),
        ("connection reset", Fault::Reset, Expect::Recover),
        (
            "body over the cap",
            Fault::Oversized { bytes: CAP * 2 },
            Expect::TooLarge,
        ),
    ]
}

fn provider_builder(emu: &Emulator) -> Builder<TokenProvider> {
    for_emulator(TokenProvider::builder, emu, quick_policy())
        .timeouts(CONNECT, TOTAL)
        .deadline(DEADLINE)
        .retry(quick_retry())
        .max_body(CAP)
}

#[async_std::test]
async fn every_fault_on_login_ends_in_recovery_or_a_clear_error() {
    for (name, fault, expect) in faults() {
        let emu = start(Emulator::builder());
        let provider = provider_builder(&emu).build().unwrap();
        emu.inject(Endpoint::Authenticate, fault, 1);

        let started = Instant::now();
        let result = provider.access_token().await;
        let elapsed = started.elapsed();
        assert!(
            elapsed < DEADLINE + SLACK,
            "{name}: took {elapsed:?}, deadline {DEADLINE:?}"
        );
        match (expect, result) {
            (Expect::Recover, Ok(token)) => {
                assert_eq!(whoami_async(&emu, &token).await, 200, "{name}");
                // The fault was served, and a later try succeeded. (A delayed answer
                // is counted only once its delay is over, so totals are not exact.)
                assert_eq!(emu.pending_faults(Endpoint::Authenticate), 0, "{name}");
                assert!(
                    emu.counters().get(Endpoint::Authenticate, Outcome::Success) >= 1,
                    "{name}"
                );
            }
            (Expect::TooLarge, Err(Error::BodyTooLarge { limit, .. })) => {
                assert_eq!(limit, CAP, "{name}");
                // Not retryable: exactly one request.
                assert_eq!(emu.counters().total(Endpoint::Authenticate), 1, "{name}");
                // The next call tries again, and the server is fine now.
                let token = provider.access_token().await.unwrap();
                assert_eq!(whoami_async(&emu, &token).await, 200, "{name}");
            }
            (expect, result) => panic!("{name}: expected {expect:?}, got {result:?}"),
        }
        emu.shutdown();
    }
}

#[async_std::test]
async fn every_fault_on_refresh_ends_in_recovery_or_a_clear_error() {
    for (name, fault, expect) in faults() {
        let emu = start(Emulator::builder());
        // Refresh ahead: the current token stays valid (20 s) while the refresh fails.
        let (provider, pair) = aged(&emu, provider_builder(&emu), AGE).await;
        emu.inject(Endpoint::Refresh, fault, 1);

        let started = Instant::now();
        let mut renewed = None;
        // Callers keep getting a valid token while the renewal is retried; loop until
        // the renewal went through (or, for a permanent rejection, was given up on).
        for _ in 0..1000 {
            let token = provider.access_token().await;
            assert!(
                started.elapsed() < DEADLINE + SLACK,
                "{name}: took {:?}",
                started.elapsed()
            );
            let token = token.unwrap_or_else(|e| panic!("{name}: {e}"));
            if !token.same_secret(&pair.access_token) {
                renewed = Some(token);
                break;
            }
            if matches!(expect, Expect::TooLarge) {
                break;
            }
            async_io::Timer::after(Duration::from_millis(20)).await;
        }
        let c = emu.counters();
        match expect {
            Expect::Recover => {
                let token = renewed.unwrap_or_else(|| panic!("{name}: never renewed"));
                assert_eq!(whoami_async(&emu, &token).await, 200, "{name}");
            }
            Expect::TooLarge => {
                // A rejection while the current token serves: the callers keep it, and
                // the session backs off instead of hammering the server.
                assert!(renewed.is_none(), "{name}");
                assert_eq!(c.total(Endpoint::Refresh), 1, "{name}");
                assert_eq!(whoami_async(&emu, &pair.access_token).await, 200, "{name}");
            }
        }
        emu.shutdown();
    }
}
