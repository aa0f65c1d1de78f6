//! An https login through [`Client`] in a process where nothing has installed a rustls
//! crypto provider, in a build with the store's `redis` feature (this crate's tests
//! turn it on; the Redis store does its own TLS on rustls, which once put both ring and
//! aws-lc-rs in the build, leaving rustls no provider of its own to pick). curl's TLS
//! (rustls-ffi) must then still find one, before any Redis use. Run in a child process,
//! so that no other test has installed a provider first and `SSL_CERT_FILE` can name
//! the test's CA.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use smartling_auth_isahc::{BaseUrl, Client};
use smartling_auth_testkit::answers::success_json;
use smartling_auth_testkit::child::output_within;
use smartling_auth_testkit::emulator::credentials;
use smartling_auth_testkit::tls::LoopbackTls;

/// Set on the child only: the base URL it logs in against.
const BASE_VAR: &str = "SMARTLING_AUTH_TEST_TLS_PROVIDER_BASE";
const CHILD_TEST: &str = "child_logs_in_over_https";

#[test]
#[ignore = "the child half of https_login_needs_no_provider_installed_first, which runs it"]
fn child_logs_in_over_https() {
    let base = std::env::var(BASE_VAR).expect("run by the parent test only");
    let installed = rustls::crypto::CryptoProvider::get_default().is_some();
    println!(
        "\nPROVIDER before {}",
        if installed { "some" } else { "none" }
    );
    let client = Client::new()
        .expect("a client")
        .timeouts(Duration::from_secs(5), Duration::from_secs(10));
    let result = client.authenticate(&BaseUrl::parse(&base).unwrap(), &credentials());
    match result {
        Ok(_) => println!("RESULT ok"),
        Err(e) => println!("RESULT err {e} / {e:?}"),
    }
    // rustls-ffi installs the provider its own features name (aws-lc-rs), whatever
    // features rustls has.
    let installed = rustls::crypto::CryptoProvider::get_default().is_some();
    println!("PROVIDER after {}", if installed { "some" } else { "none" });
}

#[test]
fn https_login_needs_no_provider_installed_first() {
    let tls = LoopbackTls::new();
    let dir = std::env::temp_dir().join(format!(
        "smartling-auth-tls-provider-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    let (port, server) = https_server(&tls);

    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in ["SSL_CERT_DIR", "CURL_CA_BUNDLE", "SSLKEYLOGFILE"] {
        cmd.env_remove(v);
    }
    for v in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("SSL_CERT_FILE", &ca)
        .env(BASE_VAR, format!("https://127.0.0.1:{port}"));
    let output = output_within(cmd.spawn().unwrap(), Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("the child's output:\n{stdout}");
    let line = |tag: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| {
                panic!(
                    "the child printed no {tag:?}; stdout:\n{stdout}\nstderr:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            })
            .to_owned()
    };
    assert_eq!(
        line("PROVIDER before "),
        "none",
        "nothing installs a process-wide provider before the login"
    );
    assert_eq!(
        line("RESULT "),
        "ok",
        "the https login goes through (provider after it: {})",
        line("PROVIDER after ")
    );
    assert_eq!(server.join().unwrap(), 1, "the server answered one login");
}

/// A one-connection https server on loopback answering a login with the success
/// envelope; its rustls provider is named, not installed, so the child's process-wide
/// state is untouched (and this process's too). Answers its port and a handle whose
/// result is the number of logins answered.
fn https_server(tls: &LoopbackTls) -> (u16, std::thread::JoinHandle<usize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(tls.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let Ok((sock, _)) = listener.accept() else {
            return 0;
        };
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, sock);
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !complete(&request) {
            match stream.read(&mut buf) {
                Ok(0) => return 0,
                Ok(n) => request.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The child's handshake failed, or it never sent a request.
                Err(_) => return 0,
            }
        }
        let body = success_json("a.b.c", "d.e.f", 480, 3660);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        stream.conn.send_close_notify();
        let _ = stream.flush();
        1
    });
    (port, handle)
}

/// Whether `bytes` hold an HTTP head and the body its `Content-Length` declares.
fn complete(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let length = String::from_utf8_lossy(&bytes[..end])
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + length
}
