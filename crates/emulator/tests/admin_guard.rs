//! The admin API's guard: each refusal (token, Host, Origin, Content-Type) on its
//! own, and that a refused request changes nothing.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use smartling_auth_emulator::{Emulator, Endpoint};

const INJECT: &str = r#"{"endpoint":"refresh","fault":{"type":"reset"}}"#;

/// A raw admin request: `headers` are sent as given, plus a `Content-Length` when
/// there is a body, and the connection closes after the answer.
fn raw_admin(addr: SocketAddr, target: &str, headers: &[String], body: &str) -> (u16, String) {
    let mut request = format!("POST {target} HTTP/1.1\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let reply = raw_exchange(addr, request.as_bytes());
    let status = reply
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply:?}"));
    (status, reply)
}

struct Admin {
    emu: Emulator,
}

impl Admin {
    fn new() -> Admin {
        Admin {
            emu: Emulator::start().unwrap(),
        }
    }

    fn host(&self) -> String {
        format!("Host: {}", self.emu.addr())
    }

    fn bearer(&self) -> String {
        format!("Authorization: Bearer {}", self.emu.admin_token())
    }

    fn json() -> String {
        "Content-Type: application/json".to_owned()
    }

    /// Injects a fault with the headers given.
    fn inject(&self, headers: &[String]) -> (u16, String) {
        raw_admin(self.emu.addr(), "/_emulator/faults", headers, INJECT)
    }

    /// Nothing a refused request asked for happened.
    fn unchanged(&self) {
        assert_eq!(self.emu.pending_faults(Endpoint::Refresh), 0);
        assert_eq!(self.emu.now_offset(), Duration::ZERO);
    }
}

#[test]
fn a_well_formed_admin_request_passes() {
    let a = Admin::new();
    let (status, reply) = a.inject(&[a.host(), a.bearer(), Admin::json()]);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(a.emu.pending_faults(Endpoint::Refresh), 1);
    // localhost names a loopback address; a same-origin Origin is fine; a request
    // without a body needs no Content-Type.
    let port = a.emu.addr().port();
    let (status, reply) = raw_admin(
        a.emu.addr(),
        "/_emulator/counters/reset",
        &[
            format!("Host: localhost:{port}"),
            format!("Origin: http://{}", a.emu.addr()),
            a.bearer(),
        ],
        "",
    );
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn a_missing_or_wrong_token_is_401() {
    let a = Admin::new();
    let wrong = format!("Authorization: Bearer {}x", a.emu.admin_token());
    let basic = format!("Authorization: Basic {}", a.emu.admin_token());
    let bare = format!("Authorization: {}", a.emu.admin_token());
    for auth in [None, Some(wrong), Some(basic), Some(bare)] {
        let mut headers = vec![a.host(), Admin::json()];
        headers.extend(auth);
        let (status, reply) = a.inject(&headers);
        assert_eq!(status, 401, "{headers:?}: {reply}");
        assert!(reply.contains("invalid_admin_token"), "{reply}");
        let lower = reply.to_ascii_lowercase();
        assert!(lower.contains("www-authenticate: bearer"), "{reply}");
        assert!(!reply.contains(a.emu.admin_token()), "{reply}");
    }
    // Guarded before routing: an unknown admin path does not answer 404 to strangers.
    let (status, _) = raw_admin(a.emu.addr(), "/_emulator/nope", &[a.host()], "");
    assert_eq!(status, 401);
    a.unchanged();
}

#[test]
fn a_host_not_naming_the_emulator_is_403() {
    let a = Admin::new();
    let port = a.emu.addr().port();
    for host in [
        Some(format!("Host: rebound.example:{port}")),
        Some(format!("Host: localhost.example:{port}")),
        Some(format!("Host: 127.0.0.1:{}", port.wrapping_add(1))),
        Some("Host: 127.0.0.1".to_owned()),
        None,
    ] {
        let mut headers = vec![a.bearer(), Admin::json()];
        headers.extend(host.clone());
        let (status, reply) = a.inject(&headers);
        assert_eq!(status, 403, "{host:?}: {reply}");
        assert!(reply.contains("forbidden_host"), "{reply}");
    }
    // Two Host headers, or an absolute target naming another host.
    let (status, _) = a.inject(&[a.host(), a.host(), a.bearer(), Admin::json()]);
    assert_eq!(status, 403);
    let (status, reply) = raw_admin(
        a.emu.addr(),
        &format!("http://rebound.example:{port}/_emulator/faults"),
        &[a.host(), a.bearer(), Admin::json()],
        INJECT,
    );
    assert_eq!(status, 403, "{reply}");
    a.unchanged();
}

#[test]
fn a_cross_site_origin_is_403() {
    let a = Admin::new();
    let port = a.emu.addr().port();
    for origin in [
        "https://evil.example".to_owned(),
        format!("http://rebound.example:{port}"),
        format!("https://{}", a.emu.addr()),
        "null".to_owned(),
    ] {
        let headers = [
            a.host(),
            format!("Origin: {origin}"),
            a.bearer(),
            Admin::json(),
        ];
        let (status, reply) = a.inject(&headers);
        assert_eq!(status, 403, "{origin}: {reply}");
        assert!(reply.contains("forbidden_origin"), "{reply}");
    }
    a.unchanged();
}

#[test]
fn a_body_that_is_not_json_is_415() {
    let a = Admin::new();
    for content_type in [
        Some("Content-Type: text/plain"),
        Some("Content-Type: application/x-www-form-urlencoded"),
        Some("Content-Type: multipart/form-data; boundary=x"),
        None,
    ] {
        let mut headers = vec![a.host(), a.bearer()];
        headers.extend(content_type.map(str::to_owned));
        let (status, reply) = a.inject(&headers);
        assert_eq!(status, 415, "{content_type:?}: {reply}");
        assert!(reply.contains("unsupported_media_type"), "{reply}");
    }
    let (status, reply) = raw_admin(
        a.emu.addr(),
        "/_emulator/clock/advance",
        &[a.host(), a.bearer(), "Content-Type: text/plain".to_owned()],
        r#"{"seconds": 60}"#,
    );
    assert_eq!(status, 415, "{reply}");
    a.unchanged();
}

#[test]
fn a_preset_token_guards_the_same_way() {
    let emu = Emulator::builder()
        .admin_token("preset-token-for-the-guard")
        .start()
        .unwrap();
    assert_eq!(emu.admin_token(), "preset-token-for-the-guard");
    assert_eq!(admin_get(&emu, "/_emulator/counters").status, 200);
    let answer = get(
        &emu,
        "/_emulator/counters",
        Some("preset-token-for-the-guarD"),
    );
    assert_eq!(answer.status, 401);
    // API calls need no admin token.
    assert_eq!(get(&emu, WHOAMI, None).status, 401);
    login(&emu);
}
