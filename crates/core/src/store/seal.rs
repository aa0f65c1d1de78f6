//! Sealing records at rest: XChaCha20-Poly1305 under a key derived with HKDF-SHA256.

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::name::hex;
use crate::{BaseUrl, UserSecret};

/// What starts every sealed payload; a plain record starts with `{`.
pub(crate) const SEALED_TAG: &[u8; 4] = b"SAS1";
const NONCE_LEN: usize = 24;

/// The key that seals records in a shared store.
///
/// Derived from the user secret (every process that logs in as the same user derives
/// the same key, and a rotated secret makes old records unreadable), or given
/// explicitly, which a process holding only a refresh token needs. Its `Debug` shows a
/// short fingerprint, never the key.
///
/// ```
/// use smartling_auth_core::{BaseUrl, UserSecret, store::SealKey};
/// let a = SealKey::derive(&BaseUrl::default(), "user", &UserSecret::new("secret"));
/// let b = SealKey::derive(&BaseUrl::default(), "user", &UserSecret::new("rotated"));
/// assert_ne!(a.fingerprint(), b.fingerprint());
/// assert!(!format!("{a:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct SealKey {
    /// Behind a pointer, written in place: moving or cloning a `SealKey` copies no key
    /// bytes, and the one copy is wiped when the last clone goes.
    key: Arc<Zeroizing<[u8; 32]>>,
    fingerprint: String,
}

/// A key made in place on the heap by `fill`, which may refuse it (the key is wiped).
fn new_key<E>(
    fill: impl FnOnce(&mut [u8; 32]) -> Result<(), E>,
) -> Result<Arc<Zeroizing<[u8; 32]>>, E> {
    let mut key = Arc::new(Zeroizing::new([0u8; 32]));
    // Just made: this is the only reference.
    let bytes = Arc::get_mut(&mut key).expect("a new Arc is unique");
    fill(bytes)?;
    Ok(key)
}

/// Overwrites the stack just below the caller's frame, where the frames of the key
/// derivation and of the cipher (HKDF's output blocks, the cipher's copy of the key,
/// HChaCha20's state) left copies of key material when they returned.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; 16 * 1024];
    // Volatile writes: not optimised away.
    area.zeroize();
    std::hint::black_box(&area);
}

/// An explicit key that could not be read, or that is not random.
///
/// ```
/// use smartling_auth_core::store::SealKey;
/// assert!(SealKey::parse("short").is_err());
/// assert!(SealKey::parse(&"00".repeat(32)).is_err(), "all zero");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a store key must be 64 hexadecimal digits (32 random bytes, e.g. from `openssl rand -hex 32`); {}",
    match distinct { Some(n) => format!("this one has only {n} distinct bytes, which no random key has"), None => format!("got {len} characters") }
)]
#[non_exhaustive]
pub struct SealKeyError {
    /// How many characters the rejected key had (never the key itself).
    pub len: usize,
    /// For a well-formed key that is not random (all zero, a repeated pattern): how
    /// many distinct byte values it has.
    pub distinct: Option<usize>,
}

/// Fewer distinct byte values than this, in 32 bytes, is no random key: 32 random
/// bytes have about 30, and at most 7 happens with a chance below 10^-33.
const MIN_DISTINCT_BYTES: usize = 8;

impl SealKey {
    /// Derives the key of `user`'s records at `base` from the user secret.
    ///
    /// ```
    /// use smartling_auth_core::{BaseUrl, UserSecret, store::SealKey};
    /// let k1 = SealKey::derive(&BaseUrl::default(), "u", &UserSecret::new("s"));
    /// let k2 = SealKey::derive(&BaseUrl::default(), "u", &UserSecret::new("s"));
    /// assert_eq!(k1.fingerprint(), k2.fingerprint());
    /// ```
    pub fn derive(base: &BaseUrl, user: &str, secret: &UserSecret) -> Self {
        let hk = Hkdf::<Sha256>::new(
            Some(b"smartling-auth store key v1"),
            secret.secret().as_bytes(),
        );
        let info = [base.as_str().as_bytes(), b"\n", user.as_bytes()].concat();
        let key =
            new_key(|key| hk.expand(&info, key)).expect("32 bytes is a valid HKDF-SHA256 length");
        scrub_stack();
        Self::from_key(key)
    }

    /// A key given as 32 bytes. The array passed is wiped here; the caller's own copy
    /// (an array is copied when passed) is the caller's to wipe.
    ///
    /// ```
    /// let k = smartling_auth_core::store::SealKey::from_bytes([1; 32]);
    /// assert_eq!(k.fingerprint().len(), 16);
    /// ```
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let Ok(key) = new_key(|key| {
            key.copy_from_slice(&bytes);
            Ok::<(), std::convert::Infallible>(())
        });
        bytes.zeroize();
        Self::from_key(key)
    }

    fn from_key(key: Arc<Zeroizing<[u8; 32]>>) -> Self {
        // The fingerprint comes from its own HKDF output, so it says nothing about the
        // sealing key beyond telling keys apart.
        let hk = Hkdf::<Sha256>::from_prk(&key[..]).expect("32 bytes is a valid PRK");
        let mut fp = [0; 8];
        hk.expand(b"smartling-auth record name", &mut fp)
            .expect("8 bytes is a valid HKDF-SHA256 length");
        Self {
            key,
            fingerprint: hex(&fp),
        }
    }

    /// A key written as 64 hexadecimal digits (`SMARTLING_AUTH_STORE_KEY`). Surrounding
    /// whitespace is ignored. A key that is plainly not random (all zero, one byte
    /// repeated, fewer than 8 distinct bytes) is refused: it would seal nothing.
    ///
    /// ```
    /// use smartling_auth_core::store::SealKey;
    /// let hex = "3f9c0e51a7d2b8460c1e95f3a27d6b08e4c1795a0d3b6f2e8a51c7940b6de2f1";
    /// let k = SealKey::parse(hex).unwrap();
    /// assert_eq!(k.fingerprint().len(), 16);
    /// assert!(SealKey::parse(&"ab".repeat(32)).is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, SealKeyError> {
        let text = text.trim();
        let err = SealKeyError {
            len: text.chars().count(),
            distinct: None,
        };
        if text.len() != 64 || !text.is_ascii() {
            return Err(err);
        }
        let key = new_key(|bytes| {
            for (i, pair) in text.as_bytes().chunks(2).enumerate() {
                let digit = |c: u8| (c as char).to_digit(16);
                match (digit(pair[0]), digit(pair[1])) {
                    (Some(h), Some(l)) => bytes[i] = (h * 16 + l) as u8,
                    _ => return Err(err.clone()),
                }
            }
            Ok(())
        })?;
        // Counted in a bitmap: a set of the bytes would be one more copy of the key.
        let mut seen = [false; 256];
        for b in key.iter() {
            seen[usize::from(*b)] = true;
        }
        let distinct = seen.iter().filter(|s| **s).count();
        seen.zeroize();
        if distinct < MIN_DISTINCT_BYTES {
            return Err(SealKeyError {
                distinct: Some(distinct),
                ..err
            });
        }
        Ok(Self::from_key(key))
    }

    /// A short public fingerprint: 16 hexadecimal digits that name the key in record
    /// names and logs.
    ///
    /// ```
    /// let k = smartling_auth_core::store::SealKey::from_bytes([1; 32]);
    /// assert!(k.fingerprint().chars().all(|c| c.is_ascii_hexdigit()));
    /// ```
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// Seals `plain`, bound to `context` (the record name and version), with a fresh
    /// random nonce.
    pub(crate) fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // A nonce must never repeat under one key; only the OS generator promises that
        // across processes. Without one, sealing is impossible and nothing is written.
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        // The cipher wipes its copy of the key when dropped.
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.key[..]));
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 seals any record length");
        drop(cipher);
        scrub_stack();
        [&SEALED_TAG[..], &nonce, &sealed].concat()
    }

    /// Opens a sealed payload, or `None` when it is not one, was sealed under another
    /// key or context, or was altered.
    pub(crate) fn open(&self, context: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let rest = sealed.strip_prefix(&SEALED_TAG[..])?;
        if rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.key[..]));
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .ok()
            .map(Zeroizing::new);
        drop(cipher);
        scrub_stack();
        plain
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey(fingerprint {})", self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_records_open_only_with_their_key_and_context() {
        let key = SealKey::from_bytes([3; 32]);
        let sealed = key.seal(b"name|1", b"{\"token\":\"abc\"}");
        assert!(sealed.starts_with(SEALED_TAG));
        assert!(!sealed.windows(3).any(|w| w == b"abc"));
        assert_eq!(
            &**key.open(b"name|1", &sealed).unwrap(),
            b"{\"token\":\"abc\"}"
        );
        assert!(
            key.open(b"name|2", &sealed).is_none(),
            "replayed under another version"
        );
        assert!(
            SealKey::from_bytes([4; 32])
                .open(b"name|1", &sealed)
                .is_none()
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open(b"name|1", &flipped).is_none());
        for cut in 0..sealed.len() {
            assert!(
                key.open(b"name|1", &sealed[..cut]).is_none(),
                "truncated at {cut}"
            );
        }
        assert_ne!(
            key.seal(b"c", b"same"),
            key.seal(b"c", b"same"),
            "nonces repeat"
        );
    }

    #[test]
    fn parse_rejects_every_malformed_key_without_echoing_it() {
        for bad in [
            "",
            "zz".repeat(32).as_str(),
            &"a".repeat(63),
            &"a".repeat(65),
            &"é".repeat(32),
            // Well formed, not random.
            &"00".repeat(32),
            &"ab".repeat(32),
            &"0123456789abcd".repeat(5)[..64],
        ] {
            let e = SealKey::parse(bad).unwrap_err();
            assert!(!bad.is_empty() || e.len == 0);
            if bad.len() > 4 {
                assert!(!e.to_string().contains(bad));
            }
        }
        assert_eq!(
            SealKey::parse(&"00".repeat(32)).unwrap_err().distinct,
            Some(1)
        );
        let random = "3f9c0e51a7d2b8460c1e95f3a27d6b08e4c1795a0d3b6f2e8a51c7940b6de2f1";
        assert!(SealKey::parse(&format!("  {random}\n")).is_ok());
        // Eight distinct bytes is the least taken.
        assert!(SealKey::parse(&"0001020304050607".repeat(4)).is_ok());
        assert!(SealKey::parse(&"00010203040506".repeat(5)[..64]).is_err());
    }
}
