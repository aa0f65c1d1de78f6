//! No secret in the tracing output of a full run, failures included.

use std::time::Duration;

use smartling_auth_emulator::Endpoint;
use smartling_auth_isahc::TokenProvider;
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::logs::LogCapture;
use smartling_auth_testkit::policy::quick_policy;

#[test]
fn tracing_output_of_a_full_run_holds_no_secret() {
    let capture = LogCapture::new();
    let emu = emulator();
    let mut seen = Vec::new();
    tracing::subscriber::with_default(capture.subscriber(tracing::Level::TRACE), || {
        let p = for_emulator(TokenProvider::builder, &emu, quick_policy())
            .timeouts(Duration::from_secs(1), Duration::from_millis(700))
            .build()
            .unwrap();
        emu.inject(Endpoint::Authenticate, error_envelope(503), 1);
        let t1 = p.access_token().unwrap();
        emu.inject(Endpoint::Refresh, error_envelope(401), 1);
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
    let out = capture.text();
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
