//! An `arbitrary` start (credentials, refresh token, token pair), policy, and sequence
//! of time steps, answers (any status, body bytes, headers with `Retry-After`),
//! transport errors, late answers, invalidations, abandons, rearms and snapshot round
//! trips, driven through `smartling_auth_core::Session` with a fake server.
//!
//! The model and every invariant it checks after each step are
//! `smartling_auth_testkit::model`, which the core's property test
//! (`crates/core/tests/lifecycle_model.rs`) runs too. This target adds what a fuzzer
//! is best at: any policy, including explicit margins, tiny timeouts and a small body
//! cap, and byte-level answers.

#![no_main]
#![forbid(unsafe_code)]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smartling_auth_core::Policy;
use smartling_auth_testkit::model::{Model, Op, Start};

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    knobs: Option<Knobs>,
    start: Start,
    ops: Vec<Op>,
}

/// A policy around the defaults; `None` is `Policy::default()`. A margin left `None`
/// scales with each token's lifetime, as by default.
#[derive(Arbitrary, Debug)]
struct Knobs {
    refresh_ahead_s: Option<u16>,
    refresh_jitter_s: Option<u8>,
    min_validity_s: Option<u8>,
    request_timeout_s: u16,
    base_delay_ms: u16,
    max_delay_s: u8,
    max_attempts: u8,
    max_retry_after_s: u8,
    small_max_body: bool,
}

impl Knobs {
    fn policy(&self) -> Policy {
        let secs = |n: u64| Duration::from_secs(n);
        let mut p = Policy::default();
        p.refresh_ahead = self.refresh_ahead_s.map(|n| secs(u64::from(n % 601)));
        p.refresh_jitter = self.refresh_jitter_s.map(|n| secs(u64::from(n % 61)));
        p.min_validity = self.min_validity_s.map(|n| secs(u64::from(n % 121)));
        // At least a second: a zero timeout times a request out on the poll that sent it.
        p.request_timeout = secs(1 + u64::from(self.request_timeout_s % 300));
        p.retry.base_delay = Duration::from_millis(u64::from(self.base_delay_ms % 2001));
        p.retry.max_delay = secs(u64::from(self.max_delay_s % 61));
        p.retry.max_attempts = 1 + u32::from(self.max_attempts % 10);
        p.retry.max_retry_after = secs(u64::from(self.max_retry_after_s % 121));
        if self.small_max_body {
            p.parse = p.parse.max_body(256);
        }
        p
    }
}

/// `SMARTLING_FUZZ_DEBUG=1` prints what each input did, to check what the fuzzer
/// reaches: `.../session -runs=0 fuzz/corpus/session 2>&1 | grep ^seen | sort | uniq -c`.
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("SMARTLING_FUZZ_DEBUG").is_some())
}

fuzz_target!(|input: Input| {
    let mut policy = input
        .knobs
        .as_ref()
        .map_or_else(Policy::default, Knobs::policy);
    policy.seed = Some(input.seed);
    let mut model = Model::new(policy, &input.start);
    if let Err(violation) = model.run(&input.ops) {
        panic!("{violation}");
    }
    if debug() {
        for k in model.seen().keys() {
            eprintln!("seen: {k}");
        }
        eprintln!("seen-ops: {}", input.ops.len().min(20));
    }
});
