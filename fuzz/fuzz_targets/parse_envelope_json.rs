//! Structure-aware: a JSON tree shaped like (and often unlike) the envelopes, parsed at a
//! 2xx and at a non-2xx status, against an independent oracle.
//!
//! The generator is `smartling_auth_fuzz::generate` (every shape of envelope and error
//! entries seen in the wild, and the corners around them); the oracle,
//! `smartling_auth_fuzz::oracle`, reads the same text into a plain `serde_json::Value`
//! and says what the parser must answer. Both have tests of their own
//! (`cd fuzz && cargo test --lib`). On top of agreeing with the oracle, every answer
//! passes `check_result`, and `Error::redact_exact` with a secret picked from the body
//! leaves it in no server text of the error.

#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use smartling_auth_core::{api::DEFAULT_MAX_BODY, Error, parse_token_response};
use smartling_auth_fuzz::generate::Input;
use smartling_auth_fuzz::oracle::{
    Failure, compare_failure, compare_success, oracle_failure, oracle_success, outcome,
};
use smartling_auth_fuzz::redaction::check_redaction;
use smartling_auth_fuzz::{DATE, check_result, response};

/// `SMARTLING_FUZZ_DEBUG=1` prints each input's expected outcomes, to check what the
/// generator reaches: `.../parse_envelope_json -runs=0 fuzz/corpus/parse_envelope_json`.
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("SMARTLING_FUZZ_DEBUG").is_some())
}

fuzz_target!(|input: Input| {
    let body = input.body.as_bytes();
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => panic!("the generator wrote invalid JSON ({e})\n{input:?}"),
    };
    let too_large = body.len() > DEFAULT_MAX_BODY;
    let date = input.date.then_some(DATE.as_bytes());
    let retry_after = input.retry_after.map(str::as_bytes);

    let ok = response(input.ok_status, retry_after, date, body.to_vec());
    let got = parse_token_response(&ok);
    check_result(ok.status(), ok.headers(), &got);
    check_redaction(&got, body);
    if too_large {
        assert!(matches!(got, Err(Error::BodyTooLarge { .. })), "{got:?}");
    } else {
        let expected = oracle_success(&value);
        if debug() {
            eprintln!("outcome-2xx: {}", outcome(&expected));
        }
        compare_success(&input, &expected, &got);
    }

    let err = response(input.err_status, retry_after, date, body.to_vec());
    let got = parse_token_response(&err);
    check_result(err.status(), err.headers(), &got);
    check_redaction(&got, body);
    if too_large {
        assert!(matches!(got, Err(Error::BodyTooLarge { .. })), "{got:?}");
    } else {
        let expected = oracle_failure(&value);
        if debug() {
            let shown = match &expected {
                Failure::Unexpected(p) => p.to_string(),
                Failure::Api { errors, .. } => format!("Api, {} entries", errors.len()),
            };
            eprintln!("outcome-err: {shown}");
        }
        compare_failure(&input, &expected, &got);
    }
});
