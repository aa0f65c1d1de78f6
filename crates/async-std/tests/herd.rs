//! Single flight under a herd of 10,000 tasks, and a renewer cancelled mid-request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smartling_auth_async_std::{AccessToken, TokenProvider};
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;
use smartling_auth_testkit::poll::wait_in_line;

const TASKS: usize = 10_000;

/// Starts `n` tasks that all ask for a token at once, and collects the tokens.
async fn herd(provider: &TokenProvider, n: usize) -> Vec<AccessToken> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let provider = provider.clone();
            async_std::task::spawn(async move { provider.access_token().await })
        })
        .collect();
    let mut tokens = Vec::with_capacity(n);
    for task in tasks {
        tokens.push(task.await.expect("every task gets a token"));
    }
    tokens
}

fn all_equal(tokens: &[AccessToken]) -> &AccessToken {
    let first = &tokens[0];
    assert!(
        tokens.iter().all(|t| t.same_secret(first)),
        "one distinct token"
    );
    first
}

#[async_std::test]
async fn a_herd_at_cold_start_and_after_expiry_sends_one_request_each_time() {
    // Access tokens live 60 s on the server; the client hands them out while at least
    // 56 s are left, so on its clock a token expires 4 s after it was requested (and
    // its refresh-ahead point, at half life, is later than that).
    let emu = start(Emulator::builder().access_ttl(Duration::from_secs(60)));
    let mut policy = quick_policy();
    policy.min_validity = Some(Duration::from_secs(56));
    policy.refresh_ahead = Some(Duration::from_secs(56));
    let provider = for_emulator(TokenProvider::builder, &emu, policy)
        .build()
        .unwrap();

    // Cold start: one login for everybody.
    let tokens = herd(&provider, TASKS).await;
    let phase1_done = Instant::now();
    assert_eq!(tokens.len(), TASKS);
    let first = all_equal(&tokens).clone();
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 1);
    assert_eq!(c.total(Endpoint::Refresh), 0);
    assert_eq!(whoami_async(&emu, &first).await, 200);

    // Let the token expire on the client's clock (4 s after it was requested, which
    // was before `phase1_done`), and on the server's.
    async_io::Timer::at(phase1_done + Duration::from_millis(4300)).await;
    emu.advance(Duration::from_secs(60));
    assert_eq!(
        whoami_async(&emu, &first).await,
        401,
        "expired on the server"
    );

    // Right after expiry: one refresh for everybody.
    let tokens = herd(&provider, TASKS).await;
    let second = all_equal(&tokens).clone();
    assert!(!second.same_secret(&first));
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1);
    assert_eq!(c.total(Endpoint::Refresh), 1);
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(whoami_async(&emu, &second).await, 200);
    emu.shutdown();
}

#[async_std::test]
async fn a_cancelled_renewer_hands_over_to_a_waiter() {
    let emu = start(Emulator::builder());
    // The first login is held by the server for 3 s; the client would wait 20 s.
    let provider = held_login(TokenProvider::builder, &emu, Duration::from_secs(3));

    let renewer = {
        let provider = provider.clone();
        async_std::task::spawn(async move { provider.access_token().await })
    };
    assert!(
        eventually(Duration::from_secs(10), || {
            emu.pending_faults(Endpoint::Authenticate) == 0
        })
        .await,
        "the login reached the server"
    );

    // Waiters line up behind the renewal in flight.
    let waiting = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..100)
        .map(|_| {
            let (provider, waiting) = (provider.clone(), Arc::clone(&waiting));
            async_std::task::spawn(
                async move { wait_in_line(provider.access_token(), &waiting).await },
            )
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || waiting.load(Ordering::SeqCst)
            == 100)
        .await,
        "every waiter is waiting"
    );
    assert_eq!(
        emu.counters().total(Endpoint::Authenticate),
        0,
        "still held"
    );

    // The renewer goes away mid-request; one waiter takes over.
    assert!(
        renewer.cancel().await.is_none(),
        "cancelled before it finished"
    );
    let all = async {
        let mut tokens = Vec::new();
        for waiter in waiters {
            tokens.push(waiter.await.expect("the waiters still get a token"));
        }
        tokens
    };
    let tokens = within(Duration::from_secs(30), all)
        .await
        .expect("nobody waits forever");
    let token = all_equal(&tokens);
    assert_eq!(whoami_async(&emu, token).await, 200);

    // Exactly one extra request: the cancelled one (counted when its delay ends) and
    // the one sent by the waiter that took over.
    assert_eq!(logins_once_counted(&emu, 2).await, 2);
    // Nothing is left locked: the next call is served at once from the cache.
    assert!(provider.access_token().await.unwrap().same_secret(token));
    emu.shutdown();
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 2);
}
