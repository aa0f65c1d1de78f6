//! The request builders and the base URL rules, beyond the unit tests.

use http::Method;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, USER_AGENT};
use smartling_auth_core::{
    BaseUrl, Credentials, Error, HttpRequest, RefreshToken, api::AUTHENTICATE_PATH,
    api::PRODUCTION, api::REFRESH_PATH, api::USER_AGENT_VALUE, authenticate_request,
    refresh_request,
};

const REFRESH_URI: &str = "https://api.smartling.com/auth-api/v2/authenticate/refresh";
const AUTHENTICATE_URI: &str = "https://api.smartling.com/auth-api/v2/authenticate";

fn assert_common_headers(req: &HttpRequest) {
    assert_eq!(req.method(), Method::POST);
    let h = req.headers();
    assert_eq!(h[CONTENT_TYPE], "application/json");
    assert_eq!(h[ACCEPT], "application/json");
    assert_eq!(h[USER_AGENT], USER_AGENT_VALUE);
    assert!(
        h[USER_AGENT]
            .to_str()
            .unwrap()
            .starts_with("smartling-auth-core/")
    );
    assert_eq!(
        USER_AGENT_VALUE,
        format!("smartling-auth-core/{}", env!("CARGO_PKG_VERSION"))
    );
    // One value each, and nothing that would carry a credential.
    for name in [CONTENT_TYPE, ACCEPT, USER_AGENT] {
        assert_eq!(h.get_all(&name).iter().count(), 1, "{name}");
    }
    assert!(!h.contains_key(AUTHORIZATION));
    assert!(!h.contains_key(COOKIE));
}

fn body_json(req: &HttpRequest) -> serde_json::Map<String, serde_json::Value> {
    // Valid UTF-8 JSON, an object, and no raw control characters on the wire.
    let text = std::str::from_utf8(req.body()).expect("UTF-8 body");
    assert!(!text.chars().any(|c| c < ' '), "{text:?}");
    match serde_json::from_str(text).expect("JSON body") {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn refresh_request_is_exact() {
    let req = refresh_request(&BaseUrl::default(), &RefreshToken::new("r.e.f"));
    assert_common_headers(&req);
    assert_eq!(req.uri(), REFRESH_URI);
    assert_eq!(req.uri().scheme_str(), Some("https"));
    assert_eq!(req.uri().host(), Some("api.smartling.com"));
    assert_eq!(req.uri().path(), REFRESH_PATH);
    assert_eq!(req.uri().query(), None);
    assert_eq!(req.body(), br#"{"refreshToken":"r.e.f"}"#);
}

#[test]
fn authenticate_request_is_exact() {
    let req = authenticate_request(
        &BaseUrl::default(),
        &Credentials::new("user-id", "user-secret"),
    );
    assert_common_headers(&req);
    assert_eq!(req.uri(), AUTHENTICATE_URI);
    assert_eq!(req.uri().path(), AUTHENTICATE_PATH);
    assert_eq!(
        req.body(),
        br#"{"userIdentifier":"user-id","userSecret":"user-secret"}"#
    );
}

#[test]
fn paths_are_the_documented_ones() {
    assert_eq!(AUTHENTICATE_PATH, "/auth-api/v2/authenticate");
    assert_eq!(REFRESH_PATH, "/auth-api/v2/authenticate/refresh");
    assert_eq!(PRODUCTION, "https://api.smartling.com");
    assert_eq!(BaseUrl::default().as_str(), PRODUCTION);
}

#[test]
fn a_gateway_prefix_is_kept_and_a_trailing_slash_dropped() {
    for (base, refresh, authenticate) in [
        (
            "https://gw.example/prefix/",
            "https://gw.example/prefix/auth-api/v2/authenticate/refresh",
            "https://gw.example/prefix/auth-api/v2/authenticate",
        ),
        (
            "https://gw.example/prefix",
            "https://gw.example/prefix/auth-api/v2/authenticate/refresh",
            "https://gw.example/prefix/auth-api/v2/authenticate",
        ),
        (
            "https://gw.example:8443/a/b/c///",
            "https://gw.example:8443/a/b/c/auth-api/v2/authenticate/refresh",
            "https://gw.example:8443/a/b/c/auth-api/v2/authenticate",
        ),
        (
            "https://gw.example/",
            "https://gw.example/auth-api/v2/authenticate/refresh",
            "https://gw.example/auth-api/v2/authenticate",
        ),
        (
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/auth-api/v2/authenticate/refresh",
            "http://127.0.0.1:8080/auth-api/v2/authenticate",
        ),
        (
            "http://[::1]:9000/emu/",
            "http://[::1]:9000/emu/auth-api/v2/authenticate/refresh",
            "http://[::1]:9000/emu/auth-api/v2/authenticate",
        ),
        (
            "HTTPS://GW.Example/Prefix/",
            "https://gw.example/Prefix/auth-api/v2/authenticate/refresh",
            "https://gw.example/Prefix/auth-api/v2/authenticate",
        ),
    ] {
        let base = BaseUrl::parse(base).unwrap();
        let r = refresh_request(&base, &RefreshToken::new("t"));
        assert_eq!(r.uri(), refresh, "{base}");
        assert_eq!(r.uri().to_string(), base.join(REFRESH_PATH));
        let a = authenticate_request(&base, &Credentials::new("i", "s"));
        assert_eq!(a.uri(), authenticate, "{base}");
        assert_common_headers(&r);
        assert_common_headers(&a);
    }
    let base = BaseUrl::parse("https://gw.example:8443/prefix/").unwrap();
    let r = refresh_request(&base, &RefreshToken::new("t"));
    assert_eq!(r.uri().host(), Some("gw.example"));
    assert_eq!(r.uri().port_u16(), Some(8443));
    assert_eq!(r.uri().path(), "/prefix/auth-api/v2/authenticate/refresh");
}

/// Strings that JSON must escape or carry as UTF-8.
const AWKWARD: [&str; 14] = [
    "",
    "plain",
    "quote\"inside",
    "back\\slash",
    "\\\"",
    "emoji 😀🔑",
    "CJK 令牌 トークン 토큰",
    "nul\u{0}byte",
    "new\nline\r\n",
    "unit\u{1f}separator\u{1}",
    "del\u{7f} and c1\u{85}\u{9b}",
    "line sep\u{2028}para sep\u{2029}",
    "</script><!--",
    "{\"refreshToken\":\"injected\"}",
];

#[test]
fn refresh_bodies_are_valid_json_that_round_trips() {
    for token in AWKWARD {
        let req = refresh_request(&BaseUrl::default(), &RefreshToken::new(token));
        let map = body_json(&req);
        assert_eq!(map.len(), 1, "{token:?}");
        assert_eq!(map["refreshToken"], token, "{token:?}");
    }
}

#[test]
fn authenticate_bodies_are_valid_json_that_round_trips() {
    for id in AWKWARD {
        for secret in AWKWARD {
            let req = authenticate_request(&BaseUrl::default(), &Credentials::new(id, secret));
            let map = body_json(&req);
            assert_eq!(map.len(), 2);
            assert_eq!(map["userIdentifier"], id, "{id:?}");
            assert_eq!(map["userSecret"], secret, "{secret:?}");
        }
    }
}

#[test]
fn control_characters_are_escaped_in_the_body() {
    let req = refresh_request(
        &BaseUrl::default(),
        &RefreshToken::new("a\u{0}b\nc\u{1f}d\"e\\f"),
    );
    assert_eq!(
        req.body(),
        br#"{"refreshToken":"a\u0000b\nc\u001fd\"e\\f"}"#
    );
}

#[test]
fn a_long_token_goes_in_whole() {
    let token = "eyJ".to_owned() + &"x".repeat(10_000);
    let req = refresh_request(&BaseUrl::default(), &RefreshToken::new(token.as_str()));
    assert_eq!(body_json(&req)["refreshToken"], token.as_str());
}

// ---------------------------------------------------------------------------------------
// BaseUrl

#[test]
fn base_urls_that_are_accepted() {
    for (input, normalised) in [
        ("http://[::1]", "http://[::1]"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://[::1]:8080/x/", "http://[::1]:8080/x"),
        ("http://[0:0:0:0:0:0:0:1]:1", "http://[0:0:0:0:0:0:0:1]:1"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://127.255.255.254", "http://127.255.255.254"),
        ("http://127.255.255.255:80", "http://127.255.255.255:80"),
        ("http://127.0.0.2:65535/", "http://127.0.0.2:65535"),
        ("HTTP://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("hTtP://LocalHost:3000/", "http://localhost:3000"),
        ("http://localhost", "http://localhost"),
        ("HTTPS://API.SMARTLING.COM", "https://api.smartling.com"),
        (
            "https://api.smartling.com:443",
            "https://api.smartling.com:443",
        ),
        (
            "  https://api.smartling.com/  ",
            "https://api.smartling.com",
        ),
        (
            "https://gw.example/Some/Path/",
            "https://gw.example/Some/Path",
        ),
        ("https://gw.example/a%20b", "https://gw.example/a%20b"),
        ("https://10.1.2.3:8443/p", "https://10.1.2.3:8443/p"),
        (
            "https://[2001:db8::1]:8443/p",
            "https://[2001:db8::1]:8443/p",
        ),
        ("https://example.com.", "https://example.com."),
    ] {
        let base = BaseUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(base.as_str(), normalised, "{input}");
        assert_eq!(base.to_string(), normalised);
        assert_eq!(format!("{base:?}"), format!("BaseUrl({normalised:?})"));
        assert_eq!(input.parse::<BaseUrl>().unwrap(), base);
        // A built request's URI is valid for every accepted base.
        let req = refresh_request(&base, &RefreshToken::new("t"));
        assert_eq!(req.uri().to_string(), format!("{normalised}{REFRESH_PATH}"));
    }
}

#[test]
fn base_urls_that_are_refused() {
    for input in [
        "http://[::2]",
        "http://[::]",
        "http://[::ffff:127.0.0.1]",
        "http://0.0.0.0",
        "http://128.0.0.1",
        "http://126.255.255.255",
        "http://127.0.0.1.nip.io",
        "http://localhost.",
        "http://localhost.localdomain",
        "http://mylocalhost",
        "http://0x7f000001",
        "http://2130706433",
        "http://0177.0.0.1",
        "http://127.1",
        "http://127.0.1",
        "http://[::1",
        "http://user@127.0.0.1",
        "http://127.0.0.1@evil.example",
        "https://@api.smartling.com",
        "https://user:SECRET-pw@api.smartling.com",
        "https://api.smartling.com?x=1",
        "https://api.smartling.com/p?",
        "https://api.smartling.com/#",
        "https://api.smartling.com/pa th",
        "//api.smartling.com",
        "api.smartling.com",
        "https:api.smartling.com",
        "https:/api.smartling.com",
        "https://",
        "ws://localhost",
        "wss://api.smartling.com",
        "file:///etc/passwd",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "http",
        "",
        "\t\n",
    ] {
        match BaseUrl::parse(input) {
            Err(e @ Error::InvalidBaseUrl { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with("invalid base URL: "), "{shown}");
                assert!(!shown.contains("SECRET"), "{shown}");
                assert!(!format!("{e:?}").contains("SECRET"));
                assert!(!e.is_retryable());
            }
            other => panic!("{input:?}: expected InvalidBaseUrl, got {other:?}"),
        }
        assert!(input.parse::<BaseUrl>().is_err());
    }
}

#[test]
fn http_refusals_say_why() {
    let e = BaseUrl::parse("http://api.smartling.com").unwrap_err();
    assert!(e.to_string().contains("loopback"), "{e}");
    let e = BaseUrl::parse("https://u:p@h.example").unwrap_err();
    assert!(e.to_string().contains("user info"), "{e}");
}

#[test]
fn equal_bases_compare_equal() {
    let a = BaseUrl::parse("HTTPS://Api.Smartling.com/").unwrap();
    assert_eq!(a, BaseUrl::default());
    assert_ne!(a, BaseUrl::parse("https://api.smartling.com/p").unwrap());
}

#[test]
fn malformed_authorities_are_refused() {
    for input in [
        "http://127.0.0.1:99999",
        "https://api.smartling.com:65536",
        "http://[::1]x",
        "http://[::1]x:80",
    ] {
        assert!(BaseUrl::parse(input).is_err(), "{input}");
    }
}
