//! The async provider on tokio, as it is: isahc and `async-io` drive their own I/O, so
//! nothing here needs a tokio feature of ours. On the multi-threaded and the
//! current-thread runtime: a herd at a cold start and at a renewal, and a renewer
//! cancelled mid-request.

use std::time::Duration;

use smartling_auth_async_std::{AccessToken, TokenProvider};
use smartling_auth_emulator::{Emulator, Endpoint};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;

const TASKS: usize = 2_000;

/// `n` tokio tasks that ask at once; every one must get the same token.
async fn herd(provider: &TokenProvider, n: usize) -> AccessToken {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.access_token().await })
        })
        .collect();
    let mut first: Option<AccessToken> = None;
    for task in tasks {
        let token = task.await.expect("task ran").expect("a token");
        match &first {
            Some(f) => assert!(f.same_secret(&token), "one distinct token"),
            None => first = Some(token),
        }
    }
    first.expect("at least one task")
}

/// A cold start makes one login; a renewal after the token is reported rejected
/// makes one refresh, however many tasks ask.
async fn herd_and_renewal() {
    let emu = start(Emulator::builder());
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let first = herd(&provider, TASKS).await;
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
    assert_eq!(whoami_async(&emu, &first).await, 200);

    assert!(provider.invalidate(&first));
    let second = herd(&provider, TASKS).await;
    assert!(!second.same_secret(&first));
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1);
    assert_eq!(c.total(Endpoint::Refresh), 1);
    assert_eq!(whoami_async(&emu, &second).await, 200);
    emu.shutdown();
}

/// The renewer's future is dropped mid-request (a tokio timeout); a later caller
/// takes the renewal over at once, and nothing stays locked.
async fn cancelled_renewer() {
    let emu = start(Emulator::builder());
    let provider = held_login(TokenProvider::builder, &emu, Duration::from_secs(2));
    let cancelled = tokio::time::timeout(Duration::from_millis(300), provider.access_token()).await;
    assert!(cancelled.is_err(), "the held login outlasts the timeout");
    // The next caller sends its own login rather than waiting on the dropped one.
    let token = tokio::time::timeout(Duration::from_secs(30), provider.access_token())
        .await
        .expect("nobody waits forever")
        .expect("a token");
    assert_eq!(whoami_async(&emu, &token).await, 200);
    // The cancelled login (counted when its delay ended) and the one that took over.
    assert_eq!(logins_once_counted(&emu, 2).await, 2);
    assert!(provider.access_token().await.unwrap().same_secret(&token));
    emu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_and_a_renewal_on_the_multi_threaded_runtime() {
    herd_and_renewal().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_herd_and_a_renewal_on_the_current_thread_runtime() {
    herd_and_renewal().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_renewer_on_the_multi_threaded_runtime() {
    cancelled_renewer().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_renewer_on_the_current_thread_runtime() {
    cancelled_renewer().await;
}
