//! Command-line flags of the `smartling-auth-emulator` binary.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The environment variables the binary reads, for `--help`.
const ENVIRONMENT: &str = "\
Environment:
  SMARTLING_EMULATOR_USER=ID:SECRET  one API user, used when no --user is given
                                     (keeps the secret out of the process list)
  SMARTLING_EMULATOR_ADMIN_TOKEN     presets the admin token (16 to 256 visible ASCII
                                     characters); otherwise it is random";

/// A local emulator of Smartling's authentication API v2, for tests.
///
/// Prints `listening on http://HOST:PORT` as its first line, `admin token: TOKEN` as
/// its second and, without any user, `demo user: ID:SECRET` as its third. Admin
/// requests under /_emulator/ need `Authorization: Bearer TOKEN`. Stops on Ctrl-C or
/// SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "smartling-auth-emulator", version, about, long_about = None, after_help = ENVIRONMENT)]
pub(crate) struct Args {
    /// Address to listen on; one that is not loopback needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) bind: String,

    /// Let --bind name an address that is not loopback. Anyone who can reach it can
    /// use the API; only the admin token guards the admin API.
    #[arg(long)]
    pub(crate) allow_remote: bool,

    /// An API user; may be repeated. Without any, a random demo user is created.
    // Parsed after clap, by `users()`: clap's own error would repeat the value, secret
    // and all. The environment's value is never shown in --help.
    #[arg(
        long = "user",
        value_name = "ID:SECRET",
        env = "SMARTLING_EMULATOR_USER",
        hide_env_values = true
    )]
    pub(crate) users: Vec<String>,

    /// Access token lifetime in seconds [default: 480].
    #[arg(long, value_name = "S")]
    pub(crate) access_ttl: Option<u64>,

    /// Refresh token lifetime in seconds [default: 3660].
    #[arg(long, value_name = "S")]
    pub(crate) refresh_ttl: Option<u64>,

    /// Session cap in seconds [default: 43200].
    #[arg(long, value_name = "S")]
    pub(crate) session_ttl: Option<u64>,

    /// Let a refresh token be used more than once.
    #[arg(long)]
    pub(crate) no_single_use_refresh: bool,

    /// Limit authenticate calls to N per SECS seconds.
    #[arg(long, value_name = "N/SECS", value_parser = parse_rate)]
    pub(crate) rate_limit: Option<RateSpec>,

    /// Request body cap in bytes [default: 16384].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_body: Option<usize>,

    /// Runtime worker threads [default: the number of CPUs, at most 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) workers: Option<u16>,

    /// Most connections served at once; more wait in the kernel's queue [default: 4096].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: Option<u32>,

    /// Seconds the emulator waits on an idle or slow client before closing its
    /// connection [default: 60].
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) idle_timeout: Option<u64>,
}

impl Args {
    /// The `--user` values, checked. The error names the flag, never the value.
    pub(crate) fn users(&self) -> Result<Vec<UserSpec>, SpecError> {
        self.users.iter().map(|u| parse_user(u)).collect()
    }
}

/// `--user ID:SECRET`.
#[derive(Debug, Clone)]
pub(crate) struct UserSpec {
    pub(crate) id: String,
    pub(crate) secret: String,
}

/// `--rate-limit N/SECS`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateSpec {
    pub(crate) max: u32,
    pub(crate) window: Duration,
}

/// Why a flag value was refused. Messages never repeat the value: it may be a secret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpecError {
    #[error("expected ID:SECRET (a user identifier, a colon, then the secret)")]
    UserWithoutColon,
    #[error("the user identifier and the secret must both be non-empty")]
    UserEmptyPart,
    #[error("expected N/SECS, e.g. 10/1 for at most 10 calls per second")]
    RateShape,
    #[error("SECS must be a positive number of seconds")]
    RateWindow,
}

/// The warning for a listener that is not on loopback, if it is not.
pub(crate) fn remote_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "warning: listening on {addr}, which is not loopback: anyone who can reach it \
             can use the API, and only the admin token guards /_emulator/"
        )
    })
}

fn parse_user(s: &str) -> Result<UserSpec, SpecError> {
    let (id, secret) = s.split_once(':').ok_or(SpecError::UserWithoutColon)?;
    if id.is_empty() || secret.is_empty() {
        return Err(SpecError::UserEmptyPart);
    }
    Ok(UserSpec {
        id: id.to_owned(),
        secret: secret.to_owned(),
    })
}

fn parse_rate(s: &str) -> Result<RateSpec, SpecError> {
    let (n, secs) = s.split_once('/').ok_or(SpecError::RateShape)?;
    let max = n.trim().parse().map_err(|_| SpecError::RateShape)?;
    let secs: f64 = secs.trim().parse().map_err(|_| SpecError::RateWindow)?;
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(SpecError::RateWindow);
    }
    Ok(RateSpec {
        max,
        window: Duration::from_secs_f64(secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_specs() {
        let u = parse_user("id:se:cret").unwrap();
        assert_eq!((u.id.as_str(), u.secret.as_str()), ("id", "se:cret"));
        assert!(matches!(
            parse_user("nocolon"),
            Err(SpecError::UserWithoutColon)
        ));
        assert!(matches!(parse_user(":x"), Err(SpecError::UserEmptyPart)));
    }

    #[test]
    fn rate_specs() {
        let r = parse_rate("10/1").unwrap();
        assert_eq!((r.max, r.window), (10, Duration::from_secs(1)));
        assert!(parse_rate("10").is_err());
        assert!(parse_rate("x/1").is_err());
        assert!(parse_rate("1/0").is_err());
    }

    #[test]
    fn only_addresses_off_loopback_get_a_warning() {
        for remote in ["0.0.0.0:80", "[::]:80", "192.0.2.1:80"] {
            let warning = remote_warning(remote.parse().unwrap()).unwrap();
            assert!(warning.contains("not loopback") && warning.contains("admin token"));
        }
        for local in ["127.0.0.1:80", "[::1]:80"] {
            assert_eq!(remote_warning(local.parse().unwrap()), None);
        }
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
