//! The environment variables that change where requests go or how TLS is checked, each
//! tried on a child process: a plain-http request to loopback never goes through a
//! proxy, whichever variable names one; https goes through one as a CONNECT tunnel; and
//! each TLS variable is read, or not, as the `Client` docs say.

mod child;
mod listener;

use std::path::PathBuf;

use isahc::config::Configurable;
use listener::{Recorder, Reply, find};
use smartling_auth_isahc::Client;
use smartling_auth_testkit::emulator::{SECRET, base, credentials, emulator};

/// The child half of every test below; run only by them, with the environment under
/// test (see `child.rs`).
#[test]
#[ignore = "the child half of the environment tests, which run it themselves"]
fn child_logs_in_both_ways() {
    child::main();
}

/// What a proxy must never see from a plain-http login: the body's field names and the
/// secret, raw or JSON-escaped.
fn carries_the_login(bytes: &[u8]) -> bool {
    let escaped = SECRET.replace('\\', "\\\\").replace('"', "\\\"");
    [
        b"userIdentifier".as_slice(),
        b"userSecret",
        SECRET.as_bytes(),
        escaped.as_bytes(),
    ]
    .iter()
    .any(|needle| find(bytes, needle).is_some())
}

fn describe(seen: &[Vec<u8>]) -> String {
    format!(
        "{} connection(s), {} byte(s), the login {}",
        seen.len(),
        seen.iter().map(Vec::len).sum::<usize>(),
        if seen.iter().any(|b| carries_the_login(b)) {
            "INCLUDED"
        } else {
            "not included"
        }
    )
}

#[test]
fn plain_http_to_loopback_never_goes_through_a_proxy() {
    let emu = emulator();
    let cases: [&[&str]; 5] = [
        &["http_proxy"],
        &["ALL_PROXY"],
        &["all_proxy"],
        &["HTTP_PROXY"],
        &[
            "http_proxy",
            "HTTP_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
        ],
    ];
    // Every case runs, so that a failure lists each variable that leaks.
    let mut leaks = Vec::new();
    for names in cases {
        let proxy = Recorder::start(Reply::ProxyRefusal);
        let url = proxy.url();
        let vars: Vec<(&str, &str)> = names.iter().map(|n| (*n, url.as_str())).collect();
        let outcome = child::run(&emu.base_url(), &vars);
        let seen = proxy.finish();
        if !seen.is_empty() || !outcome.both_ok() {
            leaks.push(format!(
                "with {names:?} set, the proxy received {}; {outcome:?}",
                describe(&seen)
            ));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn a_socks_proxy_is_skipped_too() {
    let emu = emulator();
    let mut leaks = Vec::new();
    for scheme in ["socks5h", "socks5", "socks4"] {
        let proxy = Recorder::start(Reply::Close);
        let url = format!("{scheme}://127.0.0.1:{}", proxy.port());
        let outcome = child::run(&emu.base_url(), &[("ALL_PROXY", &url)]);
        let seen = proxy.finish();
        if !seen.is_empty() || !outcome.both_ok() {
            leaks.push(format!(
                "with ALL_PROXY={scheme}://…, the proxy received {}; {outcome:?}",
                describe(&seen)
            ));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn a_proxy_configured_on_a_ready_made_client_is_skipped_for_plain_http() {
    let emu = emulator();
    let proxy = Recorder::start(Reply::ProxyRefusal);
    let http = isahc::HttpClient::builder()
        .proxy(Some(proxy.url().parse().unwrap()))
        .build()
        .unwrap();
    let result = Client::with_http_client(http).authenticate(&base(&emu), &credentials());
    let seen = proxy.finish();
    assert!(seen.is_empty(), "the proxy received {}", describe(&seen));
    assert!(result.is_ok(), "{:?}", result.err());
}

/// An https base URL on a listener that reads the ClientHello and hangs up: enough to
/// see whether a child connected directly, through a proxy, or not at all.
fn tls_listener() -> (Recorder, String) {
    let server = Recorder::start(Reply::Close);
    let url = format!("https://127.0.0.1:{}", server.port());
    (server, url)
}

fn is_client_hello(bytes: &[u8]) -> bool {
    bytes.len() > 5 && bytes[0] == 0x16 && bytes[5] == 0x01
}

#[test]
fn https_goes_through_a_proxy_as_a_connect_tunnel() {
    for name in ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        let (server, base) = tls_listener();
        let proxy = Recorder::start(Reply::ProxyRefusal);
        let outcome = child::run(&base, &[(name, &proxy.url())]);
        let through_proxy = proxy.finish();
        let direct = server.finish();
        let connect = format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n", base_port(&base));
        assert_eq!(
            through_proxy.len(),
            2,
            "with {name} set, both logins go to the proxy: {outcome:?}"
        );
        for bytes in &through_proxy {
            assert!(
                bytes.starts_with(connect.as_bytes()),
                "with {name} set, the proxy is asked for a tunnel, got {:?}",
                String::from_utf8_lossy(bytes)
            );
            assert!(!carries_the_login(bytes));
        }
        assert!(direct.is_empty(), "with {name} set, nothing goes direct");
        // The fake proxy refuses the tunnel, so both logins fail.
        assert!(
            outcome.blocking.starts_with("err") && outcome.asynchronous.starts_with("err"),
            "{outcome:?}"
        );
    }
}

fn base_port(base: &str) -> &str {
    base.rsplit(':').next().unwrap()
}

#[test]
fn no_proxy_and_http_proxy_leave_https_direct() {
    let cases: [&[&str]; 4] = [
        &["https_proxy", "no_proxy"],
        &["HTTPS_PROXY", "NO_PROXY"],
        &["http_proxy"],
        &["HTTP_PROXY"],
    ];
    // TLS must get as far as the ClientHello, whatever roots the machine has.
    let scratch = Scratch::new("direct");
    let ca = scratch.trusted_ca();
    for names in cases {
        let (server, base) = tls_listener();
        let proxy = Recorder::start(Reply::ProxyRefusal);
        let url = proxy.url();
        let mut vars: Vec<(&str, &str)> = names
            .iter()
            .map(|n| match *n {
                "no_proxy" | "NO_PROXY" => (*n, "127.0.0.1"),
                _ => (*n, url.as_str()),
            })
            .collect();
        vars.push(("SSL_CERT_FILE", &ca));
        let outcome = child::run(&base, &vars);
        let through_proxy = proxy.finish();
        let direct = server.finish();
        assert!(
            through_proxy.is_empty(),
            "with {names:?} set, the proxy received {}",
            describe(&through_proxy)
        );
        assert_eq!(direct.len(), 2, "with {names:?} set: {outcome:?}");
        assert!(
            direct.iter().all(|b| is_client_hello(b)),
            "with {names:?} set, TLS starts directly"
        );
    }
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("smartling-auth-env-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_owned()
    }

    /// Writes [`SOME_CA`] here and answers its path.
    fn trusted_ca(&self) -> String {
        let ca = self.path("ca.pem");
        std::fs::write(&ca, SOME_CA).unwrap();
        ca
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed CA certificate (its key was never kept): something to trust.
const SOME_CA: &str = include_str!("some-ca.pem");

/// Runs the child against a TLS listener with `vars` set; answers whether it sent a
/// ClientHello (its TLS setup, trusted roots included, went through) and the outcome.
fn tls_attempt(vars: &[(&str, &str)]) -> (bool, child::Outcome) {
    let (server, base) = tls_listener();
    let outcome = child::run(&base, vars);
    let seen = server.finish();
    assert_eq!(seen.len(), 2, "both logins connect: {outcome:?}");
    let hellos = seen.iter().filter(|b| is_client_hello(b)).count();
    assert!(hellos == 0 || hellos == 2, "both logins set TLS up alike");
    (hellos == 2, outcome)
}

#[test]
fn ssl_cert_file_replaces_the_trusted_roots() {
    let scratch = Scratch::new("cert-file");
    let ca = scratch.trusted_ca();
    let (hello, outcome) = tls_attempt(&[("SSL_CERT_FILE", &ca)]);
    assert!(hello, "a readable bundle is used: {outcome:?}");
    let (hello, outcome) = tls_attempt(&[("SSL_CERT_FILE", &scratch.path("missing.pem"))]);
    assert!(!hello, "a missing bundle stops TLS before it starts");
    assert!(outcome.blocking.contains("(tls)"), "{outcome:?}");
    println!("SSL_CERT_FILE missing: {}", outcome.blocking);
}

#[test]
fn ssl_cert_dir_replaces_the_system_roots_when_ssl_cert_file_is_unset() {
    let scratch = Scratch::new("cert-dir");
    let with_ca = scratch.path("with-ca");
    let empty = scratch.path("empty");
    std::fs::create_dir_all(&with_ca).unwrap();
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(format!("{with_ca}/ca.pem"), SOME_CA).unwrap();
    let (hello, outcome) = tls_attempt(&[("SSL_CERT_DIR", &with_ca)]);
    assert!(hello, "a directory holding a root is used: {outcome:?}");
    let (hello, outcome) = tls_attempt(&[("SSL_CERT_DIR", &empty)]);
    assert!(
        !hello,
        "an empty directory leaves nothing to trust: {outcome:?}"
    );
    assert!(outcome.blocking.contains("(tls)"), "{outcome:?}");
    println!("SSL_CERT_DIR empty: {}", outcome.blocking);
    // SSL_CERT_FILE, when set, wins: the empty directory is not looked at.
    let ca = scratch.trusted_ca();
    let (hello, outcome) = tls_attempt(&[("SSL_CERT_DIR", &empty), ("SSL_CERT_FILE", &ca)]);
    assert!(hello, "SSL_CERT_FILE wins over SSL_CERT_DIR: {outcome:?}");
}

#[test]
fn curl_ca_bundle_changes_nothing() {
    let scratch = Scratch::new("curl-ca-bundle");
    scratch.trusted_ca();
    let (hello, outcome) = tls_attempt(&[
        // A bundle that were read would fail TLS setup, as a missing SSL_CERT_FILE does.
        ("CURL_CA_BUNDLE", &scratch.path("missing.pem")),
        // A root to trust, so that TLS starts whatever roots the machine has.
        ("SSL_CERT_DIR", scratch.0.to_str().unwrap()),
    ]);
    assert!(hello, "CURL_CA_BUNDLE changes nothing: {outcome:?}");
}

#[test]
fn sslkeylogfile_is_opened_for_tls_session_keys() {
    let scratch = Scratch::new("keylog");
    let keylog = scratch.path("keys.log");
    // A root to trust, so that TLS starts whatever roots the machine has.
    let ca = scratch.trusted_ca();
    let (hello, outcome) = tls_attempt(&[("SSLKEYLOGFILE", &keylog), ("SSL_CERT_FILE", &ca)]);
    assert!(hello, "{outcome:?}");
    assert!(
        std::path::Path::new(&keylog).exists(),
        "curl opens SSLKEYLOGFILE when TLS starts"
    );
}
