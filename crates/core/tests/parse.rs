//! The response parser against the documented answers, every error code, and every
//! malformed shape we could think of.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use smartling_auth_core::{
    Error, TokenPair, TransportError, api::DEFAULT_MAX_BODY, api::MAX_LIFETIME, api::ParseOptions,
    api::parse_token_response_with, error::ApiError, error::ErrorCode, error::ErrorEntry,
    error::FieldProblem, error::Malformed, error::RetryAfter, error::TransportErrorKind,
    parse_token_response,
};

/// The example answer of the Refresh Authentication endpoint page, byte for byte.
const SEED: &[u8] = include_bytes!("fixtures/seed_success.json");

// The two JWTs of the seed, copied from the endpoint page independently of the fixture.
const SEED_ACCESS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJmYmExOTE5MC1lM2Q3LTQ3M2ItOGIzMC01NDg3MTNjMWNkMGUiLCJleHAiOjE0Nzc0NTE0NTUsIm5iZiI6MCwiaWF0IjoxNDc3NDUwOTc1LCJpc3MiOiJodHRwczovL3Nzby5zbWFydGxpbmcuY29tL2F1dGgvcmVhbG1zL1NtYXJ0bGluZyIsImF1ZCI6ImF1dGhlbnRpY2F0aW9uLXNlcnZpY2UiLCJzdWIiOiJlZjcxNTgzYy0xODZiLTQyZmUtOWU4OS0wYTI1ZDVjMjM0MWYiLCJ0eXAiOiJCZWFyZXIiLCJhenAiOiJhdXRoZW50aWNhdGlvbi1zZXJ2aWNlIiwic2Vzc2lvbl9zdGF0ZSI6IjVmYTEyNzczLTBkZjAtNDExMS04ZGY3LTZhYmNkNDQ4Njk4OSIsImNsaWVudF9zZXNzaW9uIjoiNDJiMmNiY2UtOTNiMi00ODM0LTg3OGYtMmE5ZjI0ZjZhMTA1IiwiYWxsb3dlZC1vcmlnaW5zIjpbXSwicmVhbG1fYWNjZXNzIjp7InJvbGVzIjpbIlJPTEVfQVBJX1VTRVIiLCJ1c2VyIl19LCJyZXNvdXJjZV9hY2Nlc3MiOnsiYWNjb3VudCI6eyJyb2xlcyI6WyJtYW5hZ2UtYWNjb3VudCIsInZpZXctcHJvZmlsZSJdfX0sInVpZCI6IjAwNzg4NmI2NjgxMyIsIm5hbWUiOiJQb3N0bWFuIFRva2VuIiwicHJlZmVycmVkX3VzZXJuYW1lIjoiYXBpOmdmdm5oaGFpd3R2YmxmdmFncm9vbHNxZ3hycHlteiIsImVtYWlsIjoiYXBpVXNlcithY2NvdW50KzRiYzVjZWZhQHNtYXJ0bGluZy5jb20ifQ.e5z7taFefXx87TOhte2asn6b-GLb0mweJW6fCyxlhLXw_4Cf_k4R_4iEo2ZuSS9-6s__C3M5I__q77MtHBQoJjML8-rrvA4-rdlWu2XC5IraKX-2XmZnmWxYTZUvZ0Y82dC_Kdgv7cSaLds5hAEa1MfsC_tTsb0XR_gCCEcOWqg";
const SEED_REFRESH: &str = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiI5NjQzOThmNi03MTJlLTQyZDItOGVjNC1kNWUwMzEzZTgxZjUiLCJleHAiOjE0Nzc0NTQ2MzUsIm5iZiI6MCwiaWF0IjoxNDc3NDUwOTc1LCJpc3MiOiJodHRwczovL3Nzby5zbWFydGxpbmcuY29tL2F1dGgvcmVhbG1zL1NtYXJ0bGluZyIsInN1YiI6ImVmNzE1ODNjLTE4NmItNDJmZS05ZTg5LTBhMjVkNWMyMzQxZiIsInR5cCI6IlJlZnJlc2giLCJhenAiOiJhdXRoZW50aWNhdGlvbi1zZXJ2aWNlIiwic2Vzc2lvbl9zdGF0ZSI6IjVmYTEyNzczLTBkZjAtNDExMS04ZGY3LTZhYmNkNDQ4Njk4OSIsImNsaWVudF9zZXNzaW9uIjoiNDJiMmNiY2UtOTNiMi00ODM0LTg3OGYtMmE5ZjI0ZjZhMTA1IiwicmVhbG1fYWNjZXNzIjp7InJvbGVzIjpbIlJPTEVfQVBJX1VTRVIiLCJ1c2VyIl19LCJyZXNvdXJjZV9hY2Nlc3MiOnsiYWNjb3VudCI6eyJyb2xlcyI6WyJtYW5hZ2UtYWNjb3VudCIsInZpZXctcHJvZmlsZSJdfX19.fgWAVI66vO7UK9DfMEf8Azna-mVECT9eSMYe3Rr6Bf73Ux56UO-X2YZGgHn8mzfWFi9LPFDZjp1kossmePp_cG2ZAqDdtZ_zWqp1HCipz955mNLAPITVrpyrAAEqCFO59qrAaGDd6Yi9gFhZNKwe4xigSdOQ2szXTvKAdqu7vKc";

fn respond<B>(status: u16, body: B) -> http::Response<B> {
    http::Response::builder().status(status).body(body).unwrap()
}

fn parse(status: u16, body: impl AsRef<[u8]>) -> Result<TokenPair, Error> {
    parse_token_response(&respond(status, body.as_ref()))
}

fn parse_with_headers(
    status: u16,
    headers: &[(&str, &str)],
    body: impl AsRef<[u8]>,
) -> Result<TokenPair, Error> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    parse_token_response(&b.body(body.as_ref()).unwrap())
}

/// The five fields of a good `data` object, as JSON text.
const GOOD: [(&str, &str); 5] = [
    ("accessToken", r#""a.b.c""#),
    ("refreshToken", r#""d.e.f""#),
    ("expiresIn", "480"),
    ("refreshExpiresIn", "3660"),
    ("tokenType", r#""Bearer""#),
];

fn success_with_data(data: &str) -> String {
    format!(r#"{{"response":{{"code":"SUCCESS","data":{data}}}}}"#)
}

/// A success answer whose `field` is replaced by the JSON text `value`, or left out.
fn data_with(field: &str, value: Option<&str>) -> String {
    assert!(
        GOOD.iter().any(|(k, _)| *k == field),
        "unknown field {field}"
    );
    let fields: Vec<String> = GOOD
        .iter()
        .filter_map(|(k, v)| {
            let v = if *k == field { value? } else { v };
            Some(format!("\"{k}\":{v}"))
        })
        .collect();
    success_with_data(&format!("{{{}}}", fields.join(",")))
}

fn ok_with(field: &str, value: Option<&str>) -> TokenPair {
    match parse(200, data_with(field, value)) {
        Ok(pair) => pair,
        Err(e) => panic!("{field} = {value:?}: {e:?}"),
    }
}

/// The field error for `field` set to `value`; asserts it names that field.
fn field_problem(field: &str, value: Option<&str>) -> FieldProblem {
    match parse(200, data_with(field, value)) {
        Err(Error::InvalidField {
            status,
            field: named,
            problem,
        }) => {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(named, field, "value {value:?}");
            problem
        }
        other => panic!("{field} = {value:?}: expected InvalidField, got {other:?}"),
    }
}

fn malformed(status: u16, body: impl AsRef<[u8]>) -> Malformed {
    let body = body.as_ref();
    match parse(status, body) {
        Err(Error::MalformedSuccess { status: s, problem }) => {
            assert_eq!(s.as_u16(), status);
            problem
        }
        other => panic!(
            "{:?}: expected MalformedSuccess, got {other:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

fn api_error(status: u16, body: &str) -> ApiError {
    match parse(status, body) {
        Err(Error::Api(api)) => *api,
        other => panic!("{body}: expected Api, got {other:?}"),
    }
}

struct Unexpected {
    status: StatusCode,
    problem: &'static str,
    excerpt: String,
    retry_after: Option<RetryAfter>,
    display: String,
}

fn unexpected_of(result: Result<TokenPair, Error>) -> Unexpected {
    let err = match result {
        Err(e) => e,
        Ok(_) => panic!("expected UnexpectedResponse, got a token pair"),
    };
    let display = err.to_string();
    match err {
        Error::UnexpectedResponse {
            status,
            problem,
            excerpt,
            retry_after,
        } => Unexpected {
            status,
            problem,
            excerpt,
            retry_after,
            display,
        },
        other => panic!("expected UnexpectedResponse, got {other:?}"),
    }
}

fn unexpected(status: u16, body: impl AsRef<[u8]>) -> Unexpected {
    let u = unexpected_of(parse(status, body));
    assert_eq!(u.status.as_u16(), status);
    u
}

fn seed_str() -> &'static str {
    std::str::from_utf8(SEED).unwrap()
}

// ---------------------------------------------------------------------------------------
// The seed

#[test]
fn seed_example_parses_to_its_five_fields() {
    let pair = parse_token_response(&respond(200, SEED)).unwrap();
    assert_eq!(pair.access_token.secret(), SEED_ACCESS);
    assert_eq!(pair.refresh_token.secret(), SEED_REFRESH);
    assert_eq!(pair.expires_in, Duration::from_secs(480));
    assert_eq!(pair.refresh_expires_in, Duration::from_secs(3660));
    assert_eq!(pair.token_type.as_str(), "Bearer");
    assert_eq!(pair.token_type.to_string(), "Bearer");
}

#[test]
fn the_fixture_is_the_endpoint_pages_example() {
    // The fixture is pretty-printed JSON with the page's JWTs; nothing else in it.
    let v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
    assert_eq!(v["response"]["code"], "SUCCESS");
    assert_eq!(v["response"]["data"]["accessToken"], SEED_ACCESS);
    assert_eq!(v["response"]["data"]["refreshToken"], SEED_REFRESH);
    assert_eq!(v["response"]["data"]["expiresIn"], 480);
    assert_eq!(v["response"]["data"]["refreshExpiresIn"], 3660);
    assert_eq!(v["response"]["data"]["tokenType"], "Bearer");
    assert_eq!(v["response"]["data"].as_object().unwrap().len(), 5);
    assert!(SEED_ACCESS.starts_with("eyJhbGciOiJSUzI1NiJ9.") && SEED_ACCESS.len() > 1000);
    assert!(SEED_REFRESH.starts_with("eyJhbGciOiJSUzI1NiJ9.") && SEED_REFRESH.len() > 800);
}

#[test]
fn any_body_type_and_any_2xx_status_parses_the_seed() {
    for status in [200, 201, 202, 203, 299] {
        let pair = parse(status, SEED).unwrap();
        assert_eq!(pair.access_token.secret(), SEED_ACCESS, "{status}");
    }
    let owned: http::Response<Vec<u8>> = respond(200, SEED.to_vec());
    let text: http::Response<&str> = respond(200, seed_str());
    let string: http::Response<String> = respond(200, seed_str().to_owned());
    for pair in [
        parse_token_response(&owned),
        parse_token_response(&text),
        parse_token_response(&string),
    ] {
        assert_eq!(pair.unwrap().refresh_token.secret(), SEED_REFRESH);
    }
}

#[test]
fn the_seed_minified_and_with_crlf_and_tabs_parses_the_same() {
    let v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
    let minified = serde_json::to_vec(&v).unwrap();
    let crlf = seed_str().replace('\n', "\r\n").replace("  ", "\t");
    for body in [minified, crlf.into_bytes()] {
        let pair = parse(200, &body).unwrap();
        assert_eq!(pair.access_token.secret(), SEED_ACCESS);
        assert_eq!(pair.expires_in.as_secs(), 480);
    }
}

#[test]
fn secret_json_round_trips_through_the_parser() {
    let pair = parse(200, SEED).unwrap();
    let again = parse(200, success_with_data(&pair.secret_json())).unwrap();
    assert!(again.access_token.same_secret(&pair.access_token));
    assert!(again.refresh_token.same_secret(&pair.refresh_token));
    assert_eq!(again.expires_in, pair.expires_in);
    assert_eq!(again.refresh_expires_in, pair.refresh_expires_in);
    assert_eq!(again.token_type, pair.token_type);
}

// ---------------------------------------------------------------------------------------
// Error envelopes

#[test]
fn every_documented_error_code_becomes_a_typed_api_error() {
    let cases = [
        (400, "VALIDATION_ERROR", ErrorCode::ValidationError),
        (401, "AUTHENTICATION_ERROR", ErrorCode::AuthenticationError),
        (401, "AUTHORIZATION_ERROR", ErrorCode::AuthorizationError),
        (403, "AUTHORIZATION_ERROR", ErrorCode::AuthorizationError),
        (404, "NOT_FOUND_ERROR", ErrorCode::NotFoundError),
        (404, "GENERAL_ERROR", ErrorCode::GeneralError),
        (404, "VALIDATION_ERROR", ErrorCode::ValidationError),
        (423, "RESOURCE_LOCKED", ErrorCode::ResourceLocked),
        (
            429,
            "MAX_OPERATIONS_LIMIT_EXCEEDED",
            ErrorCode::MaxOperationsLimitExceeded,
        ),
        (500, "GENERAL_ERROR", ErrorCode::GeneralError),
        (
            503,
            "MAINTENANCE_MODE_ERROR",
            ErrorCode::MaintenanceModeError,
        ),
        (403, "ACCESS_DENIED_ERROR", ErrorCode::AccessDeniedError),
        (503, "SERVICE_BUSY", ErrorCode::ServiceBusy),
        (409, "CONFLICT", ErrorCode::Conflict),
        (410, "GONE", ErrorCode::Gone),
    ];
    for (status, code, expected) in cases {
        let body = format!(
            r#"{{"response":{{"code":"{code}","errors":[{{"key":"some_key","message":"Some message.","details":{{"field":"x"}}}}]}}}}"#
        );
        let err = parse(status, &body).unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        let api = err.api().unwrap_or_else(|| panic!("{code}: {err:?}"));
        assert_eq!(api.status.as_u16(), status, "{code}");
        assert_eq!(api.code, expected, "{code}");
        assert_eq!(api.code.as_str(), code);
        assert_eq!(ErrorCode::from(code), expected);
        assert_eq!(
            api.errors,
            vec![ErrorEntry::new(
                "some_key",
                "Some message.",
                serde_json::json!({"field": "x"})
            )]
        );
        assert_eq!(api.retry_after, None);
        assert!(
            err.to_string().starts_with(&format!("HTTP {status} ")),
            "{err}"
        );
        assert!(
            err.to_string().ends_with(": some_key: Some message."),
            "{err}"
        );
        assert!(matches!(err, Error::Api(_)));
    }
}

const ALL_CODES: [&str; 12] = [
    "VALIDATION_ERROR",
    "AUTHENTICATION_ERROR",
    "AUTHORIZATION_ERROR",
    "NOT_FOUND_ERROR",
    "RESOURCE_LOCKED",
    "MAX_OPERATIONS_LIMIT_EXCEEDED",
    "GENERAL_ERROR",
    "MAINTENANCE_MODE_ERROR",
    "ACCESS_DENIED_ERROR",
    "SERVICE_BUSY",
    "CONFLICT",
    "GONE",
];

#[test]
fn short_known_codes_display_as_themselves() {
    for code in ALL_CODES.into_iter().filter(|c| c.len() < 24) {
        assert_eq!(ErrorCode::from(code).to_string(), code);
        let err = parse(400, envelope(code)).unwrap_err();
        assert_eq!(err.to_string(), format!("HTTP 400 {code}: k: m"));
    }
}

#[test]
fn every_known_code_displays_as_itself() {
    for code in ALL_CODES {
        assert_eq!(ErrorCode::from(code).to_string(), code);
        let err = parse(429, envelope(code)).unwrap_err();
        assert_eq!(err.to_string(), format!("HTTP 429 {code}: k: m"));
    }
}

#[test]
fn the_documented_401_example_is_parsed_in_full() {
    let body = r#"{"response": {"code": "AUTHENTICATION_ERROR", "errors": [
      {"key": "invalid_token", "message": "Invalid token", "details": {}}]}}"#;
    let api = api_error(401, body);
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.code, ErrorCode::AuthenticationError);
    assert_eq!(api.errors.len(), 1);
    assert_eq!(api.errors[0].key, "invalid_token");
    assert_eq!(api.errors[0].message, "Invalid token");
    assert_eq!(api.errors[0].details, serde_json::json!({}));
    assert_eq!(api.errors[0].error_id(), None);
}

#[test]
fn a_429_carries_details_error_id() {
    let body = r#"{"response":{"code":"MAX_OPERATIONS_LIMIT_EXCEEDED","errors":[{"key":"too.many.requests","message":"Too many requests","details":{"errorId":"a1b2c3d4-e5f6"}}]}}"#;
    let err = parse(429, body).unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.code, ErrorCode::MaxOperationsLimitExceeded);
    assert_eq!(api.errors[0].error_id(), Some("a1b2c3d4-e5f6"));
    assert_eq!(api.errors[0].details["errorId"], "a1b2c3d4-e5f6");
    assert!(err.is_retryable());
}

#[test]
fn a_validation_error_carries_details_error_id() {
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[{"key":"invalid_parameter","message":"refreshToken is required","details":{"field":"refreshToken","errorId":"0f1e2d"}}]}}"#;
    let api = api_error(400, body);
    assert_eq!(api.code, ErrorCode::ValidationError);
    assert_eq!(api.errors[0].error_id(), Some("0f1e2d"));
    assert_eq!(api.errors[0].details["field"], "refreshToken");
}

#[test]
fn unknown_codes_are_kept_verbatim() {
    for code in [
        "SOME_NEW_CODE",
        "validation_error",
        "Validation_Error",
        "ACCEPTED",
        "SUCCESS",
        "",
        " GENERAL_ERROR ",
        "üñíçødé",
    ] {
        let body = format!(r#"{{"response":{{"code":{}}}}}"#, serde_json::json!(code));
        let api = api_error(418, &body);
        assert_eq!(api.code, ErrorCode::Other(code.to_owned()), "{code:?}");
        assert_eq!(api.code.as_str(), code);
        assert!(api.errors.is_empty());
    }
}

#[test]
fn details_in_every_shape() {
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[
        {"key":"obj","message":"m1","details":{"errorId":"e1","nested":{"a":[1,2]}}},
        {"key":"null","message":"m2","details":null},
        {"key":"missing","message":"m3"},
        {"key":"string","message":"m4","details":"Some details as a string"},
        {"key":"array","message":"m5","details":[1,"two"]},
        {"key":"number","message":"m6","details":7}
    ]}}"#;
    let api = api_error(400, body);
    let expected = vec![
        ErrorEntry::new(
            "obj",
            "m1",
            serde_json::json!({"errorId":"e1","nested":{"a":[1,2]}}),
        ),
        ErrorEntry::new("null", "m2", serde_json::Value::Null),
        ErrorEntry::new("missing", "m3", serde_json::Value::Null),
        ErrorEntry::new(
            "string",
            "m4",
            serde_json::Value::String("Some details as a string".into()),
        ),
        ErrorEntry::new("array", "m5", serde_json::json!([1, "two"])),
        ErrorEntry::new("number", "m6", serde_json::json!(7)),
    ];
    assert_eq!(api.errors, expected);
    assert_eq!(api.errors[0].error_id(), Some("e1"));
    for e in &api.errors[1..] {
        assert_eq!(e.error_id(), None, "{}", e.key);
    }
    assert_eq!(
        api.to_string(),
        "HTTP 400 VALIDATION_ERROR: obj: m1; null: m2; missing: m3; string: m4; array: m5; number: m6"
    );
}

#[test]
fn odd_errors_lists_are_kept_not_dropped() {
    // Non-object entries and non-string keys/messages are kept as their JSON text.
    let body = r#"{"response":{"code":"GENERAL_ERROR","errors":[
        "just a string", 42, {"key": 7, "message": {"text":"nested"}}, {"message":"no key"}, {"key":"no message"}, {}
    ]}}"#;
    let api = api_error(500, body);
    assert_eq!(api.errors.len(), 6);
    assert_eq!(api.errors[0].key, "");
    assert_eq!(api.errors[0].message, r#""just a string""#);
    assert_eq!(api.errors[1].message, "42");
    assert_eq!(api.errors[2].key, "7");
    assert_eq!(api.errors[2].message, r#"{"text":"nested"}"#);
    assert_eq!(
        (api.errors[3].key.as_str(), api.errors[3].message.as_str()),
        ("", "no key")
    );
    assert_eq!(
        (api.errors[4].key.as_str(), api.errors[4].message.as_str()),
        ("no message", "")
    );
    assert_eq!(
        api.errors[5],
        ErrorEntry::new("", "", serde_json::Value::Null)
    );

    for errors in ["[]", "null", "{}", r#""oops""#, "5"] {
        let body = format!(r#"{{"response":{{"code":"GENERAL_ERROR","errors":{errors}}}}}"#);
        let api = api_error(500, &body);
        assert!(api.errors.is_empty(), "{errors}");
        assert_eq!(api.to_string(), "HTTP 500 GENERAL_ERROR");
    }
    let api = api_error(500, r#"{"response":{"code":"GENERAL_ERROR"}}"#);
    assert!(api.errors.is_empty());
}

#[test]
fn an_error_envelope_with_unknown_fields_and_data_is_still_an_api_error() {
    let body = r#"{"meta":{"x":1},"response":{"extra":[1,{"a":null}],"code":"AUTHENTICATION_ERROR",
        "data":null,"errors":[{"key":"invalid_token","message":"Invalid token","details":{},"more":true}]},"trailer":"t"}"#;
    let api = api_error(401, body);
    assert_eq!(api.code, ErrorCode::AuthenticationError);
    assert_eq!(api.errors[0].key, "invalid_token");
}

#[test]
fn an_error_envelope_with_escapes_is_decoded() {
    let body = r#"{"response":{"code":"VALIDATION\u005fERROR","errors":[{"key":"k\"q","message":"line1\nline2 \u00e9"}]}}"#;
    let api = api_error(400, body);
    assert_eq!(api.code, ErrorCode::ValidationError);
    assert_eq!(api.errors[0].key, "k\"q");
    assert_eq!(api.errors[0].message, "line1\nline2 é");
    // Display escapes the control character.
    let shown = api.to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert!(shown.contains("line1\\nline2 é"), "{shown}");
}

#[test]
fn smartlings_documented_errors_object_is_one_entry() {
    // Smartling's published spec shows `errors` as a single object.
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":{"key":"unknown.field","message":"The field unknown.parameter was not expected.","details":"unknown.parameter"}}}"#;
    let api = api_error(400, body);
    assert_eq!(api.code, ErrorCode::ValidationError);
    assert_eq!(
        api.errors,
        [ErrorEntry::new(
            "unknown.field",
            "The field unknown.parameter was not expected.",
            serde_json::json!("unknown.parameter")
        )]
    );
    assert_eq!(
        api.to_string(),
        "HTTP 400 VALIDATION_ERROR: unknown.field: The field unknown.parameter was not expected."
    );
    // An empty object says nothing.
    assert!(
        api_error(
            400,
            r#"{"response":{"code":"VALIDATION_ERROR","errors":{}}}"#
        )
        .errors
        .is_empty()
    );
}

#[test]
fn entries_under_data_are_kept() {
    let one = ErrorEntry::new("k", "m", serde_json::json!({"errorId": "e1"}));
    for data in [
        r#"{"key":"k","message":"m","details":{"errorId":"e1"}}"#,
        r#"[{"key":"k","message":"m","details":{"errorId":"e1"}}]"#,
        r#"[{"key":"k","message":"m","details":{"errorId":"e1"}}, 5, "x", {"other":1}]"#,
        r#"{"errors":[{"key":"k","message":"m","details":{"errorId":"e1"}}]}"#,
        r#"{"errors":{"key":"k","message":"m","details":{"errorId":"e1"}}}"#,
    ] {
        let body = format!(r#"{{"response":{{"code":"VALIDATION_ERROR","data":{data}}}}}"#);
        let api = api_error(400, &body);
        assert_eq!(api.errors, std::slice::from_ref(&one), "{data}");
    }
    let api = api_error(
        401,
        r#"{"response":{"code":"AUTHENTICATION_ERROR","data":{"messages":["Invalid token"]}}}"#,
    );
    assert_eq!(
        api.errors,
        [ErrorEntry::new(
            "",
            "Invalid token",
            serde_json::Value::Null
        )]
    );
    // `errors` wins when it has entries; `data` without entries adds none.
    let api = api_error(
        400,
        r#"{"response":{"code":"VALIDATION_ERROR","errors":[{"key":"a"}],"data":{"key":"b"}}}"#,
    );
    assert_eq!(api.errors.len(), 1);
    assert_eq!(api.errors[0].key, "a");
    for data in [
        "null",
        "{}",
        r#"{"key":null,"message":null}"#,
        r#"{"accessToken":"a","refreshToken":"r"}"#,
        "[1,2]",
        r#""text""#,
    ] {
        let body = format!(r#"{{"response":{{"code":"GENERAL_ERROR","data":{data}}}}}"#);
        assert!(api_error(500, &body).errors.is_empty(), "{data}");
    }
    // A repeated key inside `data` is no reason to lose the envelope: the last one wins.
    let api = api_error(
        400,
        r#"{"response":{"code":"VALIDATION_ERROR","data":{"key":"a","key":"b"}}}"#,
    );
    assert_eq!(api.errors[0].key, "b");
}

#[test]
fn the_older_messages_list_is_kept() {
    let api = api_error(
        400,
        r#"{"response":{"code":"VALIDATION_ERROR","messages":["refreshToken is required", {"key":"k","message":"m"}, 7]}}"#,
    );
    assert_eq!(
        api.errors,
        [
            ErrorEntry::new("", "refreshToken is required", serde_json::Value::Null),
            ErrorEntry::new("k", "m", serde_json::Value::Null),
            ErrorEntry::new("", "7", serde_json::Value::Null),
        ]
    );
    let api = api_error(
        401,
        r#"{"response":{"code":"AUTHENTICATION_ERROR","messages":"Invalid token"}}"#,
    );
    assert_eq!(api.errors[0].message, "Invalid token");
    for messages in ["[]", r#""""#, "null", "{}"] {
        let body = format!(r#"{{"response":{{"code":"GENERAL_ERROR","messages":{messages}}}}}"#);
        assert!(api_error(500, &body).errors.is_empty(), "{messages}");
    }
}

#[test]
fn an_entry_prints_only_the_parts_it_has() {
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[{"key":null,"message":null}]}}"#;
    assert_eq!(
        parse(401, body).unwrap_err().to_string(),
        "HTTP 401 VALIDATION_ERROR"
    );
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[{}]}}"#;
    assert_eq!(
        parse(401, body).unwrap_err().to_string(),
        "HTTP 401 VALIDATION_ERROR"
    );
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[
        {"key":null,"message":null}, {"key":"only.key"}, {"message":"only a message"},
        {"key":"", "message":"  "}, {"key":"k","message":"m"}, {"details":{"a":1}}]}}"#;
    assert_eq!(
        parse(401, body).unwrap_err().to_string(),
        "HTTP 401 VALIDATION_ERROR: only.key; only a message; k: m"
    );
    let body = r#"{"response":{"code":"GENERAL_ERROR","errors":{"message":"Try later"}}}"#;
    assert_eq!(
        parse(500, body).unwrap_err().to_string(),
        "HTTP 500 GENERAL_ERROR: Try later"
    );
}

#[test]
fn a_success_envelope_under_an_error_status_is_an_error() {
    // A 500 that carries a success body is still a failure: no token comes out of it.
    let api = api_error(500, seed_str());
    assert_eq!(api.code, ErrorCode::Other("SUCCESS".into()));
    assert!(api.errors.is_empty());
    let shown = Error::from(api).to_string();
    assert!(!shown.contains("eyJ"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Lifetimes

const DURATION_FIELDS: [&str; 2] = ["expiresIn", "refreshExpiresIn"];

fn lifetime_of(pair: &TokenPair, field: &str) -> Duration {
    if field == "expiresIn" {
        pair.expires_in
    } else {
        pair.refresh_expires_in
    }
}

#[test]
fn lifetimes_as_integers_and_digit_strings_are_accepted() {
    let max = MAX_LIFETIME.as_secs();
    let max_s = max.to_string();
    let max_q = format!("\"{max}\"");
    for field in DURATION_FIELDS {
        for (json, secs) in [
            ("480", 480),
            ("\"480\"", 480),
            ("3660", 3660),
            ("\"3660\"", 3660),
            ("0", 0),
            ("\"0\"", 0),
            ("\"000480\"", 480),
            ("1", 1),
            (max_s.as_str(), max),
            (max_q.as_str(), max),
        ] {
            let pair = ok_with(field, Some(json));
            assert_eq!(
                lifetime_of(&pair, field),
                Duration::from_secs(secs),
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn negative_lifetimes_are_refused() {
    for field in DURATION_FIELDS {
        for json in [
            "-5",
            "\"-5\"",
            "-1",
            "\"-1\"",
            "-480.5",
            "-9223372036854775808",
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                FieldProblem::Negative,
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn fractional_lifetimes_are_refused() {
    for field in DURATION_FIELDS {
        for json in [
            "480.5",
            "\"480.5\"",
            "0.5",
            "\"0.5\"",
            "480.0",
            "4.805e2",
            "1e-3",
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                FieldProblem::Fractional,
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn huge_lifetimes_are_refused_as_too_large() {
    let too_large = FieldProblem::TooLarge {
        max_secs: MAX_LIFETIME.as_secs(),
    };
    let above = (MAX_LIFETIME.as_secs() + 1).to_string();
    let above_q = format!("\"{above}\"");
    for field in DURATION_FIELDS {
        for json in [
            above.as_str(),
            above_q.as_str(),
            "18446744073709551615", // u64::MAX
            "\"18446744073709551615\"",
            "\"18446744073709551616\"", // u64::MAX + 1, as a string
            "\"99999999999999999999999999999999999999\"",
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                too_large,
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn an_integer_beyond_u64_is_too_large_not_fractional() {
    let too_large = FieldProblem::TooLarge {
        max_secs: MAX_LIFETIME.as_secs(),
    };
    for field in DURATION_FIELDS {
        for json in [
            "18446744073709551616",
            "99999999999999999999999999999999999999",
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                too_large,
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn lifetime_strings_that_are_not_digits_are_refused() {
    for field in DURATION_FIELDS {
        assert_eq!(
            field_problem(field, Some("\"\"")),
            FieldProblem::Empty,
            "{field}"
        );
        for json in [
            "\" 480\"",
            "\"480 \"",
            "\"4 80\"",
            "\"+480\"",
            "\"480s\"",
            "\"0x1E0\"",
            "\"1e3\"",
            "\"abc\"",
            "\"-\"",
            "\"\\u0664\\u0668\\u0660\"", // Arabic-Indic digits
            "\"４８０\"",                // full-width digits
            "\"480\\n\"",
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                FieldProblem::NotDigits,
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn lifetimes_of_the_wrong_type_are_refused() {
    for field in DURATION_FIELDS {
        for (json, found) in [
            ("true", "boolean"),
            ("false", "boolean"),
            ("[480]", "array"),
            ("[]", "array"),
            ("{\"secs\":480}", "object"),
            ("{}", "object"),
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                FieldProblem::WrongType { found },
                "{field} = {json}"
            );
        }
        assert_eq!(
            field_problem(field, Some("null")),
            FieldProblem::Missing,
            "{field}"
        );
        assert_eq!(field_problem(field, None), FieldProblem::Missing, "{field}");
    }
}

// ---------------------------------------------------------------------------------------
// Tokens

const TOKEN_FIELDS: [&str; 2] = ["accessToken", "refreshToken"];

#[test]
fn each_missing_field_is_named() {
    for field in [
        "accessToken",
        "refreshToken",
        "expiresIn",
        "refreshExpiresIn",
    ] {
        let err = parse(200, data_with(field, None)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidField { field: f, problem: FieldProblem::Missing, .. } if f == field),
            "{field}: {err:?}"
        );
        assert!(
            err.to_string().contains(&format!("`{field}` is missing")),
            "{err}"
        );
        assert!(!err.is_retryable());
        assert_eq!(err.status(), Some(StatusCode::OK));
    }
}

#[test]
fn empty_and_null_tokens_are_refused() {
    for field in TOKEN_FIELDS {
        assert_eq!(field_problem(field, Some("\"\"")), FieldProblem::Empty);
        assert_eq!(field_problem(field, Some("null")), FieldProblem::Missing);
    }
}

#[test]
fn tokens_that_cannot_go_into_a_header_are_refused() {
    for field in TOKEN_FIELDS {
        for json in [
            r#""a b""#,
            r#"" abc""#,
            r#""abc ""#,
            r#""a\tb""#,
            r#""a\nb""#,
            r#""abc\r\n""#,
            r#""a\u0000b""#,
            r#""a\u001fb""#,
            r#""a\u007fb""#,
            r#""tök\u00e9n""#,
            "\"tökén\"",
            "\"トークン\"",
            "\"token😀\"",
            r#""a\u00a0b""#,
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                FieldProblem::InvalidCharacters,
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn tokens_of_the_wrong_type_are_refused() {
    for field in TOKEN_FIELDS {
        for (json, found) in [
            ("42", "number"),
            ("-1", "number"),
            ("1.5", "number"),
            ("true", "boolean"),
            ("[\"a\"]", "array"),
            ("{\"jwt\":\"a\"}", "object"),
        ] {
            assert_eq!(
                field_problem(field, Some(json)),
                FieldProblem::WrongType { found },
                "{field} = {json}"
            );
        }
    }
}

#[test]
fn tokens_with_json_escapes_are_decoded() {
    let pair = ok_with("accessToken", Some(r#""a\/b\u0041\"c\\d""#));
    assert_eq!(pair.access_token.secret(), "a/bA\"c\\d");
    let pair = ok_with("refreshToken", Some(r#""\u0065yJ.x-y_z~!""#));
    assert_eq!(pair.refresh_token.secret(), "eyJ.x-y_z~!");
}

#[test]
fn every_visible_ascii_character_is_allowed_in_a_token() {
    let all: String = (0x21u8..=0x7e).map(char::from).collect();
    let json = serde_json::to_string(&all).unwrap();
    for field in TOKEN_FIELDS {
        let pair = ok_with(field, Some(&json));
        let got = if field == "accessToken" {
            pair.access_token.secret().to_owned()
        } else {
            pair.refresh_token.secret().to_owned()
        };
        assert_eq!(got, all);
    }
}

// ---------------------------------------------------------------------------------------
// Token type

#[test]
fn token_type_missing_or_null_means_bearer() {
    assert_eq!(ok_with("tokenType", None).token_type.as_str(), "Bearer");
    assert_eq!(
        ok_with("tokenType", Some("null")).token_type.as_str(),
        "Bearer"
    );
}

#[test]
fn token_type_bearer_in_any_case_is_normalised() {
    for json in [r#""bearer""#, r#""BEARER""#, r#""BeArEr""#, r#""Bearer""#] {
        let pair = ok_with("tokenType", Some(json));
        assert_eq!(pair.token_type.as_str(), "Bearer", "{json}");
        assert_eq!(
            pair.token_type,
            smartling_auth_core::api::TokenType::bearer()
        );
    }
}

#[test]
fn other_token_types_are_kept() {
    for name in ["MAC", "DPoP", "bearer2", "N_A"] {
        let pair = ok_with("tokenType", Some(&format!("\"{name}\"")));
        assert_eq!(pair.token_type.as_str(), name);
        assert_eq!(pair.token_type.to_string(), name);
    }
}

#[test]
fn bad_token_types_are_refused() {
    assert_eq!(
        field_problem("tokenType", Some("\"\"")),
        FieldProblem::Empty
    );
    assert_eq!(
        field_problem("tokenType", Some("\"Bearer x\"")),
        FieldProblem::InvalidCharacters
    );
    assert_eq!(
        field_problem("tokenType", Some("\"Bear\\ner\"")),
        FieldProblem::InvalidCharacters
    );
    for (json, found) in [
        ("1", "number"),
        ("true", "boolean"),
        ("[]", "array"),
        ("{}", "object"),
    ] {
        assert_eq!(
            field_problem("tokenType", Some(json)),
            FieldProblem::WrongType { found }
        );
    }
}

// ---------------------------------------------------------------------------------------
// Unknown fields and envelope shapes on 2xx

#[test]
fn unknown_fields_at_every_level_are_ignored() {
    let body = r#"{
      "version": 2, "meta": {"requestId": "abc", "list": [1, 2, {"deep": [null, true]}]},
      "response": {
        "errors": [], "code": "SUCCESS", "warnings": ["w"], "Code": "IGNORED",
        "data": {
          "scope": "all", "nested": {"accessToken": "not this one"},
          "accessToken": "a.b.c", "extra": null, "refreshToken": "d.e.f",
          "expiresIn": 480, "refreshExpiresIn": "3660", "tokenType": "Bearer",
          "AccessToken": 5, "expires_in": -1, "idToken": "x"
        },
        "Data": null
      },
      "Response": null, "trailing": {"a": {"b": {"c": [[[]]]}}}
    }"#;
    let pair = parse(200, body).unwrap();
    assert_eq!(pair.access_token.secret(), "a.b.c");
    assert_eq!(pair.refresh_token.secret(), "d.e.f");
    assert_eq!(pair.expires_in.as_secs(), 480);
    assert_eq!(pair.refresh_expires_in.as_secs(), 3660);
}

#[test]
fn a_2xx_without_usable_data_is_missing_data() {
    for data in [
        None,
        Some("null"),
        Some(r#""data""#),
        Some("[]"),
        Some("[{}]"),
        Some("5"),
        Some("true"),
    ] {
        let body = match data {
            Some(d) => format!(r#"{{"response":{{"code":"SUCCESS","data":{d}}}}}"#),
            None => r#"{"response":{"code":"SUCCESS"}}"#.to_owned(),
        };
        assert_eq!(malformed(200, &body), Malformed::MissingData, "{data:?}");
    }
}

#[test]
fn a_2xx_with_an_empty_data_object_names_the_first_missing_field() {
    let err = parse(200, success_with_data("{}")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidField {
                field: "accessToken",
                problem: FieldProblem::Missing,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_2xx_carrying_an_error_code_keeps_what_the_server_said() {
    // Smartling's error envelope, under a 200: an API error with its entries.
    let body = r#"{"response":{"code":"AUTHENTICATION_ERROR","errors":[{"key":"invalid_token","message":"Invalid token","details":{}}]}}"#;
    let api = api_error(200, body);
    assert_eq!(api.status, StatusCode::OK);
    assert_eq!(api.code, ErrorCode::AuthenticationError);
    assert_eq!(
        api.errors,
        [ErrorEntry::new(
            "invalid_token",
            "Invalid token",
            serde_json::json!({})
        )]
    );
    let err = Error::from(api);
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "HTTP 200 AUTHENTICATION_ERROR: invalid_token: Invalid token"
    );

    // The shapes of the issue: `VALIDATION_ERROR` with `errors`, or the older `messages`.
    let api = api_error(
        200,
        r#"{"response":{"code":"VALIDATION_ERROR","errors":[{"key":"unknown.field","message":"The field unknown.parameter was not expected.","details":"unknown.parameter"}]}}"#,
    );
    assert_eq!(api.code, ErrorCode::ValidationError);
    assert_eq!(api.errors[0].key, "unknown.field");
    assert_eq!(api.errors[0].details, "unknown.parameter");
    let api = api_error(
        200,
        r#"{"response":{"code":"VALIDATION_ERROR","messages":["refreshToken is required","and a second one"]}}"#,
    );
    assert_eq!(
        api.errors,
        [
            ErrorEntry::new("", "refreshToken is required", serde_json::Value::Null),
            ErrorEntry::new("", "and a second one", serde_json::Value::Null),
        ]
    );
    assert_eq!(
        Error::from(api).to_string(),
        "HTTP 200 VALIDATION_ERROR: refreshToken is required; and a second one"
    );

    // A known error code with no entries is still the server's error, and so is an
    // unknown code that comes with entries.
    let api = api_error(201, r#"{"response":{"code":"GENERAL_ERROR"}}"#);
    assert_eq!((api.code, api.errors.len()), (ErrorCode::GeneralError, 0));
    let api = api_error(
        200,
        r#"{"response":{"code":"NEW_CODE","errors":[{"key":"k","message":"m"}]}}"#,
    );
    assert_eq!(api.code, ErrorCode::Other("NEW_CODE".into()));
    assert_eq!(api.errors.len(), 1);

    // Even with a good pair beside it: a code that says otherwise wins.
    let with_data = seed_str().replacen(
        "\"SUCCESS\"",
        r#""VALIDATION_ERROR","errors":[{"key":"k","message":"m"}]"#,
        1,
    );
    assert_eq!(api_error(200, &with_data).errors.len(), 1);

    // A `Retry-After` on a 2xx means nothing.
    let err = parse_with_headers(200, &[("retry-after", "5")], body).unwrap_err();
    assert_eq!(err.retry_after(), None);
}

#[test]
fn a_2xx_with_an_unknown_code_and_no_entries_is_unexpected_code() {
    let err = parse(200, r#"{"response":{"code":"NEW_CODE"}}"#).unwrap_err();
    assert!(
        matches!(&err, Error::MalformedSuccess { problem: Malformed::UnexpectedCode(c), .. } if c == "NEW_CODE"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("NEW_CODE"), "{err}");
    // Even with good data beside it.
    for code in ["success", "SUCCESS ", "", "Accepted", "OK"] {
        let with_data = seed_str().replacen("\"SUCCESS\"", &serde_json::json!(code).to_string(), 1);
        assert_eq!(
            malformed(200, with_data),
            Malformed::UnexpectedCode(code.into()),
            "{code:?}"
        );
    }
}

#[test]
fn accepted_on_a_2xx_is_a_success_code() {
    // Older docs show `ACCEPTED` on a 202: the pair is read and checked as after
    // `SUCCESS`.
    let accepted = seed_str().replacen("\"SUCCESS\"", "\"ACCEPTED\"", 1);
    for status in [202, 200] {
        let pair = parse(status, &accepted).unwrap();
        assert_eq!(pair.access_token.secret(), SEED_ACCESS);
        assert_eq!(pair.refresh_token.secret(), SEED_REFRESH);
    }
    assert_eq!(
        malformed(202, r#"{"response":{"code":"ACCEPTED"}}"#),
        Malformed::MissingData
    );
    let bad = format!(
        r#"{{"response":{{"code":"ACCEPTED","data":{}}}}}"#,
        r#"{"accessToken":"a b","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}"#
    );
    assert!(matches!(
        parse(202, bad),
        Err(Error::InvalidField {
            field: "accessToken",
            problem: FieldProblem::InvalidCharacters,
            ..
        })
    ));
    // Under an error status it is only an unknown code.
    assert_eq!(
        api_error(400, &accepted).code,
        ErrorCode::Other("ACCEPTED".into())
    );
}

#[test]
fn a_2xx_with_a_complete_pair_and_no_code_is_accepted() {
    // Missing, or null: the pair is used when it is complete and valid.
    let v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
    let data = serde_json::to_string(&v["response"]["data"]).unwrap();
    for body in [
        format!(r#"{{"response":{{"data":{data}}}}}"#),
        format!(r#"{{"response":{{"code":null,"data":{data}}}}}"#),
        format!(r#"{{"response":{{"data":{data},"code":null,"errors":[]}}}}"#),
    ] {
        for status in [200, 201, 202] {
            let pair = parse(status, &body).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            assert_eq!(pair.access_token.secret(), SEED_ACCESS);
            assert_eq!(pair.refresh_token.secret(), SEED_REFRESH);
            assert_eq!(pair.expires_in.as_secs(), 480);
            assert_eq!(pair.refresh_expires_in.as_secs(), 3660);
            assert_eq!(pair.token_type.as_str(), "Bearer");
        }
    }
    // Lifetimes as digit strings, no token type: still a pair.
    let pair = parse(
        200,
        r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":"1","refreshExpiresIn":"2"}}}"#,
    )
    .unwrap();
    assert_eq!(pair.expires_in.as_secs(), 1);
}

#[test]
fn a_2xx_with_no_code_and_a_missing_or_bad_field_names_it() {
    let cases = [
        (r#"{}"#, "accessToken", FieldProblem::Missing),
        (
            r#"{"accessToken":null,"refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}"#,
            "accessToken",
            FieldProblem::Missing,
        ),
        (
            r#"{"accessToken":"","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}"#,
            "accessToken",
            FieldProblem::Empty,
        ),
        (
            r#"{"accessToken":"a","refreshToken":"r r","expiresIn":1,"refreshExpiresIn":2}"#,
            "refreshToken",
            FieldProblem::InvalidCharacters,
        ),
        (
            r#"{"accessToken":"a","refreshToken":"r","refreshExpiresIn":2}"#,
            "expiresIn",
            FieldProblem::Missing,
        ),
        (
            r#"{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":-2}"#,
            "refreshExpiresIn",
            FieldProblem::Negative,
        ),
    ];
    for (data, field, problem) in cases {
        for code in ["", r#""code":null,"#] {
            let body = format!(r#"{{"response":{{{code}"data":{data}}}}}"#);
            match parse(200, &body) {
                Err(Error::InvalidField {
                    field: f,
                    problem: p,
                    ..
                }) => assert_eq!((f, p), (field, problem), "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_2xx_without_a_string_code_or_data_is_missing_code() {
    // No code and nothing to read a pair from.
    for response in [
        r#"{}"#,
        r#"{"code":null}"#,
        r#"{"data":null}"#,
        r#"{"code":null,"data":"x"}"#,
        r#"{"data":[]}"#,
        r#"{"errors":[{"key":"k","message":"m"}]}"#,
    ] {
        let body = format!(r#"{{"response":{response}}}"#);
        assert_eq!(malformed(200, &body), Malformed::MissingCode, "{body}");
    }
    // A code that is not a string says something other than `SUCCESS`: even a good pair
    // beside it is refused.
    let data = r#"{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}"#;
    for code in ["5", "true", "[]", "{}", r#"["SUCCESS"]"#] {
        let body = format!(r#"{{"response":{{"code":{code},"data":{data}}}}}"#);
        assert_eq!(malformed(200, &body), Malformed::MissingCode, "{code:?}");
    }
    assert_eq!(
        parse(200, r#"{"response":{"code":5}}"#)
            .unwrap_err()
            .to_string(),
        "HTTP 200 OK: malformed success answer: `response.code` is not a string, or is missing with no `response.data` object"
    );
}

#[test]
fn a_2xx_that_is_not_an_envelope_is_not_envelope() {
    for body in [
        "{}",
        r#"{"response":null}"#,
        r#"{"response":"SUCCESS"}"#,
        r#"{"response":5}"#,
        r#"{"response":true}"#,
        r#"{"response":[]}"#,
        r#"{"response":[{"code":"SUCCESS"}]}"#,
        r#"{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}"#,
        "null",
        "true",
        "5",
        r#""a string""#,
        "[]",
    ] {
        assert_eq!(malformed(200, body), Malformed::NotEnvelope, "{body}");
    }
}

#[test]
fn a_top_level_array_is_not_an_envelope() {
    let v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
    let inner = serde_json::to_string(&v["response"]).unwrap();
    let array = format!("[{inner}]");
    assert_eq!(malformed(200, &array), Malformed::NotEnvelope);
    let u = unexpected(400, r#"[{"code":"VALIDATION_ERROR","errors":[]}]"#);
    assert_eq!(u.problem, "not an error envelope");
}

#[test]
fn a_2xx_that_is_not_json_reports_where() {
    assert_eq!(
        malformed(200, "<html>hi</html>"),
        Malformed::NotJson { line: 1, column: 1 }
    );
    let trailing = format!("{}garbage", seed_str());
    assert!(matches!(
        malformed(200, trailing),
        Malformed::NotJson { .. }
    ));
    let two = format!("{0}{0}", seed_str());
    assert!(matches!(malformed(200, two), Malformed::NotJson { .. }));
    assert!(matches!(
        malformed(200, "{\"response\": tru }"),
        Malformed::NotJson { line: 1, .. }
    ));
    // Invalid UTF-8 inside a string.
    let mut bad = SEED.to_vec();
    let at = bad.windows(3).position(|w| w == b"eyJ").unwrap();
    bad[at + 1] = 0xff;
    assert!(matches!(malformed(200, &bad), Malformed::NotJson { .. }));
    // A byte-order mark is not JSON.
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(SEED);
    assert!(matches!(malformed(200, &bom), Malformed::NotJson { .. }));
    let err = parse(200, "<html>").unwrap_err();
    assert!(!err.is_retryable());
}

#[test]
fn every_truncation_of_a_2xx_is_truncated_and_retryable() {
    let full = seed_str().trim_end();
    // Every proper prefix, from the empty body to one byte short of the closing brace.
    for cut in 0..full.len() {
        let err = parse(200, &full.as_bytes()[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedSuccess {
                    problem: Malformed::Truncated,
                    ..
                }
            ),
            "cut at {cut}: {err:?}"
        );
        assert!(err.is_retryable(), "cut at {cut}");
    }
    assert!(parse(200, full).is_ok());
}

#[test]
fn duplicate_keys_are_an_error_not_a_panic() {
    let dup_data = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a","accessToken":"b","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#;
    let dup_lifetime = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"expiresIn":2,"refreshExpiresIn":2}}}"#;
    let dup_code = r#"{"response":{"code":"SUCCESS","code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#;
    let dup_data_obj = r#"{"response":{"code":"SUCCESS","data":{},"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#;
    let dup_response = format!(r#"{{"response":{{}},{}"#, &seed_str().trim()[1..]);
    for body in [
        dup_data,
        dup_lifetime,
        dup_code,
        dup_data_obj,
        &dup_response,
    ] {
        let err = parse(200, body).unwrap_err();
        assert!(
            matches!(err, Error::MalformedSuccess { .. }),
            "{body}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
    // On an error status too.
    let dup_err = r#"{"response":{"code":"GENERAL_ERROR","code":"X","errors":[]}}"#;
    assert!(parse(500, dup_err).is_err());
}

// ---------------------------------------------------------------------------------------
// Non-2xx answers that are not Smartling envelopes

#[test]
fn an_html_502_from_a_proxy_is_unexpected_with_an_excerpt() {
    let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
    let u = unexpected(502, html);
    assert_eq!(u.problem, "not JSON");
    assert!(
        u.excerpt
            .starts_with("<html>\\r\\n<head><title>502 Bad Gateway"),
        "{}",
        u.excerpt
    );
    assert!(!u.excerpt.contains('\r') && !u.excerpt.contains('\n'));
    assert!(
        u.display.starts_with("HTTP 502 Bad Gateway"),
        "{}",
        u.display
    );
    assert!(u.display.contains("not JSON"), "{}", u.display);
    assert_eq!(u.retry_after, None);
    assert!(parse(502, html).unwrap_err().is_retryable());
}

#[test]
fn empty_and_whitespace_bodies_are_unexpected() {
    let u = unexpected(504, "");
    assert_eq!(u.problem, "empty body");
    assert_eq!(u.excerpt, "(empty body)");
    assert!(u.display.contains("504"), "{}", u.display);
    let u = unexpected(503, " \r\n\t  \n");
    assert_eq!(u.problem, "empty body");
    assert_eq!(u.excerpt, " \\r\\n\\t  \\n");
    let u = unexpected(401, "\n");
    assert_eq!(u.problem, "empty body");
}

#[test]
fn truncated_and_odd_json_on_an_error_status_is_unexpected() {
    let cases = [
        (500, r#"{"response":{"code":"GENERAL_ER"#, "truncated JSON"),
        (
            500,
            r#"{"response":{"code":"GENERAL_ERROR","errors":[{"key":"#,
            "truncated JSON",
        ),
        (401, r#"{"error":"invalid_token"}"#, "no `response` object"),
        (401, r#"{}"#, "no `response` object"),
        (401, r#"{"response":null}"#, "no `response` object"),
        (
            401,
            r#"{"response":"AUTHENTICATION_ERROR"}"#,
            "no `response` object",
        ),
        (
            401,
            r#"{"response":["AUTHENTICATION_ERROR"]}"#,
            "no `response` object",
        ),
        (401, r#"{"response":{"code":401}}"#, "no `response.code`"),
        (
            401,
            r#"{"response":{"code":null,"errors":[]}}"#,
            "no `response.code`",
        ),
        (
            401,
            r#"{"response":{"code":{"name":"X"}}}"#,
            "no `response.code`",
        ),
        (
            401,
            r#"{"response":{"errors":[{"key":"k","message":"m"}]}}"#,
            "no `response.code`",
        ),
        (400, r#"Bad Request"#, "not JSON"),
        (400, r#"{"response":{"code":"X"}} trailing"#, "not JSON"),
        (500, r#"null"#, "not an error envelope"),
        (500, r#""Internal Server Error""#, "not an error envelope"),
        (500, r#"42"#, "not an error envelope"),
    ];
    for (status, body, problem) in cases {
        let u = unexpected(status, body);
        assert_eq!(u.problem, problem, "{body}");
        assert!(u.display.contains(problem), "{}", u.display);
    }
}

#[test]
fn excerpts_escape_control_characters() {
    let body = b"oops\x1b[31m red\nnext\tline\x00\x7f end";
    let u = unexpected(500, body);
    assert!(!u.excerpt.chars().any(char::is_control), "{:?}", u.excerpt);
    assert!(!u.display.chars().any(char::is_control), "{:?}", u.display);
    assert!(u.excerpt.contains("\\u{1b}[31m"), "{}", u.excerpt);
    assert!(
        u.excerpt.contains("red\\nnext\\tline\\u{0}\\u{7f} end"),
        "{}",
        u.excerpt
    );
    assert!(u.display.contains("\\u{1b}"), "{}", u.display);
    // C1 controls too (U+009B is a one-character CSI).
    let u = unexpected(500, "a\u{9b}31mb");
    assert!(!u.excerpt.chars().any(char::is_control), "{:?}", u.excerpt);
}

#[test]
fn excerpts_never_contain_a_token() {
    for body in [
        format!("<html><body>token={SEED_ACCESS}</body></html>"),
        format!("{SEED_REFRESH} was refused"),
        format!("Authorization: Bearer {SEED_ACCESS}\n"),
        format!("{{\"refreshToken\":\"{SEED_REFRESH}\"}}"),
        format!("{}{SEED_ACCESS}", "x ".repeat(40)),
    ] {
        for status in [400, 401, 500, 502] {
            let u = unexpected(status, &body);
            for text in [&u.excerpt, &u.display] {
                assert_no_token_run(text);
            }
        }
    }
}

fn assert_no_token_run(text: &str) {
    for token in [SEED_ACCESS, SEED_REFRESH] {
        for w in token.as_bytes().windows(24) {
            let w = std::str::from_utf8(w).unwrap();
            assert!(!text.contains(w), "{text:?} contains {w:?}");
        }
    }
}

#[test]
fn an_api_error_display_redacts_tokens_the_server_echoes() {
    let body = format!(
        r#"{{"response":{{"code":"{SEED_ACCESS}","errors":[{{"key":"{SEED_REFRESH}","message":"Invalid token {SEED_REFRESH}\n","details":{{"token":"{SEED_ACCESS}"}}}}]}}}}"#
    )
    .replace('\n', "\\n");
    let err = parse(401, &body).unwrap_err();
    let shown = err.to_string();
    assert_no_token_run(&shown);
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(shown.starts_with("HTTP 401 "), "{shown}");
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    // The typed fields keep the server's data as it came.
    let api = err.api().unwrap();
    assert_eq!(api.code.as_str(), SEED_ACCESS);
    assert_eq!(
        api.errors[0].message,
        format!("Invalid token {SEED_REFRESH}\n")
    );
    assert_no_token_run(&api.code.to_string());
}

#[test]
fn excerpts_are_short_whatever_the_body() {
    let long = "<p>Service Unavailable</p> ".repeat(2000);
    let u = unexpected(503, &long);
    assert!(u.excerpt.chars().count() <= 121, "{}", u.excerpt.len());
    assert!(u.excerpt.ends_with('…'), "{}", u.excerpt);
    assert!(u.display.len() < 400, "{}", u.display.len());
    // Multi-byte characters at the cut, and invalid UTF-8, do not panic.
    for body in [
        "é".repeat(1000).into_bytes(),
        "😀".repeat(500).into_bytes(),
        [b"ab".as_slice(), &[0xff, 0xfe, 0xc3], b"cd"].concat(),
        vec![0xe2; 1000],
    ] {
        let u = unexpected(500, &body);
        assert!(u.excerpt.chars().count() <= 121);
    }
    let u = unexpected(500, [b"ab".as_slice(), &[0xff], b"cd"].concat());
    assert_eq!(u.excerpt, "ab\u{fffd}cd");
}

#[test]
fn a_proxy_page_echoing_a_token_by_name_does_not_show_it() {
    let page =
        r#"<pre>{"accessToken":"ACCESS-SECRET-XYZ","refreshToken":"r-1","expiresIn":480}</pre>"#;
    let u = unexpected(502, page);
    for text in [&u.excerpt, &u.display] {
        assert!(!text.contains("ACCESS-SECRET-XYZ"), "{text}");
        assert!(!text.contains("r-1"), "{text}");
    }
    assert!(
        u.excerpt
            .contains(r#"{"accessToken":"[redacted]","refreshToken":"[redacted]","expiresIn""#),
        "{}",
        u.excerpt
    );
    // HTML-escaped, in a JSON string, as a form, under any key naming a secret.
    for page in [
        "<pre>{&quot;accessToken&quot;:&quot;ACCESS-SECRET-XYZ&quot;}</pre>",
        r#"{"error":"bad gateway","upstream":"{\"accessToken\":\"ACCESS-SECRET-XYZ\"}"}"#,
        "<p>body: grant=x&access_token=ACCESS-SECRET-XYZ&y=1</p>",
        r#"<p>{"userSecret": "ACCESS-SECRET-XYZ"}</p>"#,
        r#"<p>{"X-Token": ["ACCESS-SECRET-XYZ"]}</p>"#,
        r#"<p>{"api_secret": {"value": "ACCESS-SECRET-XYZ"}}</p>"#,
    ] {
        let u = unexpected(502, page);
        assert!(
            !u.excerpt.contains("ACCESS-SECRET-XYZ"),
            "{page}: {}",
            u.excerpt
        );
        assert!(u.excerpt.contains("[redacted]"), "{page}: {}", u.excerpt);
    }
    // In a server message (Display and Debug of an entry) too.
    let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[{"key":"bad.body","message":"body was {\"refreshToken\": \"ACCESS-SECRET-XYZ\"}","details":{"accessToken":"ACCESS-SECRET-XYZ"}}]}}"#;
    let err = parse(400, body).unwrap_err();
    for text in [
        err.to_string(),
        format!("{:?}", err.api().unwrap().errors[0]),
    ] {
        assert!(!text.contains("ACCESS-SECRET-XYZ"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}

#[test]
fn paths_and_urls_in_server_messages_stay_readable() {
    let message = "File not found: some/dir/Long-File_Name2.json";
    let body = format!(
        r#"{{"response":{{"code":"NOT_FOUND_ERROR","errors":[{{"key":"file.not.found","message":"{message}"}}]}}}}"#
    );
    assert_eq!(
        parse(404, &body).unwrap_err().to_string(),
        format!("HTTP 404 NOT_FOUND_ERROR: file.not.found: {message}")
    );
    assert_eq!(unexpected(404, message).excerpt, message);
    for plain in [
        "See https://api.smartling.com/auth-api/v2/authenticate/refresh for details",
        "File not found: /files/Some-Really-Long-File_Name-2024-v2.json",
        "Upload to projects/0a1b2c3d/locales/de-DE/files/strings.json failed",
    ] {
        assert_eq!(unexpected(404, plain).excerpt, plain);
    }
}

#[test]
fn token_like_values_in_urls_stay_redacted() {
    // Short enough for the whole message to fit in an excerpt.
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJmYmExOTE5MC1l.e5z7taFefXx87TOhte2asn6b";
    let cases = [
        (
            format!("Redirected to https://gw.example/cb?access_token={JWT}&state=1"),
            "Redirected to https://gw.example/cb?access_token=[redacted]&state=1",
        ),
        (
            format!("Redirected to https://gw.example/cb?code={JWT}&state=1"),
            "Redirected to https://gw.example/cb?code=[redacted]&state=1",
        ),
        (
            "Redirected to https://gw.example/cb?token=short&state=1".to_owned(),
            "Redirected to https://gw.example/cb?token=[redacted]&state=1",
        ),
        (
            format!("Revoke at https://gw.example/tokens/{JWT}/revoke"),
            "Revoke at https://gw.example/tokens/[redacted]/revoke",
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(unexpected(400, &message).excerpt, expected);
        let body = format!(
            r#"{{"response":{{"code":"VALIDATION_ERROR","errors":[{{"key":"k","message":{}}}]}}}}"#,
            serde_json::json!(message)
        );
        let shown = parse(400, &body).unwrap_err().to_string();
        assert_eq!(shown, format!("HTTP 400 VALIDATION_ERROR: k: {expected}"));
    }
}

#[test]
fn other_statuses_without_a_body_are_unexpected() {
    for status in [100, 204, 301, 302, 304, 307] {
        let result = parse(status, "");
        if (200..300).contains(&status) {
            assert!(
                matches!(result, Err(Error::MalformedSuccess { .. })),
                "{status}"
            );
        } else {
            let u = unexpected_of(result);
            assert_eq!(u.status.as_u16(), status);
            assert_eq!(u.problem, "empty body");
        }
    }
    assert!(!parse(302, "").unwrap_err().is_retryable());
}

// ---------------------------------------------------------------------------------------
// The body cap

#[test]
fn a_body_over_the_default_cap_is_refused_before_parsing() {
    // A valid success answer padded with whitespace: parseable, but too large.
    let mut padded = SEED.to_vec();
    padded.resize(DEFAULT_MAX_BODY + 1, b' ');
    let err = parse(200, &padded).unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { status, limit } if status == 200 && limit == DEFAULT_MAX_BODY),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("HTTP 200 OK: the body exceeds the {DEFAULT_MAX_BODY}-byte limit")
    );
    assert!(!err.is_retryable());
    // Exactly at the cap is fine.
    padded.truncate(DEFAULT_MAX_BODY);
    assert_eq!(
        parse(200, &padded).unwrap().access_token.secret(),
        SEED_ACCESS
    );
    assert_eq!(DEFAULT_MAX_BODY, 64 * 1024);
    assert_eq!(ParseOptions::default().max_body_bytes(), DEFAULT_MAX_BODY);
}

#[test]
fn an_error_body_over_the_cap_is_refused_too() {
    let huge = vec![b'x'; 1 << 20];
    let err = parse(500, &huge).unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { status, .. } if status == 500),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    // Even a huge 429 with a Retry-After: the body is not read, nor the header.
    let err = parse_with_headers(429, &[("retry-after", "5")], &huge).unwrap_err();
    assert!(matches!(err, Error::BodyTooLarge { .. }), "{err:?}");
}

#[test]
fn a_custom_cap_applies() {
    let exact = ParseOptions::default().max_body(SEED.len());
    let response = respond(200, SEED);
    assert!(parse_token_response_with(&response, &exact).is_ok());
    let short = ParseOptions::default().max_body(SEED.len() - 1);
    let err = parse_token_response_with(&response, &short).unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit, .. } if limit == SEED.len() - 1),
        "{err:?}"
    );
    let tiny = ParseOptions::default().max_body(0);
    assert!(parse_token_response_with(&respond(200, ""), &tiny).is_err());
    assert!(matches!(
        parse_token_response_with(&respond(500, "x"), &tiny),
        Err(Error::BodyTooLarge { limit: 0, .. })
    ));
    // A larger cap lets a large (valid) body through.
    let mut big = SEED.to_vec();
    big.resize(200_000, b'\n');
    let roomy = ParseOptions::default().max_body(200_000);
    assert!(parse_token_response_with(&respond(200, &big), &roomy).is_ok());
    assert!(parse_token_response(&respond(200, &big)).is_err());
}

// ---------------------------------------------------------------------------------------
// Retrying

fn envelope(code: &str) -> String {
    format!(r#"{{"response":{{"code":"{code}","errors":[{{"key":"k","message":"m"}}]}}}}"#)
}

#[test]
fn retryable_statuses() {
    for (status, code, retryable) in [
        (429, "MAX_OPERATIONS_LIMIT_EXCEEDED", true),
        (500, "GENERAL_ERROR", true),
        (502, "GENERAL_ERROR", true),
        (503, "MAINTENANCE_MODE_ERROR", true),
        (503, "SERVICE_BUSY", true),
        (504, "GENERAL_ERROR", true),
        (400, "VALIDATION_ERROR", false),
        (401, "AUTHENTICATION_ERROR", false),
        (403, "AUTHORIZATION_ERROR", false),
        (404, "NOT_FOUND_ERROR", false),
        (409, "CONFLICT", false),
        (410, "GONE", false),
        (423, "RESOURCE_LOCKED", false),
    ] {
        let err = parse(status, envelope(code)).unwrap_err();
        assert!(matches!(err, Error::Api(_)));
        assert_eq!(err.is_retryable(), retryable, "{status} {code}");
        // The same statuses without an envelope.
        let err = parse(status, "<html>oops</html>").unwrap_err();
        assert!(matches!(err, Error::UnexpectedResponse { .. }));
        assert_eq!(err.is_retryable(), retryable, "{status} html");
    }
}

#[test]
fn retryable_transport_kinds() {
    use TransportErrorKind::*;
    for (kind, retryable) in [
        (Dns, true),
        (Connect, true),
        (Tls, true),
        (Timeout, true),
        (Reset, true),
        (Protocol, true),
        (Other, true),
        (Redirect, false),
        (Cancelled, false),
    ] {
        let err = Error::from(TransportError::new(kind, "m"));
        assert_eq!(err.is_retryable(), retryable, "{kind}");
        assert_eq!(err.status(), None);
        assert!(err.retry_after().is_none());
    }
    let err = Error::Transport(TransportError::timeout(Duration::from_secs(3)));
    assert!(err.is_retryable());
    assert_eq!(
        err.to_string(),
        "transport error (timeout): no complete answer within 3s"
    );
}

#[test]
fn malformed_successes_other_than_truncation_are_not_retryable() {
    for body in [
        "<html>".to_owned(),
        "{}".to_owned(),
        r#"{"response":{"data":{}}}"#.to_owned(),
        r#"{"response":{"code":"X"}}"#.to_owned(),
        r#"{"response":{"code":"SUCCESS"}}"#.to_owned(),
        data_with("expiresIn", Some("-1")),
    ] {
        assert!(!parse(200, &body).unwrap_err().is_retryable(), "{body}");
    }
}

// ---------------------------------------------------------------------------------------
// Retry-After

const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const DATE_PLUS_90: &str = "Wed, 21 Oct 2015 07:29:30 GMT";

fn at(http_date: &str) -> SystemTime {
    // 2015-10-21T07:28:00Z is 1445412480 seconds after the epoch.
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
    match http_date {
        DATE => base,
        DATE_PLUS_90 => base + Duration::from_secs(90),
        other => panic!("{other}"),
    }
}

#[test]
fn retry_after_seconds_on_a_429_envelope() {
    let err = parse_with_headers(
        429,
        &[("retry-after", "30")],
        envelope("MAX_OPERATIONS_LIMIT_EXCEEDED"),
    )
    .unwrap_err();
    assert_eq!(
        err.retry_after(),
        Some(&RetryAfter::Delay(Duration::from_secs(30)))
    );
    assert_eq!(
        err.api().unwrap().retry_after,
        Some(RetryAfter::Delay(Duration::from_secs(30)))
    );
    assert_eq!(
        err.retry_after().unwrap().delay(),
        Some(Duration::from_secs(30))
    );
    assert!(err.is_retryable());
}

#[test]
fn retry_after_http_date_with_a_date_header_on_a_503_envelope() {
    let err = parse_with_headers(
        503,
        &[("date", DATE), ("retry-after", DATE_PLUS_90)],
        envelope("MAINTENANCE_MODE_ERROR"),
    )
    .unwrap_err();
    let ra = err.retry_after().copied().unwrap();
    assert_eq!(
        ra,
        RetryAfter::At {
            at: at(DATE_PLUS_90),
            server_date: Some(at(DATE)),
        }
    );
    assert_eq!(ra.delay(), Some(Duration::from_secs(90)));
    // The server's clock wins over ours.
    assert_eq!(
        ra.delay_from(SystemTime::UNIX_EPOCH),
        Duration::from_secs(90)
    );
}

#[test]
fn retry_after_http_date_without_a_date_header() {
    let err = parse_with_headers(
        503,
        &[("retry-after", DATE_PLUS_90)],
        envelope("MAINTENANCE_MODE_ERROR"),
    )
    .unwrap_err();
    let ra = err.retry_after().copied().unwrap();
    assert_eq!(
        ra,
        RetryAfter::At {
            at: at(DATE_PLUS_90),
            server_date: None,
        }
    );
    assert_eq!(ra.delay(), None);
    assert_eq!(ra.delay_from(at(DATE)), Duration::from_secs(90));
    assert_eq!(
        ra.delay_from(at(DATE_PLUS_90) + Duration::from_secs(5)),
        Duration::ZERO
    );
}

#[test]
fn retry_after_on_answers_that_are_not_envelopes() {
    let u = unexpected_of(parse_with_headers(
        503,
        &[("retry-after", "120")],
        "<html>Service Unavailable</html>",
    ));
    assert_eq!(
        u.retry_after,
        Some(RetryAfter::Delay(Duration::from_secs(120)))
    );
    let u = unexpected_of(parse_with_headers(429, &[("Retry-After", " 7 ")], ""));
    assert_eq!(u.problem, "empty body");
    assert_eq!(
        u.retry_after,
        Some(RetryAfter::Delay(Duration::from_secs(7)))
    );
    let u = unexpected_of(parse_with_headers(
        502,
        &[("date", DATE), ("retry-after", DATE_PLUS_90)],
        "{\"response\":",
    ));
    assert_eq!(u.problem, "truncated JSON");
    assert_eq!(
        u.retry_after.and_then(|r| r.delay()),
        Some(Duration::from_secs(90))
    );
    let err = parse_with_headers(503, &[("retry-after", "5")], "").unwrap_err();
    assert_eq!(
        err.retry_after().and_then(RetryAfter::delay),
        Some(Duration::from_secs(5))
    );
}

#[test]
fn unusable_retry_after_values_are_ignored() {
    for value in [
        "soon",
        "-1",
        "1.5",
        "5s",
        "",
        "Wed, 32 Oct 2015 07:28:00 GMT",
    ] {
        let err = parse_with_headers(
            429,
            &[("retry-after", value)],
            envelope("MAX_OPERATIONS_LIMIT_EXCEEDED"),
        )
        .unwrap_err();
        assert_eq!(err.retry_after(), None, "{value:?}");
        assert!(err.is_retryable());
    }
}

#[test]
fn no_retry_after_on_a_2xx_or_without_the_header() {
    let err = parse_with_headers(200, &[("retry-after", "5")], "{}").unwrap_err();
    assert_eq!(err.retry_after(), None);
    let err = parse(429, envelope("MAX_OPERATIONS_LIMIT_EXCEEDED")).unwrap_err();
    assert_eq!(err.retry_after(), None);
}

// ---------------------------------------------------------------------------------------
// Error accessors

#[test]
fn status_and_api_accessors() {
    let api = parse(400, envelope("VALIDATION_ERROR")).unwrap_err();
    assert_eq!(api.status(), Some(StatusCode::BAD_REQUEST));
    assert!(api.api().is_some());
    let un = parse(502, "x").unwrap_err();
    assert_eq!(un.status(), Some(StatusCode::BAD_GATEWAY));
    assert!(un.api().is_none());
    let mal = parse(201, "{}").unwrap_err();
    assert_eq!(mal.status(), Some(StatusCode::CREATED));
    let field = parse(200, data_with("expiresIn", Some("true"))).unwrap_err();
    assert_eq!(field.status(), Some(StatusCode::OK));
    assert!(field.api().is_none());
    let base = smartling_auth_core::BaseUrl::parse("ftp://x").unwrap_err();
    assert_eq!(base.status(), None);
    assert!(!base.is_retryable());
}

#[test]
fn field_errors_read_well() {
    let cases = [
        (
            "expiresIn",
            Some("-5"),
            "HTTP 200 OK: field `expiresIn` is negative",
        ),
        (
            "refreshExpiresIn",
            Some("\"480.5\""),
            "HTTP 200 OK: field `refreshExpiresIn` is not a whole number of seconds",
        ),
        (
            "accessToken",
            Some("\"a b\""),
            "HTTP 200 OK: field `accessToken` contains characters not allowed in an HTTP header",
        ),
        (
            "refreshToken",
            Some("7"),
            "HTTP 200 OK: field `refreshToken` has the wrong type (number)",
        ),
        (
            "tokenType",
            Some("\"\""),
            "HTTP 200 OK: field `tokenType` is empty",
        ),
    ];
    for (field, value, text) in cases {
        assert_eq!(
            parse(200, data_with(field, value)).unwrap_err().to_string(),
            text
        );
    }
}

// ---------------------------------------------------------------------------------------
// The exact secrets a request carried (`Error::redact_exact`)

const PASSWORD: &str = "Tr0ub4dor&3-horse!battery~staple";

/// No piece of the password (its runs between punctuation) in any text of `err`.
fn assert_no_password(err: &Error) {
    let mut texts = vec![err.to_string(), format!("{err:?}")];
    if let Some(api) = err.api() {
        texts.push(api.code.as_str().to_owned());
        for e in &api.errors {
            texts.extend([e.key.clone(), e.message.clone(), e.details.to_string()]);
        }
    }
    if let Error::UnexpectedResponse { excerpt, .. } = err {
        texts.push(excerpt.clone());
    }
    for text in texts {
        for piece in ["Tr0ub4dor", "horse", "battery", "staple"] {
            assert!(!text.contains(piece), "{piece} in {text:?}");
        }
    }
}

#[test]
fn an_exact_secret_echoed_by_an_html_error_page_is_redacted() {
    let pages = [
        // Raw, where no heuristic sees a secret.
        format!(
            "<html><body><h1>403 Forbidden</h1><p>Request blocked: bob {PASSWORD}</p></body></html>"
        ),
        format!("<p>Rejected: userIdentifier=bob&amp;pass={PASSWORD}</p>"),
        // HTML-escaped.
        "<p>Rejected: Tr0ub4dor&amp;3-horse!battery~staple</p>".to_owned(),
        // The JSON request body, as the request carried it, unlabelled.
        format!("<pre>[\"bob\",{}]</pre>", serde_json::json!(PASSWORD)),
        // Glued to the text around it.
        format!("<p>x{PASSWORD}y</p>"),
    ];
    for page in pages {
        let err = parse(403, &page).unwrap_err();
        let before = err.to_string();
        assert!(
            before.contains("horse"),
            "the heuristic alone keeps it: {before}"
        );
        let err = err.redact_exact(&[PASSWORD]);
        assert_no_password(&err);
        assert!(err.to_string().contains("[redacted]"), "{err}");
        // The rest of the error is untouched.
        assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
        assert!(matches!(
            err,
            Error::UnexpectedResponse {
                problem: "not JSON",
                ..
            }
        ));
    }
    let page = format!("<p>Request blocked: bob {PASSWORD} (rule 942100)</p>");
    let err = parse(403, &page).unwrap_err().redact_exact(&[PASSWORD]);
    assert_eq!(
        err.to_string(),
        "HTTP 403 Forbidden: the answer is not a Smartling error envelope (not JSON); body: <p>Request blocked: bob [redacted] (rule 942100)</p>"
    );
}

#[test]
fn an_exact_secret_cut_by_the_excerpt_is_redacted() {
    for pad in 0..150 {
        let page = format!(
            "<p>{}{PASSWORD} {}</p>",
            "ab ".repeat(pad),
            "and more ".repeat(60)
        );
        let err = parse(502, &page).unwrap_err().redact_exact(&[PASSWORD]);
        let shown = err.to_string();
        for head in ["Tr0ub4dor&", "&3-horse", "horse!", "!battery", "battery~"] {
            assert!(!shown.contains(head), "pad {pad}: {shown}");
        }
    }
}

#[test]
fn an_exact_secret_in_json_escaped_form_is_redacted_everywhere() {
    // A secret that JSON escapes, echoed as the request body had it.
    let secret = "pa\"ss\\word\t7";
    let escaped = serde_json::to_string(secret).unwrap();
    let body_echo = format!(r#"{{"userIdentifier":"bob","userSecret":{escaped}}}"#);

    // In an HTML page, raw JSON text: the heuristic already hides the value by its key,
    // and the exact redaction finds it unlabelled too.
    let page = format!("<pre>{}</pre><pre>{}</pre>", body_echo, escaped);
    let err = parse(400, &page).unwrap_err().redact_exact(&[secret]);
    let shown = err.to_string();
    assert!(!shown.contains("ss\\\\word"), "{shown}");
    assert!(!shown.contains("pa\\\""), "{shown}");

    // In an error envelope: the message holds the body as a string (so, once parsed, the
    // JSON-escaped form), the details the body as an object (the raw secret), and a
    // details key the secret itself.
    let envelope = serde_json::json!({"response": {
        "code": "VALIDATION_ERROR",
        "errors": [{
            "key": format!("bad.{secret}"),
            "message": format!("Cannot parse {body_echo}"),
            "details": {"request": {"userSecret": secret, "list": [secret]}, secret: 1}
        }]
    }});
    let err = parse(400, envelope.to_string()).unwrap_err();
    assert!(
        err.api().unwrap().errors[0]
            .message
            .contains(&escaped[1..escaped.len() - 1]),
        "the typed field holds what the server sent"
    );
    let err = err.redact_exact(&["", secret]);
    let entry = &err.api().unwrap().errors[0];
    assert_eq!(entry.key, "bad.[redacted]");
    assert_eq!(
        entry.message,
        r#"Cannot parse {"userIdentifier":"bob","userSecret":"[redacted]"}"#
    );
    assert_eq!(
        entry.details,
        serde_json::json!({"request": {"userSecret": "[redacted]", "list": ["[redacted]"]}, "[redacted]": 1})
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("word") && !text.contains("pa\\"), "{text}");
    }
    assert_eq!(err.api().unwrap().code, ErrorCode::ValidationError);
}

#[test]
fn the_password_in_every_place_an_error_holds_server_text() {
    let escaped = serde_json::json!(PASSWORD);
    // An API error's code, key, message and details.
    let body = format!(
        r#"{{"response":{{"code":{escaped},"errors":[{{"key":{escaped},"message":"echo: {PASSWORD}","details":{{"body":{escaped}}}}}]}}}}"#
    );
    let err = parse(401, &body).unwrap_err();
    assert!(format!("{err:?}").contains("horse"));
    let err = err.redact_exact(&[PASSWORD]);
    assert_no_password(&err);
    assert_eq!(err.api().unwrap().code.as_str(), "[redacted]");
    assert_eq!(err.api().unwrap().errors[0].message, "echo: [redacted]");
    // An unexpected code on a 2xx.
    let body = format!(r#"{{"response":{{"code":{escaped}}}}}"#);
    let err = parse(200, &body).unwrap_err();
    assert!(err.to_string().contains("horse"));
    let err = err.redact_exact(&[PASSWORD]);
    assert_no_password(&err);
    assert!(
        matches!(&err, Error::MalformedSuccess { problem: Malformed::UnexpectedCode(c), .. } if c == "[redacted]")
    );
    // A transport message.
    let t = TransportError::new(
        TransportErrorKind::Protocol,
        format!("garbage after {PASSWORD}"),
    );
    let err = Error::Transport(t).redact_exact(&[PASSWORD]);
    assert_eq!(
        err.to_string(),
        "transport error (protocol): garbage after [redacted]"
    );
    // Nothing to redact: the error is as it was.
    let err = parse(503, "<p>down</p>").unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.redact_exact(&[PASSWORD, ""]).to_string(), shown);
    let err = parse(503, "<p>down</p>").unwrap_err().redact_exact(&[]);
    assert_eq!(err.to_string(), shown);
}
