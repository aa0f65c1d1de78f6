//! `smartling-auth`: Smartling access tokens for scripts.
//!
//! ```text
//! curl -H "Authorization: Bearer $(smartling-auth token)" https://api.smartling.com/...
//! ```
//!
//! `token` prints a cached access token while the core lifecycle rules call it fresh,
//! and otherwise renews it (refresh, or log in with the credentials from the
//! environment) under a cross-process lock, so concurrent runs share one renewal.
//! Secrets come from the environment or stdin, never from argv. See the README for
//! the exit codes and the cache rules.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod exit;
mod inputs;
mod output;
mod renew;
mod store;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

fn main() -> ExitCode {
    let start = Instant::now();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            output::error(&args::describe(&e));
            return ExitCode::from(exit::USAGE);
        }
    };
    match commands::run(cli, start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output::error(&failure.to_string());
            ExitCode::from(failure.exit_code())
        }
    }
}
