//! Providers that share a token store: the processes of a fleet, simulated by several
//! providers in one process over one in-memory store (the file and Redis stores have
//! their own tests, across real processes). Counts are asserted, never durations.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smartling_auth_emulator::{Emulator, Endpoint};
use smartling_auth_isahc::store::{
    Fetched, LeaseId, MemoryStore, RecordName, Store, StoreError, StoreErrorKind, Stored,
};
use smartling_auth_isahc::{Policy, TokenProvider};
use smartling_auth_testkit::emulator::{SECRET, base, credentials, start, whoami};
use smartling_auth_testkit::logs::LogCapture;
use smartling_auth_testkit::policy::quick_retry;

fn provider(emu: &Emulator, store: &Arc<MemoryStore>) -> TokenProvider {
    let mut policy = Policy::default();
    policy.retry = quick_retry();
    TokenProvider::builder(base(emu))
        .credentials(credentials())
        .policy(policy)
        .timeouts(Duration::from_secs(2), Duration::from_secs(3))
        .store(store.clone())
        .build()
        .unwrap()
}

/// Eight "processes" with four threads each call for 3 s tokens over four lifetimes:
/// one login in all, every token any of them handed out is one the server issued
/// once (nobody renewed on their own), and each was alive when the server checked.
#[test]
fn providers_sharing_a_store_renew_once_per_expiry() {
    let life = Duration::from_secs(3);
    let emu = start(
        Emulator::builder()
            .access_ttl(life)
            .refresh_ttl(Duration::from_secs(60)),
    );
    let store = Arc::new(MemoryStore::new());
    let providers: Vec<_> = (0..8).map(|_| provider(&emu, &store)).collect();
    let seen = Mutex::new(HashSet::new());
    let end = Instant::now() + life * 4;
    std::thread::scope(|scope| {
        for p in &providers {
            for _ in 0..4 {
                let seen = &seen;
                let emu = &emu;
                scope.spawn(move || {
                    for i in 0..100_000u32 {
                        if Instant::now() >= end {
                            break;
                        }
                        let token = p.access_token().expect("a token");
                        if i % 64 == 0 {
                            assert_eq!(whoami(emu, &token), 200, "a live token");
                        }
                        seen.lock().unwrap().insert(token.secret().to_owned());
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
            }
        }
    });
    let c = emu.counters();
    let grants = c.total(Endpoint::Authenticate) + c.total(Endpoint::Refresh);
    assert_eq!(
        c.total(Endpoint::Authenticate),
        1,
        "one login for the fleet"
    );
    assert_eq!(
        seen.lock().unwrap().len() as u64,
        grants,
        "every token the server issued was handed out: no renewal was wasted"
    );
    // One renewal per refresh-ahead point: at most twice per lifetime, plus the
    // one at the end.
    assert!(
        (4..=2 * 4 + 2).contains(&grants),
        "{grants} grants in four lifetimes"
    );
}

/// A sealed store never holds a token or the user secret in clear.
#[test]
fn a_shared_store_holds_only_sealed_records() {
    let emu = start(Emulator::builder());
    let store = Arc::new(MemoryStore::new());
    let p = provider(&emu, &store);
    let token = p.access_token().unwrap();
    let name = p.state().cache().store().unwrap().name().clone();
    let record = store.read(&name).unwrap().record.expect("a record");
    let bytes = &record.payload;
    for secret in [token.secret(), SECRET] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    // A second provider adopts it without a request.
    let q = provider(&emu, &store);
    assert!(q.access_token().unwrap().same_secret(&token));
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
}

/// A store that fails every operation.
#[derive(Debug)]
struct Down;

impl Store for Down {
    fn read(&self, _: &RecordName) -> Result<Fetched, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connection refused",
        ))
    }
    fn lease(&self, _: &RecordName, _: LeaseId, _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connection refused",
        ))
    }
    fn extend(&self, _: &RecordName, _: LeaseId, _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connection refused",
        ))
    }
    fn write(&self, _: &RecordName, _: u64, _: &Stored, _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connection refused",
        ))
    }
    fn release(&self, _: &RecordName, _: LeaseId) -> Result<(), StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connection refused",
        ))
    }
}

/// A store that is down fails no caller: the provider renews on its own, says so in
/// one warning, and does not retry the store on every call.
#[test]
fn a_store_that_is_down_fails_no_caller_and_warns_once() {
    let logs = LogCapture::new();
    let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::WARN));
    let emu = start(Emulator::builder());
    let p = TokenProvider::builder(base(&emu))
        .credentials(credentials())
        .store(Down)
        .build()
        .unwrap();
    for _ in 0..3 {
        let token = p.access_token().expect("served through the outage");
        assert_eq!(whoami(&emu, &token), 200);
        assert!(p.invalidate(&token));
    }
    let text = logs.text();
    assert_eq!(text.matches("token store failed").count(), 1, "{text}");
    assert!(!text.contains(SECRET));
}

/// A record that cannot be trusted is ignored, replaced, and warned about.
#[test]
fn a_garbage_record_is_replaced_with_a_warning() {
    let logs = LogCapture::new();
    let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::WARN));
    let emu = start(Emulator::builder());
    let store = Arc::new(MemoryStore::new());
    let p = provider(&emu, &store);
    let name = p.state().cache().store().unwrap().name().clone();
    store.tamper(
        &name,
        Stored {
            version: 7,
            payload: b"\x00garbage".to_vec(),
        },
    );
    let token = p.access_token().unwrap();
    assert_eq!(whoami(&emu, &token), 200);
    let record = store.read(&name).unwrap().record.unwrap();
    assert_eq!(record.version, 8, "written over the garbage");
    assert!(
        logs.text().contains("ignoring a stored token record"),
        "{}",
        logs.text()
    );
}

/// A token an API call refused is not adopted back from the store: the provider that
/// saw the 401 renews and replaces the record, and another provider that sees the
/// 401 later adopts the replacement without a request of its own.
#[test]
fn a_refused_token_is_renewed_and_replaced_for_everyone() {
    let emu = start(Emulator::builder());
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (provider(&emu, &store), provider(&emu, &store));
    let first = a.access_token().unwrap();
    assert!(b.access_token().unwrap().same_secret(&first), "adopted");
    assert!(b.invalidate(&first));
    let second = b.access_token().unwrap();
    assert!(!second.same_secret(&first), "not the refused token again");
    assert!(a.invalidate(&first));
    assert!(a.access_token().unwrap().same_secret(&second));
    let c = emu.counters();
    assert_eq!(
        c.total(Endpoint::Authenticate) + c.total(Endpoint::Refresh),
        2,
        "one login, one renewal"
    );
}

/// A refresh token given beside credentials may be another account's: with a store,
/// the credentials decide (what the token renewed would be filed, and shared, as
/// theirs). Without credentials, the token's session owns its record by origin.
#[test]
fn with_a_store_the_credentials_decide_and_a_bare_token_owns_its_record_by_origin() {
    let emu = start(Emulator::builder());
    // Whoever's it is, it is not sent: the emulator would refuse or honour it, and
    // either is a refresh request counted.
    let theirs = smartling_auth_isahc::RefreshToken::new("someone-elses-refresh-token");
    let store = Arc::new(MemoryStore::new());
    let logs = LogCapture::new();
    let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::WARN));
    let p = TokenProvider::builder(base(&emu))
        .credentials(credentials())
        .refresh_token(theirs.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let token = p.access_token().unwrap();
    assert_eq!(whoami(&emu, &token), 200);
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Refresh), 0, "their token was not used");
    assert_eq!(c.total(Endpoint::Authenticate), 1);
    let text = logs.text();
    assert!(text.contains("the credentials decide"), "{text}");
    let bare = TokenProvider::builder(base(&emu))
        .refresh_token(theirs.clone())
        .store(MemoryStore::unsealed())
        .store_identity("")
        .build()
        .unwrap();
    assert_eq!(
        bare.state().cache().store().unwrap().name().origin(),
        Some(smartling_auth_isahc::store::Origin::of(
            &base(&emu),
            &theirs
        ))
    );
}
