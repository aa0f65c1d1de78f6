//! Record names: which record a session reads and writes, without showing whose it is.

use std::fmt;

use sha2::{Digest, Sha256};

use super::SealKey;
use crate::{BaseUrl, RefreshToken};

/// The name of one session's record in a store: a hash of the base URL and the user
/// identifier (or an explicit record name), then the fingerprint of the key that seals
/// it (`plain` when unsealed).
///
/// Two users never share a name, a key listing shows no user identifier, and records
/// sealed under different keys live under different names, so two fleets with
/// different keys never overwrite each other. Backends add their own prefix.
///
/// A session started from a bare refresh token has no user identifier to be named
/// by; its record also carries the token's [`Origin`] ([`with_origin`](Self::with_origin)),
/// so a session started from another refresh token (perhaps another account's) never
/// takes it for its own. Names compare by the name alone: the origin says whose
/// record may be *used*, not where it lives.
///
/// The name is a public fact: anyone who can list the store and guesses a base URL
/// and user identifier can confirm the guess offline (it is an unsalted hash, so every
/// process of a fleet finds the same record).
///
/// ```
/// use smartling_auth_core::{BaseUrl, store::RecordName};
/// let a = RecordName::new(&BaseUrl::default(), "alice", None);
/// let b = RecordName::new(&BaseUrl::default(), "bob", None);
/// assert_ne!(a, b);
/// assert!(!a.as_str().contains("alice"));
/// assert!(a.as_str().ends_with(".plain"));
/// ```
#[derive(Clone)]
pub struct RecordName {
    name: String,
    owner: [u8; 16],
    origin: Option<Origin>,
}

impl PartialEq for RecordName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for RecordName {}

impl std::hash::Hash for RecordName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The refresh token a session started from, as a hash (of the base URL and the
/// token, 128 bits): the lineage of every pair renewed from it. A record written by
/// that session carries it, and a session that started from another token treats the
/// record as someone else's: it renews from its own token and replaces it.
///
/// Only a hash of a high-entropy token, it tells nothing about the token; it lives
/// inside the record (sealed, where the store is shared), never in a name.
///
/// ```
/// use smartling_auth_core::{BaseUrl, RefreshToken, store::Origin};
/// let alice = Origin::of(&BaseUrl::default(), &RefreshToken::new("alice's"));
/// let bob = Origin::of(&BaseUrl::default(), &RefreshToken::new("bob's"));
/// assert_ne!(alice, bob);
/// assert_eq!(alice, Origin::of(&BaseUrl::default(), &RefreshToken::new("alice's")));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin([u8; 16]);

impl Origin {
    /// The origin of sessions started from `token` at `base`.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, RefreshToken, store::Origin};
    /// let o = Origin::of(&BaseUrl::default(), &RefreshToken::new("r"));
    /// assert_eq!(o.to_string().len(), 32);
    /// ```
    pub fn of(base: &BaseUrl, token: &RefreshToken) -> Self {
        let mut h = Sha256::new();
        h.update(b"smartling-auth origin v1\n");
        h.update(base.as_str().as_bytes());
        h.update(b"\n");
        h.update(token.secret().as_bytes());
        let digest = h.finalize();
        let mut origin = [0; 16];
        origin.copy_from_slice(&digest[..16]);
        Self(origin)
    }

    /// Parses the hex form a record holds.
    pub(crate) fn parse(hex_digits: &str) -> Option<Self> {
        if hex_digits.len() != 32 || !hex_digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut origin = [0; 16];
        for (i, byte) in origin.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex_digits.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(origin))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({self})")
    }
}

impl RecordName {
    /// The record of `user` (a user identifier, or an explicit record name) at `base`,
    /// sealed under `key` if given.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, store::{RecordName, SealKey}};
    /// let key = SealKey::from_bytes([7; 32]);
    /// let sealed = RecordName::new(&BaseUrl::default(), "alice", Some(&key));
    /// assert_ne!(sealed, RecordName::new(&BaseUrl::default(), "alice", None));
    /// ```
    pub fn new(base: &BaseUrl, user: &str, key: Option<&SealKey>) -> Self {
        let mut h = Sha256::new();
        h.update(b"smartling-auth record v1\n");
        h.update(base.as_str().as_bytes());
        h.update(b"\n");
        h.update(user.as_bytes());
        let digest = h.finalize();
        let mut owner = [0; 16];
        owner.copy_from_slice(&digest[..16]);
        let suffix = key.map_or_else(|| "plain".to_owned(), SealKey::fingerprint);
        Self {
            name: format!("{}.{suffix}", hex(&owner)),
            owner,
            origin: None,
        }
    }

    /// The same record, for a session started from the refresh token `origin` stands
    /// for: a record of another origin is not used, and the session's writes carry
    /// this one.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, RefreshToken, store::{Origin, RecordName}};
    /// let plain = RecordName::new(&BaseUrl::default(), "", None);
    /// let origin = Origin::of(&BaseUrl::default(), &RefreshToken::new("r"));
    /// let seeded = plain.clone().with_origin(origin);
    /// assert_eq!(seeded, plain); // the same record
    /// assert_eq!(seeded.origin(), Some(origin));
    /// ```
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The origin a record must have to be used, if any (see
    /// [`with_origin`](Self::with_origin)).
    ///
    /// ```
    /// let n = smartling_auth_core::store::RecordName::new(&Default::default(), "u", None);
    /// assert_eq!(n.origin(), None);
    /// ```
    pub fn origin(&self) -> Option<Origin> {
        self.origin
    }

    /// The name as a backend stores it (before its prefix).
    ///
    /// ```
    /// let n = smartling_auth_core::store::RecordName::new(&Default::default(), "u", None);
    /// assert_eq!(n.as_str().len(), 32 + ".plain".len());
    /// ```
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The hash of the base URL and user that every record under this name carries, so
    /// a record copied under another name is recognised as someone else's.
    pub(crate) fn owner(&self) -> &[u8; 16] {
        &self.owner
    }
}

impl fmt::Debug for RecordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordName({})", self.name)
    }
}

impl fmt::Display for RecordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
