//! `Retry-After` in both forms HTTP allows: delta-seconds and HTTP-date.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{DATE, RETRY_AFTER};

/// A server's `Retry-After`.
///
/// ```
/// use smartling_auth_core::error::RetryAfter;
/// use std::time::Duration;
/// let h = http::HeaderMap::new();
/// assert_eq!(RetryAfter::from_headers(&h), None);
/// let mut h = http::HeaderMap::new();
/// h.insert("retry-after", "120".parse().unwrap());
/// assert_eq!(RetryAfter::from_headers(&h).unwrap().delay(), Some(Duration::from_secs(120)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`.
    Delay(Duration),
    /// `Retry-After: <HTTP-date>`.
    At {
        /// The date named by the header.
        at: SystemTime,
        /// The response's own `Date` header, when present: the difference between the
        /// two is the delay by the server's clock, immune to skew with ours.
        server_date: Option<SystemTime>,
    },
}

impl RetryAfter {
    /// Reads `Retry-After` (and `Date`, for the HTTP-date form) from response headers.
    /// A value that is neither form is ignored.
    ///
    /// ```
    /// use smartling_auth_core::error::RetryAfter;
    /// use std::time::Duration;
    /// let mut h = http::HeaderMap::new();
    /// h.insert("date", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
    /// h.insert("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT".parse().unwrap());
    /// assert_eq!(RetryAfter::from_headers(&h).unwrap().delay(), Some(Duration::from_secs(30)));
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Digits beyond u64 are still "a very long time": saturate, the policy clamps.
            let secs = value.parse::<u64>().unwrap_or(u64::MAX);
            return Some(RetryAfter::Delay(Duration::from_secs(secs)));
        }
        let at = httpdate::parse_http_date(value).ok()?;
        let server_date = headers
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d.trim()).ok());
        Some(RetryAfter::At { at, server_date })
    }

    /// The delay this asks for, when it can be known without reading a clock: the
    /// seconds form, or a date next to the response's `Date` header.
    ///
    /// ```
    /// use smartling_auth_core::error::RetryAfter;
    /// use std::time::{Duration, SystemTime};
    /// let r = RetryAfter::At { at: SystemTime::UNIX_EPOCH, server_date: None };
    /// assert_eq!(r.delay(), None);
    /// ```
    pub fn delay(&self) -> Option<Duration> {
        match *self {
            RetryAfter::Delay(d) => Some(d),
            RetryAfter::At {
                at,
                server_date: Some(date),
            } => Some(at.duration_since(date).unwrap_or(Duration::ZERO)),
            RetryAfter::At {
                server_date: None, ..
            } => None,
        }
    }

    /// The delay measured against a wall clock reading the caller supplies; a date in
    /// the past means no delay.
    ///
    /// ```
    /// use smartling_auth_core::error::RetryAfter;
    /// use std::time::{Duration, SystemTime};
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
    /// let r = RetryAfter::At { at: now + Duration::from_secs(5), server_date: None };
    /// assert_eq!(r.delay_from(now), Duration::from_secs(5));
    /// ```
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match *self {
            RetryAfter::Delay(d) => d,
            RetryAfter::At { at, server_date } => at
                .duration_since(server_date.unwrap_or(now))
                .unwrap_or(Duration::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn both_forms_and_broken_ones() {
        let d = |s| RetryAfter::from_headers(&headers(&[("retry-after", s)]));
        assert_eq!(d("0"), Some(RetryAfter::Delay(Duration::ZERO)));
        assert_eq!(d(" 5 "), Some(RetryAfter::Delay(Duration::from_secs(5))));
        assert_eq!(
            d("99999999999999999999999"),
            Some(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "5s",
            "Wed, 99 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
        let date = d("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert!(matches!(
            date,
            RetryAfter::At {
                server_date: None,
                ..
            }
        ));
        assert_eq!(date.delay(), None);
    }

    #[test]
    fn a_date_before_the_server_date_means_now() {
        let h = headers(&[
            ("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT"),
        ]);
        assert_eq!(
            RetryAfter::from_headers(&h).unwrap().delay(),
            Some(Duration::ZERO)
        );
    }
}
