//! One-shot calls and the client's transport rules, against the emulator.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use smartling_auth_emulator::{Endpoint, Fault, Outcome};
use smartling_auth_isahc::{BaseUrl, Client, Error, RefreshToken, error::TransportErrorKind};
use smartling_auth_testkit::emulator::*;

#[test]
fn authenticate_then_refresh_then_whoami() {
    let emu = emulator();
    let base = base(&emu);
    let first = smartling_auth_isahc::authenticate(&base, &credentials()).unwrap();
    assert_eq!(first.expires_in, Duration::from_secs(480));
    assert_eq!(whoami(&emu, &first.access_token), 200);

    let second = smartling_auth_isahc::refresh(&base, &first.refresh_token).unwrap();
    assert!(!second.access_token.same_secret(&first.access_token));
    assert!(
        !second.refresh_token.same_secret(&first.refresh_token),
        "refresh rotates"
    );
    assert_eq!(whoami(&emu, &second.access_token), 200);

    // The emulator's refresh tokens are single use.
    let again = smartling_auth_isahc::refresh(&base, &first.refresh_token).unwrap_err();
    assert_eq!(again.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Success), 1);
}

#[test]
fn wrong_credentials_are_a_typed_api_error() {
    let emu = emulator();
    let err = Client::new()
        .unwrap()
        .authenticate(
            &base(&emu),
            &smartling_auth_isahc::Credentials::new(USER, "wrong"),
        )
        .unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(api.status.as_u16(), 401);
    assert_eq!(api.code.as_str(), "AUTHENTICATION_ERROR");
    assert!(!err.is_retryable());
}

#[test]
fn oversized_answers_are_refused_at_the_cap() {
    let emu = emulator();
    emu.inject(
        Endpoint::Authenticate,
        Fault::Oversized { bytes: 200_000 },
        1,
    );
    let client = Client::new().unwrap().max_body(1024);
    let err = client
        .authenticate(&base(&emu), &credentials())
        .unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1024, .. }),
        "{err:?}"
    );
}

#[test]
fn timeouts_are_enforced_and_named() {
    let emu = emulator();
    emu.inject(
        Endpoint::Authenticate,
        Fault::DelayHeaders(Duration::from_secs(3)),
        1,
    );
    let client = Client::new()
        .unwrap()
        .timeouts(Duration::from_secs(1), Duration::from_millis(500));
    match client
        .authenticate(&base(&emu), &credentials())
        .unwrap_err()
    {
        Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::Timeout, "{t}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn resets_and_truncations_are_transport_errors() {
    let emu = emulator();
    let client = Client::new().unwrap();
    emu.inject(Endpoint::Refresh, Fault::Reset, 1);
    let err = client
        .refresh(&base(&emu), &RefreshToken::new("x"))
        .unwrap_err();
    assert!(matches!(&err, Error::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    emu.inject(Endpoint::Refresh, Fault::Truncate, 1);
    let err = client
        .refresh(&base(&emu), &RefreshToken::new("x"))
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[test]
fn connection_refused_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    match Client::new()
        .unwrap()
        .refresh(&base, &RefreshToken::new("x"))
        .unwrap_err()
    {
        Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::Connect, "{t}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn redirects_are_never_followed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        // One connection: read the request head, answer a redirect, count follow-ups.
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        s.write_all(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/steal\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        listener.set_nonblocking(true).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        listener.accept().is_ok()
    });
    let base = BaseUrl::parse(&format!("http://{addr}")).unwrap();
    match Client::new()
        .unwrap()
        .refresh(&base, &RefreshToken::new("secret-refresh"))
        .unwrap_err()
    {
        Error::Transport(t) => {
            assert_eq!(t.kind, TransportErrorKind::Redirect);
            assert!(!t.message.contains("steal"), "{t}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!server.join().unwrap(), "no second connection was made");
}
