//! `smartling-auth-emulator`: runs the emulator as a standalone process.
#![forbid(unsafe_code)]

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use smartling_auth_emulator::Emulator;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let users = match args.users() {
        Ok(users) => users,
        Err(e) => {
            use clap::CommandFactory;
            cli::Args::command()
                .error(
                    clap::error::ErrorKind::ValueValidation,
                    format!("--user: {e}"),
                )
                .exit()
        }
    };
    match run(args, users) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smartling-auth-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Args, users: Vec<cli::UserSpec>) -> io::Result<()> {
    // Install the handler first so a signal right after the banner is not lost.
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(io::Error::other)?;

    let mut builder = Emulator::builder()
        .bind(&args.bind)
        .single_use_refresh(!args.no_single_use_refresh);
    for user in &users {
        builder = builder.user(&user.id, &user.secret);
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
    let emulator = builder.start()?;

    let mut out = io::stdout().lock();
    writeln!(out, "listening on {}", emulator.base_url())?;
    if users.is_empty() {
        // A local test fake: printing the generated credentials is the point.
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
