//! What can happen to a session in the model: the operations, the answers a fake server
//! sends, and how each becomes an HTTP answer. Selectors are small integers taken
//! modulo a table, so that any value a generator draws means something.

use std::time::Duration;

use smartling_auth_core::http::{HeaderValue, header};
use smartling_auth_core::{HttpResponse, api::MAX_LIFETIME, error::TransportErrorKind};

use crate::answers;

/// One step of a scenario.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// Time passes; with `poll: false` nobody polls before the next step.
    Advance {
        /// How long.
        step: Step,
        /// Whether the invariants are checked (the session polled) after it.
        poll: bool,
    },
    /// The server answers the outstanding request.
    Answer(Answer),
    /// An answer, failure or abandon for a request that is no longer outstanding.
    Late {
        /// The late answer.
        answer: Answer,
        /// `how % 3`: 0 an answer, 1 a transport error, 2 an abandon.
        how: u8,
    },
    /// The outstanding request fails in the transport ([`TRANSPORT_ERRORS`]`[sel %
    /// len]`).
    Transport(u8),
    /// A caller reports a token rejected: the last one handed out (`current`), or one
    /// never issued.
    Invalidate {
        /// Whether it is the last token handed out.
        current: bool,
    },
    /// The outstanding request's driver goes away.
    Abandon,
    /// A new caller arrives: a latched failure is cleared.
    Rearm,
    /// The session is persisted (`Snapshot::to_json`) and restored in a new one, with
    /// the wall clock `millis % 1000` further into its second.
    Restore {
        /// Milliseconds added to the wall clock, so that rounding is exercised.
        millis: u16,
    },
    /// An answer for a request id the session has not issued.
    Stale,
}

/// A step of time.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Step {
    /// Milliseconds.
    Millis(u16),
    /// Seconds.
    Seconds(u16),
    /// Minutes.
    Minutes(u8),
    /// Hours.
    Hours(u8),
}

impl Step {
    /// The step as a duration.
    ///
    /// ```
    /// use smartling_auth_testkit::model::Step;
    /// assert_eq!(Step::Minutes(2).duration().as_secs(), 120);
    /// ```
    pub fn duration(&self) -> Duration {
        match *self {
            Step::Millis(n) => Duration::from_millis(u64::from(n)),
            Step::Seconds(n) => Duration::from_secs(u64::from(n)),
            Step::Minutes(n) => Duration::from_secs(60 * u64::from(n)),
            Step::Hours(n) => Duration::from_secs(3600 * u64::from(n)),
        }
    }
}

/// What the fake server answers.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Answer {
    /// The success envelope with fresh tokens, under a 2xx ([`OK`]`[status % len]`).
    Success {
        /// `expiresIn`.
        expires_in: Lifetime,
        /// `refreshExpiresIn`.
        refresh_expires_in: Lifetime,
        /// Selects the 2xx status.
        status: u8,
    },
    /// An error envelope ([`ERR`]`[status % len]`, [`CODES`]`[code % len]`).
    Envelope {
        /// Selects the status.
        status: u8,
        /// Selects the error code.
        code: u8,
        /// A `Retry-After` header, if any.
        retry_after: Option<RetryAfterValue>,
    },
    /// A proxy's HTML page ([`ERR`]`[status % len]`).
    Html {
        /// Selects the status.
        status: u8,
        /// A `Retry-After` header, if any.
        retry_after: Option<RetryAfterValue>,
    },
    /// Any bytes under any status ([`ANY_STATUS`]`[status % len]`).
    Raw {
        /// Selects the status.
        status: u8,
        /// The body.
        body: Vec<u8>,
        /// A `Retry-After` header, if any.
        retry_after: Option<RetryAfterValue>,
    },
    /// A 200 whose JSON stops in the middle.
    Truncated,
}

/// A lifetime in a success answer.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Lifetime {
    /// Seconds, as a JSON number.
    Secs(u16),
    /// Any number of seconds, past [`MAX_LIFETIME`] too.
    Any(u32),
    /// Seconds as a string of digits, `"480"`.
    Digits(u16),
    /// One of the edges: 0, 1, 2, 4, the hard margin and just above it, 60, 61, 480,
    /// [`MAX_LIFETIME`] and one more.
    Boundary(u8),
}

impl Lifetime {
    /// The JSON value; `margin` is the hard margin in seconds, an edge.
    ///
    /// ```
    /// use smartling_auth_testkit::model::Lifetime;
    /// assert_eq!(Lifetime::Digits(480).json(30), "\"480\"");
    /// ```
    pub fn json(self, margin: u64) -> String {
        match self {
            Lifetime::Secs(n) => n.to_string(),
            Lifetime::Any(n) => n.to_string(),
            Lifetime::Digits(n) => format!("\"{n}\""),
            Lifetime::Boundary(b) => {
                let max = MAX_LIFETIME.as_secs();
                let all = [
                    0,
                    1,
                    2,
                    4,
                    margin,
                    margin + 1,
                    margin + 2,
                    60,
                    61,
                    480,
                    max,
                    max + 1,
                ];
                all[usize::from(b) % all.len()].to_string()
            }
        }
    }
}

/// A `Retry-After` value.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RetryAfterValue {
    /// Delta seconds.
    Secs(u32),
    /// An HTTP-date ([`DATES`]`[sel % len]`), with or without a `Date` header
    /// ([`DATE`]) to count from.
    Date {
        /// Selects the date.
        sel: u8,
        /// Whether a `Date` header is sent too.
        with_date: bool,
    },
    /// Any bytes (left out when they are not valid header bytes).
    Raw(Vec<u8>),
}

/// The `Date` header sent with HTTP-date `Retry-After`s.
pub const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

/// HTTP-dates around [`DATE`]: the same, +30 s, +60 s, +1 h, +1 day, -60 s, long past,
/// far future.
pub const DATES: [&str; 8] = [
    DATE,
    "Wed, 21 Oct 2015 07:28:30 GMT",
    "Wed, 21 Oct 2015 07:29:00 GMT",
    "Wed, 21 Oct 2015 08:28:00 GMT",
    "Thu, 22 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 2015 07:27:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
];

impl RetryAfterValue {
    /// The `Retry-After` value and, for a date, the `Date` header to send with it.
    fn headers(&self) -> (Vec<u8>, Option<&'static str>) {
        match self {
            RetryAfterValue::Secs(n) => (n.to_string().into_bytes(), None),
            RetryAfterValue::Date { sel, with_date } => (
                DATES[usize::from(*sel) % DATES.len()].as_bytes().to_vec(),
                with_date.then_some(DATE),
            ),
            RetryAfterValue::Raw(b) => (b.clone(), None),
        }
    }
}

/// The 2xx statuses of [`Answer::Success`].
pub const OK: [u16; 4] = [200, 201, 202, 204];
/// The statuses of [`Answer::Envelope`] and [`Answer::Html`]: the documented ones (401
/// the most), the ones proxies send, and a redirect.
pub const ERR: [u16; 14] = [
    400, 401, 401, 401, 403, 404, 408, 423, 429, 500, 502, 503, 504, 301,
];
/// The statuses of [`Answer::Raw`]: 2xx, the documented error statuses, the ones
/// proxies send, and odd ones (1xx, 3xx, 599, 999). Index 0 is 200.
pub const ANY_STATUS: [u16; 32] = [
    200, 201, 202, 204, 206, 299, 400, 401, 403, 404, 408, 409, 410, 423, 429, 500, 502, 503, 504,
    100, 101, 103, 301, 302, 304, 307, 418, 451, 505, 599, 600, 999,
];
/// The error codes of [`Answer::Envelope`]: the documented ones and an unknown one.
pub const CODES: [&str; 8] = [
    "AUTHENTICATION_ERROR",
    "AUTHORIZATION_ERROR",
    "VALIDATION_ERROR",
    "MAX_OPERATIONS_LIMIT_EXCEEDED",
    "GENERAL_ERROR",
    "MAINTENANCE_MODE_ERROR",
    "NOT_FOUND_ERROR",
    "SOME_NEW_CODE",
];
/// The transport errors of [`Op::Transport`].
pub const TRANSPORT_ERRORS: [TransportErrorKind; 9] = [
    TransportErrorKind::Dns,
    TransportErrorKind::Connect,
    TransportErrorKind::Tls,
    TransportErrorKind::Timeout,
    TransportErrorKind::Reset,
    TransportErrorKind::Protocol,
    TransportErrorKind::Redirect,
    TransportErrorKind::Cancelled,
    TransportErrorKind::Other,
];

fn pick(table: &[u16], sel: u8) -> u16 {
    table[usize::from(sel) % table.len()]
}

impl Answer {
    /// The healthy server's answer: a 480 s access token, a 3660 s refresh token.
    pub const HEALTHY: Answer = Answer::Success {
        expires_in: Lifetime::Secs(480),
        refresh_expires_in: Lifetime::Secs(3660),
        status: 0,
    };

    /// The HTTP answer, with tokens `access-{n}` and `refresh-{n}`; `margin` is the hard
    /// margin in seconds (a [`Lifetime::Boundary`] edge).
    ///
    /// ```
    /// use smartling_auth_testkit::model::Answer;
    /// let answer = Answer::HEALTHY.response(3, 30);
    /// let pair = smartling_auth_core::parse_token_response(&answer).unwrap();
    /// assert_eq!(pair.access_token.secret(), "access-3");
    /// ```
    pub fn response(&self, n: usize, margin: u64) -> HttpResponse {
        match self {
            Answer::Success {
                expires_in,
                refresh_expires_in,
                status,
            } => answers::response(
                pick(&OK, *status),
                answers::success_json(
                    &format!("access-{n}"),
                    &format!("refresh-{n}"),
                    expires_in.json(margin),
                    refresh_expires_in.json(margin),
                ),
            ),
            Answer::Envelope {
                status,
                code,
                retry_after,
            } => with_retry_after(
                answers::response(
                    pick(&ERR, *status),
                    answers::envelope_json(CODES[usize::from(*code) % CODES.len()], "k"),
                ),
                retry_after,
            ),
            Answer::Html {
                status,
                retry_after,
            } => {
                let page = answers::html(pick(&ERR, *status));
                with_retry_after(page, retry_after)
            }
            Answer::Raw {
                status,
                body,
                retry_after,
            } => with_retry_after(
                answers::response(pick(&ANY_STATUS, *status), body.clone()),
                retry_after,
            ),
            Answer::Truncated => answers::truncated(),
        }
    }
}

/// `r` with the `Retry-After` (and `Date`) headers; values that are not valid header
/// bytes are left out (a real client could not have received them).
fn with_retry_after(mut r: HttpResponse, retry_after: &Option<RetryAfterValue>) -> HttpResponse {
    if let Some(ra) = retry_after {
        let (value, date) = ra.headers();
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(d) = date {
            r.headers_mut()
                .insert(header::DATE, HeaderValue::from_static(d));
        }
    }
    r
}
