//! The API base URL, with the rule that plain `http` is for loopback only.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use http::Uri;

use crate::Error;

/// The production API: `https://api.smartling.com`.
pub const PRODUCTION: &str = "https://api.smartling.com";

/// Where the auth API lives: a scheme, a host and an optional path prefix (for a
/// gateway in front of the API).
///
/// `https` is accepted for any host. Plain `http` is accepted only for loopback hosts
/// (`127.0.0.0/8`, `[::1]`, `localhost`), because a refresh token must never cross a
/// network in clear text.
///
/// ```
/// use smartling_auth_core::BaseUrl;
/// assert_eq!(BaseUrl::default().as_str(), "https://api.smartling.com");
/// let local = BaseUrl::parse("http://127.0.0.1:8080/").unwrap();
/// assert_eq!(local.as_str(), "http://127.0.0.1:8080");
/// assert!(BaseUrl::parse("http://example.com").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    /// Normalised: no trailing slash, no query, no fragment, no user info.
    url: String,
}

impl BaseUrl {
    /// Parses and checks a base URL.
    ///
    /// ```
    /// use smartling_auth_core::BaseUrl;
    /// let gw = BaseUrl::parse("https://gateway.example/smartling/").unwrap();
    /// assert_eq!(gw.as_str(), "https://gateway.example/smartling");
    /// assert!(BaseUrl::parse("ftp://api.smartling.com").is_err());
    /// assert!(BaseUrl::parse("http://[::1]:9000").is_ok());
    /// ```
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidBaseUrl { reason };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("the URL is empty"));
        }
        // A URI is ASCII (RFC 3986 percent-encodes the rest), and `http::Uri` would let
        // raw UTF-8 through into the request line.
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "the URL must be ASCII without spaces or control characters (percent-encode the rest)",
            ));
        }
        if trimmed.contains('#') {
            return Err(invalid("a base URL cannot have a fragment"));
        }
        let uri = Uri::from_str(trimmed).map_err(|_| invalid("not a valid absolute URL"))?;
        let scheme = uri
            .scheme_str()
            .ok_or(invalid("the URL needs a scheme (https://)"))?
            .to_ascii_lowercase();
        let authority = uri.authority().ok_or(invalid("the URL needs a host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("a base URL cannot carry user info"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL cannot have a query"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid("the URL needs a host"));
        }
        // `Authority` is lenient: it keeps a port it cannot read and text after an IPv6
        // literal. Require exactly `host` or `host:port` with a valid port.
        let exact = match authority.port() {
            None => authority.as_str() == host,
            Some(port) => {
                port.as_str().parse::<u16>().is_ok()
                    && authority.as_str() == format!("{host}:{}", port.as_str())
            }
        };
        if !exact {
            return Err(invalid("the host or port is not valid"));
        }
        match scheme.as_str() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(invalid(
                    "plain http is allowed only for loopback hosts (127.0.0.0/8, [::1], localhost); use https",
                ));
            }
            _ => return Err(invalid("the scheme must be https (or http for loopback)")),
        }
        let path = uri.path().trim_end_matches('/');
        let url = format!(
            "{scheme}://{}{path}",
            authority.as_str().to_ascii_lowercase()
        );
        Ok(Self { url })
    }

    /// The normalised URL, without a trailing slash.
    ///
    /// ```
    /// assert_eq!(smartling_auth_core::BaseUrl::default().as_str(), "https://api.smartling.com");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Joins an absolute API path (starting with `/`) onto this base URL.
    ///
    /// ```
    /// let base = smartling_auth_core::BaseUrl::parse("https://gw.example/p").unwrap();
    /// assert_eq!(base.join("/auth-api/v2/authenticate"), "https://gw.example/p/auth-api/v2/authenticate");
    /// ```
    pub fn join(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.url.len() + path.len());
        s.push_str(&self.url);
        s.push_str(path);
        s
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self {
            url: PRODUCTION.to_owned(),
        }
    }
}

impl FromStr for BaseUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({:?})", self.url)
    }
}

/// `host` is as `http::uri::Authority::host` gives it: IPv6 literals keep brackets.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    // Only the canonical dotted quad: `127.1` or `0x7f.1` style hosts are ambiguous
    // between resolvers, so they are not trusted as loopback.
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_anywhere_and_http_on_loopback() {
        for ok in [
            "https://api.smartling.com",
            "HTTPS://API.SMARTLING.COM/",
            "https://10.0.0.1:8443/prefix/",
            "http://127.0.0.1",
            "http://127.8.9.10:1234",
            "http://localhost:80",
            "http://LOCALHOST",
            "http://[::1]:8080/x",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else_with_a_reason() {
        for bad in [
            "",
            "   ",
            "api.smartling.com",
            "/relative",
            "http://api.smartling.com",
            "http://128.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
            "http://127.1",
            "ftp://api.smartling.com",
            "https://user:pw@api.smartling.com",
            "https://api.smartling.com/?q=1",
            "https://api.smartling.com/#frag",
            "https://",
            "http://127.0.0.1:99999",
            "https://api.smartling.com:65536",
            "http://[::1]x",
            "https://a/b\u{2000}/",
            "https://gw.example/é",
            "https://api.smartling.com/a b",
        ] {
            let err = BaseUrl::parse(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidBaseUrl { .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().starts_with("invalid base URL"), "{err}");
        }
    }

    #[test]
    fn normalises_trailing_slashes_and_case() {
        let b = BaseUrl::parse("HTTPS://Api.Smartling.com//").unwrap();
        assert_eq!(b.as_str(), "https://api.smartling.com");
        assert_eq!(b.join("/a"), "https://api.smartling.com/a");
    }
}
