//! The API endpoints the emulator tells apart, for fault injection and counters.

/// An endpoint of the emulated API.
///
/// Used to aim injected faults ([`Emulator::inject`](crate::Emulator::inject)) and
/// to read [`Counters`](crate::Counters).
///
/// ```
/// use smartling_auth_emulator::Endpoint;
///
/// assert_eq!(Endpoint::Refresh.path(), Some("/auth-api/v2/authenticate/refresh"));
/// assert_eq!(Endpoint::from_name("whoami"), Some(Endpoint::WhoAmI));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /auth-api/v2/authenticate`.
    Authenticate,
    /// `POST /auth-api/v2/authenticate/refresh`.
    Refresh,
    /// `GET /auth-api/v2/whoami`: an emulator extension, not part of Smartling's API,
    /// that tells whether an access token is currently valid.
    WhoAmI,
    /// Any other path outside `/_emulator/` (answered 404).
    Other,
}

impl Endpoint {
    /// Every endpoint, in a stable order.
    ///
    /// ```
    /// use smartling_auth_emulator::Endpoint;
    ///
    /// assert_eq!(Endpoint::ALL.len(), 4);
    /// ```
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Authenticate,
        Endpoint::Refresh,
        Endpoint::WhoAmI,
        Endpoint::Other,
    ];

    /// The short name used by the admin API and the counters JSON.
    ///
    /// ```
    /// use smartling_auth_emulator::Endpoint;
    ///
    /// assert_eq!(Endpoint::Authenticate.name(), "authenticate");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Authenticate => "authenticate",
            Endpoint::Refresh => "refresh",
            Endpoint::WhoAmI => "whoami",
            Endpoint::Other => "other",
        }
    }

    /// Parses a short name as produced by [`Endpoint::name`].
    ///
    /// ```
    /// use smartling_auth_emulator::Endpoint;
    ///
    /// assert_eq!(Endpoint::from_name("refresh"), Some(Endpoint::Refresh));
    /// assert_eq!(Endpoint::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The request path, or `None` for [`Endpoint::Other`].
    ///
    /// ```
    /// use smartling_auth_emulator::Endpoint;
    ///
    /// assert_eq!(Endpoint::WhoAmI.path(), Some("/auth-api/v2/whoami"));
    /// assert_eq!(Endpoint::Other.path(), None);
    /// ```
    pub fn path(self) -> Option<&'static str> {
        match self {
            Endpoint::Authenticate => Some("/auth-api/v2/authenticate"),
            Endpoint::Refresh => Some("/auth-api/v2/authenticate/refresh"),
            Endpoint::WhoAmI => Some("/auth-api/v2/whoami"),
            Endpoint::Other => None,
        }
    }

    /// The HTTP method the endpoint accepts, or `None` for [`Endpoint::Other`].
    ///
    /// ```
    /// use smartling_auth_emulator::Endpoint;
    ///
    /// assert_eq!(Endpoint::Authenticate.method(), Some("POST"));
    /// assert_eq!(Endpoint::WhoAmI.method(), Some("GET"));
    /// ```
    pub fn method(self) -> Option<&'static str> {
        match self {
            Endpoint::Authenticate | Endpoint::Refresh => Some("POST"),
            Endpoint::WhoAmI => Some("GET"),
            Endpoint::Other => None,
        }
    }

    /// The endpoint serving `path` (query string already removed).
    pub(crate) fn for_path(path: &str) -> Endpoint {
        Endpoint::ALL
            .into_iter()
            .find(|e| e.path() == Some(path))
            .unwrap_or(Endpoint::Other)
    }

    /// Position in [`Endpoint::ALL`], for array-backed tables.
    pub(crate) fn index(self) -> usize {
        match self {
            Endpoint::Authenticate => 0,
            Endpoint::Refresh => 1,
            Endpoint::WhoAmI => 2,
            Endpoint::Other => 3,
        }
    }
}
