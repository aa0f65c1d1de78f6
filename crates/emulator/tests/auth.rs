//! Authenticate, refresh, expiry, session cap and whoami over real loopback HTTP.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};

#[test]
fn authenticate_with_valid_credentials_returns_a_token_pair() {
    let emu = Emulator::builder()
        .user("user-id", "user-secret")
        .start()
        .unwrap();
    let answer = post(&emu, AUTH, &login_body("user-id", "user-secret"));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let json = answer.json();
    assert_eq!(json["response"]["code"], "SUCCESS");
    let data = &json["response"]["data"];
    assert_eq!(data["tokenType"], "Bearer");
    assert_eq!(data["expiresIn"], 480);
    assert_eq!(data["refreshExpiresIn"], 3660);
    assert_ne!(data["accessToken"], data["refreshToken"]);
}

#[test]
fn tokens_are_jwt_shaped_and_unique() {
    let emu = Emulator::start().unwrap();
    let mut seen = HashSet::new();
    for _ in 0..5 {
        let p = login(&emu);
        for token in [&p.access, &p.refresh] {
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let header: serde_json::Value =
                serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
            assert_eq!(header["alg"], "RS256");
            assert_eq!(header["typ"], "JWT");
            let claims: serde_json::Value =
                serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
            for claim in ["exp", "iat", "jti", "sub"] {
                assert!(!claims[claim].is_null(), "missing {claim}");
            }
            assert!(b64.decode(parts[2]).unwrap().len() >= 32);
            assert!(seen.insert(token.clone()), "token repeated");
        }
    }
}

#[test]
fn authenticate_with_wrong_credentials_is_401_without_echo() {
    let emu = Emulator::builder()
        .user("user-id", "user-secret")
        .start()
        .unwrap();
    for (id, secret) in [("user-id", "wrong-secret"), ("nobody", "user-secret")] {
        let answer = post(&emu, AUTH, &login_body(id, secret));
        assert_eq!(answer.status, 401);
        assert_eq!(answer.code(), "AUTHENTICATION_ERROR");
        assert_eq!(answer.error_key(), "invalid_credentials");
        assert!(!answer.text.contains(secret) && !answer.text.contains("user-secret"));
    }
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Rejected), 2);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 0);
}

#[test]
fn any_configured_user_can_log_in() {
    let emu = Emulator::builder()
        .user("a", "sa")
        .user("b", "sb")
        .start()
        .unwrap();
    assert_eq!(post(&emu, AUTH, &login_body("a", "sa")).status, 200);
    assert_eq!(post(&emu, AUTH, &login_body("b", "sb")).status, 200);
    assert_eq!(post(&emu, AUTH, &login_body("a", "sb")).status, 401);
}

#[test]
fn refresh_rotates_the_pair() {
    let emu = Emulator::start().unwrap();
    let first = login(&emu);
    let second = pair(&post(&emu, REFRESH, &refresh_body(&first.refresh)));
    assert_ne!(first.access, second.access);
    assert_ne!(first.refresh, second.refresh);
    let third = pair(&post(&emu, REFRESH, &refresh_body(&second.refresh)));
    assert_ne!(second.refresh, third.refresh);
    assert_eq!(get(&emu, WHOAMI, Some(&third.access)).status, 200);
}

#[test]
fn single_use_refresh_token_is_rejected_on_reuse() {
    let emu = Emulator::start().unwrap();
    let first = login(&emu);
    assert_eq!(
        post(&emu, REFRESH, &refresh_body(&first.refresh)).status,
        200
    );
    let reuse = post(&emu, REFRESH, &refresh_body(&first.refresh));
    assert_eq!(reuse.status, 401);
    assert_eq!(reuse.code(), "AUTHENTICATION_ERROR");
    assert_eq!(reuse.error_key(), "invalid_token");
    assert!(!reuse.text.contains(&first.refresh));
}

#[test]
fn reusable_refresh_tokens_when_single_use_is_off() {
    let emu = Emulator::builder()
        .single_use_refresh(false)
        .start()
        .unwrap();
    let first = login(&emu);
    for _ in 0..3 {
        assert_eq!(
            post(&emu, REFRESH, &refresh_body(&first.refresh)).status,
            200
        );
    }
}

#[test]
fn unknown_refresh_token_is_401_invalid_token() {
    let emu = Emulator::start().unwrap();
    let answer = post(&emu, REFRESH, &refresh_body("not-a-token"));
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error_key(), "invalid_token");
    assert!(!answer.text.contains("not-a-token"));
}

#[test]
fn access_token_expires_on_the_virtual_clock() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    assert_eq!(get(&emu, WHOAMI, Some(&p.access)).status, 200);
    emu.advance(Duration::from_secs(p.expires_in));
    let expired = get(&emu, WHOAMI, Some(&p.access));
    assert_eq!(expired.status, 401);
    assert_eq!(expired.error_key(), "invalid_token");
    // The refresh token outlives it.
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 200);
}

#[test]
fn refresh_token_expires_on_the_virtual_clock() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    emu.advance(Duration::from_secs(p.refresh_expires_in));
    let answer = post(&emu, REFRESH, &refresh_body(&p.refresh));
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error_key(), "invalid_token");
    // Logging in again still works.
    login(&emu);
}

#[test]
fn custom_ttls_are_returned() {
    let emu = Emulator::builder()
        .access_ttl(Duration::from_secs(60))
        .refresh_ttl(Duration::from_secs(120))
        .start()
        .unwrap();
    let p = login(&emu);
    assert_eq!((p.expires_in, p.refresh_expires_in), (60, 120));
}

#[test]
fn session_cap_shrinks_lifetimes_then_refuses_refresh() {
    let emu = Emulator::builder()
        .session_ttl(Duration::from_secs(12 * 3600))
        .start()
        .unwrap();
    let mut p = login(&emu);
    // Refresh every 3000 s: 14 rounds reach 42 000 s of a 43 200 s session.
    for _ in 0..14 {
        emu.advance(Duration::from_secs(3000));
        p = pair(&post(&emu, REFRESH, &refresh_body(&p.refresh)));
    }
    assert_eq!(p.expires_in, 480);
    assert!(p.refresh_expires_in <= 1200, "{}", p.refresh_expires_in);
    assert!(p.refresh_expires_in < 3660);
    emu.advance(Duration::from_secs(1000));
    p = pair(&post(&emu, REFRESH, &refresh_body(&p.refresh)));
    assert!(p.expires_in <= 200 && p.refresh_expires_in <= 200, "{p:?}");
    emu.advance(Duration::from_secs(200));
    let past = post(&emu, REFRESH, &refresh_body(&p.refresh));
    assert_eq!(past.status, 401);
    assert_eq!(past.error_key(), "invalid_token");
    // A new login starts a new session with full lifetimes.
    let fresh = login(&emu);
    assert_eq!((fresh.expires_in, fresh.refresh_expires_in), (480, 3660));
}

#[test]
fn whoami_accepts_a_valid_access_token() {
    let emu = Emulator::builder().user("user-id", "s").start().unwrap();
    let p = login(&emu);
    let answer = get(&emu, WHOAMI, Some(&p.access));
    assert_eq!(answer.status, 200);
    let data = &answer.json()["response"]["data"];
    assert_eq!(data["userIdentifier"], "user-id");
    assert!(data["expiresAt"].as_u64().unwrap() > 1_600_000_000);
}

#[test]
fn whoami_rejects_missing_garbage_and_refresh_tokens() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    for bearer in [None, Some("garbage"), Some(p.refresh.as_str())] {
        let answer = get(&emu, WHOAMI, bearer);
        assert_eq!(answer.status, 401, "{bearer:?}");
        assert_eq!(answer.code(), "AUTHENTICATION_ERROR");
        assert_eq!(answer.error_key(), "invalid_token");
    }
    let basic = agent()
        .get(emu.url(WHOAMI))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .call()
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(emu.counters().get(Endpoint::WhoAmI, Outcome::Rejected), 4);
}
