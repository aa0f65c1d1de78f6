//! Scenario tests of the token lifecycle, one or more per rule, on a fake clock.

use std::time::{Duration, Instant, SystemTime};

use smartling_auth_core::error::*;
use smartling_auth_core::*;
use smartling_auth_testkit::{answers::*, expect::*, policy::exact_policy, secs};

fn login_session(policy: Policy) -> Session {
    Session::new(BaseUrl::default(), policy).with_credentials(Credentials::new("id", "secret"))
}

/// Logs in at `t0` with the given lifetimes; returns the session.
fn logged_in(policy: Policy, t0: Instant, expires: u64, refresh_expires: u64) -> Session {
    let mut s = login_session(policy);
    let tx = expect_send(s.poll(t0));
    assert_eq!(tx.kind, RequestKind::Authenticate);
    assert!(matches!(
        s.handle_response(t0, tx.id, &success("a0", "r0", expires, refresh_expires)),
        Handled::Renewed(..)
    ));
    s
}

// Rule 1: the expiry clock starts when the request was sent.
#[test]
fn expiry_counts_from_the_send_not_the_answer() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let tx = expect_send(s.poll(t0));
    // The answer takes 20 s to arrive.
    s.handle_response(t0 + secs(20), tx.id, &success("a", "r", 480, 3660));
    let g = expect_token(s.poll(t0 + secs(21)));
    assert_eq!(g.valid_until, t0 + secs(480 - 30));
}

// Rule 2: refresh ahead, keep serving the current token meanwhile, hard margin.
#[test]
fn refreshes_ahead_and_serves_the_current_token_meanwhile() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    let g = expect_token(s.poll(t0 + secs(419)));
    assert_eq!(
        g.fresh_until,
        t0 + secs(420),
        "fresh until the refresh-ahead point"
    );
    let tx = expect_send(s.poll(t0 + secs(420)));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Refresh, Reason::RefreshAhead)
    );
    // While the refresh is out, callers get the current token...
    let g = expect_token(s.poll(t0 + secs(430)));
    assert_eq!(g.access_token.secret(), "a0");
    // ...until the hard margin: then they wait.
    let until = expect_wait(s.poll(t0 + secs(450)));
    assert!(until > t0 + secs(450));
    s.handle_response(t0 + secs(451), tx.id, &success("a1", "r1", 480, 3660));
    assert_eq!(
        expect_token(s.poll(t0 + secs(451))).access_token.secret(),
        "a1"
    );
}

#[test]
fn a_short_lived_token_is_not_renewed_before_half_its_life() {
    let t0 = Instant::now();
    // 80 s of life, an explicit 60 s window: renewal waits for 40 s, not 20 s...
    let mut policy = exact_policy();
    policy.refresh_ahead = Some(secs(60));
    let mut s = logged_in(policy, t0, 80, 3660);
    let g = expect_token(s.poll(t0 + secs(1)));
    assert_eq!(g.fresh_until, t0 + secs(40));
    let tx = expect_send(s.poll(t0 + secs(40)));
    // ...so a slow answer does not leave the next token born inside its window.
    s.handle_response(t0 + secs(70), tx.id, &success("a1", "r1", 80, 3660));
    assert!(matches!(s.poll(t0 + secs(70)), Action::UseToken(_)));
}

#[test]
fn jitter_spreads_refreshes_within_the_window_and_is_deterministic_per_seed() {
    let t0 = Instant::now();
    let first_send = |seed| {
        let mut p = Policy::default();
        p.seed = Some(seed);
        let mut s = logged_in(p, t0, 480, 3660);
        (380..=480)
            .find(|&t| matches!(s.poll(t0 + secs(t)), Action::Send(_)))
            .unwrap()
    };
    let at: Vec<u64> = (0..20).map(first_send).collect();
    assert!(at.iter().all(|&t| (390..=420).contains(&t)), "{at:?}");
    assert!(
        at.iter().any(|&t| t != at[0]),
        "jitter varies by seed: {at:?}"
    );
    assert_eq!(
        at,
        (0..20).map(first_send).collect::<Vec<_>>(),
        "same seed, same instants"
    );
}

// Rule 3: refresh versus login.
#[test]
fn logs_in_when_the_refresh_token_has_expired() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 600);
    // Nobody asks for a token until long after both expired.
    let tx = expect_send(s.poll(t0 + secs(700)));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Authenticate, Reason::FallbackToLogin)
    );
}

#[test]
fn logs_in_when_the_refresh_lifetime_shrinks_below_the_window() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    let tx = expect_send(s.poll(t0 + secs(420)));
    assert_eq!(tx.kind, RequestKind::Refresh);
    // Near the session cap: the refresh token now has only 59 s left, less than the
    // 60 s renewal window of a 480 s token.
    s.handle_response(t0 + secs(420), tx.id, &success("a1", "r1", 480, 59));
    // The new access token serves until its renewal point, and that renewal is a
    // login, not a refresh into the cap.
    let g = expect_token(s.poll(t0 + secs(420)));
    assert_eq!(g.access_token.secret(), "a1");
    let tx = expect_send(s.poll(g.fresh_until));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Authenticate, Reason::FallbackToLogin)
    );
}

#[test]
fn logs_in_at_once_when_a_refresh_returns_a_far_shorter_lifetime() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    let tx = expect_send(s.poll(t0 + secs(420)));
    // 59 s is under a quarter of the last grant's 480 s: the session cap is closing in.
    let h = s.handle_response(t0 + secs(420), tx.id, &success("a1", "r1", 59, 59));
    assert!(matches!(h, Handled::Renewed(_)));
    let tx = expect_send(s.poll(t0 + secs(420)));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Authenticate, Reason::FallbackToLogin)
    );
    // The short token, still alive, serves other callers while the login is out.
    let g = expect_token(s.poll(t0 + secs(421)));
    assert_eq!(g.access_token.secret(), "a1");
    assert!(g.valid_until <= t0 + secs(420 + 59));
}

#[test]
fn a_refused_refresh_falls_back_to_login_at_once() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    let tx = expect_send(s.poll(t0 + secs(460)));
    assert_eq!(tx.kind, RequestKind::Refresh);
    let h = s.handle_response(
        t0 + secs(460),
        tx.id,
        &envelope(401, "AUTHENTICATION_ERROR", "invalid_token"),
    );
    assert!(matches!(h, Handled::FallingBack(..)));
    let tx = expect_send(s.poll(t0 + secs(460)));
    assert_eq!(tx.kind, RequestKind::Authenticate);
    s.handle_response(t0 + secs(461), tx.id, &success("a2", "r2", 480, 3660));
    assert_eq!(
        expect_token(s.poll(t0 + secs(461))).access_token.secret(),
        "a2"
    );
}

#[test]
fn any_refusal_of_the_refresh_token_falls_back_to_login_but_429_does_not() {
    let t0 = Instant::now();
    for (status, code) in [
        (400, "VALIDATION_ERROR"),
        (403, "AUTHORIZATION_ERROR"),
        (404, "NOT_FOUND_ERROR"),
    ] {
        let mut s = logged_in(exact_policy(), t0, 480, 3660);
        let tx = expect_send(s.poll(t0 + secs(460)));
        let h = s.handle_response(t0 + secs(460), tx.id, &envelope(status, code, "k"));
        assert!(matches!(h, Handled::FallingBack(..)), "{status}");
        assert_eq!(
            expect_send(s.poll(t0 + secs(460))).kind,
            RequestKind::Authenticate
        );
    }
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    let tx = expect_send(s.poll(t0 + secs(460)));
    let h = s.handle_response(
        t0 + secs(460),
        tx.id,
        &envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "k"),
    );
    assert!(matches!(h, Handled::WillRetry(..)));
}

#[test]
fn without_credentials_those_cases_end_the_session_clearly() {
    let t0 = Instant::now();
    let pair = |e, r| {
        TokenPair::new(
            AccessToken::new("a"),
            RefreshToken::new("r"),
            secs(e),
            secs(r),
        )
    };
    // Refresh token expired.
    let mut s =
        Session::new(BaseUrl::default(), exact_policy()).with_token_pair(pair(480, 600), t0);
    match s.poll(t0 + secs(700)) {
        Action::Fail(Error::SessionEnded(SessionEnd::RefreshExpired)) => {}
        other => panic!("{other:?}"),
    }
    // Refused refresh: the current token keeps serving until its hard margin, then the
    // session ends.
    let mut s =
        Session::new(BaseUrl::default(), exact_policy()).with_token_pair(pair(480, 3660), t0);
    let tx = expect_send(s.poll(t0 + secs(420)));
    s.handle_response(
        t0 + secs(420),
        tx.id,
        &envelope(401, "AUTHENTICATION_ERROR", "invalid_token"),
    );
    expect_token(s.poll(t0 + secs(449)));
    match s.poll(t0 + secs(450)) {
        Action::Fail(e @ Error::SessionEnded(SessionEnd::RefreshRejected)) => {
            assert!(e.to_string().contains("no credentials"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing at all.
    let mut s = Session::new(BaseUrl::default(), exact_policy());
    assert!(matches!(
        s.poll(t0),
        Action::Fail(Error::SessionEnded(SessionEnd::NoCredentials))
    ));
}

#[test]
fn a_bare_refresh_token_starts_a_session_by_refreshing() {
    let t0 = Instant::now();
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_refresh_token(RefreshToken::new("seed-refresh"));
    let tx = expect_send(s.poll(t0));
    assert_eq!(tx.kind, RequestKind::Refresh);
    let body: serde_json::Value = serde_json::from_slice(tx.request.body()).unwrap();
    assert_eq!(body["refreshToken"], "seed-refresh");
    s.handle_response(t0, tx.id, &success("a", "r", 480, 3660));
    assert_eq!(expect_token(s.poll(t0)).access_token.secret(), "a");
}

/// A 12-hour session whose refresh lifetimes shrink to zero: the client refreshes
/// until the cap is near, then logs in again; it never hands out a dying token.
#[test]
fn twelve_hour_session_cap_leads_to_a_new_login() {
    let t0 = Instant::now();
    let cap = secs(12 * 3600);
    let mut s = login_session(Policy::default());
    let mut session_start = t0;
    let (mut logins, mut refreshes) = (0, 0);
    let mut now = t0;
    let mut expiry: Option<(String, Instant, Duration)> = None;
    let mut n = 0;
    while now < t0 + secs(13 * 3600) {
        n += 1;
        assert!(n < 100_000, "bounded");
        match s.poll(now) {
            Action::UseToken(g) => {
                let (tok, exp, lifetime) = expiry.clone().unwrap();
                assert_eq!(g.access_token.secret(), tok);
                // The hard margin scales down as the cap shortens the tokens.
                let margin = lifetime.div_f64(4.0).min(secs(30));
                assert!(
                    now + margin <= exp,
                    "a handed-out token has its margin left"
                );
                now += secs(7);
            }
            Action::Send(tx) => {
                let answer = match tx.kind {
                    RequestKind::Authenticate => {
                        logins += 1;
                        session_start = now;
                        success(&format!("a{n}"), &format!("r{n}"), 480, 3660)
                    }
                    RequestKind::Refresh => {
                        refreshes += 1;
                        let left = (session_start + cap).saturating_duration_since(now);
                        if left.is_zero() {
                            envelope(401, "AUTHENTICATION_ERROR", "invalid_token")
                        } else {
                            let e = left.as_secs().min(480);
                            let r = left.as_secs().min(3660);
                            success(&format!("a{n}"), &format!("r{n}"), e, r)
                        }
                    }
                };
                if answer.status() == 200 {
                    let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
                    let e = body["response"]["data"]["expiresIn"].as_u64().unwrap();
                    let tok = body["response"]["data"]["accessToken"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    expiry = Some((tok, now + secs(e), secs(e)));
                }
                s.handle_response(now + Duration::from_millis(150), tx.id, &answer);
            }
            Action::Wait(until) => {
                assert!(until > now);
                now = until;
            }
            Action::Fail(e) => panic!("failed: {e}"),
        }
    }
    assert_eq!(logins, 2, "one login at the start, one at the cap");
    assert!(refreshes > 80, "refreshed all along: {refreshes}");
}

// Rule 4: retries with backoff.
#[test]
fn a_503_burst_backs_off_within_the_ceiling_then_recovers() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let mut now = t0;
    let retry = RetryPolicy::default();
    for attempt in 1..=4u32 {
        let tx = expect_send(s.poll(now));
        assert_eq!(tx.attempt, attempt);
        if attempt > 1 {
            assert_eq!(tx.reason, Reason::Retry);
        }
        if attempt == 4 {
            s.handle_response(now, tx.id, &success("a", "r", 480, 3660));
            break;
        }
        let h = s.handle_response(
            now,
            tx.id,
            &envelope(503, "MAINTENANCE_MODE_ERROR", "maintenance"),
        );
        assert!(matches!(h, Handled::WillRetry(..)));
        match s.poll(now) {
            Action::Wait(until) => {
                assert!(until - now <= retry.ceiling(attempt), "attempt {attempt}");
                now = until;
            }
            // Full jitter may draw zero.
            Action::Send(_) => panic!("a zero draw would resend at once; seed 1 draws none"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(expect_token(s.poll(now)).access_token.secret(), "a");
}

#[test]
fn retry_after_is_honoured_in_both_forms_and_clamped() {
    let t0 = Instant::now();
    let cases = [
        (
            with_header(
                envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "k"),
                "retry-after",
                "7",
            ),
            secs(7),
        ),
        (
            with_header(
                with_header(
                    envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "k"),
                    "date",
                    "Wed, 21 Oct 2015 07:28:00 GMT",
                ),
                "retry-after",
                "Wed, 21 Oct 2015 07:28:12 GMT",
            ),
            secs(12),
        ),
        (
            with_header(
                envelope(503, "MAINTENANCE_MODE_ERROR", "k"),
                "retry-after",
                "3600",
            ),
            secs(60),
        ),
        (
            with_header(
                http::Response::builder()
                    .status(429)
                    .body(Default::default())
                    .unwrap(),
                "retry-after",
                "2",
            ),
            secs(2),
        ),
    ];
    for (answer, expected) in cases {
        let mut s = login_session(exact_policy());
        let tx = expect_send(s.poll(t0));
        assert!(matches!(
            s.handle_response(t0, tx.id, &answer),
            Handled::WillRetry(..)
        ));
        assert_eq!(expect_wait(s.poll(t0)), t0 + expected);
        assert_eq!(expect_send(s.poll(t0 + expected)).attempt, 2);
    }
}

#[test]
fn gives_up_after_max_attempts_without_a_token_and_rearms() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let mut now = t0;
    let mut sent = 0;
    loop {
        match s.poll(now) {
            Action::Send(tx) => {
                sent += 1;
                let err = TransportError::new(TransportErrorKind::Connect, "refused");
                s.handle_transport_error(now, tx.id, err);
            }
            Action::Wait(until) => now = until,
            Action::Fail(e) => {
                assert!(matches!(e, Error::Transport(_)), "{e:?}");
                break;
            }
            Action::UseToken(_) => panic!("no token was ever issued"),
        }
        assert!(sent <= 6);
    }
    assert_eq!(sent, 6, "at most 6 attempts");
    // The failure is latched: polls repeat it...
    assert!(matches!(s.poll(now), Action::Fail(_)));
    assert_eq!(s.failure_epoch(), 1);
    // ...until a new caller rearms the session.
    s.rearm();
    assert_eq!(expect_send(s.poll(now)).attempt, 1);
}

#[test]
fn a_failing_renewal_never_fails_a_caller_while_the_token_is_valid() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    let mut now = t0 + secs(420);
    let mut failures = 0;
    while now < t0 + secs(450) {
        match s.poll(now) {
            Action::Send(tx) => {
                failures += 1;
                s.handle_response(now, tx.id, &envelope(500, "GENERAL_ERROR", "k"));
            }
            Action::UseToken(g) => {
                assert_eq!(g.access_token.secret(), "a0");
                now = g.fresh_until.max(now + Duration::from_millis(1));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        failures > 6,
        "it kept retrying past max_attempts: {failures}"
    );
    // Past the hard margin with no token: now it must wait or fail, never hand one out.
    assert!(!matches!(s.poll(t0 + secs(450)), Action::UseToken(_)));
}

// Rule 5: no retries on rejection.
#[test]
fn rejections_are_final_and_typed() {
    let t0 = Instant::now();
    for (status, code) in [
        (400, "VALIDATION_ERROR"),
        (401, "AUTHENTICATION_ERROR"),
        (403, "AUTHORIZATION_ERROR"),
    ] {
        let mut s = login_session(exact_policy());
        let tx = expect_send(s.poll(t0));
        assert!(matches!(
            s.handle_response(t0, tx.id, &envelope(status, code, "k")),
            Handled::Failed(..)
        ));
        match s.poll(t0 + secs(3600)) {
            Action::Fail(Error::Api(api)) => {
                assert_eq!(api.status.as_u16(), status);
                assert_eq!(api.code.as_str(), code);
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

// Rule 6: single flight.
#[test]
fn one_request_at_a_time_and_stale_answers_are_ignored() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let tx = expect_send(s.poll(t0));
    for t in 0..50 {
        assert!(matches!(s.poll(t0 + secs(t)), Action::Wait(_)));
    }
    // An answer for another id changes nothing.
    let other = {
        let mut s2 = login_session(exact_policy());
        let first = expect_send(s2.poll(t0));
        s2.abandon(first.id);
        expect_send(s2.poll(t0)).id // a later id, unknown to `s`
    };
    assert_ne!(other, tx.id);
    assert!(matches!(
        s.handle_response(t0, other, &success("x", "y", 480, 3660)),
        Handled::Stale
    ));
    assert!(matches!(s.poll(t0), Action::Wait(_)));
    assert!(matches!(
        s.handle_response(t0, tx.id, &success("a", "r", 480, 3660)),
        Handled::Renewed(..)
    ));
    assert!(matches!(
        s.handle_response(t0, tx.id, &success("b", "r", 480, 3660)),
        Handled::Stale
    ));
    assert_eq!(expect_token(s.poll(t0)).access_token.secret(), "a");
}

#[test]
fn a_lost_request_times_out_and_is_retried() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let tx = expect_send(s.poll(t0));
    let deadline = expect_wait(s.poll(t0));
    assert_eq!(deadline, t0 + Policy::default().request_timeout);
    // At the deadline the request counts as a failed try, with backoff.
    let next = s.poll(deadline);
    let retry = match next {
        Action::Send(t) => t,
        Action::Wait(until) => expect_send(s.poll(until)),
        other => panic!("{other:?}"),
    };
    assert_eq!(retry.attempt, 2);
    assert!(matches!(
        s.handle_response(deadline, tx.id, &success("late", "r", 480, 3660)),
        Handled::Stale
    ));
}

#[test]
fn an_answer_after_the_request_timeout_is_ignored_even_without_a_poll() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let tx = expect_send(s.poll(t0));
    let late = t0 + Policy::default().request_timeout;
    assert!(matches!(
        s.handle_response(late, tx.id, &success("late", "r", 480, 3660)),
        Handled::Stale
    ));
    assert!(!matches!(s.poll(late), Action::UseToken(_)));
}

#[test]
fn an_abandoned_request_is_handed_to_the_next_caller_without_backoff() {
    let t0 = Instant::now();
    let mut s = login_session(exact_policy());
    let tx = expect_send(s.poll(t0));
    assert!(matches!(s.abandon(tx.id), Handled::Abandoned));
    let again = expect_send(s.poll(t0));
    assert_eq!(again.attempt, 1);
    assert_ne!(again.id, tx.id);
}

#[test]
fn invalidate_renews_only_for_the_current_token() {
    let t0 = Instant::now();
    let mut s = logged_in(exact_policy(), t0, 480, 3660);
    assert!(!s.invalidate(&AccessToken::new("someone-elses")));
    expect_token(s.poll(t0 + secs(1)));
    assert!(s.invalidate(&AccessToken::new("a0")));
    let tx = expect_send(s.poll(t0 + secs(1)));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Refresh, Reason::Invalidated)
    );
    s.handle_response(t0 + secs(2), tx.id, &success("a1", "r1", 480, 3660));
    // A late 401 report for the old token does not throw away the new one.
    assert!(!s.invalidate(&AccessToken::new("a0")));
    assert_eq!(
        expect_token(s.poll(t0 + secs(3))).access_token.secret(),
        "a1"
    );
}

#[test]
fn too_short_lived_tokens_are_never_handed_out() {
    let t0 = Instant::now();
    // An explicit hard margin keeps its meaning whatever the lifetime.
    let mut explicit = exact_policy();
    explicit.min_validity = Some(secs(30));
    // After a refresh: log in instead.
    let mut s = logged_in(explicit.clone(), t0, 480, 3660);
    let tx = expect_send(s.poll(t0 + secs(420)));
    assert!(matches!(
        s.handle_response(t0 + secs(420), tx.id, &success("a1", "r1", 20, 3000)),
        Handled::FallingBack(..)
    ));
    assert_eq!(
        expect_send(s.poll(t0 + secs(420))).kind,
        RequestKind::Authenticate
    );
    // After a login: a clear, final error rather than a spin.
    let mut s = login_session(explicit);
    let tx = expect_send(s.poll(t0));
    assert!(matches!(
        s.handle_response(t0, tx.id, &success("a", "r", 30, 3660)),
        Handled::Failed(..)
    ));
    match s.poll(t0) {
        Action::Fail(
            e @ Error::InvalidField {
                field: "expiresIn", ..
            },
        ) => {
            assert!(e.to_string().contains("hard margin"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn snapshots_restore_in_another_process_and_expired_ones_renew() {
    let t0 = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + secs(1_800_000_000);
    let s = logged_in(exact_policy(), t0, 480, 3660);
    let snap = Snapshot::from_json(s.snapshot(t0, wall).unwrap().to_json().as_bytes()).unwrap();
    assert_eq!(snap.access_expires_at, wall + secs(480));
    assert_eq!(snap.refresh_expires_at, wall + secs(3660));

    // Another process, a minute later by the wall clock, with its own Instant origin.
    let t1 = Instant::now() + secs(5);
    let mut r = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &snap,
        t1,
        wall + secs(60),
    );
    let g = expect_token(r.poll(t1));
    assert_eq!(g.access_token.secret(), "a0");
    assert_eq!(g.valid_until, t1 + secs(480 - 60 - 30));

    // Seven minutes later: inside the refresh-ahead window, so the restored session
    // refreshes while still handing out the cached token.
    let mut r = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &snap,
        t1,
        wall + secs(430),
    );
    let tx = expect_send(r.poll(t1));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Refresh, Reason::RefreshAhead)
    );
    assert_eq!(expect_token(r.poll(t1)).access_token.secret(), "a0");

    // An hour later: the access token is gone, the refresh token still good.
    let mut r = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &snap,
        t1,
        wall + secs(3000),
    );
    let tx = expect_send(r.poll(t1));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Refresh, Reason::Expired)
    );

    // Two hours later: both gone. With credentials it logs in; without, it ends.
    let later = wall + secs(7200);
    let mut r = Session::from_snapshot(BaseUrl::default(), exact_policy(), &snap, t1, later)
        .with_credentials(Credentials::new("id", "secret"));
    assert_eq!(expect_send(r.poll(t1)).kind, RequestKind::Authenticate);
    let mut r = Session::from_snapshot(BaseUrl::default(), exact_policy(), &snap, t1, later);
    assert!(matches!(
        r.poll(t1),
        Action::Fail(Error::SessionEnded(SessionEnd::RefreshExpired))
    ));
}

#[test]
fn snapshot_json_rejects_broken_forms_without_quoting_them() {
    let good = r#"{"accessToken":"a","refreshToken":"r","tokenType":"Bearer","accessExpiresAt":1,"refreshExpiresAt":2,"refreshUsable":true}"#;
    assert!(Snapshot::from_json(good.as_bytes()).is_ok());
    let with_lifetime = good.replace("}", r#","accessLifetime":480}"#);
    assert!(Snapshot::from_json(with_lifetime.as_bytes()).is_ok());
    let bad: &[&str] = &[
        "",
        "{",
        "null",
        "[]",
        r#"{"accessToken":"a"}"#,
        &good.replace("\"a\"", "\"TOPSECRET with space\""),
        &good.replace("\"r\"", "\"\""),
        &good.replace(":1,", ":-1,"),
        &good.replace(":1,", ":\"1\","),
        &good.replace(":2,", ":18446744073709551615,"),
        &good.replace("true", "\"yes\""),
        &good.replace("}", r#","extra":1}"#),
        &good.replace("}", r#","accessLifetime":0}"#),
        &good.replace("}", r#","accessLifetime":-5}"#),
        &good.replace("}", r#","accessLifetime":"480"}"#),
        &good.replace("}", r#","accessLifetime":99999999999}"#),
    ];
    for b in bad {
        let e = Snapshot::from_json(b.as_bytes()).unwrap_err();
        assert!(!e.to_string().contains("TOPSECRET"), "{e}");
        assert!(!format!("{e:?}").contains("TOPSECRET"), "{e:?}");
    }
}

/// Runs a session with `Policy::default()` against a server that grants `lifetime`
/// tokens and answers after `rtt`, with a caller asking every `step`, for `lives`
/// lifetimes. Checks that every token handed out is alive with its scaled margin, and
/// returns the number of requests sent.
fn serve_short_lived(lifetime: Duration, rtt: Duration, step: Duration, lives: u32) -> u32 {
    let t0 = Instant::now();
    let mut s = login_session(Policy::default());
    let margin = Policy::default().margins(lifetime).min_validity;
    let mut now = t0;
    let mut sent = 0;
    let mut outstanding: Option<(RequestId, Instant)> = None;
    let mut expiry: Option<(String, Instant)> = None;
    let end = t0 + lifetime * lives;
    let mut guard = 0;
    while now < end {
        guard += 1;
        assert!(guard < 1_000_000, "bounded");
        if let Some((id, at)) = outstanding.filter(|(_, at)| now >= *at + rtt) {
            let n = sent.to_string();
            let answer = success(&n, &n, lifetime.as_secs(), lifetime.as_secs() * 10);
            assert!(matches!(
                s.handle_response(now, id, &answer),
                Handled::Renewed(_)
            ));
            expiry = Some((n, at + lifetime));
            outstanding = None;
        }
        match s.poll(now) {
            Action::UseToken(g) => {
                let (token, expires) = expiry.clone().expect("a token was granted");
                assert_eq!(g.access_token.secret(), token);
                assert!(
                    now + margin <= expires,
                    "handed out with less than its margin"
                );
                now += step;
            }
            Action::Send(tx) => {
                sent += 1;
                outstanding = Some((tx.id, now));
            }
            Action::Wait(until) => {
                assert!(until > now, "a wait that would spin");
                now = until.min(now + step);
            }
            Action::Fail(e) => panic!("{lifetime:?} tokens failed: {e}"),
        }
    }
    sent
}

// Short-lived tokens (a test server, Smartling near its session cap) work with the
// default policy: the margins scale, tokens handed out are alive, and renewals do
// not spin.
#[test]
fn tokens_of_1_3_10_and_480_seconds_are_served_with_the_default_policy() {
    for (lifetime, rtt, step) in [
        (
            secs(1),
            Duration::from_millis(20),
            Duration::from_millis(10),
        ),
        (
            secs(3),
            Duration::from_millis(50),
            Duration::from_millis(25),
        ),
        (
            secs(10),
            Duration::from_millis(100),
            Duration::from_millis(100),
        ),
        (secs(480), Duration::from_millis(150), secs(1)),
    ] {
        let lives = 20;
        let sent = serve_short_lived(lifetime, rtt, step, lives);
        // One login, then at most about two renewals per lifetime.
        assert!(
            sent >= lives,
            "{lifetime:?}: {sent} requests in {lives} lives"
        );
        assert!(
            sent <= 2 * lives + 1,
            "{lifetime:?}: {sent} requests in {lives} lives"
        );
    }
}

#[test]
fn a_zero_lifetime_stays_a_clear_error_with_the_default_policy() {
    let t0 = Instant::now();
    let mut s = login_session(Policy::default());
    let tx = expect_send(s.poll(t0));
    let h = s.handle_response(t0, tx.id, &success("a", "r", 0, 3660));
    assert!(matches!(
        h,
        Handled::Failed(Error::InvalidField {
            field: "expiresIn",
            ..
        })
    ));
    assert!(matches!(
        s.poll(t0),
        Action::Fail(Error::InvalidField { .. })
    ));
}

/// The refresh token a request carries.
fn refresh_token_sent(tx: &Transmit) -> String {
    let body: serde_json::Value = serde_json::from_slice(tx.request.body()).unwrap();
    body["refreshToken"].as_str().unwrap().to_owned()
}

// One order of token sources, whatever order they were given in: the snapshot's (or
// pair's) session, then the bare refresh token, then a login.
#[test]
fn sources_are_used_snapshot_then_bare_refresh_token_then_credentials() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let pair = TokenPair::new(
        AccessToken::new("a-snap"),
        RefreshToken::new("r-snap"),
        secs(480),
        secs(3660),
    );
    let snap = Session::new(BaseUrl::default(), exact_policy())
        .with_token_pair(pair, t0)
        .snapshot(t0, wall)
        .unwrap();
    // Restored long after: the access token is dead, the refresh token alive.
    let later = wall + secs(600);
    let mut s = Session::from_snapshot(BaseUrl::default(), exact_policy(), &snap, t0, later)
        .with_refresh_token(RefreshToken::new("r-env"))
        .with_credentials(Credentials::new("id", "secret"));
    let tx = expect_send(s.poll(t0));
    assert_eq!(tx.kind, RequestKind::Refresh);
    assert_eq!(refresh_token_sent(&tx), "r-snap");
    let h = s.handle_response(
        t0,
        tx.id,
        &envelope(401, "AUTHENTICATION_ERROR", "invalid_token"),
    );
    assert!(matches!(h, Handled::FallingBack(Error::Api(_))));
    let tx = expect_send(s.poll(t0));
    assert_eq!(tx.kind, RequestKind::Refresh);
    assert_eq!(refresh_token_sent(&tx), "r-env");
    s.handle_response(
        t0,
        tx.id,
        &envelope(401, "AUTHENTICATION_ERROR", "invalid_token"),
    );
    let tx = expect_send(s.poll(t0));
    assert_eq!(
        (tx.kind, tx.reason),
        (RequestKind::Authenticate, Reason::FallbackToLogin)
    );
}

#[test]
fn a_pair_comes_before_a_bare_refresh_token_given_earlier() {
    let t0 = Instant::now();
    let pair = TokenPair::new(
        AccessToken::new("a-pair"),
        RefreshToken::new("r-pair"),
        secs(480),
        secs(3660),
    );
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_refresh_token(RefreshToken::new("r-bare"))
        .with_token_pair(pair, t0);
    assert_eq!(expect_token(s.poll(t0)).access_token.secret(), "a-pair");
    let tx = expect_send(s.poll(t0 + secs(420)));
    assert_eq!(refresh_token_sent(&tx), "r-pair");
    s.handle_response(
        t0 + secs(420),
        tx.id,
        &envelope(400, "VALIDATION_ERROR", "k"),
    );
    // The pair's session is spent; the bare token is next, and nothing after it.
    let tx = expect_send(s.poll(t0 + secs(420)));
    assert_eq!(refresh_token_sent(&tx), "r-bare");
    s.handle_response(
        t0 + secs(420),
        tx.id,
        &envelope(401, "AUTHENTICATION_ERROR", "k"),
    );
    // No credentials: the current token still serves until its margin, then it ends.
    assert!(matches!(s.poll(t0 + secs(421)), Action::UseToken(_)));
    assert!(matches!(
        s.poll(t0 + secs(451)),
        Action::Fail(Error::SessionEnded(SessionEnd::RefreshRejected))
    ));
}

#[test]
fn an_expired_snapshot_refresh_token_gives_way_to_the_bare_one() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let pair = TokenPair::new(
        AccessToken::new("a"),
        RefreshToken::new("r-snap"),
        secs(480),
        secs(900),
    );
    let snap = Session::new(BaseUrl::default(), exact_policy())
        .with_token_pair(pair, t0)
        .snapshot(t0, wall)
        .unwrap();
    let mut s = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &snap,
        t0,
        wall + secs(3600),
    )
    .with_refresh_token(RefreshToken::new("r-env"));
    let tx = expect_send(s.poll(t0));
    assert_eq!(refresh_token_sent(&tx), "r-env");
}

// Snapshots carry the granted lifetime, so a restored token keeps the margins it was
// granted with rather than ones scaled to what is left of it.
#[test]
fn a_restored_token_keeps_the_margins_of_its_granted_lifetime() {
    let t0 = Instant::now();
    let wall = SystemTime::now();
    let s = logged_in(exact_policy(), t0, 480, 3660);
    let snap = s.snapshot(t0, wall).unwrap();
    assert_eq!(snap.access_lifetime, Some(secs(480)));
    let back = Snapshot::from_json(snap.to_json().as_bytes()).unwrap();
    assert_eq!(back.access_lifetime, Some(secs(480)));
    // 50 s left of a 480 s token: inside its 60 s renewal window, as the original
    // session would have been.
    let mut restored = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &back,
        t0,
        wall + secs(430),
    );
    assert!(matches!(restored.poll(t0), Action::Send(_)), "renews ahead");
    let mut early = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &back,
        t0,
        wall + secs(300),
    );
    assert!(
        matches!(early.poll(t0), Action::UseToken(_)),
        "180 s left: fresh"
    );
    // A snapshot that does not record the lifetime gets the widest margins.
    let mut legacy = back.clone();
    legacy.access_lifetime = None;
    let json = legacy.to_json();
    assert!(!json.contains("accessLifetime"));
    let legacy = Snapshot::from_json(json.as_bytes()).unwrap();
    let mut old = Session::from_snapshot(
        BaseUrl::default(),
        exact_policy(),
        &legacy,
        t0,
        wall + secs(430),
    );
    assert!(matches!(old.poll(t0), Action::Send(_)));
}
