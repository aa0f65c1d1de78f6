//! The same scenario on smol: a herd behind one login whose renewer is dropped
//! mid-request, then a refresh ahead of expiry, checked against the emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use smartling_auth_async_std::TokenProvider;
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;
use smartling_auth_testkit::poll::wait_in_line;

const TASKS: usize = 1000;

#[test]
fn the_same_scenario_runs_on_smol() {
    smol::block_on(async {
        let emu = start(Emulator::builder());
        let provider = held_login(TokenProvider::builder, &emu, Duration::from_secs(2));

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
                smol::spawn(async move { wait_in_line(provider.access_token(), &waiting).await })
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
        let all = async {
            let mut tokens = Vec::new();
            for task in herd {
                tokens.push(task.await.expect("a token"));
            }
            tokens
        };
        let tokens = within(Duration::from_secs(30), all)
            .await
            .expect("nobody waits forever");
        let token = &tokens[0];
        assert!(tokens.iter().all(|t| t.same_secret(token)));
        assert_eq!(whoami_async(&emu, token).await, 200);
        assert_eq!(logins_once_counted(&emu, 2).await, 2);

        // Refresh ahead of expiry.
        let (aged, pair) = aged(
            &emu,
            for_emulator(TokenProvider::builder, &emu, quick_policy()),
            AGE,
        )
        .await;
        let refreshed = aged.access_token().await.unwrap();
        assert!(!refreshed.same_secret(&pair.access_token));
        assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Success), 1);
        assert_eq!(whoami_async(&emu, &refreshed).await, 200);
        let header = aged.authorization_header().await.unwrap();
        assert_eq!(header, format!("Bearer {}", refreshed.secret()).as_str());
        emu.shutdown();
    });
}
