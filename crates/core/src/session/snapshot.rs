//! A session's tokens with wall-clock expiry times, for persisting between processes.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::FieldProblem;
use crate::response::{MAX_LIFETIME, TokenType, is_header_safe};
use crate::secret::{AccessToken, RefreshToken};

/// The tokens of a session and when they expire, by the wall clock.
///
/// ```
/// use smartling_auth_core::*;
/// use smartling_auth_core::{api::*, error::*};
/// use std::time::{Duration, Instant, SystemTime};
/// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
///     Duration::from_secs(480), Duration::from_secs(3660));
/// let s = Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair, Instant::now());
/// let snap = s.snapshot(Instant::now(), SystemTime::now()).unwrap();
/// let back = Snapshot::from_json(snap.to_json().as_bytes()).unwrap();
/// assert_eq!(back.access_token.secret(), "a");
/// assert!(!format!("{snap:?}").contains("\"a\""));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Snapshot {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token.
    pub refresh_token: RefreshToken,
    /// The access token's type.
    pub token_type: TokenType,
    /// When the access token expires.
    pub access_expires_at: SystemTime,
    /// When the refresh token expires.
    pub refresh_expires_at: SystemTime,
    /// False once the refresh token was refused or the session cap is near: the next
    /// renewal must log in.
    pub refresh_usable: bool,
    /// The lifetime the access token was granted with (`expiresIn`), which the default
    /// margins scale with. `None` in snapshots written before it was recorded.
    pub access_lifetime: Option<Duration>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("token_type", &self.token_type)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("refresh_usable", &self.refresh_usable)
            .field("access_lifetime", &self.access_lifetime)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    access_token: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    refresh_token: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    token_type: std::borrow::Cow<'a, str>,
    access_expires_at: u64,
    refresh_expires_at: u64,
    refresh_usable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_lifetime: Option<u64>,
}

/// A snapshot that could not be read back.
///
/// ```
/// let err = smartling_auth_core::Snapshot::from_json(b"{").unwrap_err();
/// assert!(err.to_string().starts_with("invalid session snapshot"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Not JSON, or not shaped like a snapshot (a missing, extra or mistyped field).
    #[error("invalid session snapshot: not a snapshot JSON object (line {line}, column {column})")]
    Shape {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// A field with a bad value.
    #[error("invalid session snapshot: field `{field}` {problem}")]
    Field {
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        problem: FieldProblem,
    },
}

impl Snapshot {
    /// Serialises the snapshot as JSON, expiry times in Unix seconds.
    ///
    /// # Security
    /// The JSON holds both tokens in clear. Store it only where a secret may go (a file
    /// readable by its owner alone, a secret store).
    ///
    /// ```
    /// use smartling_auth_core::*;
    /// use smartling_auth_core::{api::*, error::*};
    /// use std::time::{Duration, Instant, SystemTime};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let s = Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair, Instant::now());
    /// assert!(s.snapshot(Instant::now(), SystemTime::now()).unwrap().to_json().contains("accessExpiresAt"));
    /// ```
    pub fn to_json(&self) -> String {
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let wire = Wire {
            access_token: self.access_token.secret().into(),
            refresh_token: self.refresh_token.secret().into(),
            token_type: self.token_type.as_str().into(),
            access_expires_at: secs(self.access_expires_at),
            refresh_expires_at: secs(self.refresh_expires_at),
            refresh_usable: self.refresh_usable,
            access_lifetime: self.access_lifetime.map(|d| d.as_secs()),
        };
        // Strings, integers and a bool always serialise.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Reads a snapshot written by [`to_json`](Self::to_json). Errors never quote the
    /// input.
    ///
    /// ```
    /// use smartling_auth_core::{Snapshot, error::SnapshotError};
    /// let bad = br#"{"accessToken":"","refreshToken":"r","tokenType":"Bearer",
    ///   "accessExpiresAt":1,"refreshExpiresAt":2,"refreshUsable":true}"#;
    /// assert!(matches!(Snapshot::from_json(bad), Err(SnapshotError::Field { field: "accessToken", .. })));
    /// ```
    pub fn from_json(json: &[u8]) -> Result<Self, SnapshotError> {
        let wire: Wire<'_> = serde_json::from_slice(json).map_err(|e| SnapshotError::Shape {
            line: e.line(),
            column: e.column(),
        })?;
        let token = |field, s: &str| {
            if s.is_empty() {
                Err(SnapshotError::Field {
                    field,
                    problem: FieldProblem::Empty,
                })
            } else if !is_header_safe(s) {
                Err(SnapshotError::Field {
                    field,
                    problem: FieldProblem::InvalidCharacters,
                })
            } else {
                Ok(())
            }
        };
        token("accessToken", &wire.access_token)?;
        token("refreshToken", &wire.refresh_token)?;
        token("tokenType", &wire.token_type)?;
        let at = |field, secs: u64| {
            UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .filter(|_| secs <= i64::MAX as u64 / 2)
                .ok_or(SnapshotError::Field {
                    field,
                    problem: FieldProblem::TooLarge {
                        max_secs: i64::MAX as u64 / 2,
                    },
                })
        };
        Ok(Snapshot {
            access_expires_at: at("accessExpiresAt", wire.access_expires_at)?,
            refresh_expires_at: at("refreshExpiresAt", wire.refresh_expires_at)?,
            access_token: AccessToken::new(wire.access_token.into_owned()),
            refresh_token: RefreshToken::new(wire.refresh_token.into_owned()),
            token_type: TokenType::from_wire(&wire.token_type),
            refresh_usable: wire.refresh_usable,
            access_lifetime: match wire.access_lifetime {
                None => None,
                Some(0) => {
                    return Err(SnapshotError::Field {
                        field: "accessLifetime",
                        problem: FieldProblem::TooShort { min_secs: 0 },
                    });
                }
                Some(secs) if secs > MAX_LIFETIME.as_secs() => {
                    return Err(SnapshotError::Field {
                        field: "accessLifetime",
                        problem: FieldProblem::TooLarge {
                            max_secs: MAX_LIFETIME.as_secs(),
                        },
                    });
                }
                Some(secs) => Some(Duration::from_secs(secs)),
            },
        })
    }
}
