//! With a global subscriber at TRACE (every thread, isahc's agent thread included), no
//! secret reaches the logs: isahc's raw wire logging must stay off for our requests.

use smartling_auth_isahc::{Client, TokenProvider, authenticate_request};
use smartling_auth_testkit::emulator::{SECRET, SECRET_HEAD, base, credentials, emulator};
use smartling_auth_testkit::logs::LogCapture;

#[test]
fn a_global_trace_subscriber_sees_no_secret() {
    let capture = LogCapture::new();
    capture.install_global(tracing::Level::TRACE);

    let emu = emulator();
    let p = TokenProvider::builder(base(&emu))
        .credentials(credentials())
        .build()
        .unwrap();
    let t1 = p.access_token().unwrap();
    p.invalidate(&t1);
    let t2 = p.access_token().unwrap();
    // The async path too.
    let answer = futures_lite::future::block_on(
        Client::new()
            .unwrap()
            .send_async(&authenticate_request(&base(&emu), &credentials())),
    )
    .unwrap();
    let t3 = smartling_auth_isahc::parse_token_response(&answer).unwrap();

    let out = capture.text();
    assert!(out.contains("sending"), "our own events are there:\n{out}");
    assert!(!out.contains(SECRET), "the user secret reached the logs");
    let escaped_secret = SECRET.escape_default().to_string();
    assert!(!out.contains(&escaped_secret));
    // isahc's wire log escapes each byte (`\xc3\xbc`): the secret's ASCII head stands
    // for that form, which neither check above would see.
    let head = SECRET_HEAD;
    assert!(
        !out.contains(head),
        "the user secret reached the logs, escaped"
    );
    for token in [
        t1.secret(),
        t2.secret(),
        t3.access_token.secret(),
        t3.refresh_token.secret(),
    ] {
        assert!(!out.contains(&token[..24]), "a token reached the logs");
    }
    let snapshot = p.snapshot().unwrap();
    assert!(!out.contains(&snapshot.refresh_token.secret()[..24]));
}
