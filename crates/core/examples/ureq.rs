//! Drives a `Session` with the blocking `ureq` 3 client: how to embed the core with
//! your own networking.
//!
//! ```text
//! SMARTLING_USER_IDENTIFIER=... SMARTLING_USER_SECRET=... cargo run -p smartling-auth-core --example ureq
//! # or against a local emulator:
//! SMARTLING_BASE_URL=http://127.0.0.1:8080 ... cargo run -p smartling-auth-core --example ureq
//! ```

use std::time::{Duration, Instant};

use smartling_auth_core::{
    Action, BaseUrl, Credentials, Error, HttpResponse, Policy, SecretBody, Session, TransportError,
    error::TransportErrorKind, http,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = match std::env::var("SMARTLING_BASE_URL") {
        Ok(url) => BaseUrl::parse(&url)?,
        Err(_) => BaseUrl::default(),
    };
    let credentials = Credentials::new(
        std::env::var("SMARTLING_USER_IDENTIFIER")?,
        std::env::var("SMARTLING_USER_SECRET")?,
    );
    let policy = Policy::default();
    let max_body = policy.parse.max_body_bytes();
    let mut session = Session::new(base, policy).with_credentials(credentials);

    // Never follow redirects (the request carries secrets), bound every request, and
    // let the session judge 4xx/5xx answers rather than ureq.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();

    let token = loop {
        match session.poll(Instant::now()) {
            Action::UseToken(grant) => break grant,
            Action::Send(tx) => match send(&agent, tx.request, max_body) {
                Ok(answer) => {
                    session.handle_response(Instant::now(), tx.id, &answer);
                }
                Err(e) => {
                    session.handle_transport_error(Instant::now(), tx.id, e);
                }
            },
            Action::Wait(until) => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()))
            }
            Action::Fail(e) => return Err(Box::<Error>::new(e)),
        }
    };
    // Never print the token itself.
    println!(
        "got a {} token, valid for {:?}",
        token.token_type,
        token.valid_until.saturating_duration_since(Instant::now())
    );
    Ok(())
}

fn send(
    agent: &ureq::Agent,
    request: smartling_auth_core::HttpRequest,
    max_body: usize,
) -> Result<HttpResponse, TransportError> {
    // ureq sends the body from a borrowed slice; the `SecretBody` is wiped when it
    // drops at the end of this function.
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, &body[..]);
    let mut response = agent.run(request).map_err(|e| {
        let kind = match &e {
            ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
            ureq::Error::HostNotFound => TransportErrorKind::Dns,
            ureq::Error::ConnectionFailed => TransportErrorKind::Connect,
            ureq::Error::Io(_) => TransportErrorKind::Reset,
            _ => TransportErrorKind::Other,
        };
        TransportError::new(kind, e.to_string())
    })?;
    // Read one byte past the cap, so the parser can tell an oversized body. The answer
    // holds the tokens: it is read into a `SecretBody` sized so that it never grows
    // (a growing `Vec` leaves unwiped copies behind), through a chunk wiped after.
    let limit = max_body as u64 + 1;
    let mut reader = response.body_mut().with_config().limit(limit).reader();
    let mut answer = SecretBody::with_capacity(limit as usize);
    let mut chunk = zeroize::Zeroizing::new([0u8; 4096]);
    loop {
        match std::io::Read::read(&mut reader, &mut chunk[..]) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return Err(TransportError::new(
                    TransportErrorKind::Protocol,
                    e.to_string(),
                ));
            }
        }
    }
    drop(reader);
    let (parts, _) = response.into_parts();
    Ok(http::Response::from_parts(parts, answer))
}
