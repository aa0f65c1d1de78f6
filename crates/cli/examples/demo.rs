//! The token lifecycle end to end, against a local emulator (`cargo xtask demo`).
//!
//! Starts the emulator on a loopback port, logs in through the library's blocking
//! `TokenProvider`, calls the emulator's `whoami` with the token, moves the emulator's
//! clock past the token's expiry, sees the 401, reports it to the provider, and gets a
//! new token, which the provider obtains with a refresh that rotates the refresh
//! token. Tokens are shown only as short SHA-256 fingerprints.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use smartling_auth_emulator::{Emulator, Endpoint, Outcome};
use smartling_auth_isahc::{
    AccessToken, BaseUrl, Client, Credentials, TokenProvider, api::authorization_header, http,
};

fn main() -> ExitCode {
    match run(&mut std::io::stdout().lock()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every secret the demo handled, so a test can check that none was printed.
pub struct Seen {
    /// Tokens and the user secret.
    pub secrets: Vec<String>,
}

/// Runs the demo, writing the transcript to `out`.
pub fn run(out: &mut dyn Write) -> Result<Seen, Box<dyn std::error::Error>> {
    let emu = Emulator::builder().start()?;
    let (user, secret) = emu.demo_user();
    writeln!(out, "smartling-auth demo: emulator on {}", emu.base_url())?;

    let provider = TokenProvider::builder(BaseUrl::parse(&emu.base_url())?)
        .credentials(Credentials::new(user.clone(), secret.clone()))
        .build()?;
    let http = Client::new()?;

    let first = provider.access_token()?;
    let before = provider.snapshot().ok_or("no session after login")?;
    writeln!(
        out,
        "1. logged in as {user}\n   access token {}, expires in {} (at {})\n   refresh token {}, expires in {}",
        fingerprint(first.secret()),
        time_left(before.access_expires_at),
        clock(before.access_expires_at),
        fingerprint(before.refresh_token.secret()),
        time_left(before.refresh_expires_at),
    )?;

    writeln!(
        out,
        "2. GET /auth-api/v2/whoami -> {}",
        whoami(&http, &emu, &first)?
    )?;

    let jump = Duration::from_secs(481);
    emu.advance(jump);
    writeln!(
        out,
        "3. emulator clock moved {} s ahead: the access token has expired there\n   (the provider's clock is real time: it learns of the expiry from the next 401)",
        jump.as_secs()
    )?;

    let status = whoami(&http, &emu, &first)?;
    let invalidated = provider.invalidate(&first);
    writeln!(
        out,
        "4. GET /auth-api/v2/whoami -> {status}; token reported to the provider: {}",
        yes(invalidated)
    )?;

    let second = provider.access_token()?;
    let after = provider.snapshot().ok_or("no session after refresh")?;
    let counters = emu.counters();
    writeln!(
        out,
        "5. new access token {}, expires in {} (at {})\n   refresh token {} (rotated: {})\n   requests: {} login, {} refresh",
        fingerprint(second.secret()),
        time_left(after.access_expires_at),
        clock(after.access_expires_at),
        fingerprint(after.refresh_token.secret()),
        yes(!after.refresh_token.same_secret(&before.refresh_token)),
        counters.get(Endpoint::Authenticate, Outcome::Success),
        counters.get(Endpoint::Refresh, Outcome::Success),
    )?;

    writeln!(
        out,
        "6. GET /auth-api/v2/whoami -> {}",
        whoami(&http, &emu, &second)?
    )?;
    emu.shutdown();
    writeln!(out, "done")?;

    Ok(Seen {
        secrets: vec![
            secret,
            first.secret().to_owned(),
            second.secret().to_owned(),
            before.refresh_token.secret().to_owned(),
            after.refresh_token.secret().to_owned(),
        ],
    })
}

/// The emulator's token check, with the status line as text.
fn whoami(
    client: &Client,
    emu: &Emulator,
    token: &AccessToken,
) -> Result<String, Box<dyn std::error::Error>> {
    let request = http::Request::get(emu.url("/auth-api/v2/whoami"))
        .header(http::header::AUTHORIZATION, authorization_header(token))
        .body(Default::default())?;
    let status = client.send(&request)?.status();
    Ok(format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ))
}

/// `sha256:` and the first 8 hex digits of the hash: enough to tell tokens apart,
/// nothing about the token itself.
fn fingerprint(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn time_left(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs_f64().round() as u64);
    format!("{secs} s")
}

/// `HH:MM:SS UTC`, without a date library.
fn clock(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
