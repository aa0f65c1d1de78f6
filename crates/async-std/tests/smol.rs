//! The same scenario on smol: a herd behind one login whose renewer is dropped
//! mid-request, then a refresh ahead of expiry, checked against the emulator.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures_lite::future;
use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};

const TASKS: usize = 1000;

#[test]
fn the_same_scenario_runs_on_smol() {
    smol::block_on(async {
        let emu = start(Emulator::builder());
        emu.inject(
            Endpoint::Authenticate,
            Fault::DelayHeaders(Duration::from_secs(2)),
            1,
        );
        let provider = builder(&emu, policy())
            .timeouts(Duration::from_secs(2), Duration::from_secs(20))
            .build()
            .unwrap();

        // The first caller starts the login, which the server holds.
        let renewer = {
            let provider = provider.clone();
            smol::spawn(async move { provider.access_token().await })
        };
        assert!(
            eventually(Duration::from_secs(10), || {
                emu.pending_faults(Endpoint::Authenticate) == 0
            })
            .await
        );

        // A herd lines up behind it.
        let waiting = Arc::new(AtomicUsize::new(0));
        let herd: Vec<_> = (0..TASKS)
            .map(|_| {
                let (provider, waiting) = (provider.clone(), Arc::clone(&waiting));
                smol::spawn(async move {
                    let mut call = Box::pin(provider.access_token());
                    let first = future::poll_once(&mut call).await;
                    waiting.fetch_add(1, Ordering::SeqCst);
                    match first {
                        Some(result) => result,
                        None => call.await,
                    }
                })
            })
            .collect();
        assert!(
            eventually(Duration::from_secs(10), || {
                waiting.load(Ordering::SeqCst) == TASKS
            })
            .await
        );

        // Dropping a smol task cancels it: the renewal passes to a waiter.
        drop(renewer);
        let tokens = future::or(
            async {
                let mut tokens = Vec::new();
                for task in herd {
                    tokens.push(task.await.expect("a token"));
                }
                Some(tokens)
            },
            async {
                async_io::Timer::after(Duration::from_secs(30)).await;
                None
            },
        )
        .await
        .expect("nobody waits forever");
        let token = &tokens[0];
        assert!(tokens.iter().all(|t| t.same_secret(token)));
        assert_eq!(whoami(&emu, token).await, 200);
        assert!(
            eventually(Duration::from_secs(15), || {
                emu.counters().total(Endpoint::Authenticate) >= 2
            })
            .await
        );
        assert_eq!(emu.counters().total(Endpoint::Authenticate), 2);

        // Refresh ahead of expiry.
        let (aged, pair) = aged(&emu, builder(&emu, policy()), AGE).await;
        let refreshed = aged.access_token().await.unwrap();
        assert!(!refreshed.same_secret(&pair.access_token));
        assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Success), 1);
        assert_eq!(whoami(&emu, &refreshed).await, 200);
        let header = aged.authorization_header().await.unwrap();
        assert_eq!(header, format!("Bearer {}", refreshed.secret()).as_str());
        emu.shutdown();
    });
}
