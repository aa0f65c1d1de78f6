//! The one driver loop over a token cache: what a transport sees, what the caller is
//! told, and how a deadline ends a call.

use std::cell::RefCell;
use std::future::{Future, ready};
use std::time::{Duration, Instant};

use smartling_auth_core::error::*;
use smartling_auth_core::*;
use smartling_auth_testkit::{answers::*, policy::exact_policy, poll::ready_now, secs};

/// Answers from a script, on a clock that only moves when the driver waits.
struct Scripted {
    answers: RefCell<Vec<HttpResponse>>,
    now: RefCell<Instant>,
    sent: RefCell<Vec<(RequestKind, Option<Duration>)>>,
}

impl Scripted {
    fn new(mut answers: Vec<HttpResponse>) -> Self {
        answers.reverse();
        Self {
            answers: RefCell::new(answers),
            now: RefCell::new(Instant::now()),
            sent: RefCell::new(Vec::new()),
        }
    }
}

impl Transport for Scripted {
    fn send(
        &self,
        request: HttpRequest,
        limit: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        let kind = if request.uri().path().ends_with("/refresh") {
            RequestKind::Refresh
        } else {
            RequestKind::Authenticate
        };
        self.sent.borrow_mut().push((kind, limit));
        let answer = self.answers.borrow_mut().pop().expect("a scripted answer");
        ready(Ok(answer))
    }

    fn wait(&self, until: Instant, _: EventListener) -> impl Future<Output = ()> {
        let mut now = self.now.borrow_mut();
        *now = (*now).max(until);
        ready(())
    }

    fn now(&self) -> Instant {
        *self.now.borrow()
    }
}

fn cache() -> TokenCache {
    TokenCache::new(
        Session::new(BaseUrl::default(), exact_policy())
            .with_credentials(Credentials::new("id", "secret")),
    )
}

#[test]
fn the_caller_sees_each_renewal_with_its_outcome() {
    let cache = cache();
    let t = Scripted::new(vec![
        envelope(503, "GENERAL_ERROR", "busy"),
        success("a", "r", 480, 3660),
    ]);
    let mut seen = Vec::new();
    let grant = ready_now(cache.drive(&t, Some(secs(60)), |kind, handled| {
        seen.push((
            kind,
            format!("{handled:?}").split('(').next().unwrap().to_owned(),
        ));
    }))
    .unwrap();
    assert_eq!(grant.access_token.secret(), "a");
    assert_eq!(
        seen,
        [
            (RequestKind::Authenticate, "WillRetry".to_owned()),
            (RequestKind::Authenticate, "Renewed".to_owned()),
        ]
    );
    // Each request was bounded by what was left of the call's 60 s.
    let sent = t.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|(_, limit)| limit.is_some_and(|l| l <= secs(60)))
    );
    // The token is now on the lock-free path.
    assert!(cache.cached(t.now()).is_some());
}

#[test]
fn a_backoff_past_the_deadline_ends_the_call_at_once_with_the_servers_error() {
    let cache = cache();
    let slow_down = with_header(
        envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "limit"),
        "retry-after",
        "50",
    );
    let t = Scripted::new(vec![slow_down]);
    let start = t.now();
    let err = ready_now(cache.drive(&t, Some(secs(10)), |_, _| {})).unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(
        t.now(),
        start,
        "no wait: the next try could not come in time"
    );
    assert_eq!(t.sent.borrow().len(), 1);
}

#[test]
fn a_backoff_within_the_deadline_is_waited_out() {
    let cache = cache();
    let slow_down = with_header(
        envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "limit"),
        "retry-after",
        "5",
    );
    let t = Scripted::new(vec![slow_down, success("a", "r", 480, 3660)]);
    let start = t.now();
    let grant = ready_now(cache.drive(&t, Some(secs(10)), |_, _| {})).unwrap();
    assert_eq!(grant.access_token.secret(), "a");
    assert_eq!(t.now() - start, secs(5));
}

#[test]
fn without_a_deadline_a_call_waits_out_any_backoff() {
    let cache = cache();
    let slow_down = with_header(
        envelope(429, "MAX_OPERATIONS_LIMIT_EXCEEDED", "limit"),
        "retry-after",
        "50",
    );
    let t = Scripted::new(vec![slow_down, success("a", "r", 480, 3660)]);
    let grant = ready_now(cache.drive(&t, None, |_, _| {})).unwrap();
    assert_eq!(grant.access_token.secret(), "a");
    assert!(t.sent.borrow().iter().all(|(_, limit)| limit.is_none()));
}

#[test]
fn a_waiter_whose_deadline_passes_gets_a_timeout() {
    let cache = cache();
    let now = Instant::now();
    // Another caller is renewing and does not come back.
    let mut renewing = cache.call();
    let Step::Send(_) = renewing.poll(now) else {
        panic!()
    };
    let mut call = cache.call_with_deadline(now, secs(3));
    let Step::Wait(until) = call.poll(now) else {
        panic!()
    };
    assert_eq!(until, now + secs(3));
    assert_eq!(call.remaining(now + secs(1)), Some(secs(2)));
    match call.poll(until) {
        Step::Fail(Error::Transport(t)) => assert_eq!(t.kind, TransportErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_session_whose_last_grant_lived_zero_seconds_snapshots_in_a_form_that_reads_back() {
    let t0 = Instant::now();
    let mut s = Session::new(BaseUrl::default(), exact_policy())
        .with_credentials(Credentials::new("id", "secret"));
    let Action::Send(tx) = s.poll(t0) else {
        panic!()
    };
    s.handle_response(t0, tx.id, &success("a", "r", 0, 3660));
    let snap = s.snapshot(t0, std::time::SystemTime::now()).unwrap();
    assert_eq!(snap.access_lifetime, None);
    assert!(Snapshot::from_json(snap.to_json().as_bytes()).is_ok());
}

/// Past its deadline with its own request out, a call waits for the answer (the
/// transport ends the request by the deadline) instead of being told to wait for an
/// instant already gone, which would make a driver spin; the answer then ends it.
#[test]
fn a_call_past_its_deadline_waits_for_its_answer_without_spinning() {
    let cache = cache();
    let now = Instant::now();
    let mut call = cache.call_with_deadline(now, secs(1));
    let Step::Send(tx) = call.poll(now) else {
        panic!()
    };
    let late = now + secs(2);
    let Step::Wait(until) = call.poll(late) else {
        panic!()
    };
    assert!(until > late, "a wait that is already over");
    call.handle_response(late, tx.id, Err(TransportError::timeout(secs(1))));
    assert!(matches!(call.poll(late), Step::Fail(Error::Transport(_))));
}
