//! Inputs the fuzz targets (`fuzz/`) found, kept as regression tests.

use smartling_auth_core::{
    BaseUrl, Credentials, RefreshToken, api::AUTHENTICATE_PATH, api::REFRESH_PATH,
    authenticate_request, refresh_request,
};

/// Fuzz target `base_url`, `crash-fc0a4ed5a1e1b24bf0ed35d62c1eb126ad164918` (the URL part
/// of the input, read lossily as the target does).
///
/// `BaseUrl::parse` trims Unicode whitespace around the input (`str::trim`) and trailing
/// slashes off the path, but `http::Uri` lets raw non-ASCII characters through in the
/// path. A path like `/b\u{2000}/` therefore normalises to `https://a/b\u{2000}`: a
/// `BaseUrl` whose own string ends in whitespace, which the next parse trims, giving a
/// different URL. `Display`/`as_str` and `parse`/`FromStr` do not round trip (a base URL
/// saved to a config file and read back changes).
#[test]
fn a_normalised_base_url_parses_back_to_itself() {
    for input in [
        "https://a/b\u{2000}/",
        "https://a/b\u{a0}/",
        "https://a/b\u{3000}//",
        "https://apa//\u{fffd}//////////\u{2000}/////////////////////////\r",
    ] {
        let Ok(base) = BaseUrl::parse(input) else {
            continue; // refusing such a URL is the fix
        };
        let again = BaseUrl::parse(base.as_str())
            .unwrap_or_else(|e| panic!("{input:?} -> {:?} is refused: {e}", base.as_str()));
        assert_eq!(again, base, "{input:?}");
    }
}

/// The same finding, at its root: a URI path is ASCII (RFC 3986 percent-encodes every
/// other byte), yet `BaseUrl::parse` keeps raw UTF-8 in it, and the request builders
/// put it on the request line as it is. Either refusing such a URL or percent-encoding
/// its path fixes both tests.
#[test]
fn a_base_url_and_its_requests_are_ascii() {
    for input in [
        "https://a/b\u{2000}/",
        "https://gw.example/é",
        "http://127.0.0.1/\u{fffd}",
    ] {
        let Ok(base) = BaseUrl::parse(input) else {
            continue; // refusing is a fix too
        };
        assert!(base.as_str().is_ascii(), "{input:?} -> {:?}", base.as_str());
        let refresh = refresh_request(&base, &RefreshToken::new("r"));
        assert_eq!(refresh.uri().to_string(), base.join(REFRESH_PATH));
        let login = authenticate_request(&base, &Credentials::new("id", "s"));
        assert_eq!(login.uri().to_string(), base.join(AUTHENTICATE_PATH));
    }
}

/// The fix chosen for both: such URLs are refused, with a reason.
#[test]
fn non_ascii_base_urls_are_refused_with_a_reason() {
    for input in [
        "https://a/b\u{2000}/",
        "https://gw.example/é",
        "http://127.0.0.1/\u{fffd}",
    ] {
        let err = BaseUrl::parse(input).unwrap_err();
        assert!(err.to_string().contains("ASCII"), "{input:?}: {err}");
    }
    // Percent-encoded, the same path is fine.
    assert!(BaseUrl::parse("https://gw.example/%C3%A9").is_ok());
}

/// Fuzz target `store_flight`, `crash-c2434513ba654c1f84b24e22403fff57935062ea`: a read
/// nobody asked for found a fresh record, then a renewal outcome nobody asked for came
/// in, and the flight asked to write over version 0, a version no read of its own had
/// found. Drivers never do this (they answer each step), but a flight must not turn a
/// stray outcome into a write: a renewal outcome without its `Send` changes nothing.
#[test]
fn a_renewal_outcome_without_a_send_never_leads_to_a_write() {
    use smartling_auth_core::fuzzing::{Flight, FlightStep, Judged, judge};
    use smartling_auth_core::store::{LeaseId, Record, RecordName, Timings};
    use smartling_auth_core::{AccessToken, Policy, TokenPair};
    use std::time::{Duration, Instant, SystemTime};

    let t0 = Instant::now();
    let store_now = SystemTime::now();
    let name = RecordName::new(&BaseUrl::default(), "user", None);
    let read = |stored: Option<(u64, &[u8])>| {
        judge(stored, store_now, t0, &name, None, &Policy::default(), None)
    };
    let pair = TokenPair::new(
        AccessToken::new("a"),
        RefreshToken::new("r"),
        Duration::from_secs(480),
        Duration::from_secs(3600),
    );
    let payload = Record::new(pair, store_now).encode(&name, 4, None);
    let fresh = read(Some((4, &payload)));
    assert!(matches!(fresh.judged, Judged::Fresh { .. }));

    let mut f = Flight::new(Timings::default(), None, LeaseId(1), true);
    f.read_done(t0, Ok(fresh));
    f.sent(t0, Some(t0));
    let steps: Vec<_> = (0..4).map(|_| f.step(t0)).collect();
    assert!(
        !steps.iter().any(|s| matches!(s, FlightStep::Write { .. })),
        "{steps:?}"
    );
    assert!(matches!(steps[0], FlightStep::Adopt { .. }), "{steps:?}");

    // The same outcome answering the flight's own Send is written.
    let mut f = Flight::new(Timings::default(), None, LeaseId(1), true);
    assert!(matches!(f.step(t0), FlightStep::Read));
    f.read_done(t0, Ok(read(None)));
    assert!(matches!(f.step(t0), FlightStep::Lease { .. }));
    f.lease_done(t0, Ok(true));
    assert!(matches!(f.step(t0), FlightStep::Read));
    f.read_done(t0, Ok(read(None)));
    assert!(matches!(f.step(t0), FlightStep::Send));
    f.sent(t0, Some(t0));
    assert!(matches!(
        f.step(t0),
        FlightStep::Write {
            expected: 0,
            version: 1,
            ..
        }
    ));
}
