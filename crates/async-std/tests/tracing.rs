//! The `tracing` output of a full run, at DEBUG level, holds no secret.

mod common;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::*;
use smartling_auth_async_std::{AccessToken, RefreshToken};
use smartling_auth_emulator::{Emulator, Endpoint, Fault};
use tracing_subscriber::fmt::MakeWriter;

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[async_std::test]
async fn debug_output_of_a_full_run_holds_no_secret() {
    let buffer = Buffer::default();
    // Global: the provider's futures run on the executor's threads.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .init();

    let emu = start(Emulator::builder().session_ttl(Duration::from_secs(900)));
    let (_, user_secret) = emu.demo_user();
    let mut access: Vec<AccessToken> = Vec::new();
    let mut refresh: Vec<RefreshToken> = Vec::new();

    // Login with a retry, refresh ahead with a retry, a refused refresh and its
    // fallback to login, an invalidation, and a failure.
    let (provider, pair) = aged(&emu, builder(&emu, policy()), AGE).await;
    access.push(pair.access_token.clone());
    refresh.push(pair.refresh_token.clone());
    emu.inject(
        Endpoint::Refresh,
        Fault::Status {
            status: 503,
            envelope: true,
            retry_after: None,
        },
        1,
    );
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
    emu.inject(
        Endpoint::Refresh,
        Fault::Status {
            status: 401,
            envelope: true,
            retry_after: None,
        },
        1,
    );
    emu.inject(Endpoint::Authenticate, Fault::Truncate, 1);
    let token = provider.access_token().await.unwrap();
    record(&provider);
    assert_eq!(whoami(&emu, &token).await, 200);

    let cold = builder(&emu, policy()).build().unwrap();
    emu.inject(Endpoint::Authenticate, Fault::Html { status: 502 }, 1);
    cold.access_token().await.unwrap();
    record(&cold);
    emu.inject(
        Endpoint::Authenticate,
        Fault::Oversized { bytes: 100_000 },
        1,
    );
    cold.invalidate(&cold.access_token().await.unwrap());
    emu.inject(
        Endpoint::Refresh,
        Fault::Status {
            status: 401,
            envelope: true,
            retry_after: None,
        },
        1,
    );
    assert!(cold.access_token().await.is_err());
    emu.shutdown();

    let out = buffer.text();
    assert!(out.contains("sending"), "events were captured:\n{out}");
    assert!(out.contains("DEBUG"));
    assert!(access.len() >= 4 && refresh.len() >= 4);
    assert!(!out.contains(&user_secret), "the user secret leaked");
    for t in &access {
        assert!(!out.contains(t.secret()), "an access token leaked");
    }
    for t in &refresh {
        assert!(!out.contains(t.secret()), "a refresh token leaked");
    }
}
