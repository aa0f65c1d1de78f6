//! The `tracing` output of a full run, at DEBUG level, holds no secret.

use std::time::Duration;

use smartling_auth_async_std::{AccessToken, RefreshToken, TokenProvider};
use smartling_auth_emulator::{Emulator, Endpoint, Fault};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::logs::LogCapture;
use smartling_auth_testkit::policy::quick_policy;

#[async_std::test]
async fn debug_output_of_a_full_run_holds_no_secret() {
    let buffer = LogCapture::new();
    // Global: the provider's futures run on the executor's threads.
    buffer.install_global(tracing::Level::DEBUG);

    let emu = start(Emulator::builder().session_ttl(Duration::from_secs(900)));
    let (_, user_secret) = emu.demo_user();
    let mut access: Vec<AccessToken> = Vec::new();
    let mut refresh: Vec<RefreshToken> = Vec::new();

    // Login with a retry, refresh ahead with a retry, a refused refresh and its
    // fallback to login, an invalidation, and a failure.
    let (provider, pair) = aged(
        &emu,
        for_emulator(TokenProvider::builder, &emu, quick_policy()),
        AGE,
    )
    .await;
    access.push(pair.access_token.clone());
    refresh.push(pair.refresh_token.clone());
    emu.inject(Endpoint::Refresh, error_envelope(503), 1);
    for _ in 0..500 {
        let token = provider.access_token().await.unwrap();
        if !token.same_secret(&pair.access_token) {
            break;
        }
        async_io::Timer::after(Duration::from_millis(10)).await;
    }
    let mut record = |provider: &smartling_auth_async_std::TokenProvider| {
        let snap = provider.snapshot().expect("tokens");
        access.push(snap.access_token);
        refresh.push(snap.refresh_token);
    };
    record(&provider);

    let current = provider.access_token().await.unwrap();
    assert!(provider.invalidate(&current));
    emu.inject(Endpoint::Refresh, error_envelope(401), 1);
    emu.inject(Endpoint::Authenticate, Fault::Truncate, 1);
    let token = provider.access_token().await.unwrap();
    record(&provider);
    assert_eq!(whoami_async(&emu, &token).await, 200);

    let cold = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    emu.inject(Endpoint::Authenticate, Fault::Html { status: 502 }, 1);
    cold.access_token().await.unwrap();
    record(&cold);
    emu.inject(
        Endpoint::Authenticate,
        Fault::Oversized { bytes: 100_000 },
        1,
    );
    cold.invalidate(&cold.access_token().await.unwrap());
    emu.inject(Endpoint::Refresh, error_envelope(401), 1);
    assert!(cold.access_token().await.is_err());
    emu.shutdown();

    let out = buffer.text();
    assert!(out.contains("sending"), "events were captured:\n{out}");
    assert!(out.contains("DEBUG"));
    assert!(access.len() >= 4 && refresh.len() >= 4);
    assert!(!out.contains(&user_secret), "the user secret leaked");
    // The secret holds characters JSON escapes; its head stands for every form of it.
    assert!(
        !out.contains(SECRET_HEAD),
        "the user secret leaked, escaped"
    );
    for t in &access {
        assert!(!out.contains(t.secret()), "an access token leaked");
    }
    for t in &refresh {
        assert!(!out.contains(t.secret()), "a refresh token leaked");
    }
}
