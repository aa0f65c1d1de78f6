//! Mapping isahc's and curl's errors onto the core's transport error kinds, with
//! messages that say what failed and never echo the request.

use std::io;

use smartling_auth_core::{TransportError, error::TransportErrorKind};

/// Maps an isahc error.
pub(crate) fn from_isahc(e: &isahc::Error) -> TransportError {
    use isahc::error::ErrorKind as K;
    let kind = match e.kind() {
        K::NameResolution => TransportErrorKind::Dns,
        K::ConnectionFailed => TransportErrorKind::Connect,
        K::BadServerCertificate
        | K::BadClientCertificate
        | K::TlsEngine
        | K::InvalidTlsConfiguration => TransportErrorKind::Tls,
        K::Timeout => TransportErrorKind::Timeout,
        K::ProtocolViolation | K::InvalidContentEncoding => TransportErrorKind::Protocol,
        K::TooManyRedirects => TransportErrorKind::Redirect,
        K::Io if e.is_network() => TransportErrorKind::Reset,
        _ => TransportErrorKind::Other,
    };
    // isahc's message is curl's: it names hosts and ports, never headers or bodies.
    TransportError::new(kind, e.to_string())
}

/// Maps an error met while reading a response body.
pub(crate) fn from_io(e: &io::Error) -> TransportError {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<isahc::Error>()) {
        // curl's message for a cut-off body is often just "unknown error": say where.
        let mapped = from_isahc(inner);
        return TransportError::new(
            mapped.kind,
            format!("the response body was cut off: {}", mapped.message),
        );
    }
    let kind = match e.kind() {
        io::ErrorKind::TimedOut => TransportErrorKind::Timeout,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => TransportErrorKind::Reset,
        io::ErrorKind::UnexpectedEof => TransportErrorKind::Protocol,
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, format!("reading the response body: {e}"))
}
