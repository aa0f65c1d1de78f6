//! An `arbitrary` sequence of time steps, answers (any status, body bytes, headers with
//! `Retry-After`), transport errors, late answers, invalidations, abandons, rearms and
//! snapshot round trips, driven through `smartling_auth_core::Session` with a fake
//! server, checking the lifecycle's invariants after every step. The checks are those of
//! `crates/core/tests/lifecycle_model.rs`, under random policies:
//!
//! - a token handed out was issued by the fake server and has at least `min_validity`
//!   of life left by the server's clock (sent_at + expiresIn); `valid_until` and
//!   `fresh_until` are consistent with that;
//! - at most one request is outstanding: no second `Send` before the outstanding one is
//!   answered, abandoned, or timed out by `request_timeout`; ids are never reused;
//! - a `Wait(until)` is strictly after `now` and at most
//!   `max(retry.longest_wait(), request_timeout)` ahead;
//! - polling again at the same instant with no input gives the same answer, except that
//!   a `Send` is handed out once;
//! - a request goes where its kind says, with a JSON body holding the credentials or a
//!   refresh token the server issued; logins only with credentials;
//! - answers to a request that is no longer outstanding are `Stale` and change nothing;
//! - with credentials, once the server is healthy a token comes within a bounded number
//!   of steps.

#![no_main]
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use smartling_auth_core::{
    AUTHENTICATE_PATH, AccessToken, Action, BaseUrl, Credentials, Handled, HttpResponse,
    MAX_LIFETIME, Policy, REFRESH_PATH, RefreshToken, RequestId, RequestKind, Session, Snapshot,
    TokenPair, TransportError, TransportErrorKind, parse_token_response_with,
};
use smartling_auth_fuzz::{DATE, response};

const MAX: u64 = MAX_LIFETIME.as_secs();
const USER: &str = "user-id";
const SECRET: &str = "user-secret";

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    knobs: Option<Knobs>,
    start: Start,
    ops: Vec<Op>,
}

/// A policy around the defaults; `None` is `Policy::default()`.
#[derive(Arbitrary, Debug)]
struct Knobs {
    refresh_ahead_s: u16,
    refresh_jitter_s: u8,
    min_validity_s: u8,
    request_timeout_s: u16,
    base_delay_ms: u16,
    max_delay_s: u8,
    max_attempts: u8,
    max_retry_after_s: u8,
    small_body_cap: bool,
}

impl Knobs {
    fn policy(&self) -> Policy {
        let mut p = Policy::default();
        p.refresh_ahead = Duration::from_secs(u64::from(self.refresh_ahead_s % 601));
        p.refresh_jitter = Duration::from_secs(u64::from(self.refresh_jitter_s % 61));
        p.min_validity = Duration::from_secs(u64::from(self.min_validity_s % 121));
        // At least a second: a zero timeout times a request out on the poll that sent it.
        p.request_timeout = Duration::from_secs(1 + u64::from(self.request_timeout_s % 300));
        p.retry.base_delay = Duration::from_millis(u64::from(self.base_delay_ms % 2001));
        p.retry.max_delay = Duration::from_secs(u64::from(self.max_delay_s % 61));
        p.retry.max_attempts = 1 + u32::from(self.max_attempts % 10);
        p.retry.max_retry_after = Duration::from_secs(u64::from(self.max_retry_after_s % 121));
        if self.small_body_cap {
            p.parse = p.parse.max_body(256);
        }
        p
    }
}

#[derive(Arbitrary, Debug)]
enum Start {
    Credentials,
    RefreshToken,
    CredentialsAndRefreshToken,
    Pair {
        expires_in: u32,
        refresh_expires_in: u32,
    },
    CredentialsAndPair {
        expires_in: u32,
        refresh_expires_in: u32,
    },
    Nothing,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Millis(u16),
    Seconds(u16),
    Minutes(u8),
    Hours(u8),
}

impl Step {
    fn duration(&self) -> Duration {
        match *self {
            Step::Millis(n) => Duration::from_millis(u64::from(n)),
            Step::Seconds(n) => Duration::from_secs(u64::from(n)),
            Step::Minutes(n) => Duration::from_secs(60 * u64::from(n)),
            Step::Hours(n) => Duration::from_secs(3600 * u64::from(n)),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Lifetime {
    Secs(u16),
    Any(u32),
    Digits(u16),
    Boundary(u8),
}

impl Lifetime {
    fn json(self, min_validity: u64) -> String {
        match self {
            Lifetime::Secs(n) => n.to_string(),
            Lifetime::Any(n) => n.to_string(),
            Lifetime::Digits(n) => format!("\"{n}\""),
            Lifetime::Boundary(b) => {
                let all = [
                    0,
                    1,
                    min_validity,
                    min_validity + 1,
                    min_validity + 2,
                    60,
                    61,
                    480,
                    MAX,
                    MAX + 1,
                ];
                all[b as usize % all.len()].to_string()
            }
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum RetryAfterGen {
    Secs(u32),
    Date { sel: u8, with_date: bool },
    Raw(Vec<u8>),
}

/// HTTP-dates around [`DATE`]: same, +30 s, +60 s, +1 h, +1 day, -60 s, long past, far
/// future.
const DATES: [&str; 8] = [
    DATE,
    "Wed, 21 Oct 2015 07:28:30 GMT",
    "Wed, 21 Oct 2015 07:29:00 GMT",
    "Wed, 21 Oct 2015 08:28:00 GMT",
    "Thu, 22 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 2015 07:27:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
];

impl RetryAfterGen {
    fn headers(&self) -> (Vec<u8>, Option<&'static [u8]>) {
        match self {
            RetryAfterGen::Secs(n) => (n.to_string().into_bytes(), None),
            RetryAfterGen::Date { sel, with_date } => (
                DATES[*sel as usize % DATES.len()].as_bytes().to_vec(),
                with_date.then_some(DATE.as_bytes()),
            ),
            RetryAfterGen::Raw(b) => (b.clone(), None),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Answer {
    Success {
        expires_in: Lifetime,
        refresh_expires_in: Lifetime,
        status: u8,
    },
    Envelope {
        status: u8,
        code: u8,
        retry_after: Option<RetryAfterGen>,
    },
    Html {
        status: u8,
        retry_after: Option<RetryAfterGen>,
    },
    Raw {
        status: u8,
        body: Vec<u8>,
        retry_after: Option<RetryAfterGen>,
    },
    Truncated,
}

const OK: [u16; 4] = [200, 201, 202, 204];
const ERR: [u16; 14] = [
    400, 401, 401, 401, 403, 404, 408, 423, 429, 500, 502, 503, 504, 301,
];
const CODES: [&str; 8] = [
    "AUTHENTICATION_ERROR",
    "AUTHORIZATION_ERROR",
    "VALIDATION_ERROR",
    "MAX_OPERATIONS_LIMIT_EXCEEDED",
    "GENERAL_ERROR",
    "MAINTENANCE_MODE_ERROR",
    "NOT_FOUND_ERROR",
    "SOME_NEW_CODE",
];

fn pick(table: &[u16], sel: u8) -> StatusCode {
    StatusCode::from_u16(table[sel as usize % table.len()]).expect("valid status")
}

impl Answer {
    fn response(&self, n: usize, min_validity: u64) -> HttpResponse {
        let with = |status: StatusCode, ra: &Option<RetryAfterGen>, body: Vec<u8>| {
            let (value, date) = ra.as_ref().map_or((None, None), |r| {
                let (v, d) = r.headers();
                (Some(v), d)
            });
            response(status, value.as_deref(), date, body)
        };
        match self {
            Answer::Success {
                expires_in,
                refresh_expires_in,
                status,
            } => {
                let body = format!(
                    r#"{{"response":{{"code":"SUCCESS","data":{{"accessToken":"access-{n}","refreshToken":"refresh-{n}","expiresIn":{},"refreshExpiresIn":{},"tokenType":"Bearer"}}}}}}"#,
                    expires_in.json(min_validity),
                    refresh_expires_in.json(min_validity),
                );
                with(pick(&OK, *status), &None, body.into_bytes())
            }
            Answer::Envelope {
                status,
                code,
                retry_after,
            } => {
                let body = format!(
                    r#"{{"response":{{"code":"{}","errors":[{{"key":"k","message":"m","details":{{}}}}]}}}}"#,
                    CODES[*code as usize % CODES.len()]
                );
                with(pick(&ERR, *status), retry_after, body.into_bytes())
            }
            Answer::Html {
                status,
                retry_after,
            } => with(
                pick(&ERR, *status),
                retry_after,
                b"<html><body>Bad gateway</body></html>".to_vec(),
            ),
            Answer::Raw {
                status,
                body,
                retry_after,
            } => with(
                smartling_auth_fuzz::status(*status),
                retry_after,
                body.clone(),
            ),
            Answer::Truncated => with(
                StatusCode::OK,
                &None,
                br#"{"response":{"code":"SUCCESS","data":{"accessTo"#.to_vec(),
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Time passes; with `poll: false` nobody polls before the next step.
    Advance {
        step: Step,
        poll: bool,
    },
    /// The server answers the outstanding request.
    Answer(Answer),
    /// An answer (or failure, or abandon) for a request that is no longer outstanding.
    Late {
        answer: Answer,
        how: u8,
    },
    /// The outstanding request fails in the transport.
    Transport(u8),
    /// A caller reports a token rejected: the last one handed out, or another.
    Invalidate {
        current: bool,
    },
    /// The outstanding request's driver goes away.
    Abandon,
    Rearm,
    /// The session is persisted (`to_json`) and restored in a new one, `millis` into a
    /// wall-clock second.
    Restore {
        millis: u16,
    },
}

const KINDS: [TransportErrorKind; 9] = [
    TransportErrorKind::Dns,
    TransportErrorKind::Connect,
    TransportErrorKind::Tls,
    TransportErrorKind::Timeout,
    TransportErrorKind::Reset,
    TransportErrorKind::Protocol,
    TransportErrorKind::Redirect,
    TransportErrorKind::Cancelled,
    TransportErrorKind::Other,
];

/// What a poll said, in a comparable form.
fn summary(a: &Action) -> String {
    match a {
        Action::UseToken(g) => format!(
            "use {} {} {:?} {:?}",
            g.access_token.secret(),
            g.token_type,
            g.valid_until,
            g.fresh_until
        ),
        Action::Send(t) => format!("send {:?}", t.id),
        Action::Wait(i) => format!("wait {i:?}"),
        Action::Fail(e) => format!("fail {e}"),
    }
}

struct Model {
    session: Session,
    policy: Policy,
    credentials: bool,
    t0: Instant,
    wall0: SystemTime,
    now: Instant,
    /// The outstanding request: id and when it was sent.
    outstanding: Option<(RequestId, Instant)>,
    /// Requests no longer outstanding, for late answers.
    old: Vec<RequestId>,
    /// The highest id handed out by the current session.
    last_id: Option<RequestId>,
    /// Access token -> when it expires by the server's clock (sent_at + expiresIn).
    expiry: HashMap<String, Instant>,
    /// Every refresh token the server issued (and the starting one).
    refresh_tokens: HashSet<String>,
    last_token: Option<String>,
    answers: usize,
    /// What happened, for `SMARTLING_FUZZ_DEBUG`.
    seen: std::collections::BTreeMap<String, usize>,
}

impl Model {
    fn new(input: &Input) -> Self {
        let mut policy = input
            .knobs
            .as_ref()
            .map_or_else(Policy::default, Knobs::policy);
        policy.seed = Some(input.seed);
        let t0 = Instant::now();
        let mut m = Model {
            session: Session::new(BaseUrl::default(), policy.clone()),
            policy,
            credentials: false,
            t0,
            wall0: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            now: t0,
            outstanding: None,
            old: Vec::new(),
            last_id: None,
            expiry: HashMap::new(),
            refresh_tokens: HashSet::new(),
            last_token: None,
            answers: 0,
            seen: Default::default(),
        };
        let session = Session::new(BaseUrl::default(), m.policy.clone());
        let pair = |m: &mut Model, e: u32, r: u32| {
            let e = Duration::from_secs(u64::from(e) % (MAX + 1));
            let r = Duration::from_secs(u64::from(r) % (MAX + 1));
            m.expiry.insert("start-access".into(), t0 + e);
            m.refresh_tokens.insert("start-refresh".into());
            TokenPair::new(
                AccessToken::new("start-access"),
                RefreshToken::new("start-refresh"),
                e,
                r,
            )
        };
        let creds = || Credentials::new(USER, SECRET);
        m.session = match input.start {
            Start::Credentials => session.with_credentials(creds()),
            Start::RefreshToken => {
                m.refresh_tokens.insert("start-refresh".into());
                session.with_refresh_token(RefreshToken::new("start-refresh"))
            }
            Start::CredentialsAndRefreshToken => {
                m.refresh_tokens.insert("start-refresh".into());
                session
                    .with_credentials(creds())
                    .with_refresh_token(RefreshToken::new("start-refresh"))
            }
            Start::Pair {
                expires_in,
                refresh_expires_in,
            } => {
                let p = pair(&mut m, expires_in, refresh_expires_in);
                session.with_token_pair(p, t0)
            }
            Start::CredentialsAndPair {
                expires_in,
                refresh_expires_in,
            } => {
                let p = pair(&mut m, expires_in, refresh_expires_in);
                session.with_credentials(creds()).with_token_pair(p, t0)
            }
            Start::Nothing => session,
        };
        m.credentials = matches!(
            input.start,
            Start::Credentials
                | Start::CredentialsAndRefreshToken
                | Start::CredentialsAndPair { .. }
        );
        m
    }

    fn wall(&self, at: Instant) -> SystemTime {
        self.wall0 + at.duration_since(self.t0)
    }

    /// Sends `answer` to the outstanding request; returns whether there was one.
    fn answer(&mut self, answer: &Answer) -> bool {
        let Some((id, sent)) = self.outstanding.take() else {
            return false;
        };
        self.old.push(id);
        if self.now >= sent + self.policy.request_timeout {
            // Lost: an answer past the request timeout is ignored, polled or not.
            let r = answer.response(usize::MAX, self.policy.min_validity.as_secs());
            let handled = self.session.handle_response(self.now, id, &r);
            assert_eq!(
                handled,
                Handled::Stale,
                "an answer past request_timeout was taken"
            );
            return true;
        }
        self.answers += 1;
        let r = answer.response(self.answers, self.policy.min_validity.as_secs());
        // The session parses with the same function and options: what it will install.
        let parsed = parse_token_response_with(&r, &self.policy.parse);
        if let Ok(pair) = &parsed {
            self.expiry.insert(
                pair.access_token.secret().to_owned(),
                sent + pair.expires_in,
            );
            self.refresh_tokens
                .insert(pair.refresh_token.secret().to_owned());
        }
        let handled = self.session.handle_response(self.now, id, &r);
        *self.seen.entry(format!("{handled:?}")).or_default() += 1;
        match (&parsed, &handled) {
            (_, Handled::Stale | Handled::Abandoned) => {
                panic!("the outstanding request's answer was {handled:?}")
            }
            (Ok(_), Handled::WillRetry) => panic!("a token pair was taken as a failure"),
            (Err(e), Handled::Renewed) => panic!("a failed answer ({e}) renewed the tokens"),
            _ => {}
        }
        true
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Advance { step, .. } => self.now += step.duration(),
            Op::Answer(a) => {
                self.answer(a);
            }
            Op::Late { answer, how } => {
                let Some(&id) = self.old.last() else {
                    return;
                };
                // `check` ran just before, so this poll cannot send.
                let before = summary(&self.session.poll(self.now));
                assert!(!before.starts_with("send"), "a poll repeated a send");
                let handled = match how % 3 {
                    0 => {
                        let r = answer.response(usize::MAX, self.policy.min_validity.as_secs());
                        self.session.handle_response(self.now, id, &r)
                    }
                    1 => self.session.handle_transport_error(
                        self.now,
                        id,
                        TransportError::new(TransportErrorKind::Reset, "late"),
                    ),
                    _ => self.session.abandon(id),
                };
                assert_eq!(handled, Handled::Stale, "an answer to a finished request");
                // Nothing changed.
                let after = summary(&self.session.poll(self.now));
                assert_eq!(before, after, "a stale answer changed the session");
            }
            Op::Transport(k) => {
                if let Some((id, sent)) = self.outstanding.take() {
                    self.old.push(id);
                    let kind = KINDS[*k as usize % KINDS.len()];
                    let h = self.session.handle_transport_error(
                        self.now,
                        id,
                        TransportError::new(kind, "fuzz"),
                    );
                    let lost = self.now >= sent + self.policy.request_timeout;
                    assert!(
                        !matches!(h, Handled::Renewed | Handled::Abandoned)
                            && (h == Handled::Stale) == lost,
                        "a transport error was {h:?} (past request_timeout: {lost})"
                    );
                }
            }
            Op::Invalidate { current } => {
                let token = match (&self.last_token, current) {
                    (Some(t), true) => t.clone(),
                    _ => "never-issued".to_owned(),
                };
                let was_current = self.session.invalidate(&AccessToken::new(token.as_str()));
                if token == "never-issued" {
                    assert!(!was_current, "a token never issued was the current one");
                }
            }
            Op::Abandon => {
                if let Some((id, _)) = self.outstanding.take() {
                    self.old.push(id);
                    assert_eq!(self.session.abandon(id), Handled::Abandoned);
                }
            }
            Op::Rearm => self.session.rearm(),
            Op::Restore { millis } => {
                let now = self.now;
                // Put the wall clock `millis` into a second, so rounding is exercised.
                self.wall0 += Duration::from_millis(u64::from(*millis % 1000));
                let wall = self.wall(now);
                let Some(snap) = self.session.snapshot(now, wall) else {
                    return;
                };
                let json = snap.to_json();
                let back = match Snapshot::from_json(json.as_bytes()) {
                    Ok(b) => b,
                    Err(e) => panic!("a snapshot does not read back: {e}"),
                };
                let mut s = Session::from_snapshot(
                    BaseUrl::default(),
                    self.policy.clone(),
                    &back,
                    now,
                    wall,
                );
                if self.credentials {
                    s = s.with_credentials(Credentials::new(USER, SECRET));
                }
                self.session = s;
                *self.seen.entry("Restored".into()).or_default() += 1;
                // A new session: nothing outstanding, ids start afresh.
                self.outstanding = None;
                self.old.clear();
                self.last_id = None;
            }
        }
    }

    /// Polls (twice, or three times after a `Send`) and checks every invariant; returns
    /// the first answer.
    fn check(&mut self) -> Action {
        let now = self.now;
        if let Some((id, sent)) = self.outstanding
            && now >= sent + self.policy.request_timeout
        {
            // The session times it out on this poll.
            self.outstanding = None;
            self.old.push(id);
        }
        let first = self.session.poll(now);
        let second = self.session.poll(now);
        if let Action::Send(t) = &first {
            assert!(
                self.outstanding.is_none(),
                "a second request while one is outstanding"
            );
            assert!(!matches!(second, Action::Send(_)), "two sends in a row");
            let third = self.session.poll(now);
            assert_eq!(summary(&second), summary(&third), "poll is not repeatable");
            if let Some(last) = self.last_id {
                assert!(t.id > last, "a request id was reused");
            }
            self.last_id = Some(t.id);
            self.outstanding = Some((t.id, now));
            self.check_request(t);
        } else {
            assert_eq!(summary(&first), summary(&second), "poll is not repeatable");
        }
        self.check_action(&first);
        self.check_action(&second);
        first
    }

    fn check_request(&self, t: &smartling_auth_core::Transmit) {
        assert_eq!(t.request.method(), http::Method::POST);
        assert!(t.attempt >= 1);
        let body: serde_json::Value = match serde_json::from_slice(t.request.body()) {
            Ok(v) => v,
            Err(e) => panic!("request body is not JSON: {e}"),
        };
        match t.kind {
            RequestKind::Authenticate => {
                assert!(self.credentials, "a login without credentials");
                assert_eq!(t.request.uri().path(), AUTHENTICATE_PATH);
                assert_eq!(body["userIdentifier"], USER);
                assert_eq!(body["userSecret"], SECRET);
            }
            RequestKind::Refresh => {
                assert_eq!(t.request.uri().path(), REFRESH_PATH);
                let token = body["refreshToken"].as_str().unwrap_or_default();
                assert!(
                    self.refresh_tokens.contains(token),
                    "a refresh with a token the server never issued"
                );
            }
        }
    }

    fn check_action(&mut self, action: &Action) {
        let now = self.now;
        let kind = match action {
            Action::UseToken(_) => "UseToken".to_owned(),
            Action::Send(t) => format!("Send {:?}", t.kind),
            Action::Wait(_) => "Wait".to_owned(),
            Action::Fail(e) => format!("Fail {}", e.to_string().split(':').next().unwrap_or("")),
        };
        *self.seen.entry(kind).or_default() += 1;
        match action {
            Action::UseToken(g) => {
                let token = g.access_token.secret().to_owned();
                let Some(&expires) = self.expiry.get(&token) else {
                    panic!("handed out a token never issued: {token}");
                };
                let min = self.policy.min_validity;
                assert!(
                    now + min <= expires,
                    "handed out a token with {:?} left, below min_validity {min:?}",
                    expires.saturating_duration_since(now)
                );
                assert!(
                    g.valid_until + min <= expires,
                    "valid_until past the margin"
                );
                assert!(
                    g.fresh_until <= g.valid_until && now < g.fresh_until,
                    "fresh_until out of range"
                );
                self.last_token = Some(token);
            }
            Action::Wait(until) => {
                assert!(*until > now, "a wait that would spin");
                let longest = self
                    .policy
                    .retry
                    .longest_wait()
                    .max(self.policy.request_timeout);
                assert!(
                    *until - now <= longest,
                    "a wait of {:?}, beyond {longest:?}",
                    *until - now
                );
            }
            Action::Send(_) | Action::Fail(_) => {}
        }
    }

    /// With credentials and a healthy server, a token comes within 64 steps.
    fn recovers(&mut self) {
        let healthy = Answer::Success {
            expires_in: Lifetime::Secs(480),
            refresh_expires_in: Lifetime::Secs(3660),
            status: 0,
        };
        for _ in 0..64 {
            match self.check() {
                Action::UseToken(_) => return,
                Action::Send(_) => {
                    self.answer(&healthy);
                }
                Action::Wait(until) => {
                    if !self.answer(&healthy) {
                        self.now = until;
                    }
                }
                Action::Fail(_) => self.session.rearm(),
            }
        }
        panic!("no token within 64 steps of a healthy server");
    }
}

/// `SMARTLING_FUZZ_DEBUG=1` prints what each input did, to check what the fuzzer
/// reaches: `.../session -runs=0 fuzz/corpus/session 2>&1 | grep ^seen | sort | uniq -c`.
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("SMARTLING_FUZZ_DEBUG").is_some())
}

fuzz_target!(|input: Input| {
    let mut m = Model::new(&input);
    m.check();
    for op in &input.ops {
        if let Op::Late { .. } = op {
            // Polls first, so that the polls inside `Late` cannot send.
            m.check();
        }
        m.apply(op);
        if !matches!(op, Op::Advance { poll: false, .. }) {
            m.check();
        }
    }
    if m.credentials {
        m.recovers();
    }
    if debug() {
        for k in m.seen.keys() {
            eprintln!("seen: {k}");
        }
        eprintln!("seen-ops: {}", input.ops.len().min(20));
    }
});
