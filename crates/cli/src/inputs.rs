//! Secrets and settings read from the environment and stdin, never from argv.

use std::io::{BufRead, IsTerminal, Read};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use smartling_auth_core::{BaseUrl, Credentials, RefreshToken};

use crate::exit::Failure;

/// The user identifier of the API token.
pub(crate) const USER_IDENTIFIER: &str = "SMARTLING_USER_IDENTIFIER";
/// The user secret of the API token.
pub(crate) const USER_SECRET: &str = "SMARTLING_USER_SECRET";
/// A refresh token to start from.
pub(crate) const REFRESH_TOKEN: &str = "SMARTLING_REFRESH_TOKEN";

/// The longest first line of stdin read as a refresh token; real ones are ~1 KiB.
const MAX_STDIN_LINE: u64 = 64 * 1024;

/// A variable's value; unset and empty are the same, and a value that is not UTF-8 is
/// a usage error (named, never quoted).
pub(crate) fn var(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::Usage(format!("{name} is not valid UTF-8")))
        }
    }
}

/// The base URL: `--base-url` (or `SMARTLING_BASE_URL`, which clap reads), else
/// production.
pub(crate) fn base_url(flag: Option<&str>) -> Result<BaseUrl, Failure> {
    // clap passes an empty variable through; like the other variables, empty is unset.
    let empty_env = std::env::var_os("SMARTLING_BASE_URL").is_some_and(|v| v.is_empty());
    match flag {
        None => Ok(BaseUrl::default()),
        Some("") if empty_env => Ok(BaseUrl::default()),
        // The core error explains the rule without quoting the URL.
        Some(url) => BaseUrl::parse(url).map_err(|e| Failure::Usage(format!("--base-url: {e}"))),
    }
}

/// The credentials, if both variables are set; one without the other is a mistake.
pub(crate) fn credentials() -> Result<Option<Credentials>, Failure> {
    match (var(USER_IDENTIFIER)?, var(USER_SECRET)?) {
        (Some(id), Some(secret)) => Ok(Some(Credentials::new(id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Failure::Usage(format!(
            "{USER_IDENTIFIER} is set but {USER_SECRET} is not"
        ))),
        (None, Some(_)) => Err(Failure::Usage(format!(
            "{USER_SECRET} is set but {USER_IDENTIFIER} is not"
        ))),
    }
}

/// The credentials `authenticate` needs.
pub(crate) fn required_credentials() -> Result<Credentials, Failure> {
    credentials()?.ok_or_else(|| {
        Failure::Usage(format!(
            "missing credentials: set {USER_IDENTIFIER} and {USER_SECRET}"
        ))
    })
}

/// `SMARTLING_REFRESH_TOKEN`, if set.
pub(crate) fn env_refresh_token() -> Result<Option<RefreshToken>, Failure> {
    Ok(var(REFRESH_TOKEN)?.map(|t| RefreshToken::new(t.trim().to_owned())))
}

/// The refresh token for `refresh`: the variable, else the first line of stdin, read
/// by `deadline`. A terminal is refused rather than read: typing a token would echo it
/// on screen.
pub(crate) fn refresh_token_from_env_or_stdin(
    deadline: Instant,
    budget: Duration,
) -> Result<RefreshToken, Failure> {
    if let Some(t) = env_refresh_token()? {
        return Ok(t);
    }
    let missing = || {
        Failure::Usage(format!(
            "no refresh token: set {REFRESH_TOKEN} or pipe it on stdin"
        ))
    };
    if std::io::stdin().is_terminal() {
        return Err(missing());
    }
    let line = first_line_of_stdin(deadline).map_err(|e| match e {
        StdinError::Unreadable => {
            Failure::Usage("cannot read a refresh token from stdin".to_owned())
        }
        StdinError::TimedOut => Failure::TimedOut(format!(
            "timed out after {budget:?} waiting for a refresh token on stdin (end it with a newline, or set {REFRESH_TOKEN})"
        )),
    })?;
    let token = line.trim();
    if token.is_empty() {
        return Err(missing());
    }
    Ok(RefreshToken::new(token.to_owned()))
}

enum StdinError {
    Unreadable,
    TimedOut,
}

/// The first line of stdin (at most `MAX_STDIN_LINE` bytes), or `TimedOut` if it has
/// not ended by `deadline`. A blocking read cannot be interrupted, so a thread reads
/// and this one waits on it with a timeout; on a timeout the thread is left blocked,
/// and goes when the process exits.
fn first_line_of_stdin(deadline: Instant) -> Result<String, StdinError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin()
                .lock()
                .take(MAX_STDIN_LINE)
                .read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
        })
        .map_err(|_| StdinError::Unreadable)?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(line)) => Ok(line),
        Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => Err(StdinError::Unreadable),
        Err(RecvTimeoutError::Timeout) => Err(StdinError::TimedOut),
    }
}
