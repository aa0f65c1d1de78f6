//! No secret in the tracing output of a full run, failures included.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use smartling_auth_emulator::{Endpoint, Fault};
use smartling_auth_isahc::TokenProvider;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tracing_output_of_a_full_run_holds_no_secret() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let emu = emulator();
    let mut seen = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let p = TokenProvider::builder(base(&emu))
            .credentials(credentials())
            .policy(quick_policy())
            .timeouts(Duration::from_secs(1), Duration::from_millis(700))
            .build()
            .unwrap();
        emu.inject(
            Endpoint::Authenticate,
            Fault::Status {
                status: 503,
                envelope: true,
                retry_after: None,
            },
            1,
        );
        let t1 = p.access_token().unwrap();
        emu.inject(
            Endpoint::Refresh,
            Fault::Status {
                status: 401,
                envelope: true,
                retry_after: None,
            },
            1,
        );
        p.invalidate(&t1);
        let t2 = p.access_token().unwrap();
        p.invalidate(&t2);
        let t3 = p.access_token().unwrap();
        let snap = p.snapshot().unwrap();
        seen.extend(
            [
                t1.secret(),
                t2.secret(),
                t3.secret(),
                snap.refresh_token.secret(),
            ]
            .map(str::to_owned),
        );
        // A failure path too.
        let bad = TokenProvider::builder(base(&emu))
            .credentials(smartling_auth_isahc::Credentials::new(
                USER,
                "wrong-secret-Kx7",
            ))
            .build()
            .unwrap();
        let err = bad.access_token().unwrap_err();
        seen.push(format!("{err} {err:?}"));
    });
    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("sending"), "events were captured:\n{out}");
    assert!(out.contains("falling back to login"), "{out}");
    for secret in [SECRET, "wrong-secret-Kx7"] {
        assert!(!out.contains(secret), "user secret in logs");
        assert!(
            !seen.last().unwrap().contains(secret),
            "user secret in an error"
        );
    }
    for token in &seen[..4] {
        assert!(!out.contains(token.as_str()), "a token in logs");
        assert!(!out.contains(&token[..24]), "part of a token in logs");
    }
}
