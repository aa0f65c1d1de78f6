//! Model-based property test of the session: random time steps, answers of every kind
//! and transport errors, with the lifecycle's invariants checked after every step.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use smartling_auth_core::*;

#[derive(Debug, Clone)]
enum Answer {
    Success {
        expires: u64,
        refresh_expires: u64,
    },
    Envelope {
        status: u16,
        retry_after: Option<u16>,
    },
    Html {
        status: u16,
    },
    Garbage(Vec<u8>),
    Truncated,
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Answer(Answer),
    Transport(u8),
    Stale,
    Invalidate { current: bool },
    Abandon,
    Rearm,
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        3 => (0u64..2000, 0u64..8000).prop_map(|(expires, refresh_expires)| Answer::Success { expires, refresh_expires }),
        3 => (prop::sample::select(vec![400u16, 401, 403, 404, 423, 429, 500, 502, 503]), proptest::option::of(0u16..120))
            .prop_map(|(status, retry_after)| Answer::Envelope { status, retry_after }),
        1 => prop::sample::select(vec![200u16, 401, 502, 504]).prop_map(|status| Answer::Html { status }),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Answer::Garbage),
        1 => Just(Answer::Truncated),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![0u64..2_000, 0u64..120_000, 0u64..900_000].prop_map(Op::Advance),
        4 => answer().prop_map(Op::Answer),
        1 => (0u8..4).prop_map(Op::Transport),
        1 => Just(Op::Stale),
        1 => any::<bool>().prop_map(|current| Op::Invalidate { current }),
        1 => Just(Op::Abandon),
        1 => Just(Op::Rearm),
    ]
}

fn response(a: &Answer, n: usize) -> HttpResponse {
    match a {
        Answer::Success {
            expires,
            refresh_expires,
        } => success(
            &format!("access-{n}"),
            &format!("refresh-{n}"),
            *expires,
            *refresh_expires,
        ),
        Answer::Envelope {
            status,
            retry_after,
        } => {
            let mut r = envelope(*status, "SOME_CODE", "key");
            if let Some(s) = retry_after {
                r = with_header(r, "retry-after", &s.to_string());
            }
            r
        }
        Answer::Html { status } => http::Response::builder()
            .status(*status)
            .body(b"<html><body>Bad gateway</body></html>".to_vec())
            .unwrap(),
        Answer::Garbage(bytes) => http::Response::builder()
            .status(200)
            .body(bytes.clone())
            .unwrap(),
        Answer::Truncated => http::Response::builder()
            .status(200)
            .body(br#"{"response":{"code":"SUCCESS","data":{"accessTo"#.to_vec())
            .unwrap(),
    }
}

/// What a poll said, in a comparable form.
fn summary(a: &Action) -> String {
    match a {
        Action::UseToken(g) => format!(
            "use {} {:?} {:?}",
            g.access_token.secret(),
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
    now: Instant,
    outstanding: Option<(RequestId, Instant)>,
    /// Token -> when it expires, by the clock of the request that brought it, and the
    /// lifetime it was granted (which its margins scale with).
    expiry: HashMap<String, (Instant, Duration)>,
    last_token: Option<String>,
    answers: usize,
}

impl Model {
    fn new(seed: u64) -> Self {
        let mut policy = Policy::default();
        policy.seed = Some(seed);
        let session = Session::new(BaseUrl::default(), policy.clone())
            .with_credentials(Credentials::new("id", "secret"));
        Self {
            session,
            policy,
            now: Instant::now(),
            outstanding: None,
            expiry: HashMap::new(),
            last_token: None,
            answers: 0,
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Advance(ms) => self.now += Duration::from_millis(*ms),
            Op::Answer(a) => {
                if let Some((id, sent)) = self.outstanding.take() {
                    self.answers += 1;
                    let r = response(a, self.answers);
                    if let Answer::Success { expires, .. } = a {
                        self.expiry.insert(
                            format!("access-{}", self.answers),
                            (sent + secs(*expires), secs(*expires)),
                        );
                    }
                    self.session.handle_response(self.now, id, &r);
                }
            }
            Op::Transport(k) => {
                if let Some((id, _)) = self.outstanding.take() {
                    let kind = [
                        TransportErrorKind::Connect,
                        TransportErrorKind::Timeout,
                        TransportErrorKind::Reset,
                        TransportErrorKind::Dns,
                    ][*k as usize];
                    self.session.handle_transport_error(
                        self.now,
                        id,
                        TransportError::new(kind, "x"),
                    );
                }
            }
            Op::Stale => {
                // Ids are never reused, so one far beyond any issued id is stale.
                let h = self.session.handle_response(
                    self.now,
                    stale_id(),
                    &success("stale", "stale", 480, 3660),
                );
                assert!(matches!(h, Handled::Stale));
            }
            Op::Invalidate { current } => {
                let token = match (&self.last_token, current) {
                    (Some(t), true) => t.clone(),
                    _ => "never-issued".to_owned(),
                };
                self.session.invalidate(&AccessToken::new(token));
            }
            Op::Abandon => {
                if let Some((id, _)) = self.outstanding.take() {
                    assert!(matches!(self.session.abandon(id), Handled::Abandoned));
                }
            }
            Op::Rearm => self.session.rearm(),
        }
    }

    /// Polls twice and checks every invariant; returns the first answer.
    fn check(&mut self) -> Result<Action, TestCaseError> {
        let now = self.now;
        if self
            .outstanding
            .is_some_and(|(_, sent)| now >= sent + self.policy.request_timeout)
        {
            self.outstanding = None; // the session times it out on this poll
        }
        let first = self.session.poll(now);
        let second = self.session.poll(now);
        match &first {
            Action::Send(t) => {
                prop_assert!(
                    self.outstanding.is_none(),
                    "a second request while one is outstanding"
                );
                self.outstanding = Some((t.id, now));
                prop_assert!(!matches!(second, Action::Send(_)), "two sends in a row");
            }
            _ => prop_assert_eq!(summary(&first), summary(&second), "poll is not repeatable"),
        }
        match &first {
            Action::UseToken(g) => {
                let token = g.access_token.secret().to_owned();
                let expires = self.expiry.get(&token).copied();
                prop_assert!(
                    expires.is_some(),
                    "handed out a token never issued: {}",
                    token
                );
                let (expires, lifetime) = expires.unwrap();
                // The hard margin scales with the token: a quarter of its lifetime, at
                // most 30 s.
                let margin = (lifetime / 4).min(secs(30));
                prop_assert_eq!(margin, self.policy.margins(lifetime).min_validity);
                prop_assert!(now < expires, "handed out a dead token");
                prop_assert!(now + margin <= expires, "token with too little life");
                prop_assert!(g.valid_until + margin <= expires);
                prop_assert!(g.fresh_until <= g.valid_until && now < g.fresh_until);
                self.last_token = Some(token);
            }
            Action::Wait(until) => {
                prop_assert!(*until > now, "a wait that would spin");
                let longest = self
                    .policy
                    .retry
                    .longest_wait()
                    .max(self.policy.request_timeout);
                prop_assert!(
                    *until - now <= longest,
                    "backoff beyond its cap: {:?}",
                    *until - now
                );
            }
            Action::Send(_) | Action::Fail(_) => {}
        }
        Ok(first)
    }

    /// Once the server is healthy, a token comes within a bounded number of steps.
    fn recovers(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..64 {
            match self.check()? {
                Action::UseToken(_) => return Ok(()),
                Action::Send(_) => self.apply(&Op::Answer(Answer::Success {
                    expires: 480,
                    refresh_expires: 3660,
                })),
                Action::Wait(until) => {
                    // An outstanding request from before the recovery answers now.
                    if self.outstanding.is_some() {
                        self.apply(&Op::Answer(Answer::Success {
                            expires: 480,
                            refresh_expires: 3660,
                        }));
                    } else {
                        self.now = until;
                    }
                }
                Action::Fail(_) => self.session.rearm(), // what the next caller does
            }
        }
        Err(TestCaseError::fail(
            "no token within 64 steps of a healthy server",
        ))
    }
}

fn stale_id() -> RequestId {
    static STALE: std::sync::OnceLock<RequestId> = std::sync::OnceLock::new();
    *STALE.get_or_init(burn_ids)
}

/// Request ids are opaque; get one that no model session reaches by burning ids.
fn burn_ids() -> RequestId {
    let mut s = Session::new(BaseUrl::default(), Policy::default())
        .with_credentials(Credentials::new("i", "s"));
    let now = Instant::now();
    let mut id = None;
    for _ in 0..10_000 {
        let Action::Send(t) = s.poll(now) else {
            unreachable!()
        };
        s.abandon(t.id);
        id = Some(t.id);
    }
    id.unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_under_any_sequence(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..60)) {
        let mut m = Model::new(seed);
        m.check()?;
        for op in &ops {
            m.apply(op);
            m.check()?;
        }
        m.recovers()?;
    }
}
