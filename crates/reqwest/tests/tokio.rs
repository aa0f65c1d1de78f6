//! The reqwest provider on tokio's multi-threaded and current-thread runtimes: a herd
//! at a cold start and at a renewal, a renewer cancelled mid-request, and the
//! middleware's authorised calls with their one retry after a 401.

use std::time::Duration;

use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
use smartling_auth_reqwest::{AccessToken, Authorize, TokenProvider};
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
    let token = tokio::time::timeout(Duration::from_secs(30), provider.access_token())
        .await
        .expect("nobody waits forever")
        .expect("a token");
    assert_eq!(whoami_async(&emu, &token).await, 200);
    // The one that took over; the cancelled one is counted only if hyper got its
    // connection's answer before dropping it.
    let logins = logins_once_counted(&emu, 1).await;
    assert!((1..=2).contains(&logins), "{logins} logins");
    assert!(provider.access_token().await.unwrap().same_secret(&token));
    emu.shutdown();
}

/// 100 concurrent calls through the middleware with one login; then, three times, the
/// server refuses the next `whoami` call with 401 (a revoked token): it is retried
/// once with a fresh token, no call fails, and the provider renews once each time.
async fn authorised_calls_survive_401s() {
    let emu = start(Emulator::builder());
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(Authorize::new(provider.clone()))
        .build();
    let url = emu.url("/auth-api/v2/whoami");
    let calls = |n: usize| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (client, url) = (client.clone(), url.clone());
                    tokio::spawn(async move { client.get(url).send().await })
                })
                .collect();
            for task in tasks {
                let answer = task.await.expect("task ran").expect("answered");
                assert_eq!(answer.status(), 200, "no call fails");
            }
        }
    };
    calls(100).await;
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
    let refreshes = emu.counters().total(Endpoint::Refresh);
    let whoamis = emu.counters().total(Endpoint::WhoAmI);
    for _ in 0..3 {
        emu.inject(
            Endpoint::WhoAmI,
            Fault::Status {
                status: 401,
                envelope: true,
                retry_after: None,
            },
            1,
        );
        calls(1).await;
    }
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1);
    assert_eq!(
        c.get(Endpoint::Refresh, Outcome::Success),
        refreshes + 3,
        "one renewal per refused token"
    );
    assert_eq!(
        c.total(Endpoint::WhoAmI),
        whoamis + 6,
        "one retry per 401, never two"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorised_calls_survive_401s_on_the_multi_threaded_runtime() {
    authorised_calls_survive_401s().await;
}

#[tokio::test(flavor = "current_thread")]
async fn authorised_calls_survive_401s_on_the_current_thread_runtime() {
    authorised_calls_survive_401s().await;
}

/// A request to another host gets no token, and a 401 there is not retried.
#[tokio::test(flavor = "current_thread")]
async fn another_host_gets_no_token() {
    let emu = start(Emulator::builder());
    let other = start(Emulator::builder());
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(Authorize::new(provider))
        .build();
    // Same host (127.0.0.1), another port: not the API's.
    let answer = client
        .get(other.url("/auth-api/v2/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "sent without a token");
    assert_eq!(
        emu.counters().total(Endpoint::Authenticate),
        0,
        "no token fetched"
    );
    assert_eq!(other.counters().total(Endpoint::WhoAmI), 1, "not retried");
}

/// Two providers (two "processes") share a file store: its operations run on tokio's
/// blocking pool, on either runtime, and one login serves both.
async fn a_shared_store() {
    let emu = start(Emulator::builder());
    let dir = tempfile::tempdir().unwrap();
    let provider = || {
        for_emulator(TokenProvider::builder, &emu, quick_policy())
            .store(smartling_auth_reqwest::FileStore::new(
                dir.path().join("cache"),
            ))
            .build()
            .unwrap()
    };
    let (a, b) = (provider(), provider());
    let first = herd(&a, 50).await;
    let second = herd(&b, 50).await;
    assert!(first.same_secret(&second), "adopted from the store");
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
    emu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_store_on_the_multi_threaded_runtime() {
    a_shared_store().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_shared_store_on_the_current_thread_runtime() {
    a_shared_store().await;
}
