//! `smartling-auth-emulator`: runs the emulator as a standalone process.
//!
//! Stdout: `listening on http://HOST:PORT`, then `admin token: TOKEN`, then, without
//! any user, `demo user: ID:SECRET`. Bad flags or environment values exit with 2.
#![forbid(unsafe_code)]

mod cli;

use std::env::{self, VarError};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use smartling_auth_emulator::Emulator;

const ADMIN_TOKEN_VAR: &str = "SMARTLING_EMULATOR_ADMIN_TOKEN";

fn main() -> ExitCode {
    let matches = cli::Args::command().get_matches();
    let args = cli::Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let users = match args.users() {
        Ok(users) => users,
        Err(e) => {
            // Name where the value came from, never the value: it may be a secret.
            let source = match matches.value_source("users") {
                Some(ValueSource::EnvVariable) => "SMARTLING_EMULATOR_USER",
                _ => "--user",
            };
            usage_error(format!("{source}: {e}"))
        }
    };
    let admin_token = match env::var(ADMIN_TOKEN_VAR) {
        Ok(token) if !token.is_empty() => Some(token),
        Ok(_) | Err(VarError::NotPresent) => None,
        Err(VarError::NotUnicode(_)) => usage_error(format!(
            "{ADMIN_TOKEN_VAR}: must be 16 to 256 visible ASCII characters"
        )),
    };
    match run(args, users, admin_token) {
        Ok(()) => ExitCode::SUCCESS,
        // Bad --bind, an address that needs --allow-remote, a malformed token.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => usage_error(e.to_string()),
        Err(e) => {
            eprintln!("smartling-auth-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a usage error in clap's format and exits with 2.
fn usage_error(message: String) -> ! {
    cli::Args::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

fn run(args: cli::Args, users: Vec<cli::UserSpec>, admin_token: Option<String>) -> io::Result<()> {
    // Install the handler first so a signal right after the banner is not lost.
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(io::Error::other)?;

    let mut builder = Emulator::builder()
        .bind(&args.bind)
        .allow_remote(args.allow_remote)
        .single_use_refresh(!args.no_single_use_refresh);
    for user in &users {
        builder = builder.user(&user.id, &user.secret);
    }
    if let Some(token) = admin_token {
        builder = builder.admin_token(token);
    }
    if let Some(s) = args.access_ttl {
        builder = builder.access_ttl(Duration::from_secs(s));
    }
    if let Some(s) = args.refresh_ttl {
        builder = builder.refresh_ttl(Duration::from_secs(s));
    }
    if let Some(s) = args.session_ttl {
        builder = builder.session_ttl(Duration::from_secs(s));
    }
    if let Some(rate) = args.rate_limit {
        builder = builder.rate_limit(rate.max, rate.window);
    }
    if let Some(bytes) = args.max_body {
        builder = builder.max_body(bytes);
    }
    if let Some(n) = args.workers {
        builder = builder.workers(usize::from(n));
    }
    if let Some(n) = args.max_connections {
        builder = builder.max_connections(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(s) = args.idle_timeout {
        builder = builder.idle_timeout(Duration::from_secs(s));
    }
    let emulator = builder.start()?;

    if let Some(warning) = cli::remote_warning(emulator.addr()) {
        eprintln!("smartling-auth-emulator: {warning}");
    }
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {}", emulator.base_url())?;
    // A local test fake: printing the token and generated credentials is the point.
    writeln!(out, "admin token: {}", emulator.admin_token())?;
    if users.is_empty() {
        let (id, secret) = emulator.demo_user();
        writeln!(out, "demo user: {id}:{secret}")?;
    }
    out.flush()?;
    drop(out);

    // Either a signal or a dropped sender (impossible while the handler lives) ends it.
    let _ = stop_rx.recv();
    emulator.shutdown();
    Ok(())
}
