//! Model-based property test of the session: random starts, time steps, answers of
//! every kind, transport errors, late answers and snapshot round trips, with the
//! lifecycle's invariants checked after every step. The model and its invariants are
//! `smartling_auth_testkit::model`, which the `session` fuzz target runs too; this file
//! holds only proptest's generators.

use proptest::prelude::*;
use smartling_auth_core::Policy;
use smartling_auth_testkit::model::{Answer, Lifetime, Model, Op, RetryAfterValue, Start, Step};

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u16..2_000).prop_map(Step::Millis),
        (0u16..120).prop_map(Step::Seconds),
        (0u16..900).prop_map(Step::Seconds),
    ]
}

fn retry_after() -> impl Strategy<Value = Option<RetryAfterValue>> {
    proptest::option::of((0u32..120).prop_map(RetryAfterValue::Secs))
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        3 => (0u16..2000, 0u16..8000).prop_map(|(e, r)| Answer::Success {
            expires_in: Lifetime::Secs(e),
            refresh_expires_in: Lifetime::Secs(r),
            status: 0,
        }),
        3 => (any::<u8>(), any::<u8>(), retry_after())
            .prop_map(|(status, code, retry_after)| Answer::Envelope { status, code, retry_after }),
        1 => any::<u8>().prop_map(|status| Answer::Html { status, retry_after: None }),
        1 => proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|body| Answer::Raw { status: 0, body, retry_after: None }),
        1 => Just(Answer::Truncated),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (step(), any::<bool>()).prop_map(|(step, poll)| Op::Advance { step, poll }),
        4 => answer().prop_map(Op::Answer),
        1 => any::<u8>().prop_map(Op::Transport),
        1 => Just(Op::Stale),
        1 => (answer(), any::<u8>()).prop_map(|(answer, how)| Op::Late { answer, how }),
        1 => any::<bool>().prop_map(|current| Op::Invalidate { current }),
        1 => Just(Op::Abandon),
        1 => Just(Op::Rearm),
        1 => any::<u16>().prop_map(|millis| Op::Restore { millis }),
    ]
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        4 => Just(Start::Credentials),
        1 => Just(Start::RefreshToken),
        1 => Just(Start::CredentialsAndRefreshToken),
        1 => (0u32..2000, 0u32..8000).prop_map(|(expires_in, refresh_expires_in)| Start::Pair {
            expires_in,
            refresh_expires_in,
        }),
        1 => (0u32..2000, 0u32..8000).prop_map(|(expires_in, refresh_expires_in)| {
            Start::CredentialsAndPair { expires_in, refresh_expires_in }
        }),
        1 => Just(Start::Nothing),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_under_any_sequence(
        seed in any::<u64>(),
        start in start(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut policy = Policy::default();
        policy.seed = Some(seed);
        let mut model = Model::new(policy, &start);
        model.run(&ops).map_err(|v| TestCaseError::fail(v.to_string()))?;
    }
}
