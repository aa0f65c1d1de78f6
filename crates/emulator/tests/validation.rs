//! Bad input gets the right status and a parseable Smartling envelope, and never
//! takes the server down.

mod common;

use std::io::Write;

use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};

fn assert_validation(answer: &Answer, key: &str) {
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.code(), "VALIDATION_ERROR");
    assert_eq!(answer.error_key(), key);
    let details = &answer.json()["response"]["errors"][0]["details"];
    assert!(details["errorId"].is_string(), "{}", answer.text);
}

#[test]
fn malformed_json_is_400() {
    let emu = Emulator::start().unwrap();
    for path in [AUTH, REFRESH] {
        let answer = post(
            &emu,
            path,
            r#"{"userIdentifier": "abc", "userSecret": "s3cr3t""#,
        );
        assert_validation(&answer, "invalid_json");
        assert!(!answer.text.contains("s3cr3t"));
    }
    assert_validation(&post(&emu, AUTH, ""), "invalid_json");
    assert_validation(&post(&emu, AUTH, "[1,2]"), "invalid_body");
}

#[test]
fn missing_fields_are_named() {
    let emu = Emulator::start().unwrap();
    let answer = post(&emu, REFRESH, "{}");
    assert_validation(&answer, "missing_field");
    assert_eq!(
        answer.json()["response"]["errors"][0]["message"],
        "refreshToken is required"
    );
    let answer = post(&emu, AUTH, r#"{"userIdentifier": "x"}"#);
    assert_validation(&answer, "missing_field");
    assert!(answer.text.contains("userSecret is required"));
    let both = post(&emu, AUTH, "{}");
    assert_eq!(
        both.json()["response"]["errors"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn wrong_types_are_named() {
    let emu = Emulator::start().unwrap();
    let answer = post(&emu, REFRESH, r#"{"refreshToken": 42}"#);
    assert_validation(&answer, "invalid_field");
    assert!(answer.text.contains("refreshToken must be a string"));
    let answer = post(
        &emu,
        AUTH,
        r#"{"userIdentifier": ["a"], "userSecret": "s"}"#,
    );
    assert_validation(&answer, "invalid_field");
    assert!(answer.text.contains("userIdentifier"));
    assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Rejected), 1);
}

#[test]
fn unknown_path_is_404_not_found_error() {
    let emu = Emulator::start().unwrap();
    let answer = get(&emu, "/auth-api/v2/nope", None);
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "NOT_FOUND_ERROR");
    let answer = post(&emu, "/", "{}");
    assert_eq!(answer.status, 404);
    assert_eq!(emu.counters().get(Endpoint::Other, Outcome::NotFound), 2);
}

#[test]
fn wrong_method_is_405_with_allow() {
    let emu = Emulator::start().unwrap();
    let answer = get(&emu, AUTH, None);
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(!answer.code().is_empty());
    assert!(answer.json()["response"]["errors"][0]["message"].is_string());
    let answer = post(&emu, WHOAMI, "{}");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET"));
    assert_eq!(
        emu.counters()
            .get(Endpoint::Authenticate, Outcome::MethodNotAllowed),
        1
    );
}

#[test]
fn query_strings_are_ignored_for_routing() {
    let emu = Emulator::start().unwrap();
    let (id, secret) = emu.demo_user();
    assert_eq!(
        post(&emu, &format!("{AUTH}?x=1"), &login_body(&id, &secret)).status,
        200
    );
}

#[test]
fn oversized_body_is_413() {
    let emu = Emulator::builder().max_body(1024).start().unwrap();
    let big = format!(r#"{{"refreshToken": "{}"}}"#, "a".repeat(4096));
    let answer = post(&emu, REFRESH, &big);
    assert_eq!(answer.status, 413);
    assert_eq!(answer.code(), "VALIDATION_ERROR");
    assert!(!answer.text.contains("aaaa"));
    // A body at the cap is read normally.
    let at_cap = format!(r#"{{"refreshToken": "{}"}}"#, "a".repeat(1024 - 20));
    assert_eq!(at_cap.len(), 1024);
    assert_eq!(post(&emu, REFRESH, &at_cap).status, 401);
}

#[test]
fn oversized_chunked_body_is_413() {
    let emu = Emulator::builder().max_body(100).start().unwrap();
    let mut req = format!(
        "POST {REFRESH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..10 {
        req.extend_from_slice(b"20\r\n");
        req.extend_from_slice(&[b'a'; 32]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let reply = raw_exchange(emu.addr(), &req);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("VALIDATION_ERROR"));
}

#[test]
fn absurd_content_length_is_413_and_server_lives() {
    let emu = Emulator::start().unwrap();
    let req = format!(
        "POST {AUTH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{{}}"
    );
    let reply = raw_exchange(emu.addr(), req.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let body = reply.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["response"]["code"], "VALIDATION_ERROR");
    login(&emu);
}

#[test]
fn garbage_bytes_do_not_stop_the_server() {
    let emu = Emulator::start().unwrap();
    let junk: [&[u8]; 4] = [
        b"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"POST /auth-api/v2/authenticate HTTP/9.9\r\n\r\n",
        b"POST /auth-api/v2/authenticate HTTP/1.1\r\nBad Header Line\r\n\r\n",
    ];
    for bytes in junk {
        let mut stream = raw(emu.addr());
        stream.write_all(bytes).unwrap();
        let _ = read_all(&mut stream);
    }
    // Half a request, then hang up.
    let mut stream = raw(emu.addr());
    stream
        .write_all(b"POST /auth-api/v2/authenticate HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"us")
        .unwrap();
    drop(stream);
    login(&emu);
}

#[test]
fn a_panicking_handler_becomes_500_and_the_server_lives() {
    let emu = Emulator::start().unwrap();
    let answer = admin_post(&emu, "/_emulator/panic", "");
    assert_eq!(answer.status, 500);
    assert_eq!(answer.code(), "GENERAL_ERROR");
    login(&emu);
    assert_eq!(admin_post(&emu, "/_emulator/panic", "").status, 500);
    login(&emu);
}

#[test]
fn errors_never_echo_secrets() {
    let emu = Emulator::builder()
        .user("id", "the-real-secret")
        .start()
        .unwrap();
    let answers = [
        post(&emu, AUTH, &login_body("id", "guessed-secret")),
        post(
            &emu,
            AUTH,
            r#"{"userIdentifier": "id", "userSecret": 7, "x": "the-real-secret"}"#,
        ),
        post(&emu, REFRESH, &refresh_body("leaky-token-value")),
    ];
    for answer in answers {
        for needle in ["guessed-secret", "the-real-secret", "leaky-token-value"] {
            assert!(!answer.text.contains(needle), "{}", answer.text);
        }
    }
}

#[test]
fn endless_header_line_is_cut_off() {
    let emu = Emulator::builder().max_body(1024).start().unwrap();
    let mut stream = raw(emu.addr());
    stream
        .write_all(b"GET /auth-api/v2/whoami HTTP/1.1\r\nX-Long: ")
        .unwrap();
    let chunk = [b'a'; 64 * 1024];
    // Far more than the cap (max_body + 1 MiB); the server must hang up first.
    let mut cut = false;
    for _ in 0..256 {
        if stream.write_all(&chunk).is_err() {
            cut = true;
            break;
        }
    }
    assert!(cut, "the server kept accepting an endless header line");
    login(&emu);
}
