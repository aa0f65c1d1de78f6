//! The command line. Secrets never come from here: argv is visible to every user of
//! the machine, so tokens and the user secret are read from the environment or stdin.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The longest `--timeout` accepted: a day is already far beyond any sane script.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

const AFTER_HELP: &str = "\
Environment:
  SMARTLING_USER_IDENTIFIER, SMARTLING_USER_SECRET   credentials of a Smartling API token
  SMARTLING_REFRESH_TOKEN                            refresh token (refresh; token without credentials)
  SMARTLING_BASE_URL                                 same as --base-url
  SMARTLING_AUTH_STORE                               same as --store (keeps a Redis password out of ps)
  SMARTLING_AUTH_STORE_KEY                           64 hex digits sealing a Redis store's records
                                                     (needed with a refresh token alone)

Exit codes:
  0 success   1 the answer could not be written to stdout
  2 usage (bad flags, missing credentials, non-loopback http URL, --store with
    --cache-file, a bad store URL or key, or a --cache-file or lock file that is not
    a private file of yours in a private directory)
  3 the API rejected the request (4xx)
  4 network, timeout or server failure after retries, or a wait past the deadline

Example:
  curl -H \"Authorization: Bearer $(smartling-auth token)\" https://api.smartling.com/...";

/// Prints Smartling access tokens for scripts, with a shared on-disk cache.
#[derive(Debug, Parser)]
#[command(name = "smartling-auth", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// API base URL [default: `https://api.smartling.com`]. Plain http is accepted only
    /// for loopback hosts.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SMARTLING_BASE_URL",
        hide_env_values = true
    )]
    pub base_url: Option<String>,

    /// Total timeout of each request and overall deadline of the command, in seconds
    /// (may be fractional) [default: 30 per request, 60 overall].
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// Token cache file [default: one file per base URL and user in the platform
    /// cache directory].
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "no_cache")]
    pub cache_file: Option<PathBuf>,

    /// Token store shared with other processes: `redis://…`, `rediss://…` or a file
    /// path [default: the per-user file cache]. Prefer `SMARTLING_AUTH_STORE` for a URL
    /// with a password: argv is visible in `ps`.
    #[arg(
        long,
        global = true,
        value_name = "URL|PATH",
        conflicts_with = "no_cache"
    )]
    pub store: Option<String>,

    /// Neither read nor write the token cache: `token` always renews.
    #[arg(long, global = true)]
    pub no_cache: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub(crate) enum Command {
    /// Log in with SMARTLING_USER_IDENTIFIER and SMARTLING_USER_SECRET; print the
    /// token pair as JSON.
    Authenticate,
    /// Exchange a refresh token (SMARTLING_REFRESH_TOKEN, or else the first line of
    /// stdin) for a new pair; print it as JSON.
    Refresh,
    /// Print a valid access token (one line): from the cache when it is fresh,
    /// otherwise refreshed or logged in anew, and cached.
    Token,
}

/// One line for a command-line error, built from clap's error kind and the flag
/// names involved. Values are never echoed: a secret pasted as an argument by mistake
/// must not end up in a terminal log or a CI transcript.
pub(crate) fn describe(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => flag_name(s),
        _ => None,
    };
    let named = context(ContextKind::InvalidArg);
    let arg = named.as_deref().unwrap_or("an argument");
    let detail = match e.kind() {
        ErrorKind::UnknownArgument => match &named {
            Some(flag) => format!("unexpected argument {flag}"),
            None => "unexpected argument (secrets go in environment variables, never in arguments)"
                .to_owned(),
        },
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            match std::error::Error::source(e) {
                Some(why) => format!("invalid value for {arg}: {why}"),
                None => format!("invalid or missing value for {arg}"),
            }
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a command is required: authenticate, refresh or token".to_owned()
        }
        ErrorKind::InvalidSubcommand => {
            "unknown command; expected authenticate, refresh or token".to_owned()
        }
        ErrorKind::ArgumentConflict => match context(ContextKind::PriorArg) {
            Some(prior) => format!("{arg} cannot be used with {prior}"),
            None => format!("{arg} cannot be used with another argument"),
        },
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("wrong number of values for {arg}")
        }
        ErrorKind::NoEquals => format!("{arg} needs `=` before its value"),
        _ => "invalid command line".to_owned(),
    };
    format!("{detail} (see 'smartling-auth --help')")
}

/// A flag's name (`--timeout`, `-x`) from clap's rendering of it (`--timeout <SECS>`,
/// `--flag=value`); `None` for anything that is not plainly a flag name.
fn flag_name(s: &str) -> Option<String> {
    let name = s.split(['=', ' ']).next()?;
    let plain = |n: &str| {
        !n.is_empty() && n.len() <= 40 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let ok = match name.strip_prefix("--") {
        Some(long) => plain(long),
        None => name.len() == 2 && name.starts_with('-') && plain(&name[1..]),
    };
    ok.then(|| name.to_owned())
}

/// `--timeout`: a positive, finite number of seconds. At least a millisecond, because
/// curl reads a zero millisecond timeout as "no timeout at all".
fn parse_timeout(s: &str) -> Result<Duration, String> {
    const WHAT: &str = "must be a positive number of seconds, at least 0.001 and at most 86400";
    let secs: f64 = s.trim().parse().map_err(|_| WHAT.to_owned())?;
    if !secs.is_finite() || secs < 0.001 {
        return Err(WHAT.to_owned());
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= MAX_TIMEOUT)
        .ok_or_else(|| WHAT.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_timeout("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["0", "-1", "abc", "", "NaN", "inf", "0.0001", "1e9"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    fn error_of(args: &[&str]) -> String {
        describe(&Cli::try_parse_from(args).unwrap_err())
    }

    #[test]
    fn errors_never_echo_values() {
        let secret = "s3cr3t-value";
        for args in [
            &["smartling-auth", "token", secret][..],
            &["smartling-auth", secret],
            &["smartling-auth", "--timeout", secret, "token"],
            &["smartling-auth", &format!("--x={secret}"), "token"],
            &["smartling-auth", "-p", secret, "token"],
        ] {
            let msg = error_of(args);
            assert!(!msg.contains("s3cr3t"), "{args:?}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn errors_name_the_flag() {
        assert!(error_of(&["smartling-auth", "--bogus", "token"]).contains("--bogus"));
        let msg = error_of(&["smartling-auth", "--timeout", "0", "token"]);
        assert!(
            msg.contains("--timeout") && msg.contains("positive"),
            "{msg}"
        );
        let msg = error_of(&["smartling-auth", "--no-cache", "--cache-file", "x", "token"]);
        assert!(msg.contains("cannot be used with"), "{msg}");
        assert!(error_of(&["smartling-auth"]).contains("a command is required"));
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
