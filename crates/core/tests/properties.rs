//! Properties of the parser, the request builders and the base URL rules.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use smartling_auth_core::{
    BaseUrl, Credentials, Error, RefreshToken, api::MAX_LIFETIME, authenticate_request,
    error::ErrorCode, parse_token_response, refresh_request,
};

fn respond(status: u16, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder().status(status).body(body).unwrap()
}

/// Checks every outcome for the invariants that hold whatever the body.
fn check_outcome(status: u16, result: &Result<smartling_auth_core::TokenPair, Error>) {
    match result {
        Ok(pair) => {
            assert!((200..300).contains(&status), "a token from a {status}");
            for token in [pair.access_token.secret(), pair.refresh_token.secret()] {
                assert!(!token.is_empty(), "an empty token accepted");
                assert!(
                    token.bytes().all(|b| (0x21..=0x7e).contains(&b)),
                    "a token that cannot go into a header accepted: {token:?}"
                );
            }
            assert!(pair.expires_in <= MAX_LIFETIME);
            assert!(pair.refresh_expires_in <= MAX_LIFETIME);
        }
        Err(e) => {
            assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{e:?}");
            let shown = e.to_string();
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
            let _ = format!("{e:?}");
            if (200..300).contains(&status) {
                // An error code on a 2xx is an API error, never a retryable one.
                assert!(e.retry_after().is_none());
                assert!(e.api().is_none_or(|_| !e.is_retryable()), "{e:?}");
            }
        }
    }
}

/// A JSON value of a few levels, for unknown fields.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1e300f64..1e300).prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(("[a-zA-Z]{1,8}", inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

const KNOWN: [&str; 8] = [
    "response",
    "code",
    "data",
    "accessToken",
    "refreshToken",
    "expiresIn",
    "refreshExpiresIn",
    "tokenType",
];

/// Unknown fields: names that are not the envelope's, any JSON values.
fn extras() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                "[a-zA-Z_]{1,16}",
                ".{0,10}",
                select(vec!["errors", "Code", "DATA", "access_token", "expires_in"])
                    .prop_map(str::to_owned)
            ]
            .prop_filter("a known field", |k| !KNOWN.contains(&k.as_str())),
            json_value(),
        ),
        0..4,
    )
    .prop_map(|kv| {
        kv.into_iter()
            .map(|(k, v)| (serde_json::to_string(&k).unwrap(), v.to_string()))
            .collect()
    })
}

/// `{ "k": v, ... }` from (JSON key, JSON value) pairs, in the given order.
fn object(fields: &[(String, String)]) -> String {
    let inner: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn key(k: &str) -> String {
    format!("\"{k}\"")
}

/// A lifetime as JSON: an integer, or a string of digits (perhaps with leading zeros).
fn lifetime() -> impl Strategy<Value = (u64, String)> {
    (0..=MAX_LIFETIME.as_secs(), 0..3usize, 0..3usize).prop_map(|(secs, form, zeros)| {
        let text = match form {
            0 => secs.to_string(),
            1 => format!("\"{secs}\""),
            _ => format!("\"{}{secs}\"", "0".repeat(zeros)),
        };
        (secs, text)
    })
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        // Visible ASCII without quotes and backslashes: the JSON text is the token.
        "[!#-\\[\\]-~]{1,80}",
        // Any visible ASCII: quotes and backslashes come escaped.
        "[!-~]{1,80}",
        // JWT-shaped.
        "[A-Za-z0-9_-]{10,40}\\.[A-Za-z0-9_-]{10,200}\\.[A-Za-z0-9_-]{10,90}",
    ]
}

#[derive(Debug, Clone)]
struct Case {
    access: String,
    refresh: String,
    expires: u64,
    refresh_expires: u64,
    body: String,
}

fn shuffled(fields: Vec<(String, String)>) -> impl Strategy<Value = Vec<(String, String)>> {
    Just(fields).prop_shuffle()
}

fn success_case() -> impl Strategy<Value = Case> {
    let token_type = select(vec![
        None,
        Some("\"Bearer\""),
        Some("\"bearer\""),
        Some("\"BEARER\""),
        Some("null"),
    ]);
    (
        token(),
        token(),
        lifetime(),
        lifetime(),
        token_type,
        extras(),
        extras(),
        extras(),
    )
        .prop_flat_map(
            |(access, refresh, (e, e_json), (r, r_json), tt, x_data, x_resp, x_top)| {
                let mut data = vec![
                    (key("accessToken"), serde_json::to_string(&access).unwrap()),
                    (
                        key("refreshToken"),
                        serde_json::to_string(&refresh).unwrap(),
                    ),
                    (key("expiresIn"), e_json),
                    (key("refreshExpiresIn"), r_json),
                ];
                if let Some(tt) = tt {
                    data.push((key("tokenType"), tt.to_owned()));
                }
                data.extend(x_data);
                (shuffled(data), Just((access, refresh, e, r, x_resp, x_top)))
            },
        )
        .prop_flat_map(|(data, (access, refresh, e, r, x_resp, x_top))| {
            let mut response = vec![(key("code"), key("SUCCESS")), (key("data"), object(&data))];
            response.extend(x_resp);
            (shuffled(response), Just((access, refresh, e, r, x_top)))
        })
        .prop_flat_map(|(response, (access, refresh, e, r, x_top))| {
            let mut top = vec![(key("response"), object(&response))];
            top.extend(x_top);
            (shuffled(top), Just((access, refresh, e, r)))
        })
        .prop_map(|(top, (access, refresh, expires, refresh_expires))| Case {
            access,
            refresh,
            expires,
            refresh_expires,
            body: object(&top),
        })
}

/// The seed answer, cut short or with one byte changed: bodies near the valid ones.
fn near_seed() -> impl Strategy<Value = Vec<u8>> {
    const SEED: &[u8] = include_bytes!("fixtures/seed_success.json");
    prop_oneof![
        (0..SEED.len()).prop_map(|n| SEED[..n].to_vec()),
        (0..SEED.len(), any::<u8>()).prop_map(|(i, b)| {
            let mut v = SEED.to_vec();
            v[i] = b;
            v
        }),
        (0..SEED.len(), 0..SEED.len()).prop_map(|(a, b)| {
            let (a, b) = (a.min(b), a.max(b));
            [&SEED[..a], &SEED[b..]].concat()
        }),
    ]
}

/// A `data` field: the good value, or one of the ways it goes wrong (`None`: left out).
#[derive(Debug, Clone)]
enum FieldValue {
    Good,
    Missing,
    Bad(&'static str),
}

fn token_field() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        6 => Just(FieldValue::Good),
        1 => Just(FieldValue::Missing),
        1 => select(vec!["null", r#""""#, r#"" ""#, r#""a b""#, r#""é""#, r#""\u0000""#, "7", "true", "[]", "{}"])
            .prop_map(FieldValue::Bad),
    ]
}

fn lifetime_field() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        6 => Just(FieldValue::Good),
        1 => Just(FieldValue::Missing),
        1 => select(vec!["null", "-1", "1.5", r#""""#, r#""1.0""#, r#""x""#, "31622401", "true", "[]"])
            .prop_map(FieldValue::Bad),
    ]
}

/// A 2xx body with no `code` (missing or `null`), whose fields may each be bad, and
/// whether all of them are good.
fn codeless_case() -> impl Strategy<Value = (Case, bool)> {
    (
        success_case(),
        token_field(),
        token_field(),
        lifetime_field(),
        lifetime_field(),
        any::<bool>(),
    )
        .prop_map(
            |(case, access, refresh, expires, refresh_expires, null_code)| {
                let mut v: serde_json::Value = serde_json::from_str(&case.body).unwrap();
                let response = v["response"].as_object_mut().unwrap();
                if null_code {
                    response.insert("code".into(), serde_json::Value::Null);
                } else {
                    response.remove("code");
                }
                let data = response["data"].as_object_mut().unwrap();
                let mut all_good = true;
                for (name, field) in [
                    ("accessToken", access),
                    ("refreshToken", refresh),
                    ("expiresIn", expires),
                    ("refreshExpiresIn", refresh_expires),
                ] {
                    match field {
                        FieldValue::Good => {}
                        FieldValue::Missing => {
                            data.remove(name);
                            all_good = false;
                        }
                        FieldValue::Bad(json) => {
                            data.insert(name.into(), serde_json::from_str(json).unwrap());
                            all_good = false;
                        }
                    }
                }
                let body = v.to_string();
                (Case { body, ..case }, all_good)
            },
        )
}

/// A secret shaped like prose (the heuristic does not see it) with punctuation that no
/// text of the parser's own holds.
/// Whether `text` shows `secret`: anywhere, or for a secret shorter than 8 characters
/// (redacted only as a whole word, not inside other words), where no letter, digit or
/// `_` touches it.
fn shows(text: &str, secret: &str) -> bool {
    if secret.chars().count() >= 8 {
        return text.contains(secret);
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(secret).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(word)
            && !text[at + secret.len()..].chars().next().is_some_and(word)
    })
}

fn prose_secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{2,10}[&!~][A-Za-z0-9&!~._-]{2,14}"
}

/// A path of words, as a server's message would name a file.
fn path_of_words() -> impl Strategy<Value = String> {
    // Words of four letters or more, as file and directory names have.
    let word = "[A-Z]?[a-z]{4,9}[0-9]{0,2}";
    let segment = prop::collection::vec(word, 1..4).prop_flat_map(|words| {
        (Just(words), select(vec!["-", "_", "."])).prop_map(|(w, sep)| w.join(sep))
    });
    (
        // At least one `/`: a path, not a bare name.
        prop::collection::vec(segment, 2..6),
        select(vec![".json", ".xml", "", ".properties"]),
    )
        .prop_map(|(segments, ext)| format!("{}{ext}", segments.join("/")))
}

proptest! {
    #[test]
    fn any_bytes_any_status_never_panic(status in 100u16..=599, body in prop::collection::vec(any::<u8>(), 0..512)) {
        let result = parse_token_response(&respond(status, body));
        check_outcome(status, &result);
    }

    #[test]
    fn any_text_any_status_never_panic(status in 100u16..=599, body in ".{0,300}") {
        let result = parse_token_response(&respond(status, body.into_bytes()));
        check_outcome(status, &result);
    }

    #[test]
    fn bodies_near_the_seed_never_panic(status in prop_oneof![Just(200u16), 100u16..=599], body in near_seed()) {
        let result = parse_token_response(&respond(status, body));
        check_outcome(status, &result);
    }

    #[test]
    fn valid_pairs_parse_back_to_themselves(case in success_case(), status in 200u16..300) {
        let pair = match parse_token_response(&respond(status, case.body.clone().into_bytes())) {
            Ok(pair) => pair,
            Err(e) => panic!("{}: {e:?}", case.body),
        };
        prop_assert_eq!(pair.access_token.secret(), case.access.as_str());
        prop_assert_eq!(pair.refresh_token.secret(), case.refresh.as_str());
        prop_assert_eq!(pair.expires_in, Duration::from_secs(case.expires));
        prop_assert_eq!(pair.refresh_expires_in, Duration::from_secs(case.refresh_expires));
        prop_assert_eq!(pair.token_type.as_str(), "Bearer");
        // And through `secret_json`, the same again.
        let again = format!(r#"{{"response":{{"code":"SUCCESS","data":{}}}}}"#, pair.secret_json());
        let again = parse_token_response(&respond(200, again.into_bytes())).unwrap();
        prop_assert!(again.access_token.same_secret(&pair.access_token));
        prop_assert!(again.refresh_token.same_secret(&pair.refresh_token));
        prop_assert_eq!(again.expires_in, pair.expires_in);
        prop_assert_eq!(again.refresh_expires_in, pair.refresh_expires_in);
    }

    #[test]
    fn a_valid_pair_under_an_error_status_is_never_a_token(case in success_case(), status in prop_oneof![100u16..200, 300u16..=599]) {
        let result = parse_token_response(&respond(status, case.body.into_bytes()));
        prop_assert!(result.is_err());
        check_outcome(status, &result);
    }

    #[test]
    fn a_token_in_any_answer_is_redacted_from_errors(
        token in "[A-Za-z0-9_-]{20,40}\\.[A-Za-z0-9_-]{20,60}\\.[A-Za-z0-9_-]{10,40}",
        before in ".{0,150}",
        after in ".{0,40}",
        status in 100u16..=599,
        shape in 0..4usize,
    ) {
        let echoed = format!("{before}{token}{after}");
        let body = match shape {
            0 => echoed,
            1 => format!(r#"{{"response":{{"code":"X","errors":[{{"key":"k","message":{}}}]}}}}"#, serde_json::to_string(&echoed).unwrap()),
            2 => format!(r#"{{"response":{{"code":{},"errors":[]}}}}"#, serde_json::to_string(&echoed).unwrap()),
            _ => format!(r#"{{"response":{{"code":{},"data":{{}}}}}}"#, serde_json::to_string(&echoed).unwrap()),
        };
        if let Err(e) = parse_token_response(&respond(status, body.into_bytes())) {
            let mut texts = vec![e.to_string()];
            if e.api().is_none() {
                texts.push(format!("{e:?}"));
            }
            for text in texts {
                for w in token.as_bytes().windows(24) {
                    let w = std::str::from_utf8(w).unwrap();
                    prop_assert!(!text.contains(w), "{} shows {}", text, w);
                }
            }
        }
    }

    #[test]
    fn a_pair_without_a_code_is_accepted_only_when_complete_and_valid(
        (case, all_good) in codeless_case(),
        status in 200u16..300,
    ) {
        let result = parse_token_response(&respond(status, case.body.clone().into_bytes()));
        check_outcome(status, &result);
        match result {
            Ok(pair) => {
                prop_assert!(all_good, "a bad pair accepted: {}", case.body);
                prop_assert_eq!(pair.access_token.secret(), case.access.as_str());
                prop_assert_eq!(pair.refresh_token.secret(), case.refresh.as_str());
                prop_assert_eq!(pair.expires_in, Duration::from_secs(case.expires));
                prop_assert_eq!(pair.refresh_expires_in, Duration::from_secs(case.refresh_expires));
            }
            Err(e) => {
                prop_assert!(!all_good, "a good pair refused: {} {:?}", case.body, e);
                let is_field_error = matches!(e, Error::InvalidField { .. });
                prop_assert!(is_field_error, "{:?}", e);
            }
        }
    }

    #[test]
    fn accepted_is_read_like_success(case in success_case(), status in 200u16..300) {
        let body = case.body.replacen(r#""SUCCESS""#, r#""ACCEPTED""#, 1);
        let pair = parse_token_response(&respond(status, body.into_bytes())).unwrap();
        prop_assert_eq!(pair.access_token.secret(), case.access.as_str());
        prop_assert_eq!(pair.refresh_token.secret(), case.refresh.as_str());
    }

    #[test]
    fn an_error_code_beside_a_valid_pair_is_never_a_token(
        case in success_case(),
        code in prop_oneof![
            select(vec!["VALIDATION_ERROR", "AUTHENTICATION_ERROR", "GENERAL_ERROR", "SERVICE_BUSY"]),
            select(vec!["success", "Success", "SUCCESS ", "OK", "NEW_CODE", ""]),
        ],
        entries in select(vec![
            None,
            Some(("errors", r#"[{"key":"k","message":"m"}]"#)),
            Some(("errors", r#"{"key":"k"}"#)),
            Some(("messages", r#"["m"]"#)),
        ]),
        status in 200u16..300,
    ) {
        let mut v: serde_json::Value = serde_json::from_str(&case.body).unwrap();
        let response = v["response"].as_object_mut().unwrap();
        // The entries are the ones added here: none among the extras.
        response.remove("errors");
        let data = response["data"].as_object_mut().unwrap();
        for field in ["errors", "messages", "key", "message"] {
            data.remove(field);
        }
        response.insert("code".into(), code.into());
        if let Some((field, json)) = entries {
            response.insert(field.into(), serde_json::from_str(json).unwrap());
        }
        let body = v.to_string();
        let result = parse_token_response(&respond(status, body.clone().into_bytes()));
        check_outcome(status, &result);
        let Err(e) = result else {
            return Err(TestCaseError::fail(format!("a token despite code {code:?}: {body}")));
        };
        let known = !matches!(ErrorCode::from(code), ErrorCode::Other(_));
        if known || entries.is_some() {
            let api = e.api().expect("the server's error");
            prop_assert_eq!(api.code.as_str(), code);
            prop_assert_eq!(api.errors.len(), usize::from(entries.is_some()));
        } else {
            let is_malformed = matches!(e, Error::MalformedSuccess { .. });
            prop_assert!(is_malformed, "{:?}", e);
        }
    }

    #[test]
    fn error_entries_in_any_shape_are_kept(
        shape in 0..6usize,
        key in "[a-z.]{1,12}",
        message in "[ -~]{1,30}",
        status in prop_oneof![200u16..300, 400u16..600],
    ) {
        let (k, m) = (serde_json::json!(key), serde_json::json!(message));
        let response = match shape {
            0 => format!(r#""errors":[{{"key":{k},"message":{m}}}]"#),
            1 => format!(r#""errors":{{"key":{k},"message":{m}}}"#),
            2 => format!(r#""messages":[{m}]"#),
            3 => format!(r#""data":{{"key":{k},"message":{m}}}"#),
            4 => format!(r#""data":[{{"key":{k},"message":{m}}}]"#),
            _ => format!(r#""data":{{"errors":[{{"key":{k},"message":{m}}}]}}"#),
        };
        let body = format!(r#"{{"response":{{"code":"VALIDATION_ERROR",{response}}}}}"#);
        let e = parse_token_response(&respond(status, body.into_bytes())).unwrap_err();
        let api = e.api().expect("an API error");
        prop_assert_eq!(api.errors.len(), 1);
        prop_assert_eq!(&api.errors[0].message, &message);
        if shape != 2 {
            prop_assert_eq!(&api.errors[0].key, &key);
        }
    }

    #[test]
    fn an_exact_secret_is_redacted_wherever_it_is_echoed(
        secret in prose_secret(),
        before in "[ -~]{0,60}",
        shape in 0..5usize,
        status in prop_oneof![200u16..300, 400u16..600],
    ) {
        let echoed = format!("{before}{secret}");
        let json = serde_json::json!(echoed);
        let body = match shape {
            0 => format!("<html><body><p>{echoed}</p></body></html>"),
            1 => format!(r#"{{"response":{{"code":"VALIDATION_ERROR","errors":[{{"key":"k","message":{json}}}]}}}}"#),
            2 => format!(r#"{{"response":{{"code":"VALIDATION_ERROR","errors":{{"key":{json},"details":{{"echo":{json}}}}}}}}}"#),
            3 => format!(r#"{{"response":{{"code":{json}}}}}"#),
            _ => format!("<pre>{json}</pre>"),
        };
        let Err(e) = parse_token_response(&respond(status, body.into_bytes())) else {
            return Err(TestCaseError::fail("a token from an echo"));
        };
        let e = e.redact_exact(&[&secret]);
        let mut texts = vec![e.to_string(), format!("{e:?}")];
        if let Some(api) = e.api() {
            texts.push(api.code.as_str().to_owned());
            for entry in &api.errors {
                texts.extend([entry.key.clone(), entry.message.clone(), entry.details.to_string()]);
            }
        }
        for text in texts {
            prop_assert!(!shows(&text, &secret), "{} in {}", secret, text);
        }
    }

    #[test]
    fn a_value_under_a_key_naming_a_secret_never_shows(
        name in select(vec!["accessToken", "refreshToken", "userSecret", "token", "X-Api-Token", "client_secret", "SECRET"]),
        // `~` is in no text of the parser's own, so the value cannot show by chance.
        value in "[A-Za-z0-9._-]{0,10}~[A-Za-z0-9._~-]{0,20}",
        form in 0..4usize,
        status in 400u16..600,
    ) {
        let pair = match form {
            0 => format!(r#"{{"{name}":"{value}"}}"#),
            1 => format!(r#"{{&quot;{name}&quot;:&quot;{value}&quot;}}"#),
            2 => format!(r#"{{\"{name}\": \"{value}\"}}"#),
            _ => format!("?{name}={value}&x=1"),
        };
        let body = format!("<html><h1>Bad Gateway</h1><pre>{pair}</pre></html>");
        let e = parse_token_response(&respond(status, body.into_bytes())).unwrap_err();
        for text in [e.to_string(), format!("{e:?}")] {
            prop_assert!(!text.contains(&value), "{} in {}", value, text);
        }
    }

    #[test]
    fn paths_of_words_stay_readable(path in path_of_words(), status in 400u16..600) {
        let message = format!("File not found: {path}");
        let body = format!(
            r#"{{"response":{{"code":"NOT_FOUND_ERROR","errors":[{{"key":"file.not.found","message":{}}}]}}}}"#,
            serde_json::json!(message)
        );
        let e = parse_token_response(&respond(status, body.into_bytes())).unwrap_err();
        prop_assert!(e.to_string().ends_with(&message), "{}", e);
    }

    #[test]
    fn refresh_bodies_round_trip_any_string(token in any::<String>(), base in base_url()) {
        let req = refresh_request(&base, &RefreshToken::new(token.as_str()));
        let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        prop_assert_eq!(v, serde_json::json!({"refreshToken": token}));
        prop_assert!(!req.body().iter().any(|b| *b < 0x20));
        prop_assert_eq!(req.uri().to_string(), format!("{}/auth-api/v2/authenticate/refresh", base));
    }

    #[test]
    fn authenticate_bodies_round_trip_any_strings(id in any::<String>(), secret in any::<String>(), base in base_url()) {
        let req = authenticate_request(&base, &Credentials::new(id.as_str(), secret.as_str()));
        let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        prop_assert_eq!(v, serde_json::json!({"userIdentifier": id, "userSecret": secret}));
        prop_assert!(!req.body().iter().any(|b| *b < 0x20));
        prop_assert_eq!(req.method(), "POST");
    }

    #[test]
    fn base_url_parse_never_panics(input in any::<String>()) {
        check_base(&input);
    }

    #[test]
    fn base_url_plain_http_is_loopback_only(input in url_like()) {
        check_base(&input);
    }
}

fn base_url() -> impl Strategy<Value = BaseUrl> {
    select(vec![
        "https://api.smartling.com",
        "https://gw.example/prefix/",
        "http://127.0.0.1:8080",
        "http://[::1]:1/a/b",
    ])
    .prop_map(|s| BaseUrl::parse(s).unwrap())
}

/// Strings shaped like URLs, from parts that are and are not loopback.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = select(vec![
        "http://", "HTTP://", "Http://", "https://", "http:/", "http:", "ftp://", "",
    ]);
    let userinfo = select(vec!["", "", "", "u@", "u:p@", "@", "127.0.0.1@"]);
    let host = prop_oneof![
        select(vec![
            "127.0.0.1",
            "127.255.255.254",
            "127.1",
            "127.0.0.1.",
            "127.0.0.1.evil",
            "0.0.0.0",
            "128.0.0.1",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "localhost.evil",
            "evillocalhost",
            "[::1]",
            "[::2]",
            "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]",
            "[::1]evil",
            "[::1",
            "::1",
            "2130706433",
            "0x7f.0.0.1",
            "api.smartling.com",
            "[fe80::1%25lo]",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9.\\[\\]:%@-]{0,20}",
    ];
    let port = prop_oneof![
        Just(String::new()),
        (0u32..100_000).prop_map(|p| format!(":{p}")),
        Just(":".to_owned())
    ];
    let rest = select(vec![
        "",
        "/",
        "/p/",
        "//",
        "?q",
        "#f",
        "/a b",
        "\\@evil.com",
        "@evil.com",
        "%2F",
        " ",
    ]);
    (scheme, userinfo, host, port, rest).prop_map(|(s, u, h, p, r)| format!("{s}{u}{h}{p}{r}"))
}

fn check_base(input: &str) {
    let Ok(base) = BaseUrl::parse(input) else {
        return;
    };
    let url = base.as_str();
    assert!(!url.ends_with('/'), "{input:?} -> {url}");
    let uri: http::Uri = url
        .parse()
        .unwrap_or_else(|e| panic!("{input:?} -> {url}: {e}"));
    assert!(
        uri.query().is_none() && !url.contains('#') && !url.contains('@'),
        "{input:?} -> {url}"
    );
    // A request can always be built on it.
    let req = refresh_request(&base, &RefreshToken::new("t"));
    assert!(
        req.uri()
            .to_string()
            .ends_with("/auth-api/v2/authenticate/refresh")
    );
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            let host = uri.host().unwrap();
            let loopback = host == "localhost"
                || host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .map_or_else(
                        || {
                            host.parse::<std::net::Ipv4Addr>()
                                .is_ok_and(|ip| ip.is_loopback())
                        },
                        |h| {
                            h.parse::<std::net::Ipv6Addr>()
                                .is_ok_and(|ip| ip.is_loopback())
                        },
                    );
            assert!(loopback, "{input:?} accepted as plain http to {host:?}");
        }
        other => panic!("{input:?} -> scheme {other:?}"),
    }
}
