//! The token lifecycle end to end against the emulator: login, refresh, refresh-ahead,
//! fallbacks to login, the one-shot calls, and the `Send`/`Sync` promises.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use smartling_auth_async_std::{
    AsyncClientExt, Client, Error, TokenProvider, authenticate, refresh,
};
use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;

#[async_std::test]
async fn authenticate_then_refresh_then_whoami() {
    let emu = start(Emulator::builder());

    // A cold provider logs in.
    let cold = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let token = cold.access_token().await.unwrap();
    assert_eq!(
        emu.counters().get(Endpoint::Authenticate, Outcome::Success),
        1
    );
    assert_eq!(whoami_async(&emu, &token).await, 200);

    // A provider whose pair is 430 s old (both clocks agree): past the refresh-ahead
    // point, so the next call refreshes.
    let (provider, pair) = aged(
        &emu,
        for_emulator(TokenProvider::builder, &emu, quick_policy()),
        AGE,
    )
    .await;
    assert_eq!(
        emu.counters().get(Endpoint::Authenticate, Outcome::Success),
        2
    );
    let refreshed = provider.access_token().await.unwrap();
    assert!(!refreshed.same_secret(&pair.access_token));
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(c.total(Endpoint::Refresh), 1);
    assert_eq!(c.total(Endpoint::Authenticate), 2);
    assert_eq!(whoami_async(&emu, &refreshed).await, 200);

    // The refreshed token is fresh: served from the cache, nothing more is sent.
    assert!(
        provider
            .access_token()
            .await
            .unwrap()
            .same_secret(&refreshed)
    );
    assert_eq!(emu.counters().total(Endpoint::Refresh), 1);
    let snapshot = provider.snapshot().expect("a snapshot after a renewal");
    assert!(snapshot.access_token.same_secret(&refreshed));
    emu.shutdown();
}

#[async_std::test]
async fn fresh_token_is_served_from_the_cache() {
    let emu = start(Emulator::builder());
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let first = provider.access_token().await.unwrap();
    for _ in 0..100 {
        assert!(provider.access_token().await.unwrap().same_secret(&first));
    }
    let header = provider.authorization_header().await.unwrap();
    assert!(header.is_sensitive());
    assert_eq!(header, format!("Bearer {}", first.secret()).as_str());
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
    emu.shutdown();
}

#[async_std::test]
async fn refresh_ahead_keeps_callers_unblocked() {
    let emu = start(Emulator::builder());
    let (provider, pair) = aged(
        &emu,
        for_emulator(TokenProvider::builder, &emu, quick_policy())
            .timeouts(Duration::from_secs(2), Duration::from_secs(20)),
        AGE,
    )
    .await;
    let first = pair.access_token;

    // The next call renews (refresh ahead: the token is still valid for 20 s); the
    // server holds its refresh for a long while.
    emu.inject(
        Endpoint::Refresh,
        Fault::DelayHeaders(Duration::from_secs(8)),
        1,
    );
    let renewed = Arc::new(AtomicBool::new(false));
    let renewer = {
        let (provider, renewed) = (provider.clone(), Arc::clone(&renewed));
        async_std::task::spawn(async move {
            let token = provider.access_token().await;
            renewed.store(true, Ordering::SeqCst);
            token
        })
    };
    assert!(
        eventually(Duration::from_secs(10), || emu
            .pending_faults(Endpoint::Refresh)
            == 0)
        .await,
        "the refresh reached the server"
    );

    // Meanwhile every other caller gets the current token at once.
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            async_std::task::spawn(async move { provider.access_token().await })
        })
        .collect();
    for caller in callers {
        assert!(caller.await.unwrap().same_secret(&first));
    }
    assert!(
        !renewed.load(Ordering::SeqCst),
        "callers did not wait for the renewal"
    );
    assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Success), 0);

    let second = renewer.await.unwrap();
    assert!(!second.same_secret(&first));
    assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(whoami_async(&emu, &second).await, 200);
    emu.shutdown();
}

#[async_std::test]
async fn refused_refresh_falls_back_to_login() {
    let emu = start(Emulator::builder());
    let (provider, pair) = aged(
        &emu,
        for_emulator(TokenProvider::builder, &emu, quick_policy()),
        AGE,
    )
    .await;
    let first = pair.access_token;

    emu.inject(Endpoint::Refresh, error_envelope(401), 1);
    let second = provider.access_token().await.unwrap();
    assert!(!second.same_secret(&first));
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Faulted), 1);
    assert_eq!(c.total(Endpoint::Refresh), 1);
    // The one-shot login behind `aged`, then the fallback.
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 2);
    assert_eq!(whoami_async(&emu, &second).await, 200);
    emu.shutdown();
}

#[async_std::test]
async fn refresh_past_the_session_cap_falls_back_to_login() {
    // The server's session cap (900 s) has passed while the client, its clock behind,
    // still takes its refresh token for alive: the server refuses the refresh (401
    // invalid_token) and the provider logs in again.
    let emu = start(Emulator::builder().session_ttl(Duration::from_secs(900)));
    let (provider, pair) = aged(
        &emu,
        for_emulator(TokenProvider::builder, &emu, quick_policy()),
        AGE,
    )
    .await;
    emu.advance(Duration::from_secs(901) - AGE);
    assert_eq!(whoami_async(&emu, &pair.access_token).await, 401);
    let token = provider.access_token().await.unwrap();
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Rejected), 1);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 2);
    assert_eq!(whoami_async(&emu, &token).await, 200);
    emu.shutdown();
}

#[async_std::test]
async fn near_the_session_cap_the_provider_logs_in_instead_of_refreshing() {
    // The refresh token's lifetime (500 s, the session cap) is below the refresh-ahead
    // window (600 s here): the cap is near, so the renewal is a login, not a refresh.
    let emu = start(Emulator::builder().session_ttl(Duration::from_secs(500)));
    let mut policy = quick_policy();
    policy.refresh_ahead = Some(Duration::from_secs(600));
    let (provider, pair) = aged(
        &emu,
        for_emulator(TokenProvider::builder, &emu, policy),
        AGE,
    )
    .await;
    assert_eq!(pair.refresh_expires_in, Duration::from_secs(500));
    let token = provider.access_token().await.unwrap();
    assert!(!token.same_secret(&pair.access_token));
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Refresh), 0);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 2);
    assert_eq!(whoami_async(&emu, &token).await, 200);
    emu.shutdown();
}

#[async_std::test]
async fn invalidated_token_is_renewed() {
    let emu = start(Emulator::builder());
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let first = provider.access_token().await.unwrap();
    assert!(provider.invalidate(&first));
    assert!(!provider.invalidate(&first), "already invalidated");
    let second = provider.access_token().await.unwrap();
    assert!(!second.same_secret(&first));
    assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(whoami_async(&emu, &second).await, 200);
    emu.shutdown();
}

#[async_std::test]
async fn wrong_secret_is_a_clear_error() {
    let emu = start(Emulator::builder());
    let provider = TokenProvider::builder(base(&emu))
        .credentials(smartling_auth_async_std::Credentials::new(
            "test-user",
            "wrong",
        ))
        .build()
        .unwrap();
    let err = provider.access_token().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(err.api().is_some());
    assert!(!err.to_string().contains("wrong"));
    emu.shutdown();
}

#[async_std::test]
async fn one_shot_calls() {
    let emu = start(Emulator::builder());
    let base = base(&emu);
    let pair = authenticate(&base, &credentials()).await.unwrap();
    assert_eq!(whoami_async(&emu, &pair.access_token).await, 200);
    let renewed = refresh(&base, &pair.refresh_token).await.unwrap();
    assert_eq!(whoami_async(&emu, &renewed.access_token).await, 200);
    // Single use: the spent refresh token is refused.
    let err = refresh(&base, &pair.refresh_token).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));

    // The same on a configured client; its body cap applies.
    let client = Client::new().unwrap().max_body(4096);
    let again = client
        .refresh_async(&base, &renewed.refresh_token)
        .await
        .unwrap();
    assert_eq!(whoami_async(&emu, &again.access_token).await, 200);
    emu.inject(Endpoint::Authenticate, Fault::Oversized { bytes: 8192 }, 1);
    let err = client
        .authenticate_async(&base, &credentials())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 4096, .. }),
        "{err}"
    );
    emu.shutdown();
}

#[test]
fn provider_and_futures_are_send_and_sync() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    /// Asserts at compile time that a future is `Send`.
    fn assert_send<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    assert_send_sync_clone::<TokenProvider>();

    let provider = TokenProvider::new(
        Default::default(),
        smartling_auth_async_std::Credentials::new("id", "secret"),
    )
    .unwrap();
    let base = smartling_auth_async_std::BaseUrl::default();
    let token = smartling_auth_async_std::RefreshToken::new("r");
    let creds = smartling_auth_async_std::Credentials::new("id", "secret");
    let client = Client::new().unwrap();
    // Built, never polled: the point is that these compile.
    drop(assert_send(provider.access_token()));
    drop(assert_send(provider.authorization_header()));
    drop(assert_send(refresh(&base, &token)));
    drop(assert_send(authenticate(&base, &creds)));
    drop(assert_send(client.refresh_async(&base, &token)));
    drop(assert_send(client.authenticate_async(&base, &creds)));
}
