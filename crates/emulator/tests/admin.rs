//! The `/_emulator/` admin API, counters and the rate limiter.

mod common;

use std::time::Duration;

use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};

#[test]
fn admin_clock_advance_expires_tokens() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    let answer = admin_post(&emu, "/_emulator/clock/advance", r#"{"seconds": 481}"#);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["response"]["data"]["offsetSeconds"], 481.0);
    assert_eq!(emu.now_offset(), Duration::from_secs(481));
    assert_eq!(get(&emu, WHOAMI, Some(&p.access)).status, 401);
}

#[test]
fn admin_faults_injects_each_kind() {
    let emu = Emulator::start().unwrap();
    let specs = [
        r#"{"type":"status","status":503,"envelope":true,"retryAfter":"1"}"#,
        r#"{"type":"html","status":502}"#,
        r#"{"type":"delay_headers","ms":10}"#,
        r#"{"type":"delay_body","ms":10}"#,
        r#"{"type":"truncate"}"#,
        r#"{"type":"reset"}"#,
        r#"{"type":"oversized","bytes":2000}"#,
    ];
    for (i, spec) in specs.iter().enumerate() {
        let body = format!(r#"{{"endpoint":"refresh","count":2,"fault":{spec}}}"#);
        let answer = admin_post(&emu, "/_emulator/faults", &body);
        assert_eq!(answer.status, 200, "{spec}: {}", answer.text);
        assert_eq!(answer.json()["response"]["data"]["pending"], 2 * (i + 1));
    }
    assert_eq!(emu.pending_faults(Endpoint::Refresh), 14);
    // The first one is served as specified.
    let answer = post(&emu, REFRESH, "{}");
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after"), Some("1"));
    // DELETE clears them.
    let del = admin_delete(&emu, "/_emulator/faults");
    assert_eq!(del.status, 200);
    assert_eq!(emu.pending_faults(Endpoint::Refresh), 0);
}

#[test]
fn admin_fault_count_defaults_to_one_and_endpoints_parse() {
    let emu = Emulator::start().unwrap();
    for name in ["authenticate", "refresh", "whoami", "other"] {
        let body = format!(r#"{{"endpoint":"{name}","fault":{{"type":"html","status":502}}}}"#);
        assert_eq!(admin_post(&emu, "/_emulator/faults", &body).status, 200);
    }
    for e in Endpoint::ALL {
        assert_eq!(emu.pending_faults(e), 1);
    }
    assert_eq!(get(&emu, "/nowhere", None).status, 502);
}

#[test]
fn admin_counters_and_reset() {
    let emu = Emulator::start().unwrap();
    login(&emu);
    post(&emu, AUTH, &login_body("x", "y"));
    get(&emu, "/missing", None);
    let answer = admin_get(&emu, "/_emulator/counters");
    assert_eq!(answer.status, 200);
    let data = &answer.json()["response"]["data"];
    assert_eq!(data["authenticate"]["success"], 1);
    assert_eq!(data["authenticate"]["rejected"], 1);
    assert_eq!(data["authenticate"]["total"], 2);
    assert_eq!(data["other"]["not_found"], 1);
    assert_eq!(data["refresh"]["total"], 0);
    // Admin calls are not counted.
    assert_eq!(emu.counters().total(Endpoint::Other), 1);

    assert_eq!(
        admin_post(&emu, "/_emulator/counters/reset", "").status,
        200
    );
    assert_eq!(emu.counters(), Default::default());
    login(&emu);
    emu.reset_counters();
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 0);
}

#[test]
fn counters_snapshot_api() {
    let emu = Emulator::start().unwrap();
    let p = login(&emu);
    post(&emu, REFRESH, &refresh_body(&p.refresh));
    post(&emu, REFRESH, &refresh_body(&p.refresh));
    get(&emu, WHOAMI, None);
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 1);
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Rejected), 1);
    assert_eq!(c.total(Endpoint::Refresh), 2);
    assert_eq!(c.get(Endpoint::WhoAmI, Outcome::Rejected), 1);
    assert_eq!(c.iter().map(|(_, _, n)| n).sum::<u64>(), 4);
}

#[test]
fn bad_admin_input_gets_clear_400s() {
    let emu = Emulator::start().unwrap();
    let cases = [
        ("/_emulator/clock/advance", "not json", "invalid_json"),
        ("/_emulator/clock/advance", "{}", "seconds is required"),
        (
            "/_emulator/clock/advance",
            r#"{"seconds": -5}"#,
            "between 0",
        ),
        (
            "/_emulator/clock/advance",
            r#"{"seconds": "5"}"#,
            "must be a number",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"nope","fault":{"type":"reset"}}"#,
            "endpoint must be one of",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh","fault":{"type":"bogus"}}"#,
            "unknown variant",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh"}"#,
            "missing field `fault`",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh","count":0,"fault":{"type":"reset"}}"#,
            "count must be",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh","fault":{"type":"status","status":42}}"#,
            "status must be",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh","fault":{"type":"html"}}"#,
            "missing field `status`",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh","fault":{"type":"status","status":503,"retryAfter":"1\r\nX: y"}}"#,
            "control characters",
        ),
        (
            "/_emulator/faults",
            r#"{"endpoint":"refresh","fault":{"type":"reset"},"extra":1}"#,
            "unknown field",
        ),
    ];
    for (path, body, needle) in cases {
        let answer = admin_post(&emu, path, body);
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert_eq!(answer.code(), "VALIDATION_ERROR");
        assert!(answer.text.contains(needle), "{body}: {}", answer.text);
    }
    assert_eq!(emu.pending_faults(Endpoint::Refresh), 0);
    assert_eq!(emu.now_offset(), Duration::ZERO);

    let unknown = admin_post(&emu, "/_emulator/nope", "{}");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "NOT_FOUND_ERROR");
    let wrong = admin_get(&emu, "/_emulator/faults");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("POST, DELETE"));
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let emu = Emulator::builder()
        .rate_limit(3, Duration::from_secs(60))
        .start()
        .unwrap();
    let (id, secret) = emu.demo_user();
    for _ in 0..3 {
        assert_eq!(post(&emu, AUTH, &login_body(&id, &secret)).status, 200);
    }
    let limited = post(&emu, AUTH, &login_body(&id, &secret));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.code(), "MAX_OPERATIONS_LIMIT_EXCEEDED");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert!(limited.json()["response"]["errors"][0]["details"]["errorId"].is_string());
    // Refresh is not limited.
    let p = login_after_window(&emu, &id, &secret);
    assert_eq!(post(&emu, REFRESH, &refresh_body(&p.refresh)).status, 200);
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::RateLimited), 1);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 4);
}

/// The window runs on emulator time: advancing past it frees the limiter.
fn login_after_window(emu: &Emulator, id: &str, secret: &str) -> Pair {
    emu.advance(Duration::from_secs(60));
    pair(&post(emu, AUTH, &login_body(id, secret)))
}
