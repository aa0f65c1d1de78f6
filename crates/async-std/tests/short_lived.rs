//! A server that hands out 3 s tokens, with the default policy: every token the async
//! provider hands out is alive when the server checks it, and renewals stay
//! single-flight without spinning. Counts and liveness are asserted, never durations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smartling_auth_async_std::{Policy, TokenProvider};
use smartling_auth_emulator::Emulator;
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_retry;

const LIFETIME: Duration = Duration::from_secs(3);
/// How many token lifetimes the callers run for.
const LIVES: u32 = 3;

#[async_std::test]
async fn three_second_tokens_are_served_alive_by_the_async_provider() {
    let emu = Arc::new(start(
        Emulator::builder()
            .access_ttl(LIFETIME)
            .refresh_ttl(Duration::from_secs(60)),
    ));
    let mut policy = Policy::default();
    policy.retry = quick_retry();
    let provider = for_emulator(TokenProvider::builder, &emu, policy)
        .build()
        .unwrap();
    let end = Instant::now() + LIFETIME * LIVES;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (provider, emu) = (provider.clone(), Arc::clone(&emu));
            async_std::task::spawn(async move {
                let mut checked = 0;
                // Bounded by count as well as by time.
                for _ in 0..10_000 {
                    if Instant::now() >= end {
                        break;
                    }
                    let token = provider.access_token().await.expect("a token");
                    let status = whoami_async(&emu, &token).await;
                    assert_eq!(status, 200, "a token handed out was dead at the server");
                    checked += 1;
                    async_io::Timer::after(Duration::from_millis(20)).await;
                }
                checked
            })
        })
        .collect();
    let mut checked = 0;
    for task in tasks {
        checked += task.await;
    }
    assert!(checked > 0);
    assert_renewals_per_lifetime(&emu, LIVES);
}
