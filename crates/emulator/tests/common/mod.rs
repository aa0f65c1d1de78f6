//! Helpers shared by the integration tests: a blocking HTTP client and raw sockets.
#![allow(dead_code)]

pub mod child;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;
use smartling_auth_emulator::Emulator;

pub const AUTH: &str = "/auth-api/v2/authenticate";
pub const REFRESH: &str = "/auth-api/v2/authenticate/refresh";
pub const WHOAMI: &str = "/auth-api/v2/whoami";

/// Upper bound for any single client operation, so a bug cannot hang a test.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A client that reports 4xx/5xx as responses, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(CLIENT_TIMEOUT))
        .build()
        .into()
}

/// A parsed answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The envelope code of a JSON answer.
    pub fn code(&self) -> String {
        self.json()["response"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first error key of an error envelope.
    pub fn error_key(&self) -> String {
        self.json()["response"]["errors"][0]["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

fn answer(mut resp: ureq::http::Response<ureq::Body>) -> Result<Answer, ureq::Error> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let text = resp.body_mut().read_to_string()?;
    Ok(Answer {
        status,
        headers,
        text,
    })
}

pub fn try_post(
    agent: &ureq::Agent,
    emu: &Emulator,
    path: &str,
    body: &str,
) -> Result<Answer, ureq::Error> {
    let resp = agent
        .post(emu.url(path))
        .header("Content-Type", "application/json")
        .send(body)?;
    answer(resp)
}

pub fn post(emu: &Emulator, path: &str, body: &str) -> Answer {
    try_post(&agent(), emu, path, body).expect("request failed")
}

pub fn try_get(
    agent: &ureq::Agent,
    emu: &Emulator,
    path: &str,
    bearer: Option<&str>,
) -> Result<Answer, ureq::Error> {
    let mut req = agent.get(emu.url(path));
    if let Some(token) = bearer {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    answer(req.call()?)
}

pub fn get(emu: &Emulator, path: &str, bearer: Option<&str>) -> Answer {
    try_get(&agent(), emu, path, bearer).expect("request failed")
}

/// An admin request with the emulator's token; `body`, when given, as JSON.
pub fn try_admin(
    agent: &ureq::Agent,
    emu: &Emulator,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<Answer, ureq::Error> {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(emu.url(path))
        .header("Authorization", format!("Bearer {}", emu.admin_token()));
    let resp = match body {
        Some(body) => agent.run(
            request
                .header("Content-Type", "application/json")
                .body(body.to_owned())
                .unwrap(),
        )?,
        None => agent.run(request.body(()).unwrap())?,
    };
    answer(resp)
}

pub fn admin_post(emu: &Emulator, path: &str, body: &str) -> Answer {
    try_admin(&agent(), emu, "POST", path, Some(body)).expect("request failed")
}

pub fn admin_get(emu: &Emulator, path: &str) -> Answer {
    try_admin(&agent(), emu, "GET", path, None).expect("request failed")
}

pub fn admin_delete(emu: &Emulator, path: &str) -> Answer {
    try_admin(&agent(), emu, "DELETE", path, None).expect("request failed")
}

pub fn login_body(id: &str, secret: &str) -> String {
    serde_json::json!({"userIdentifier": id, "userSecret": secret}).to_string()
}

pub fn refresh_body(token: &str) -> String {
    serde_json::json!({ "refreshToken": token }).to_string()
}

/// A token pair from a successful answer.
#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
}

pub fn pair(answer: &Answer) -> Pair {
    assert_eq!(answer.status, 200, "{}", answer.text);
    let data = &answer.json()["response"]["data"];
    Pair {
        access: data["accessToken"].as_str().unwrap().to_owned(),
        refresh: data["refreshToken"].as_str().unwrap().to_owned(),
        expires_in: data["expiresIn"].as_u64().unwrap(),
        refresh_expires_in: data["refreshExpiresIn"].as_u64().unwrap(),
    }
}

/// Logs the first user in.
pub fn login(emu: &Emulator) -> Pair {
    let (id, secret) = emu.demo_user();
    pair(&post(emu, AUTH, &login_body(&id, &secret)))
}

/// A raw connection with read and write timeouts.
pub fn raw(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream
}

/// A raw HTTP/1.1 request with a JSON body and no `Connection: close`.
pub fn raw_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads until EOF, reset or timeout; returns the bytes and how reading ended.
pub fn read_all(stream: &mut TcpStream) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

/// Reads exactly one answer with a `Content-Length` body; returns its status.
pub fn read_one(stream: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("no answer");
        assert!(n > 0, "closed before a full answer");
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("no content-length");
        if got.len() >= end + 4 + length {
            return head[9..12].parse().unwrap();
        }
    }
}

/// Sends `bytes` on a fresh connection that then asks to close, and returns the reply.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = raw(addr);
    stream.write_all(bytes).unwrap();
    let (out, err) = read_all(&mut stream);
    assert!(
        !matches!(
            err,
            Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        ),
        "timed out reading the answer"
    );
    String::from_utf8_lossy(&out).into_owned()
}
