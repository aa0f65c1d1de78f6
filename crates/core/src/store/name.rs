//! Record names: which record a session reads and writes, without showing whose it is.

use std::fmt;

use sha2::{Digest, Sha256};

use super::SealKey;
use crate::BaseUrl;

/// The name of one session's record in a store: a hash of the base URL and the user
/// identifier (or an explicit record name), then the fingerprint of the key that seals
/// it (`plain` when unsealed).
///
/// Two users never share a name, a key listing shows no user identifier, and records
/// sealed under different keys live under different names, so two fleets with
/// different keys never overwrite each other. Backends add their own prefix.
///
/// ```
/// use smartling_auth_core::{BaseUrl, store::RecordName};
/// let a = RecordName::new(&BaseUrl::default(), "alice", None);
/// let b = RecordName::new(&BaseUrl::default(), "bob", None);
/// assert_ne!(a, b);
/// assert!(!a.as_str().contains("alice"));
/// assert!(a.as_str().ends_with(".plain"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecordName {
    name: String,
    owner: [u8; 16],
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
        }
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
