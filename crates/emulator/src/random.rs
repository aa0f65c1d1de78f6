//! Unguessable random values from the operating system's CSPRNG.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills `buf` from the OS CSPRNG. A failing OS random source leaves no safe way to
/// mint tokens, so it panics (caught per request by the server).
pub(crate) fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random number generator failed");
}

/// `n` random bytes as unpadded base64url.
pub(crate) fn b64url(n: usize) -> String {
    let mut buf = vec![0; n];
    fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// 16 random bytes formatted like a UUID (v4 layout), as Keycloak `jti`s are.
pub(crate) fn uuid() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `n` characters drawn uniformly from `alphabet` (rejection sampling avoids modulo bias).
pub(crate) fn string_from(alphabet: &[u8], n: usize) -> String {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill(&mut buf);
        for &byte in &buf {
            if usize::from(byte) < limit && out.len() < n {
                out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unique_and_well_formed() {
        assert_ne!(uuid(), uuid());
        assert_eq!(uuid().len(), 36);
        let s = string_from(b"abc", 50);
        assert_eq!(s.len(), 50);
        assert!(s.bytes().all(|b| b"abc".contains(&b)));
        assert_eq!(b64url(3).len(), 4);
    }
}
