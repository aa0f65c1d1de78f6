//! What the fuzz targets share, kept out of the targets so that it has tests of its own
//! (`cd fuzz && cargo test --lib`):
//! - [`answer`]: answers built from fuzz input, and the checks every parsed answer must
//!   pass whatever its body;
//! - [`json`] and [`generate`]: the structure-aware target's JSON tree and its generator;
//! - [`oracle`]: the independent reading of an envelope the parser must agree with;
//! - [`redaction`]: the check on `Error::redact_exact`.

#![forbid(unsafe_code)]

pub mod answer;
pub mod generate;
pub mod json;
pub mod oracle;
pub mod redaction;

pub use answer::{
    DATE, STATUSES, assert_same_pair, check_error, check_pair, check_result, header_safe, reparse,
    response, status,
};

#[cfg(test)]
mod tests {
    //! The generator and the oracle together: the generator reaches every outcome the
    //! oracle knows, and the parser agrees with the oracle on what it generates (the
    //! target's check, run here on a fixed set of inputs).

    use std::collections::BTreeSet;

    use arbitrary::{Arbitrary, Unstructured};
    use smartling_auth_core::parse_token_response;

    use crate::generate::Input;
    use crate::oracle::{
        Failure, agrees_on_failure, agrees_on_success, oracle_failure, oracle_success, outcome,
    };
    use crate::{check_result, response};

    /// Deterministic bytes (splitmix64), so that every run sees the same inputs.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    fn inputs(n: u64) -> impl Iterator<Item = Input> {
        (0..n).filter_map(|seed| {
            let data = bytes(seed, 64 + (seed as usize % 8) * 128);
            Input::arbitrary(&mut Unstructured::new(&data)).ok()
        })
    }

    #[test]
    fn an_exhausted_input_is_a_good_success_envelope() {
        let input = Input::arbitrary(&mut Unstructured::new(&[])).unwrap();
        let value: serde_json::Value = serde_json::from_str(&input.body).unwrap();
        assert_eq!(outcome(&oracle_success(&value)), "Ok", "{input:?}");
    }

    #[test]
    fn the_parser_agrees_with_the_oracle_on_generated_inputs() {
        for input in inputs(3000) {
            let value: serde_json::Value = serde_json::from_str(&input.body)
                .unwrap_or_else(|e| panic!("the generator wrote invalid JSON ({e})\n{input:?}"));
            let ok = response(input.ok_status, None, None, input.body.clone().into_bytes());
            let got = parse_token_response(&ok);
            check_result(ok.status(), ok.headers(), &got);
            let expected = oracle_success(&value);
            assert!(
                agrees_on_success(&expected, &got),
                "{expected:?} vs {got:?}\n{input:?}"
            );
            let err = response(
                input.err_status,
                None,
                None,
                input.body.clone().into_bytes(),
            );
            let got = parse_token_response(&err);
            check_result(err.status(), err.headers(), &got);
            let expected = oracle_failure(&value);
            assert!(
                agrees_on_failure(&expected, &got),
                "{expected:?} vs {got:?}\n{input:?}"
            );
        }
    }

    #[test]
    fn the_generator_reaches_every_outcome() {
        let mut seen = BTreeSet::new();
        for input in inputs(3000) {
            let value: serde_json::Value = serde_json::from_str(&input.body).unwrap();
            let success = outcome(&oracle_success(&value));
            // Field problems by field and kind, not by value.
            let success = success
                .split('{')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            let success = if success.starts_with("Api") {
                if success.ends_with(" 0 entries") {
                    "Api, no entries"
                } else {
                    "Api, entries"
                }
                .to_owned()
            } else {
                success
            };
            seen.insert(format!("2xx: {success}"));
            let failure = match oracle_failure(&value) {
                Failure::Unexpected(p) => p.to_owned(),
                Failure::Api { errors, .. } if errors.is_empty() => "Api, no entries".into(),
                Failure::Api { .. } => "Api, entries".into(),
            };
            seen.insert(format!("error: {failure}"));
            let v = &value["response"];
            let no_code = v.is_object() && v.get("code").is_none_or(serde_json::Value::is_null);
            if no_code && success == "Ok" {
                seen.insert("2xx: Ok without a code".into());
            }
            if v["code"] == "ACCEPTED" && success == "Ok" {
                seen.insert("2xx: Ok with ACCEPTED".into());
            }
            if v["errors"].is_object() && failure == "Api, entries" {
                seen.insert("error: entries from an `errors` object".into());
            }
            if v["messages"].is_array() && failure == "Api, entries" && !v["errors"].is_array() {
                seen.insert("error: entries from `messages`".into());
            }
            if v.get("errors").is_none() && v.get("messages").is_none() && failure == "Api, entries"
            {
                seen.insert("error: entries from `data`".into());
            }
        }
        for expected in [
            "2xx: Ok",
            "2xx: Ok without a code",
            "2xx: Ok with ACCEPTED",
            "2xx: NotEnvelope",
            "2xx: MissingCode",
            "2xx: UnexpectedCode",
            "2xx: MissingData",
            "2xx: Api, entries",
            "2xx: Api, no entries",
            "2xx: accessToken Missing",
            "2xx: accessToken InvalidCharacters",
            "2xx: refreshToken Empty",
            "2xx: expiresIn Negative",
            "2xx: expiresIn Fractional",
            "2xx: expiresIn NotDigits",
            "2xx: refreshExpiresIn TooLarge",
            "2xx: tokenType WrongType",
            "error: not an error envelope",
            "error: no `response` object",
            "error: no `response.code`",
            "error: Api, entries",
            "error: Api, no entries",
            "error: entries from an `errors` object",
            "error: entries from `messages`",
            "error: entries from `data`",
        ] {
            assert!(
                seen.contains(expected),
                "never reached {expected:?}; reached {seen:#?}"
            );
        }
    }
}
