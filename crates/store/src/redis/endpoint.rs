//! Where a [`RedisStore`](super::RedisStore) connects, and how: the URL parsed once,
//! and the TLS setup of `rediss://`.

use std::fmt;
use std::sync::Arc;

use redis::{ConnectionAddr, IntoConnectionInfo};
use smartling_auth_core::store::{StoreError, StoreErrorKind};
use zeroize::Zeroizing;

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

    /// Parses `url`. Messages never quote the URL (it may hold a password).
    pub(super) fn parse(url: &str) -> Result<Self, StoreError> {
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
        // The redis crate parses the rest (host, port, user, password, database); TLS
        // is ours, so it sees a plain URL.
        let plain = Zeroizing::new(format!("redis://{rest}"));
        let info = plain
            .as_str()
            .into_connection_info()
            .map_err(|e| refused(format!("invalid Redis URL: {:?}", e.kind())))?;
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            return Err(refused("a Redis store URL names a host"));
        };
        let settings = info.redis_settings();
        let tls = if tls {
            Some(Arc::new(tls_config(None)?))
        } else {
            None
        };
        Ok(Self {
            username: settings.username().map(str::to_owned),
            password: settings.password().map(|p| Zeroizing::new(p.to_owned())),
            db: settings.db(),
            host,
            port,
            tls,
        })
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
