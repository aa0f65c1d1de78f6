//! TLS material for loopback servers of a test's own: a CA made for the test and a
//! server certificate it signed for `127.0.0.1` and `localhost` (rcgen; feature `redis`).

/// A CA and the loopback server certificate it signed, all in PEM.
#[derive(Debug, Clone)]
pub struct LoopbackTls {
    /// The CA certificate, to trust.
    pub ca_pem: String,
    /// The server's certificate, for `127.0.0.1` and `localhost`.
    pub cert_pem: String,
    /// The server's private key (PKCS #8).
    pub key_pem: String,
}

impl LoopbackTls {
    /// A fresh CA and server certificate.
    ///
    /// ```
    /// let tls = smartling_auth_testkit::tls::LoopbackTls::new();
    /// assert!(tls.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    /// assert!(tls.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    /// ```
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA");
        let key = rcgen::KeyPair::generate().expect("a server key");
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        let cert = params.signed_by(&key, &ca).expect("a server certificate");
        Self {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}
