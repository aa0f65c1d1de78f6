//! A server that hands out 3 s tokens, with the default policy: every token handed out
//! is alive when the server checks it, and renewals stay single-flight without
//! spinning. Counts and liveness are asserted, never durations.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};
use smartling_auth_isahc::{Policy, TokenProvider};

const LIFETIME: Duration = Duration::from_secs(3);
/// How many token lifetimes the callers run for.
const LIVES: u32 = 3;

#[test]
fn three_second_tokens_are_served_alive_by_the_blocking_provider() {
    let emu = Emulator::builder()
        .user(USER, SECRET)
        .access_ttl(LIFETIME)
        .refresh_ttl(Duration::from_secs(60))
        .start()
        .unwrap();
    let mut policy = Policy::default();
    policy.retry = quick_policy().retry;
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
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1, "one login");
    let refreshes = c.total(Endpoint::Refresh);
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), refreshes);
    // At most about two renewals per lifetime (plus the one in flight at the end).
    assert!(
        (1..=2 * LIVES as u64 + 1).contains(&refreshes),
        "{refreshes} refreshes in {LIVES} lifetimes"
    );
}
