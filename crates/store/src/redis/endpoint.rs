//! Where a [`RedisStore`](super::RedisStore) connects, and how: the URL parsed once,
//! the rule that clear text goes only to loopback unless the user opts in, and the
//! TLS setup of `rediss://`.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use smartling_auth_core::store::{StoreError, StoreErrorKind};
use zeroize::Zeroizing;

/// The URL query parameter that allows `redis://` (clear text) to a host that is not
/// loopback.
pub(super) const PLAINTEXT_OPT_IN: &str = "insecure=plaintext";

/// A parsed store URL. Its `Debug` shows no password.
pub(super) struct Endpoint {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) db: i64,
    pub(super) username: Option<String>,
    /// For `AUTH`, and for scrubbing error messages (which should never quote it).
    pub(super) password: Option<Zeroizing<String>>,
    /// `rediss://`: the TLS setup.
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
    /// Clear text allowed because the host is loopback: the addresses it resolves to
    /// must be loopback too (a `localhost` that resolves elsewhere is refused).
    pub(super) loopback_only: bool,
    /// Clear text to a host that is not loopback, by the user's choice.
    pub(super) plaintext_opted_in: bool,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr())
            .field("db", &self.db)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

fn refused(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Refused, message)
}

impl Endpoint {
    /// `host:port`, for messages.
    pub(super) fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses `url`; `allow_plaintext` is the builder's opt-in, the URL may carry
    /// its own ([`PLAINTEXT_OPT_IN`]). Messages never quote the URL (it may hold a
    /// password).
    pub(super) fn parse(url: &str, allow_plaintext: bool) -> Result<Self, StoreError> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("rediss://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("redis://") {
            (false, rest)
        } else {
            return Err(refused(
                "a Redis store URL starts with redis:// or rediss://",
            ));
        };
        if rest.contains('#') {
            return Err(refused(
                "a Redis store URL takes no fragment (#…); for a CA of your own, use RedisStore::with_root_certificate",
            ));
        }
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut opted_in = allow_plaintext;
        // Other parameters (`protocol=…`) are ignored: the store speaks RESP2.
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if pair == PLAINTEXT_OPT_IN {
                opted_in = true;
            } else if pair.split('=').next() == Some("insecure") {
                return Err(refused(format!(
                    "the Redis URL parameter `insecure` takes one value: `{PLAINTEXT_OPT_IN}`"
                )));
            }
        }
        // Parsed here, not by the redis crate: its parser copies the password into
        // buffers (the URL's serialization, its percent-decoding) that are freed
        // without being wiped. TLS and `AUTH` are ours too.
        let Parts {
            username,
            password,
            host,
            port,
            db,
        } = Parts::of(base)?;
        let loopback = is_loopback(&host);
        if !tls && !loopback && !opted_in {
            return Err(refused(format!(
                "redis:// sends the Redis password and the store's records in clear text, and {host} is not this machine: use rediss://, or opt in with ?{PLAINTEXT_OPT_IN} in the URL (or RedisStore::open_allowing_plaintext)"
            )));
        }
        let tls = if tls {
            Some(Arc::new(tls_config(None)?))
        } else {
            None
        };
        Ok(Self {
            username,
            password,
            db,
            loopback_only: tls.is_none() && loopback,
            plaintext_opted_in: tls.is_none() && !loopback,
            host,
            port,
            tls,
        })
    }
}

/// The parts of `[user[:password]@]host[:port][/db]`: a URL after its scheme, without
/// its query.
struct Parts {
    username: Option<String>,
    password: Option<Zeroizing<String>>,
    /// A name or an address (an IPv6 one without its brackets).
    host: String,
    port: u16,
    db: i64,
}

impl Parts {
    fn of(rest: &str) -> Result<Self, StoreError> {
        let invalid = |what: &str| refused(format!("invalid Redis URL: {what}"));
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.find(':') {
                    Some(i) => (&info[..i], Some(&info[i + 1..])),
                    None => (info, None),
                };
                let user = decode(user).ok_or_else(|| invalid("the user name"))?;
                let user = (!user.is_empty()).then(|| user.to_string());
                let pass = match pass {
                    Some(p) => Some(decode(p).ok_or_else(|| invalid("the password"))?),
                    None => None,
                };
                (user, pass.filter(|p| !p.is_empty()))
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(|| invalid("the host"))?;
            addr.parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid("the host"))?;
            (addr, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(refused("a Redis store URL names a host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
        {
            return Err(invalid("the host"));
        }
        let port = match port {
            None | Some("") => 6379,
            Some(p) => p.parse().map_err(|_| invalid("the port"))?,
        };
        let db = match path.trim_end_matches('/') {
            "" => 0,
            n => n.parse().map_err(|_| invalid("the database number"))?,
        };
        Ok(Self {
            username,
            password,
            host: host.to_ascii_lowercase(),
            port,
            db,
        })
    }
}

/// Percent-decodes `text` into a buffer that is wiped on drop (a password passes
/// through it); `None` if a `%` escape is broken or the bytes are not UTF-8.
fn decode(text: &str) -> Option<Zeroizing<String>> {
    let b = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // Checked, then moved into the String: no copy is made.
    std::str::from_utf8(&out).ok()?;
    let bytes = std::mem::take(&mut *out);
    Some(Zeroizing::new(String::from_utf8(bytes).ok()?))
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8, `::1` (or an IPv4-mapped
/// loopback address).
pub(super) fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => is_loopback_ip(ip),
        Err(_) => false,
    }
}

/// Whether `ip` is loopback (an IPv4-mapped one too).
pub(super) fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The TLS setup: the webpki roots, or only the PEM root certificates in `pem`.
pub(super) fn tls_config(pem: Option<&[u8]>) -> Result<rustls::ClientConfig, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    ensure_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match pem {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert =
                    cert.map_err(|e| refused(format!("TLS setup: root certificate PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| refused(format!("TLS setup: root certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(refused("TLS setup: no root certificate in the PEM"));
            }
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// rustls picks its process-wide crypto provider from its crate features, and cannot
/// when a build enables both ring and aws-lc-rs (another crate may: dev builds do).
/// Install aws-lc-rs, the one this crate asks for (and curl's TLS uses), unless the
/// application, or curl's TLS, installed one already.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_their_parts_and_broken_ones_are_refused_without_quoting() {
        let e = Endpoint::parse(
            "redis://us%40er:p%3Ass@127.0.0.1:6380/4?protocol=resp3",
            false,
        )
        .unwrap();
        assert_eq!(e.username.as_deref(), Some("us@er"));
        assert_eq!(e.password.as_deref().map(String::as_str), Some("p:ss"));
        assert_eq!((e.host.as_str(), e.port, e.db), ("127.0.0.1", 6380, 4));
        let e = Endpoint::parse("redis://:pw@[::1]/", false).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("::1", 6379, 0));
        assert_eq!(e.addr(), "[::1]:6379");
        assert!(e.username.is_none());
        let e = Endpoint::parse("redis://LocalHost", false).unwrap();
        assert_eq!((e.host.as_str(), e.db), ("localhost", 0));
        for bad in [
            "redis://",
            "redis://:secret-pw@/",
            "redis://h:notaport/",
            "redis://h:70000/",
            "redis://h/notadb",
            "redis://[::1/",
            "redis://[nothex]/",
            "redis://:bad%zzsecret-pw@h/",
            "redis://:trunc%4secret-pw@h/",
            "redis://ho st/",
            "redis://a:secret-pw@h@/",
        ] {
            let e = Endpoint::parse(bad, true).unwrap_err();
            assert_eq!(e.kind, StoreErrorKind::Refused, "{bad}");
            assert!(!e.message.contains("secret-pw"), "{bad}: {e}");
        }
    }
}
