//! What a store holds: the tokens of one renewal, when the store's clock says they
//! were issued, and whose they are. Encoded as JSON, sealed when the store is shared.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::name::hex;
use super::seal::SEALED_TAG;
use super::{Origin, RecordName, SealKey};
use crate::response::{MAX_LIFETIME, TokenType, is_header_safe};
use crate::{AccessToken, RefreshToken, TokenPair};

/// The largest payload read: a real record is well under 4 KiB.
pub const MAX_RECORD: usize = 16 * 1024;

/// One renewal's tokens as a store holds them.
///
/// Times are relative to [`issued_at`](Self::issued_at), which is on the *store's*
/// clock: a reader compares it with the store's clock at its read, so the two
/// machines' clocks never meet.
///
/// ```
/// use smartling_auth_core::store::{Record, RecordName};
/// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair};
/// use std::time::{Duration, SystemTime};
/// let name = RecordName::new(&Default::default(), "user", None);
/// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
///     Duration::from_secs(480), Duration::from_secs(3660));
/// let record = Record::new(pair, SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
/// let bytes = record.encode(&name, 1, None);
/// let back = Record::decode(&name, 1, &bytes, None).unwrap();
/// assert_eq!(back.pair.access_token.secret(), "a");
/// assert!(Record::decode(&RecordName::new(&Default::default(), "other", None), 1, &bytes, None).is_err());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Record {
    /// The tokens, with the lifetimes they were granted with.
    pub pair: TokenPair,
    /// When the request that obtained them was sent, by the store's clock.
    pub issued_at: SystemTime,
    /// The refresh token the session that wrote it started from, if it started from
    /// one (see [`RecordName::with_origin`]). A name's own origin, when it has one,
    /// is what [`encode`](Self::encode) writes.
    pub origin: Option<Origin>,
}

/// Why a stored payload was not trusted. The payload is ignored and replaced; the
/// message never quotes it.
///
/// ```
/// use smartling_auth_core::store::{Record, RecordError, RecordName};
/// let name = RecordName::new(&Default::default(), "user", None);
/// assert_eq!(Record::decode(&name, 1, b"{", None).unwrap_err(), RecordError::Malformed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Larger than any record this library writes.
    #[error("record larger than {MAX_RECORD} bytes")]
    TooLarge,
    /// Sealed, and it does not open under this key (a wrong or rotated key, an altered
    /// or truncated payload, a record replayed under another name or version).
    #[error("sealed record does not open under this key")]
    Unopenable,
    /// Sealed where an unsealed record was expected.
    #[error("sealed record where a plain one was expected")]
    Sealed,
    /// Unsealed where a sealed record was expected: nobody with the key wrote it.
    #[error("unsealed record where a sealed one was expected")]
    NotSealed,
    /// Not a record: not JSON, a missing or extra field, another format version.
    #[error("malformed record")]
    Malformed,
    /// Written for another base URL or user.
    #[error("record belongs to another user or base URL")]
    Foreign,
    /// Written by a session started from another refresh token (perhaps another
    /// account's), where this session started from its own.
    #[error("record holds the session of another refresh token")]
    AnotherOrigin,
    /// A field with an impossible value (an empty or unprintable token, a lifetime
    /// beyond any the API grants, an issue time far in the future).
    #[error("record field `{0}` is invalid")]
    Invalid(&'static str),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire<'a> {
    /// The format version.
    v: u32,
    #[serde(borrow)]
    owner: Cow<'a, str>,
    #[serde(borrow)]
    access_token: Cow<'a, str>,
    #[serde(borrow)]
    refresh_token: Cow<'a, str>,
    #[serde(borrow)]
    token_type: Cow<'a, str>,
    issued_at_ms: u64,
    expires_in_ms: u64,
    refresh_expires_in_ms: u64,
    /// Only in records of sessions started from a bare refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    origin: Option<Cow<'a, str>>,
}

impl Record {
    /// A record of `pair`, obtained by a request sent at `issued_at` (store clock).
    ///
    /// ```
    /// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair, store::Record};
    /// use std::time::{Duration, SystemTime};
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// assert_eq!(Record::new(pair, SystemTime::UNIX_EPOCH).pair.expires_in.as_secs(), 480);
    /// ```
    pub fn new(pair: TokenPair, issued_at: SystemTime) -> Self {
        Self {
            pair,
            issued_at,
            origin: None,
        }
    }

    /// Encodes the record as version `version` of `name`, sealed under `key` if given.
    ///
    /// # Security
    /// Unsealed, the bytes hold both tokens in clear.
    ///
    /// ```
    /// use smartling_auth_core::store::{Record, RecordName, SealKey};
    /// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair};
    /// use std::time::{Duration, SystemTime};
    /// let key = SealKey::from_bytes([9; 32]);
    /// let name = RecordName::new(&Default::default(), "user", Some(&key));
    /// let pair = TokenPair::new(AccessToken::new("token-value"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let bytes = Record::new(pair, SystemTime::now()).encode(&name, 3, Some(&key));
    /// assert!(!bytes.windows(11).any(|w| w == b"token-value"));
    /// assert!(Record::decode(&name, 3, &bytes, Some(&key)).is_ok());
    /// ```
    pub fn encode(&self, name: &RecordName, version: u64, key: Option<&SealKey>) -> Vec<u8> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let wire = Wire {
            v: 1,
            owner: hex(name.owner()).into(),
            access_token: self.pair.access_token.secret().into(),
            refresh_token: self.pair.refresh_token.secret().into(),
            token_type: self.pair.token_type.as_str().into(),
            issued_at_ms: ms(self
                .issued_at
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()),
            expires_in_ms: ms(self.pair.expires_in),
            refresh_expires_in_ms: ms(self.pair.refresh_expires_in),
            origin: name.origin().or(self.origin).map(|o| o.to_string().into()),
        };
        // Strings and integers always serialise. Into a buffer that wipes what it
        // outgrows (sized to need none), as the plain record holds both tokens.
        let mut plain = crate::SecretBody::with_capacity(
            wire.access_token.len() + wire.refresh_token.len() + 256,
        );
        let _ = serde_json::to_writer(&mut plain, &wire);
        match key {
            Some(key) => key.seal(&context(name, version), &plain),
            None => plain.to_vec(),
        }
    }

    /// Decodes version `version` of `name`: opens it under `key` (or expects it
    /// unsealed without one) and checks every field and its owner.
    ///
    /// ```
    /// use smartling_auth_core::store::{Record, RecordError, RecordName, SealKey};
    /// let name = RecordName::new(&Default::default(), "user", None);
    /// assert_eq!(Record::decode(&name, 1, b"SAS1garbage", None).unwrap_err(), RecordError::Sealed);
    /// assert_eq!(Record::decode(&name, 1, b"{}", Some(&SealKey::from_bytes([0; 32]))).unwrap_err(),
    ///     RecordError::NotSealed);
    /// ```
    pub fn decode(
        name: &RecordName,
        version: u64,
        payload: &[u8],
        key: Option<&SealKey>,
    ) -> Result<Self, RecordError> {
        if payload.len() > MAX_RECORD {
            return Err(RecordError::TooLarge);
        }
        let sealed = payload.starts_with(SEALED_TAG);
        let opened;
        let plain: &[u8] = match (key, sealed) {
            (Some(key), true) => {
                opened = key
                    .open(&context(name, version), payload)
                    .ok_or(RecordError::Unopenable)?;
                &opened
            }
            (Some(_), false) => return Err(RecordError::NotSealed),
            (None, true) => return Err(RecordError::Sealed),
            (None, false) => payload,
        };
        let wire: Wire<'_> = serde_json::from_slice(plain).map_err(|_| RecordError::Malformed)?;
        if wire.v != 1 {
            return Err(RecordError::Malformed);
        }
        if wire.owner != hex(name.owner()) {
            return Err(RecordError::Foreign);
        }
        let origin = match wire.origin.as_deref() {
            None => None,
            Some(text) => Some(Origin::parse(text).ok_or(RecordError::Invalid("origin"))?),
        };
        if name.origin().is_some_and(|want| origin != Some(want)) {
            return Err(RecordError::AnotherOrigin);
        }
        for (field, value) in [
            ("accessToken", &wire.access_token),
            ("refreshToken", &wire.refresh_token),
            ("tokenType", &wire.token_type),
        ] {
            if value.is_empty() || !is_header_safe(value) {
                return Err(RecordError::Invalid(field));
            }
        }
        let lifetime = |field, ms: u64| {
            let d = Duration::from_millis(ms);
            if d > MAX_LIFETIME {
                Err(RecordError::Invalid(field))
            } else {
                Ok(d)
            }
        };
        let expires_in = lifetime("expiresInMs", wire.expires_in_ms)?;
        let refresh_expires_in = lifetime("refreshExpiresInMs", wire.refresh_expires_in_ms)?;
        // Far beyond any real clock: a value that cannot be a time.
        if wire.issued_at_ms > 1 << 52 {
            return Err(RecordError::Invalid("issuedAtMs"));
        }
        let mut pair = TokenPair::new(
            AccessToken::new(wire.access_token.into_owned()),
            RefreshToken::new(wire.refresh_token.into_owned()),
            expires_in,
            refresh_expires_in,
        );
        pair.token_type = TokenType::from_wire(&wire.token_type);
        Ok(Self {
            pair,
            issued_at: UNIX_EPOCH + Duration::from_millis(wire.issued_at_ms),
            origin,
        })
    }

    /// How long the access token still lives at `now` (the store's clock), if at all.
    ///
    /// ```
    /// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair, store::Record};
    /// use std::time::{Duration, SystemTime};
    /// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// let r = Record::new(pair, t0);
    /// assert_eq!(r.access_left(t0 + Duration::from_secs(80)), Some(Duration::from_secs(400)));
    /// assert_eq!(r.access_left(t0 + Duration::from_secs(480)), None);
    /// ```
    pub fn access_left(&self, now: SystemTime) -> Option<Duration> {
        left(self.issued_at, self.pair.expires_in, now)
    }

    /// How long the refresh token still lives at `now` (the store's clock), if at all.
    ///
    /// ```
    /// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair, store::Record};
    /// use std::time::{Duration, SystemTime};
    /// let t0 = SystemTime::UNIX_EPOCH;
    /// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     Duration::from_secs(480), Duration::from_secs(3660));
    /// assert_eq!(Record::new(pair, t0).refresh_left(t0 + Duration::from_secs(60)), Some(Duration::from_secs(3600)));
    /// ```
    pub fn refresh_left(&self, now: SystemTime) -> Option<Duration> {
        left(self.issued_at, self.pair.refresh_expires_in, now)
    }
}

fn left(issued: SystemTime, lifetime: Duration, now: SystemTime) -> Option<Duration> {
    let end = issued.checked_add(lifetime)?;
    // A store clock that reads before the issue time (a writer's estimate off by a few
    // milliseconds) never grants more than the whole lifetime.
    end.duration_since(now)
        .ok()
        .map(|d| d.min(lifetime))
        .filter(|d| !d.is_zero())
}

/// What a sealed record is bound to: its name and version, so it cannot be replayed
/// under another.
fn context(name: &RecordName, version: u64) -> Vec<u8> {
    format!("{name}|{version}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BaseUrl;

    fn record() -> Record {
        let pair = TokenPair::new(
            AccessToken::new("acc.tok.en"),
            RefreshToken::new("ref.tok.en"),
            Duration::from_secs(480),
            Duration::from_secs(3660),
        );
        Record::new(pair, UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    }

    #[test]
    fn broken_records_are_refused_with_a_reason_and_never_quoted() {
        let name = RecordName::new(&BaseUrl::default(), "user", None);
        let good = record().encode(&name, 1, None);
        let text = String::from_utf8(good.clone()).unwrap();
        let cases: Vec<(Vec<u8>, RecordError)> = vec![
            (b"".to_vec(), RecordError::Malformed),
            (b"null".to_vec(), RecordError::Malformed),
            (good[..good.len() / 2].to_vec(), RecordError::Malformed),
            (vec![b' '; MAX_RECORD + 1], RecordError::TooLarge),
            (
                text.replace("\"v\":1", "\"v\":2").into_bytes(),
                RecordError::Malformed,
            ),
            (
                text.replace("}", ",\"x\":1}").into_bytes(),
                RecordError::Malformed,
            ),
            (
                text.replace("acc.tok.en", "").into_bytes(),
                RecordError::Invalid("accessToken"),
            ),
            (
                text.replace("ref.tok.en", "a\\nb").into_bytes(),
                RecordError::Invalid("refreshToken"),
            ),
            (
                text.replace("\"expiresInMs\":480000", "\"expiresInMs\":99999999999999")
                    .into_bytes(),
                RecordError::Invalid("expiresInMs"),
            ),
            (
                text.replace(
                    "\"issuedAtMs\":1700000000000",
                    "\"issuedAtMs\":18446744073709551615",
                )
                .into_bytes(),
                RecordError::Invalid("issuedAtMs"),
            ),
        ];
        for (bytes, want) in cases {
            let got = Record::decode(&name, 1, &bytes, None).unwrap_err();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&bytes));
            assert!(!got.to_string().contains("tok.en"));
        }
        let other = RecordName::new(&BaseUrl::default(), "someone-else", None);
        assert_eq!(
            Record::decode(&other, 1, &good, None).unwrap_err(),
            RecordError::Foreign
        );
        assert!(Record::decode(&name, 1, &good, None).is_ok());
    }

    #[test]
    fn sealed_records_hide_tokens_and_refuse_other_keys_versions_and_names() {
        let key = SealKey::from_bytes([1; 32]);
        let name = RecordName::new(&BaseUrl::default(), "user", Some(&key));
        let sealed = record().encode(&name, 5, Some(&key));
        assert!(!sealed.windows(6).any(|w| w == b"tok.en"));
        assert!(Record::decode(&name, 5, &sealed, Some(&key)).is_ok());
        let rotated = SealKey::from_bytes([2; 32]);
        assert_eq!(
            Record::decode(&name, 5, &sealed, Some(&rotated)).unwrap_err(),
            RecordError::Unopenable
        );
        assert_eq!(
            Record::decode(&name, 6, &sealed, Some(&key)).unwrap_err(),
            RecordError::Unopenable
        );
        assert_eq!(
            Record::decode(&name, 5, &sealed, None).unwrap_err(),
            RecordError::Sealed
        );
        let plain = record().encode(&name, 5, None);
        assert_eq!(
            Record::decode(&name, 5, &plain, Some(&key)).unwrap_err(),
            RecordError::NotSealed
        );
    }

    #[test]
    fn a_record_of_another_refresh_tokens_session_is_refused_and_its_origin_is_kept() {
        let base = BaseUrl::default();
        let plain = RecordName::new(&base, "", None);
        let alice = Origin::of(&base, &RefreshToken::new("alice's"));
        let bob = Origin::of(&base, &RefreshToken::new("bob's"));
        let written = record().encode(&plain.clone().with_origin(alice), 1, None);
        // Bob's session does not take Alice's record; Alice's does.
        assert_eq!(
            Record::decode(&plain.clone().with_origin(bob), 1, &written, None).unwrap_err(),
            RecordError::AnotherOrigin
        );
        let back = Record::decode(&plain.clone().with_origin(alice), 1, &written, None).unwrap();
        assert_eq!(back.origin, Some(alice));
        // A session without a token of its own (the cache as it is) reads any origin,
        // and writes the one it read on.
        let read = Record::decode(&plain, 1, &written, None).unwrap();
        assert_eq!(read.origin, Some(alice));
        let again = read.encode(&plain, 2, None);
        assert_eq!(
            Record::decode(&plain, 2, &again, None).unwrap().origin,
            Some(alice)
        );
        // A record without an origin (a credentials session's, an older one) is not
        // taken for one with.
        let none = record().encode(&plain, 1, None);
        assert!(!String::from_utf8_lossy(&none).contains("origin"));
        assert_eq!(
            Record::decode(&plain.clone().with_origin(alice), 1, &none, None).unwrap_err(),
            RecordError::AnotherOrigin
        );
        let text = String::from_utf8(written).unwrap();
        let garbled = text.replace(&alice.to_string(), "not-hex");
        assert_eq!(
            Record::decode(&plain, 1, garbled.as_bytes(), None).unwrap_err(),
            RecordError::Invalid("origin")
        );
    }

    #[test]
    fn lifetimes_count_on_the_store_clock() {
        let r = record();
        assert_eq!(r.access_left(r.issued_at), Some(Duration::from_secs(480)));
        assert_eq!(r.access_left(r.issued_at + Duration::from_secs(481)), None);
        assert_eq!(
            r.refresh_left(r.issued_at + Duration::from_secs(3660)),
            None
        );
        // A store clock that reads before the issue time never adds life.
        assert_eq!(
            r.access_left(r.issued_at - Duration::from_secs(5)),
            Some(Duration::from_secs(480))
        );
    }
}
