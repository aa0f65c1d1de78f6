//! The lifecycle model: a [`Session`] driven by a sequence of [`Op`]s against a fake
//! server, with the lifecycle's invariants checked after every step. The core's
//! property test (proptest) and the `session` fuzz target (libFuzzer) draw the
//! operations with their own generators and run this one model.
//!
//! After every step ([`Model::check`]):
//! - a token handed out was issued by the fake server, is alive, and has at least
//!   `policy.margins(its granted lifetime).min_validity` left by the server's clock
//!   (sent_at + expiresIn); with the default policy that margin is a quarter of the
//!   lifetime, at most 30 s; `valid_until` and `fresh_until` agree with it;
//! - at most one request is outstanding: no second `Send` before the outstanding one is
//!   answered, abandoned, or timed out by `request_timeout`; ids are never reused;
//! - a `Wait(until)` is strictly after now and at most
//!   `max(retry.longest_wait(), request_timeout)` ahead;
//! - polling again at the same instant with no input gives the same answer, except that
//!   a `Send` is handed out once;
//! - a request goes where its kind says, as a `POST` with a JSON body holding the
//!   credentials or a refresh token the server issued; logins only with credentials.
//!
//! On each input ([`Model::apply`]):
//! - an answer renews the tokens exactly when it parses, and `Handled::Renewed` carries
//!   the pair as parsed; a failed answer's `Handled` carries an error with its status;
//!   a pair too short-lived to hand out fails as an `expiresIn` field error;
//! - an answer past `request_timeout`, a late answer, failure or abandon, or an answer
//!   to an id never issued is `Stale` and changes nothing;
//! - a transport error never renews, and carries a transport error;
//! - a token never issued is never the current one;
//! - a snapshot reads back from its JSON, and the restored session keeps every
//!   invariant.
//!
//! At the end ([`Model::recovers`]), with credentials, a healthy server yields a token
//! within 64 steps.
//!
//! ```
//! use smartling_auth_core::Policy;
//! use smartling_auth_testkit::model::{Answer, Model, Op, Start, Step};
//!
//! let ops = [
//!     Op::Answer(Answer::HEALTHY),
//!     Op::Advance { step: Step::Seconds(430), poll: true },
//!     Op::Transport(0),
//!     Op::Advance { step: Step::Seconds(5), poll: true },
//!     Op::Answer(Answer::HEALTHY),
//! ];
//! let mut model = Model::new(Policy::default(), &Start::Credentials);
//! model.run(&ops).unwrap();
//! ```

/// Returns a [`Violation`] unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(Violation(format!($($message)+)));
        }
    };
}

mod checks;
mod ops;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smartling_auth_core::{
    AccessToken, Action, BaseUrl, Credentials, Error, Handled, Policy, RefreshToken, RequestId,
    Session, Snapshot, TokenPair, TransportError, api::MAX_LIFETIME,
    api::parse_token_response_with, error::TransportErrorKind,
};

use checks::summary;

pub use ops::{
    ANY_STATUS, Answer, CODES, DATE, DATES, ERR, Lifetime, OK, Op, RetryAfterValue, Step,
    TRANSPORT_ERRORS,
};

/// The user of the model's credentials.
pub const USER: &str = "user-id";
/// Its secret.
pub const SECRET: &str = "user-secret";

/// What the session starts from.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Start {
    /// Credentials: the first poll logs in.
    Credentials,
    /// A bare refresh token: the first poll refreshes.
    RefreshToken,
    /// Both.
    CredentialsAndRefreshToken,
    /// A token pair obtained at the start (lifetimes in seconds, modulo
    /// [`MAX_LIFETIME`] + 1).
    Pair {
        /// `expiresIn`.
        expires_in: u32,
        /// `refreshExpiresIn`.
        refresh_expires_in: u32,
    },
    /// Credentials and a token pair.
    CredentialsAndPair {
        /// `expiresIn`.
        expires_in: u32,
        /// `refreshExpiresIn`.
        refresh_expires_in: u32,
    },
    /// Nothing: every poll fails.
    Nothing,
}

/// An invariant that did not hold, and how.
///
/// ```
/// use smartling_auth_testkit::model::{Model, Start};
/// let mut m = Model::new(Default::default(), &Start::Nothing);
/// m.check().unwrap(); // failing without a source breaks no invariant
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(String);

/// The session under test, the fake server's records, and the model's clock.
#[derive(Debug)]
pub struct Model {
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
    /// Access token -> when it expires by the server's clock, and the lifetime it was
    /// granted (which its margins scale with).
    issued: HashMap<String, (Instant, Duration)>,
    /// Every refresh token the server issued (and the starting one).
    refresh_tokens: HashSet<String>,
    last_token: Option<String>,
    answers: usize,
    /// What happened, by kind: for a fuzzer's debug output.
    seen: BTreeMap<String, usize>,
}

impl Model {
    /// A session with `policy` (set its `seed` to replay) started from `start`.
    ///
    /// ```
    /// use smartling_auth_testkit::model::{Model, Start};
    /// let m = Model::new(Default::default(), &Start::CredentialsAndRefreshToken);
    /// assert!(m.has_credentials());
    /// ```
    pub fn new(policy: Policy, start: &Start) -> Self {
        let t0 = Instant::now();
        let mut m = Model {
            session: Session::new(BaseUrl::default(), policy.clone()),
            policy,
            credentials: matches!(
                start,
                Start::Credentials
                    | Start::CredentialsAndRefreshToken
                    | Start::CredentialsAndPair { .. }
            ),
            t0,
            wall0: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            now: t0,
            outstanding: None,
            old: Vec::new(),
            last_id: None,
            issued: HashMap::new(),
            refresh_tokens: HashSet::new(),
            last_token: None,
            answers: 0,
            seen: BTreeMap::new(),
        };
        let mut session = Session::new(BaseUrl::default(), m.policy.clone());
        if m.credentials {
            session = session.with_credentials(Credentials::new(USER, SECRET));
        }
        m.session = match *start {
            Start::RefreshToken | Start::CredentialsAndRefreshToken => {
                m.refresh_tokens.insert("start-refresh".into());
                session.with_refresh_token(RefreshToken::new("start-refresh"))
            }
            Start::Pair {
                expires_in,
                refresh_expires_in,
            }
            | Start::CredentialsAndPair {
                expires_in,
                refresh_expires_in,
            } => {
                let pair = m.start_pair(expires_in, refresh_expires_in);
                session.with_token_pair(pair, t0)
            }
            Start::Credentials | Start::Nothing => session,
        };
        m
    }

    fn start_pair(&mut self, expires_in: u32, refresh_expires_in: u32) -> TokenPair {
        let max = MAX_LIFETIME.as_secs() + 1;
        let e = Duration::from_secs(u64::from(expires_in) % max);
        let r = Duration::from_secs(u64::from(refresh_expires_in) % max);
        self.issued.insert("start-access".into(), (self.t0 + e, e));
        self.refresh_tokens.insert("start-refresh".into());
        TokenPair::new(
            AccessToken::new("start-access"),
            RefreshToken::new("start-refresh"),
            e,
            r,
        )
    }

    /// Whether the session has credentials (and so must recover from anything).
    pub fn has_credentials(&self) -> bool {
        self.credentials
    }

    /// What the session did and said, by kind, with counts: which actions, which
    /// outcomes of answers, how many restores. For checking that a generator reaches
    /// deep.
    pub fn seen(&self) -> &BTreeMap<String, usize> {
        &self.seen
    }

    /// The whole scenario: a check, then each operation followed by a check (unless it
    /// is an `Advance` with `poll: false`), then, with credentials,
    /// [`recovers`](Self::recovers).
    pub fn run(&mut self, ops: &[Op]) -> Result<(), Violation> {
        self.check()?;
        for op in ops {
            self.apply(op)?;
            if !matches!(op, Op::Advance { poll: false, .. }) {
                self.check()?;
            }
        }
        if self.credentials {
            self.recovers()?;
        }
        Ok(())
    }

    /// Applies one operation, checking what the session made of it.
    pub fn apply(&mut self, op: &Op) -> Result<(), Violation> {
        match op {
            Op::Advance { step, .. } => self.now += step.duration(),
            Op::Answer(a) => {
                self.answer(a)?;
            }
            Op::Late { answer, how } => {
                let Some(&id) = self.old.last() else {
                    return Ok(());
                };
                self.unchanged_by(|m| match how % 3 {
                    0 => {
                        let r = answer.response(usize::MAX, m.margin_edge());
                        m.session.handle_response(m.now, id, &r)
                    }
                    1 => m.session.handle_transport_error(
                        m.now,
                        id,
                        TransportError::new(TransportErrorKind::Reset, "late"),
                    ),
                    _ => m.session.abandon(id),
                })?;
            }
            Op::Stale => {
                let id = never_issued();
                if self.last_id.is_none_or(|last| last < id) {
                    let r = Answer::HEALTHY.response(usize::MAX, self.margin_edge());
                    self.unchanged_by(|m| m.session.handle_response(m.now, id, &r))?;
                }
            }
            Op::Transport(k) => {
                if let Some((id, sent)) = self.outstanding.take() {
                    self.old.push(id);
                    let kind = TRANSPORT_ERRORS[usize::from(*k) % TRANSPORT_ERRORS.len()];
                    let h = self.session.handle_transport_error(
                        self.now,
                        id,
                        TransportError::new(kind, "fuzz"),
                    );
                    self.saw(&h);
                    let lost = self.now >= sent + self.policy.request_timeout;
                    ensure!(
                        matches!(h, Handled::Stale) == lost,
                        "a transport error was {h:?} (past request_timeout: {lost})"
                    );
                    ensure!(
                        matches!(h, Handled::Stale)
                            || matches!(h.error(), Some(Error::Transport(_))),
                        "a transport error was {h:?}"
                    );
                }
            }
            Op::Invalidate { current } => {
                let token = match (&self.last_token, current) {
                    (Some(t), true) => t.clone(),
                    _ => "never-issued".to_owned(),
                };
                let was_current = self.session.invalidate(&AccessToken::new(token.as_str()));
                ensure!(
                    token != "never-issued" || !was_current,
                    "a token never issued was the current one"
                );
            }
            Op::Abandon => {
                if let Some((id, _)) = self.outstanding.take() {
                    self.old.push(id);
                    let h = self.session.abandon(id);
                    ensure!(
                        matches!(h, Handled::Abandoned),
                        "abandoning the outstanding request was {h:?}"
                    );
                }
            }
            Op::Rearm => self.session.rearm(),
            Op::Restore { millis } => self.restore(*millis)?,
        }
        Ok(())
    }

    /// With a healthy server, a token comes within 64 steps (failures latched before
    /// are cleared, as the next caller would).
    pub fn recovers(&mut self) -> Result<(), Violation> {
        for _ in 0..64 {
            match self.check()? {
                Action::UseToken(_) => return Ok(()),
                Action::Send(_) => {
                    self.answer(&Answer::HEALTHY)?;
                }
                Action::Wait(until) => {
                    // An outstanding request from before the recovery answers now.
                    if !self.answer(&Answer::HEALTHY)? {
                        self.now = until;
                    }
                }
                Action::Fail(_) => self.session.rearm(),
            }
        }
        Err(Violation(
            "no token within 64 steps of a healthy server".into(),
        ))
    }

    /// The hard margin in whole seconds, as an edge for [`Lifetime::Boundary`]: the
    /// explicit one, else the default's cap.
    fn margin_edge(&self) -> u64 {
        self.policy
            .min_validity
            .unwrap_or(Duration::from_secs(30))
            .as_secs()
    }

    /// Sends `answer` to the outstanding request; returns whether there was one.
    fn answer(&mut self, answer: &Answer) -> Result<bool, Violation> {
        let Some((id, sent)) = self.outstanding.take() else {
            return Ok(false);
        };
        self.old.push(id);
        if self.now >= sent + self.policy.request_timeout {
            // Lost: an answer past the request timeout is ignored, polled or not.
            let r = answer.response(usize::MAX, self.margin_edge());
            let h = self.session.handle_response(self.now, id, &r);
            ensure!(
                matches!(h, Handled::Stale),
                "an answer past request_timeout was taken: {h:?}"
            );
            return Ok(true);
        }
        self.answers += 1;
        let r = answer.response(self.answers, self.margin_edge());
        // The session parses with the same function and options: what it will install.
        let parsed = parse_token_response_with(&r, &self.policy.parse);
        if let Ok(pair) = &parsed {
            self.issued.insert(
                pair.access_token.secret().to_owned(),
                (sent + pair.expires_in, pair.expires_in),
            );
            self.refresh_tokens
                .insert(pair.refresh_token.secret().to_owned());
        }
        let h = self.session.handle_response(self.now, id, &r);
        self.saw(&h);
        match (&parsed, &h) {
            (_, Handled::Stale | Handled::Abandoned) => {
                return Err(Violation(format!(
                    "the outstanding request's answer was {h:?}"
                )));
            }
            (Ok(pair), Handled::Renewed(got)) => {
                ensure!(
                    got.access_token.same_secret(&pair.access_token)
                        && got.refresh_token.same_secret(&pair.refresh_token)
                        && got.expires_in == pair.expires_in
                        && got.refresh_expires_in == pair.refresh_expires_in,
                    "Renewed carries another pair than the answer's"
                );
            }
            (Ok(_), _) => {
                ensure!(
                    matches!(
                        h.error(),
                        Some(Error::InvalidField {
                            field: "expiresIn",
                            ..
                        })
                    ),
                    "a token pair was taken as {h:?}"
                );
            }
            (Err(e), Handled::Renewed(_)) => {
                return Err(Violation(format!(
                    "a failed answer ({e}) renewed the tokens"
                )));
            }
            (Err(e), _) => {
                let status = h.error().map(Error::status);
                ensure!(
                    status == Some(e.status()),
                    "the outcome {h:?} does not carry the answer's status {:?}",
                    e.status()
                );
            }
        }
        Ok(true)
    }

    /// Runs `input` (an answer to a request that is not outstanding) between two polls:
    /// it must be `Stale` and change nothing.
    fn unchanged_by(&mut self, input: impl FnOnce(&mut Self) -> Handled) -> Result<(), Violation> {
        // Polls first, so that the polls below cannot send.
        self.check()?;
        let before = summary(&self.session.poll(self.now));
        ensure!(!before.starts_with("send"), "a poll repeated a send");
        let h = input(self);
        ensure!(
            matches!(h, Handled::Stale),
            "an answer to a request not outstanding was {h:?}"
        );
        let after = summary(&self.session.poll(self.now));
        ensure!(
            before == after,
            "a stale answer changed the session: {before} then {after}"
        );
        Ok(())
    }

    /// Persists the session and restores it in a new one, `millis` into a wall-clock
    /// second.
    fn restore(&mut self, millis: u16) -> Result<(), Violation> {
        let now = self.now;
        self.wall0 += Duration::from_millis(u64::from(millis % 1000));
        let wall = self.wall0 + now.duration_since(self.t0);
        let Some(snap) = self.session.snapshot(now, wall) else {
            return Ok(());
        };
        let back = Snapshot::from_json(snap.to_json().as_bytes())
            .map_err(|e| Violation(format!("a snapshot does not read back: {e}")))?;
        let mut s =
            Session::from_snapshot(BaseUrl::default(), self.policy.clone(), &back, now, wall);
        if self.credentials {
            s = s.with_credentials(Credentials::new(USER, SECRET));
        }
        self.session = s;
        *self.seen.entry("Restored".into()).or_default() += 1;
        // A new session: nothing outstanding, ids start afresh.
        self.outstanding = None;
        self.old.clear();
        self.last_id = None;
        Ok(())
    }

    fn saw(&mut self, h: &Handled) {
        let name = format!("{h:?}");
        let variant = name.split('(').next().unwrap_or("");
        *self.seen.entry(format!("Handled {variant}")).or_default() += 1;
    }
}

/// A request id no model session reaches: ids are opaque, so one is had by burning
/// ids on a session of its own, once per process.
fn never_issued() -> RequestId {
    static ID: OnceLock<RequestId> = OnceLock::new();
    *ID.get_or_init(|| {
        let mut s = Session::new(BaseUrl::default(), Policy::default())
            .with_credentials(Credentials::new("i", "s"));
        let now = Instant::now();
        let mut id = None;
        for _ in 0..(1 << 16) {
            let Action::Send(t) = s.poll(now) else {
                unreachable!("a session with credentials and nothing outstanding sends")
            };
            s.abandon(t.id);
            id = Some(t.id);
        }
        id.expect("ids were burnt")
    })
}
