//! Where a [`RedisStore`](super::RedisStore) connects, and how: the URL parsed once,
//! the rule that clear text goes only to loopback unless the user opts in, and the
//! TLS setup of `rediss://`.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use redis::{ConnectionAddr, IntoConnectionInfo};
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
        format!("{}:{}", self.host, self.port)
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
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if pair == PLAINTEXT_OPT_IN {
                opted_in = true;
            } else if pair.split('=').next() == Some("insecure") {
                return Err(refused(format!(
                    "the Redis URL parameter `insecure` takes one value: `{PLAINTEXT_OPT_IN}`"
                )));
            } else {
                kept.push(pair);
            }
        }
        // The redis crate parses the rest (host, port, user, password, database); TLS
        // is ours, so it sees a plain URL.
        let mut plain = Zeroizing::new(format!("redis://{base}"));
        if !kept.is_empty() {
            plain.push('?');
            plain.push_str(&kept.join("&"));
        }
        let info = plain
            .as_str()
            .into_connection_info()
            .map_err(|e| refused(format!("invalid Redis URL: {:?}", e.kind())))?;
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            return Err(refused("a Redis store URL names a host"));
        };
        let settings = info.redis_settings();
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
            username: settings.username().map(str::to_owned),
            password: settings.password().map(|p| Zeroizing::new(p.to_owned())),
            db: settings.db(),
            loopback_only: tls.is_none() && loopback,
            plaintext_opted_in: tls.is_none() && !loopback,
            host,
            port,
            tls,
        })
    }
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
/// when a build enables both ring and aws-lc-rs (another crate may). Install ring, the
/// one this crate asks for, unless the application installed one already.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
