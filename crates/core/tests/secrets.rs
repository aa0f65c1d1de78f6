//! No public type prints a secret: every value that can hold one is formatted with
//! `{:?}` (and `{}` where it has `Display`) and searched for the secrets it holds.

use std::time::{Duration, Instant, SystemTime};

use smartling_auth_core::{
    AccessToken, Action, BaseUrl, Credentials, Error, RefreshToken, Session, Snapshot, Step,
    TokenCache, TokenPair, TransportError, UserSecret, error::ErrorCode, error::TransportErrorKind,
    parse_token_response,
};
use smartling_auth_testkit::{answers::response, policy::exact_policy};

const USER_ID: &str = "user-identifier-Xy1";
const USER_SECRET: &str = "SECRET-user-Zq9";
const ACCESS: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJBQ0NFU1Mtc2VjcmV0LUs3UW0yUHo5THc0WHI4VG4ifQ.Sig-Ab3Cd5Ef7Gh9Ij1Kl_Mn3";
const REFRESH: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJSRUZSRVNILXNlY3JldC1WNkJuMU1jM1h6NUxrNyJ9.Sig-Qw2Er4Ty6Ui8Op0As_Df5";

/// The part of a token that a leak would show: any 24 characters of it (the JWT header,
/// which every token shares, is left out: it is not secret).
fn token_windows() -> impl Iterator<Item = &'static str> {
    [ACCESS, REFRESH].into_iter().flat_map(|t| {
        let payload = &t[t.find('.').unwrap() + 1..];
        (0..=payload.len() - 24).map(move |i| &payload[i..i + 24])
    })
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(USER_SECRET),
        "{what} shows the user secret: {text}"
    );
    for w in token_windows() {
        assert!(!text.contains(w), "{what} shows {w:?} of a token: {text}");
    }
}

#[track_caller]
fn debug_clean(what: &str, value: &impl std::fmt::Debug) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

#[track_caller]
fn display_clean(what: &str, value: &impl std::fmt::Display) {
    assert_clean(what, &value.to_string());
}

fn pair() -> TokenPair {
    TokenPair::new(
        AccessToken::new(ACCESS),
        RefreshToken::new(REFRESH),
        Duration::from_secs(480),
        Duration::from_secs(3660),
    )
}

fn credentials() -> Credentials {
    Credentials::new(USER_ID, USER_SECRET)
}

#[test]
fn the_checker_catches_a_leak() {
    // The test is only as good as its checker.
    for leak in [
        USER_SECRET.to_owned(),
        ACCESS.to_owned(),
        REFRESH[30..60].to_owned(),
        format!("x{}y", &ACCESS[25..49]),
    ] {
        let caught = std::panic::catch_unwind(|| assert_clean("probe", &leak));
        assert!(caught.is_err(), "{leak}");
    }
    assert_clean("probe", &ACCESS[25..48]);
}

#[test]
fn secret_newtypes_are_redacted() {
    let a = AccessToken::new(ACCESS);
    let r = RefreshToken::new(REFRESH);
    let u = UserSecret::new(USER_SECRET);
    debug_clean("AccessToken", &a);
    debug_clean("RefreshToken", &r);
    debug_clean("UserSecret", &u);
    assert_eq!(format!("{a:?}"), "AccessToken([redacted])");
    assert_eq!(format!("{r:?}"), "RefreshToken([redacted])");
    assert_eq!(format!("{u:?}"), "UserSecret([redacted])");
    // Clones too, and the value is still there for whoever asks for it.
    debug_clean("AccessToken clone", &a.clone());
    assert_eq!(a.clone().secret(), ACCESS);
}

#[test]
fn credentials_show_the_identifier_only() {
    let c = credentials();
    debug_clean("Credentials", &c);
    assert!(format!("{c:?}").contains(USER_ID));
    assert_eq!(c.user_secret().secret(), USER_SECRET);
}

#[test]
fn token_pairs_and_snapshots_are_redacted() {
    let p = pair();
    debug_clean("TokenPair", &p);
    assert!(
        p.secret_json().contains(ACCESS),
        "secret_json is the way out"
    );
    let now = Instant::now();
    let session = Session::new(BaseUrl::default(), exact_policy()).with_token_pair(p, now);
    let snap: Snapshot = session.snapshot(now, SystemTime::now()).unwrap();
    debug_clean("Snapshot", &snap);
    assert!(snap.to_json().contains(REFRESH), "to_json is the way out");
    debug_clean("Snapshot clone", &snap.clone());
}

#[test]
fn sessions_are_redacted() {
    let now = Instant::now();
    let full = Session::new(BaseUrl::default(), exact_policy())
        .with_credentials(credentials())
        .with_token_pair(pair(), now);
    debug_clean("Session with everything", &full);
    let bare = Session::new(BaseUrl::default(), exact_policy())
        .with_refresh_token(RefreshToken::new(REFRESH));
    debug_clean("Session with a refresh token", &bare);
    let shared = TokenCache::new(full);
    debug_clean("TokenCache", &shared);
}

#[test]
fn grants_are_redacted() {
    let now = Instant::now();
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_credentials(credentials())
        .with_token_pair(pair(), now);
    let action = s.poll(now);
    debug_clean("Action::UseToken", &action);
    let Action::UseToken(grant) = action else {
        panic!("{action:?}")
    };
    assert_eq!(grant.access_token.secret(), ACCESS);
    debug_clean("Grant", &grant);
}

#[test]
fn transmits_are_redacted() {
    let now = Instant::now();
    // Authenticate: the body carries the user secret.
    let mut s = Session::new(BaseUrl::default(), exact_policy()).with_credentials(credentials());
    let action = s.poll(now);
    debug_clean("Action::Send (authenticate)", &action);
    let Action::Send(tx) = action else { panic!() };
    assert!(String::from_utf8_lossy(tx.request.body()).contains(USER_SECRET));
    debug_clean("Transmit (authenticate)", &tx);
    debug_clean("Session with a request out", &s);
    // Refresh: the body carries the refresh token.
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_refresh_token(RefreshToken::new(REFRESH));
    let Action::Send(tx) = s.poll(now) else {
        panic!()
    };
    assert!(String::from_utf8_lossy(tx.request.body()).contains(REFRESH));
    debug_clean("Transmit (refresh)", &tx);
    debug_clean("Action::Wait", &s.poll(now));
}

#[test]
fn renewals_and_steps_are_redacted() {
    let now = Instant::now();
    let shared = TokenCache::new(
        Session::new(BaseUrl::default(), exact_policy()).with_credentials(credentials()),
    );
    let mut first = shared.call();
    let step = first.poll(now);
    debug_clean("Step::Send", &step);
    let Step::Send(transmit) = step else { panic!() };
    assert!(String::from_utf8_lossy(transmit.request.body()).contains(USER_SECRET));
    debug_clean("Transmit", &transmit);
    debug_clean("Call", &first);
    let mut second = shared.call();
    let waiting = second.poll(now);
    assert!(matches!(waiting, Step::Wait(..)));
    debug_clean("Step::Wait", &waiting);
    debug_clean("TokenCache with a renewal out", &shared);
    drop(second);
    drop(first);

    let shared = TokenCache::new(
        Session::new(BaseUrl::default(), exact_policy())
            .with_credentials(credentials())
            .with_token_pair(pair(), now),
    );
    let step = shared.call().poll(now);
    assert!(matches!(step, Step::UseToken(_)));
    debug_clean("Step::Token", &step);
    debug_clean("cached token", &shared.cached(now));
}

/// Errors made from bodies that carry the secrets. `Api` errors keep the server's raw
/// strings in their fields (server data), so only their `Display` is checked.
fn parse_errors() -> Vec<(&'static str, Error)> {
    let err =
        |status: u16, body: String| parse_token_response(&response(status, body)).unwrap_err();
    let data = |access: &str, expires: &str| {
        format!(
            r#"{{"response":{{"code":"SUCCESS","data":{{"accessToken":{access},"refreshToken":"{REFRESH}","expiresIn":{expires},"refreshExpiresIn":3660}}}}}}"#
        )
    };
    let good = data(&format!("\"{ACCESS}\""), "480");
    let mut huge = good.clone().into_bytes();
    huge.resize(100_000, b' ');
    vec![
        (
            "500 HTML page",
            err(
                500,
                format!(
                    "<html><body><pre>refreshToken={REFRESH}\naccess {ACCESS}</pre></body></html>"
                ),
            ),
        ),
        (
            "502 echoing the request",
            err(502, format!(r#"{{"refreshToken":"{REFRESH}"}}"#)),
        ),
        (
            "401 plain text",
            err(401, format!("Bearer {ACCESS} rejected")),
        ),
        (
            "503 truncated JSON",
            err(503, good[..good.len() / 2].to_owned()),
        ),
        (
            "2xx whose code is a token",
            err(200, good.replace("\"SUCCESS\"", &format!("\"{REFRESH}\""))),
        ),
        (
            "2xx, token with a space",
            err(200, data(&format!("\"{ACCESS} x\""), "480")),
        ),
        ("2xx, token as a number", err(200, data("12345", "480"))),
        (
            "2xx, lifetime is a token",
            err(
                200,
                data(&format!("\"{ACCESS}\""), &format!("\"{REFRESH}\"")),
            ),
        ),
        (
            "2xx, truncated",
            err(200, good[..good.len() - 40].to_owned()),
        ),
        (
            "2xx, not JSON",
            err(200, format!("{good} trailing {ACCESS}")),
        ),
        (
            "2xx, response is a token",
            err(200, format!(r#"{{"response":"{ACCESS}"}}"#)),
        ),
        (
            "body too large",
            parse_token_response(&response(200, huge)).unwrap_err(),
        ),
    ]
}

#[test]
fn parse_errors_from_bodies_with_secrets_are_redacted() {
    let errors = parse_errors();
    assert!(errors.iter().all(|(_, e)| !matches!(e, Error::Api(_))));
    for (what, e) in &errors {
        display_clean(what, e);
        debug_clean(what, e);
        debug_clean(what, &e.clone());
    }
}

#[test]
fn api_errors_echoing_tokens_display_redacted() {
    let bodies = [
        format!(
            r#"{{"response":{{"code":"AUTHENTICATION_ERROR","errors":[{{"key":"invalid_token","message":"Invalid token: {REFRESH}","details":{{}}}}]}}}}"#
        ),
        format!(
            r#"{{"response":{{"code":"{ACCESS}","errors":[{{"key":"{REFRESH}","message":"{ACCESS}"}}]}}}}"#
        ),
        format!(
            r#"{{"response":{{"code":"VALIDATION_ERROR","errors":[{{"key":"k","message":{{"echo":"{REFRESH}"}}}},"{ACCESS}"]}}}}"#
        ),
    ];
    for (i, body) in bodies.iter().enumerate() {
        for status in [400, 401, 429, 500] {
            let e = parse_token_response(&response(status, body.clone())).unwrap_err();
            let api = e.api().unwrap_or_else(|| panic!("{i}: {e:?}"));
            display_clean("Error::Api", &e);
            display_clean("ApiError", api);
            display_clean("ErrorCode", &api.code);
        }
    }
    display_clean("ErrorCode::Other", &ErrorCode::Other(ACCESS.to_owned()));
}

#[test]
fn other_errors_are_redacted() {
    let now = Instant::now();
    let mut s = Session::new(BaseUrl::default(), exact_policy());
    let Action::Fail(ended) = s.poll(now) else {
        panic!()
    };
    assert!(matches!(ended, Error::SessionEnded(_)));
    display_clean("SessionEnded", &ended);
    debug_clean("SessionEnded", &ended);

    let t = Error::from(TransportError::new(
        TransportErrorKind::Reset,
        "connection reset by peer",
    ));
    display_clean("Transport", &t);
    debug_clean("Transport", &t);

    let base = BaseUrl::parse(&format!(
        "https://{USER_ID}:{USER_SECRET}@api.smartling.com"
    ))
    .unwrap_err();
    display_clean("InvalidBaseUrl", &base);
    debug_clean("InvalidBaseUrl", &base);

    let snap =
        Snapshot::from_json(format!(r#"{{"accessToken":"{ACCESS}","refreshToken":"#).as_bytes())
            .unwrap_err();
    display_clean("SnapshotError", &snap);
    debug_clean("SnapshotError", &snap);
    let snap = Snapshot::from_json(
        format!(
            r#"{{"accessToken":"{ACCESS} x","refreshToken":"{REFRESH}","tokenType":"Bearer","accessExpiresAt":1,"refreshExpiresAt":2,"refreshUsable":true}}"#
        )
        .as_bytes(),
    )
    .unwrap_err();
    display_clean("SnapshotError field", &snap);
    debug_clean("SnapshotError field", &snap);
}

#[test]
fn a_session_that_failed_on_a_body_with_secrets_is_redacted() {
    let now = Instant::now();
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_refresh_token(RefreshToken::new(REFRESH));
    let Action::Send(tx) = s.poll(now) else {
        panic!()
    };
    let answer = response(
        400,
        format!("<html>bad request for {REFRESH} / {ACCESS}</html>"),
    );
    let handled = s.handle_response(now, tx.id, &answer);
    debug_clean("Handled", &handled);
    debug_clean("Session after a failure", &s);
    debug_clean("last failure", &s.last_failure());
    let action = s.poll(now);
    debug_clean("Action after a failure", &action);
    if let Action::Fail(e) = &action {
        display_clean("Action::Fail", e);
    }
    // A transport failure, retried.
    let mut s = Session::new(BaseUrl::default(), exact_policy()).with_credentials(credentials());
    let Action::Send(tx) = s.poll(now) else {
        panic!()
    };
    s.handle_transport_error(
        now,
        tx.id,
        TransportError::new(TransportErrorKind::Timeout, "read timed out"),
    );
    debug_clean("Session after a transport error", &s);
}

#[test]
fn a_session_that_failed_on_an_envelope_echoing_its_token_is_redacted() {
    let now = Instant::now();
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_refresh_token(RefreshToken::new(REFRESH));
    let Action::Send(tx) = s.poll(now) else {
        panic!()
    };
    let body = format!(
        r#"{{"response":{{"code":"VALIDATION_ERROR","errors":[{{"key":"invalid_parameter","message":"refreshToken {REFRESH} is malformed"}}]}}}}"#
    );
    s.handle_response(now, tx.id, &response(400, body));
    let action = s.poll(now);
    assert!(matches!(&action, Action::Fail(Error::Api(_))), "{action:?}");
    display_clean("Action::Fail", &s.last_failure().unwrap());
    debug_clean("Session after a 400", &s);
    debug_clean("Action after a 400", &action);
}
