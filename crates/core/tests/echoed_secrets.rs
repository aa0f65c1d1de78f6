//! A server, proxy or WAF that echoes the request body into its error page: the exact
//! secret the request carried never reaches an error, however unlike a token it looks.

use std::time::{Duration, Instant};

use smartling_auth_core::*;

/// A secret that the heuristic redaction alone would let through: prose-like, short
/// runs, punctuation.
const SECRET: &str = "Tr0ub4dor&3-horse!battery~staple";

/// An error page that quotes the request: the JSON body as sent, and the offending
/// value alone, away from any key that names it a secret.
fn echo(status: u16, body: &[u8]) -> HttpResponse {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    let value = json["userSecret"]
        .as_str()
        .or(json["refreshToken"].as_str())
        .unwrap();
    let page = format!(
        "<html><body><h1>Request blocked</h1><p>Rule 942100 matched on: {value}</p><pre>{}</pre></body></html>",
        String::from_utf8_lossy(body)
    );
    http::Response::builder()
        .status(status)
        .body(page.into_bytes().into())
        .unwrap()
}

fn assert_clean(e: &Error, secret: &str) {
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("horse"), "{shown}");
    }
}

#[test]
fn a_login_answer_echoing_the_user_secret_is_redacted() {
    let now = Instant::now();
    for status in [403, 400, 502] {
        let mut s = Session::new(BaseUrl::default(), Policy::default())
            .with_credentials(Credentials::new("bob", SECRET));
        let Action::Send(tx) = s.poll(now) else {
            panic!()
        };
        // Raw, as an HTML page quotes the JSON it was sent (which escapes nothing here
        // but `"`), and JSON-escaped forms alike.
        let answer = echo(status, tx.request.body());
        let handled = s.handle_response(now, tx.id, &answer);
        let e = handled.error().expect("an error").clone();
        assert_clean(&e, SECRET);
        if let Action::Fail(e) = s.poll(now) {
            assert_clean(&e, SECRET);
        }
    }
}

#[test]
fn a_refresh_answer_echoing_the_refresh_token_is_redacted() {
    let now = Instant::now();
    // A refresh token shaped like prose, which the token heuristic would not catch.
    let token = "horse battery staple correct";
    let mut s = Session::new(BaseUrl::default(), Policy::default())
        .with_refresh_token(RefreshToken::new(token));
    let Action::Send(tx) = s.poll(now) else {
        panic!()
    };
    let handled = s.handle_response(now, tx.id, &echo(401, tx.request.body()));
    let e = handled.error().expect("an error");
    assert!(!e.to_string().contains(token), "{e}");
    assert!(!format!("{e:?}").contains(token), "{e:?}");
}

#[test]
fn a_shared_cache_redacts_too() {
    let cache = TokenCache::new(
        Session::new(BaseUrl::default(), Policy::default())
            .with_credentials(Credentials::new("bob", SECRET)),
    );
    let now = Instant::now();
    let mut call = cache.call_with_deadline(now, Duration::from_secs(1));
    let Step::Send(transmit) = call.poll(now) else {
        panic!()
    };
    let answer = echo(403, transmit.request.body());
    call.handle_response(now, transmit.id, Ok(answer));
    let (_, handled) = call.poll_event().expect("the answer was handled");
    assert_clean(handled.error().expect("an error"), SECRET);
}
