//! A server that hands out 3 s tokens, with the default policy: every token handed out
//! is alive when the server checks it, and renewals stay single-flight without
//! spinning. Counts and liveness are asserted, never durations.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use smartling_auth_emulator::Emulator;
use smartling_auth_isahc::{Policy, TokenProvider};
use smartling_auth_testkit::emulator::{
    assert_renewals_per_lifetime, base, credentials, start, whoami,
};
use smartling_auth_testkit::policy::quick_retry;

const LIFETIME: Duration = Duration::from_secs(3);
/// How many token lifetimes the callers run for.
const LIVES: u32 = 3;

#[test]
fn three_second_tokens_are_served_alive_by_the_blocking_provider() {
    let emu = start(
        Emulator::builder()
            .access_ttl(LIFETIME)
            .refresh_ttl(Duration::from_secs(60)),
    );
    let mut policy = Policy::default();
    policy.retry = quick_retry();
    let p = TokenProvider::builder(base(&emu))
        .credentials(credentials())
        .policy(policy)
        .build()
        .unwrap();
    let checked = AtomicU32::new(0);
    let end = Instant::now() + LIFETIME * LIVES;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                // Bounded by count as well as by time.
                for _ in 0..10_000 {
                    if Instant::now() >= end {
                        break;
                    }
                    let token = p.access_token().expect("a token");
                    let status = whoami(&emu, &token);
                    assert_eq!(status, 200, "a token handed out was dead at the server");
                    checked.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
    });
    assert!(checked.load(Ordering::Relaxed) > 0);
    assert_renewals_per_lifetime(&emu, LIVES);
}
