//! Every injected fault, observed from the client side.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};

#[test]
fn status_fault_with_envelope_and_retry_after() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    emu.inject(
        Endpoint::Refresh,
        Fault::Status {
            status: 503,
            envelope: true,
            retry_after: Some("1".into()),
        },
        2,
    );
    for _ in 0..2 {
        let answer = post(&emu, REFRESH, &refresh_body(&p.refresh));
        assert_eq!(answer.status, 503);
        assert_eq!(answer.code(), "MAINTENANCE_MODE_ERROR");
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
    // The faults did not burn the refresh token, and are used up.
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 200);
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Faulted), 2);
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1);
}

#[test]
fn status_fault_codes_follow_the_reference_table() {
    let emu = Emulator::start().unwrap();
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    for (status, code) in [
        (429, "MAX_OPERATIONS_LIMIT_EXCEEDED"),
        (500, "GENERAL_ERROR"),
        (401, "AUTHENTICATION_ERROR"),
        (400, "VALIDATION_ERROR"),
    ] {
        emu.inject(
            Endpoint::Authenticate,
            Fault::Status {
                status,
                envelope: true,
                retry_after: Some(date.into()),
            },
            1,
        );
        let answer = post(&emu, AUTH, "{}");
        assert_eq!(answer.status, status);
        assert_eq!(answer.code(), code);
        assert_eq!(answer.header("retry-after"), Some(date));
        if status == 429 {
            assert!(answer.json()["response"]["errors"][0]["details"]["errorId"].is_string());
        }
    }
}

#[test]
fn status_fault_without_envelope_has_empty_body() {
    let emu = Emulator::start().unwrap();
    emu.inject(
        Endpoint::WhoAmI,
        Fault::Status {
            status: 504,
            envelope: false,
            retry_after: None,
        },
        1,
    );
    let answer = get(&emu, WHOAMI, None);
    assert_eq!(answer.status, 504);
    assert!(answer.text.is_empty());
    assert_eq!(answer.header("retry-after"), None);
}

#[test]
fn html_fault_is_a_proxy_page() {
    let emu = Emulator::start().unwrap();
    emu.inject(Endpoint::Authenticate, Fault::Html { status: 502 }, 1);
    let answer = post(&emu, AUTH, "{}");
    assert_eq!(answer.status, 502);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(answer.text.contains("<html>") && answer.text.contains("502 Bad Gateway"));
    assert!(serde_json::from_str::<serde_json::Value>(&answer.text).is_err());
}

#[test]
fn delay_headers_waits_then_answers_normally() {
    let emu = Emulator::start().unwrap();
    let delay = Duration::from_millis(300);
    emu.inject(Endpoint::Authenticate, Fault::DelayHeaders(delay), 1);
    let started = Instant::now();
    let p = login(&emu);
    assert!(started.elapsed() >= delay);
    assert_eq!(get(&emu, WHOAMI, Some(&p.access)).status, 200);
    // Delays are counted by their normal outcome.
    assert_eq!(
        emu.counters().get(Endpoint::Authenticate, Outcome::Success),
        1
    );
}

#[test]
fn delay_body_sends_half_then_the_rest() {
    let emu = Emulator::start().unwrap();
    let delay = Duration::from_millis(600);
    emu.inject(Endpoint::Authenticate, Fault::DelayBody(delay), 1);
    let (id, secret) = emu.demo_user();
    let mut stream = raw(emu.addr());
    stream
        .write_all(&raw_post(AUTH, &login_body(&id, &secret)))
        .unwrap();
    // First read: the head and part of the body, well before the rest.
    let mut first = Vec::new();
    let mut buf = [0u8; 8192];
    while !first.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        first.extend_from_slice(&buf[..n]);
    }
    let got_head = Instant::now();
    let text = String::from_utf8_lossy(&first).into_owned();
    let (head, partial) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"));
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(partial.len() < length);
    let mut body = partial.as_bytes().to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        body.extend_from_slice(&buf[..n]);
    }
    // Lower bound only, with slack for when the first read itself ran late.
    assert!(got_head.elapsed() >= delay / 2);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["response"]["code"], "SUCCESS");
    // The connection stays usable afterwards.
    stream
        .write_all(&raw_post(AUTH, &login_body(&id, &secret)))
        .unwrap();
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[test]
fn delay_body_through_a_client() {
    let emu = Emulator::start().unwrap();
    let delay = Duration::from_millis(200);
    emu.inject(Endpoint::Refresh, Fault::DelayBody(delay), 1);
    let p = login(&emu);
    let started = Instant::now();
    let next = pair(&post(&emu, REFRESH, &refresh_body(&p.refresh)));
    assert!(started.elapsed() >= delay);
    assert_ne!(next.refresh, p.refresh);
}

#[test]
fn truncate_gives_the_client_an_incomplete_body() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    emu.inject(Endpoint::Refresh, Fault::Truncate, 1);
    let result = try_post(&agent(), &emu, REFRESH, &refresh_body(&p.refresh));
    assert!(result.is_err(), "{result:?}");
    // Raw view: a 200 announcing more bytes than arrive before the close.
    emu.inject(Endpoint::Refresh, Fault::Truncate, 1);
    let mut stream = raw(emu.addr());
    stream
        .write_all(&raw_post(REFRESH, &refresh_body(&p.refresh)))
        .unwrap();
    let (bytes, err) = read_all(&mut stream);
    assert!(!matches!(
        err,
        Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
    ));
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"));
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(!body.is_empty() && body.len() < length);
    assert!(serde_json::from_str::<serde_json::Value>(body).is_err());
    // The token was not burnt.
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 200);
}

#[test]
fn reset_closes_the_connection_without_a_response() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    emu.inject(Endpoint::WhoAmI, Fault::Reset, 1);
    let result = try_get(&agent(), &emu, WHOAMI, Some(&p.access));
    assert!(result.is_err(), "{result:?}");
    // Raw view on a keep-alive connection: no byte, then reset or EOF.
    emu.inject(Endpoint::Refresh, Fault::Reset, 1);
    let mut stream = raw(emu.addr());
    stream
        .write_all(&raw_post(REFRESH, &refresh_body(&p.refresh)))
        .unwrap();
    let (bytes, err) = read_all(&mut stream);
    assert!(bytes.is_empty());
    assert!(
        matches!(
            err,
            None | Some(
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            )
        ),
        "{err:?}"
    );
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 200);
    assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Faulted), 1);
}

#[test]
fn oversized_body_is_valid_looking_json_of_the_exact_size() {
    let emu = Emulator::start().unwrap();
    emu.inject(
        Endpoint::Authenticate,
        Fault::Oversized { bytes: 1_000_000 },
        1,
    );
    let answer = post(&emu, AUTH, "{}");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text.len(), 1_000_000);
    assert_eq!(answer.header("content-length"), Some("1000000"));
    let json: serde_json::Value = serde_json::from_str(&answer.text).unwrap();
    assert_eq!(json["response"]["code"], "SUCCESS");
}

#[test]
fn faults_on_one_endpoint_leave_others_alone_and_run_in_order() {
    let emu = Emulator::start().unwrap();
    emu.inject(Endpoint::Refresh, Fault::Html { status: 502 }, 1);
    emu.inject(
        Endpoint::Refresh,
        Fault::Status {
            status: 500,
            envelope: true,
            retry_after: None,
        },
        1,
    );
    let p = login(&emu);
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 502);
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 500);
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 200);
    assert_eq!(emu.pending_faults(Endpoint::Refresh), 0);
}

#[test]
fn shutdown_cuts_a_long_delay_short() {
    let emu = Emulator::start().unwrap();
    emu.inject(
        Endpoint::WhoAmI,
        Fault::DelayHeaders(Duration::from_secs(600)),
        1,
    );
    let url = emu.url(WHOAMI);
    let client = std::thread::spawn(move || {
        let agent = agent();
        let _ = agent.get(&url).call();
    });
    // Wait (bounded) until the delayed request has arrived.
    let deadline = Instant::now() + Duration::from_secs(10);
    while emu.pending_faults(Endpoint::WhoAmI) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    emu.shutdown();
    client.join().unwrap();
}
