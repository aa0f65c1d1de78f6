//! The driver loop with a store: what one process does, with canned transports over
//! an in-memory store.

use std::cell::Cell;
use std::future::{Future, pending, ready};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use smartling_auth_core::store::{LeaseId, MemoryStore, SharedStore, Store};
use smartling_auth_core::*;

const BODY: &str = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
    "refreshToken":"r.s.t","expiresIn":480,"refreshExpiresIn":3660}}}"#;

/// Answers every request at once and counts them.
struct Canned(Cell<u32>);

impl Transport for Canned {
    fn send(
        &self,
        _: HttpRequest,
        _: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        self.0.set(self.0.get() + 1);
        ready(Ok(http::Response::builder()
            .status(200)
            .body(BODY.into())
            .unwrap()))
    }
    fn wait(&self, until: Instant, listener: EventListener) -> impl Future<Output = ()> {
        listener.wait_deadline(until);
        ready(())
    }
}

/// Never answers.
struct Silent;

impl Transport for Silent {
    fn send(
        &self,
        _: HttpRequest,
        _: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        pending()
    }
    fn wait(&self, _: Instant, _: EventListener) -> impl Future<Output = ()> {
        pending()
    }
}

fn cache(store: &Arc<MemoryStore>) -> TokenCache {
    let base = BaseUrl::default();
    let key = store::SealKey::derive(&base, "user", &UserSecret::new("secret"));
    let shared =
        SharedStore::for_user(store.clone(), &base, "user", Some(key), &Policy::default()).unwrap();
    TokenCache::new(
        Session::new(base, Policy::default()).with_credentials(Credentials::new("user", "secret")),
    )
    .with_store(shared)
}

fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a canned transport is always ready"),
    }
}

#[test]
fn the_second_process_adopts_the_first_ones_record_without_a_request() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (cache(&store), cache(&store));
    let transport = Canned(Cell::new(0));
    let mut seen = Vec::new();
    let grant = run(a.drive(&transport, None, |_, h| seen.push(format!("{h:?}")))).unwrap();
    assert_eq!(transport.0.get(), 1);
    assert!(seen[0].starts_with("Renewed"), "{seen:?}");
    seen.clear();
    let adopted = run(b.drive(&transport, None, |_, h| seen.push(format!("{h:?}")))).unwrap();
    assert_eq!(transport.0.get(), 1, "no second request");
    assert!(seen[0].starts_with("Adopted"), "{seen:?}");
    assert!(adopted.access_token.same_secret(&grant.access_token));
    let name = a.store().unwrap().name().clone();
    assert_eq!(store.read(&name).unwrap().record.unwrap().version, 1);
    // The lease was released: anyone may take it.
    assert!(
        store
            .lease(&name, LeaseId(99), Duration::from_secs(1))
            .unwrap()
    );
}

#[test]
fn a_renewal_dropped_while_holding_the_lease_releases_it() {
    let store = Arc::new(MemoryStore::new());
    let a = cache(&store);
    let name = a.store().unwrap().name().clone();
    {
        let mut drive = pin!(a.drive(&Silent, None, |_, _| {}));
        let polled = drive.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending(), "the request is in flight");
        assert!(
            !store
                .lease(&name, LeaseId(99), Duration::from_secs(60))
                .unwrap(),
            "held while the request is out"
        );
    }
    assert!(
        store
            .lease(&name, LeaseId(99), Duration::from_secs(60))
            .unwrap()
    );
}

#[test]
fn a_fresh_local_token_never_touches_the_store() {
    let store = Arc::new(MemoryStore::new());
    let a = cache(&store);
    let transport = Canned(Cell::new(0));
    run(a.drive(&transport, None, |_, _| {})).unwrap();
    let name = a.store().unwrap().name().clone();
    // Replace the record with garbage: a read would warn and renew.
    store.tamper(
        &name,
        store::Stored {
            version: 5,
            payload: b"garbage".to_vec(),
        },
    );
    for _ in 0..3 {
        assert!(
            a.cached(Instant::now()).is_some() || run(a.drive(&transport, None, |_, _| {})).is_ok()
        );
    }
    assert_eq!(transport.0.get(), 1);
    assert_eq!(
        store.read(&name).unwrap().record.unwrap().version,
        5,
        "untouched"
    );
}

#[test]
fn a_planted_record_at_the_last_version_is_replaced_and_sharing_resumes() {
    let store = Arc::new(MemoryStore::new());
    let a = cache(&store);
    let name = a.store().unwrap().name().clone();
    // Garbage at the last version: before, no write could follow it, and every
    // process renewed on its own at every renewal.
    store.tamper(
        &name,
        store::Stored {
            version: store::MAX_VERSION,
            payload: b"planted".to_vec(),
        },
    );
    let transport = Canned(Cell::new(0));
    run(a.drive(&transport, None, |_, _| {})).unwrap();
    let written = store.read(&name).unwrap().record.unwrap();
    assert_eq!(written.version, 1, "the holder resets it under the lease");
    // And the fleet shares again: a second process adopts without a request.
    let b = cache(&store);
    run(b.drive(&transport, None, |_, _| {})).unwrap();
    assert_eq!(transport.0.get(), 1);
}
