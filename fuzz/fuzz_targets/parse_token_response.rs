//! Raw bytes into `parse_token_response`.
//!
//! Input layout (so that seeds stay readable: a seed is three bytes and a body):
//! - byte 0: the status, `STATUSES[b % 32]` (0 is 200, 7 is 401, 14 is 429, 16 is 502);
//! - byte 1: header flags: bit 0 sends `Retry-After` (the bytes below), bit 1 a `Date`;
//! - byte 2: the length of the `Retry-After` value, then that many bytes;
//! - the rest: the body.
//!
//! Checks: no panic; an `Ok` re-serialises through `TokenPair::secret_json` in the
//! success envelope and parses back to the same pair; errors fit the status and carry
//! the `Retry-After` (see `smartling_auth_fuzz::check_result`); `Error::redact_exact`
//! with a secret picked from the body leaves it in no server text of the error (see
//! `smartling_auth_fuzz::redaction`). In debug builds (fuzz builds keep debug
//! assertions) the parser also checks that its fast path agrees with its lenient one.

#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use smartling_auth_core::parse_token_response;
use smartling_auth_fuzz::redaction::check_redaction;
use smartling_auth_fuzz::{DATE, check_result, response, status};

fuzz_target!(|data: &[u8]| {
    let [sel, flags, ra_len, rest @ ..] = data else {
        return;
    };
    let (retry_after, body) = rest.split_at((*ra_len as usize).min(rest.len()));
    let answer = response(
        status(*sel),
        (flags & 1 != 0).then_some(retry_after),
        (flags & 2 != 0).then_some(DATE.as_bytes()),
        body.to_vec(),
    );
    let result = parse_token_response(&answer);
    check_result(answer.status(), answer.headers(), &result);
    check_redaction(&result, body);
});
