//! Secrets and settings read from the environment and stdin, never from argv.

use std::io::{IsTerminal, Read};
use std::os::fd::AsFd;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use smartling_auth_core::{BaseUrl, Credentials, RefreshToken};
use zeroize::Zeroizing;

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

/// A variable that holds a secret (a user secret, a token, a store URL with a
/// password, a store key): like [`var`], but the copy `std::env::var` makes is wiped
/// when dropped. The process's environment block itself is out of reach.
pub(crate) fn secret_var(name: &str) -> Result<Option<Zeroizing<String>>, Failure> {
    Ok(var(name)?.map(Zeroizing::new))
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
    match (var(USER_IDENTIFIER)?, secret_var(USER_SECRET)?) {
        // The string moves into the wiped-on-drop `UserSecret`; the emptied husk left
        // behind has nothing to wipe.
        (Some(id), Some(mut secret)) => {
            Ok(Some(Credentials::new(id, std::mem::take(&mut *secret))))
        }
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
    Ok(secret_var(REFRESH_TOKEN)?.map(|t| RefreshToken::new(t.trim())))
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
    let token = std::str::from_utf8(&line)
        .map_err(|_| Failure::Usage("cannot read a refresh token from stdin".to_owned()))?
        .trim();
    if token.is_empty() {
        return Err(missing());
    }
    Ok(RefreshToken::new(token))
}

enum StdinError {
    Unreadable,
    TimedOut,
}

/// The first line of stdin (at most `MAX_STDIN_LINE` bytes), or `TimedOut` if it has
/// not ended by `deadline`. A blocking read cannot be interrupted, so a thread reads
/// and this one waits on it with a timeout; on a timeout the thread is left blocked,
/// and goes when the process exits.
///
/// The line is a refresh token: it is read from the file descriptor straight into one
/// buffer that is wiped when dropped and never grows, not through `std::io::stdin()`,
/// whose process-wide buffer would keep a copy for good. What follows the first line
/// in the same read is read too, and wiped with it.
fn first_line_of_stdin(deadline: Instant) -> Result<Zeroizing<Vec<u8>>, StdinError> {
    let mut input = std::fs::File::from(
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|_| StdinError::Unreadable)?,
    );
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            let _ = tx.send(read_first_line(&mut input));
        })
        .map_err(|_| StdinError::Unreadable)?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(line)) => Ok(line),
        Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => Err(StdinError::Unreadable),
        Err(RecvTimeoutError::Timeout) => Err(StdinError::TimedOut),
    }
}

/// Reads until a newline, the end of input or `MAX_STDIN_LINE` bytes, into a buffer
/// allocated once; returns the line without its newline.
fn read_first_line(input: &mut impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_STDIN_LINE as usize]);
    let mut filled = 0;
    while filled < buf.len() {
        let n = match input.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        let end = filled + n;
        if let Some(newline) = buf[filled..end].iter().position(|&b| b == b'\n') {
            filled += newline;
            break;
        }
        filled = end;
    }
    // Truncating keeps the capacity: the bytes past the line are wiped on drop too.
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_read_without_its_newline_and_bounded() {
        let line = |input: &[u8]| read_first_line(&mut &input[..]).unwrap().to_vec();
        assert_eq!(line(b"tok.en\nmore\n"), b"tok.en");
        assert_eq!(line(b"tok.en"), b"tok.en");
        assert_eq!(line(b""), b"");
        let long = vec![b'a'; MAX_STDIN_LINE as usize + 10];
        assert_eq!(line(&long).len(), MAX_STDIN_LINE as usize);
    }
}
