//! The store protocol's model (`smartling_auth_testkit::store_model`): 2 to 6
//! processes, each running the shipped renewal machine (`Call`) over a token cache of
//! its own, share one simulated store and server, with faults: the store down or
//! restarted empty, lost leases and writes, planted records, late and concurrent
//! operations, slow logins, holders that crash, pause or go away, refused tokens. The
//! store wakes waiters, or cannot (they poll), and its wake-ups come late, twice or
//! never. Proptest draws the fleet's history as bytes, through the decoder the
//! `store_fleet` fuzz target uses, and shrinks a failure to a small case. Every step
//! checks one renewal per generation and one at a time for the fleet, live tokens
//! only, compare-and-set writes of growing versions, waiters that fall back on the
//! store after a lost wake-up and woken ones that do not poll, and that every call is
//! served.

use proptest::prelude::*;
use smartling_auth_testkit::store_model::{Case, Op, Pace, Wakes, Watching};

/// Each kind of store: one that cannot watch, and each way of waking waiters.
const STORES: [Watching; 5] = [
    Watching::Unsupported,
    Watching::Changed,
    Watching::Written,
    Watching::Mixed,
    Watching::Lock,
];

proptest! {
    // 256 cases unless PROPTEST_CASES asks for a longer search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_fleet_keeps_the_protocol(bytes in proptest::collection::vec(any::<u8>(), 16..1_500)) {
        let case = Case::from_bytes(&bytes);
        if let Err(violation) = case.run() {
            prop_assert!(false, "{violation}\n{case:?}");
        }
    }
}

#[test]
fn without_faults_two_processes_make_one_issue() {
    let mut case = Case::quiet(2, 480);
    case.ops = (0..20)
        .map(|i| Op::Step {
            proc: i % 2,
            pace: Pace::NextTurn,
        })
        .collect();
    for watching in STORES {
        let case = Case {
            watching,
            ..case.clone()
        };
        let tally = case.run().unwrap();
        assert_eq!(tally.issues, 1, "{watching:?}: {tally:?}");
        assert!(tally.adoptions >= 1, "{watching:?}: {tally:?}");
    }
}

/// A login slower than the lease's time to live: the holder extends its lease, and
/// the other processes wait on it and adopt its record, over every kind of store and
/// whatever becomes of the wake-ups.
#[test]
fn a_slow_login_is_made_once_for_the_fleet() {
    let mut case = Case::quiet(4, 480);
    case.ops = vec![Op::Step {
        proc: 0,
        pace: Pace::Slow,
    }];
    case.ops.extend((1..4).map(|proc| Op::Step {
        proc,
        pace: Pace::NextTurn,
    }));
    case.ops.extend((0..12).map(|_| Op::Advance(1_000)));
    for watching in STORES {
        for wakes in [
            Wakes::Prompt,
            Wakes::Late,
            Wakes::Twice,
            Wakes::Lost,
            Wakes::Flaky,
        ] {
            let case = Case {
                watching,
                wakes,
                ..case.clone()
            };
            let tally = case.run().unwrap();
            assert_eq!(tally.issues, 1, "{watching:?} {wakes:?}: {tally:?}");
            assert_eq!(tally.adoptions, 3, "{watching:?} {wakes:?}: {tally:?}");
        }
    }
}

/// Every wake-up lost: the waiters hear nothing while one process renews, and each
/// reads the store after a quiet spell, in time (the model's liveness check), without
/// a second login.
#[test]
fn waiters_whose_wake_ups_are_lost_read_the_store_after_a_quiet_spell() {
    let mut case = Case::quiet(3, 480);
    case.watching = Watching::Written;
    case.wakes = Wakes::Lost;
    case.ops = (0..6)
        .map(|i| Op::Step {
            proc: i % 3,
            pace: Pace::NextTurn,
        })
        .collect();
    case.ops.extend((0..8).map(|_| Op::Advance(1_000)));
    let tally = case.run().unwrap();
    assert_eq!(tally.issues, 1, "{tally:?}");
    assert_eq!(tally.adoptions, 2, "{tally:?}");
    assert!(tally.quiet >= 2 && tally.written == 0, "{tally:?}");
}
