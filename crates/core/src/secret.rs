//! Secret-holding newtypes: redacted in `Debug`, wiped on drop, read only through `secret()`.

use std::fmt;
use std::sync::Arc;

use zeroize::{Zeroize, Zeroizing};

/// Stamps out one secret newtype. Modelled on oauth2-rs: no `Display`, no `PartialEq`,
/// a `Debug` that prints `[redacted]`, and one documented way out.
macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        // An `Arc` makes clones cheap (the token providers hand out clones on their hot
        // path); `Zeroizing` wipes the bytes when the last clone is dropped.
        #[derive(Clone)]
        pub struct $name(Arc<Zeroizing<Box<str>>>);

        impl $name {
            /// Wraps a secret value.
            ///
            /// ```
            #[doc = concat!("let s = smartling_auth_core::", stringify!($name), "::new(\"x\");")]
            /// assert_eq!(s.secret(), "x");
            /// ```
            pub fn new(value: impl Into<String>) -> Self {
                Self(Arc::new(Zeroizing::new(boxed(value.into()))))
            }

            /// Returns the secret value.
            ///
            /// # Security
            /// This is the only way to read the value. Do not log it, print it, put it in
            /// an error message or store it anywhere it could outlive its use.
            ///
            /// ```
            #[doc = concat!("let s = smartling_auth_core::", stringify!($name), "::new(\"x\");")]
            /// assert_eq!(s.secret(), "x");
            /// ```
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Compares two secrets without exposing them; equal values compare equal
            /// even when they were created separately.
            ///
            /// ```
            #[doc = concat!("use smartling_auth_core::", stringify!($name), ";")]
            #[doc = concat!("assert!(", stringify!($name), "::new(\"a\").same_secret(&", stringify!($name), "::new(\"a\")));")]
            #[doc = concat!("assert!(!", stringify!($name), "::new(\"a\").same_secret(&", stringify!($name), "::new(\"b\")));")]
            /// ```
            pub fn same_secret(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0) || constant_time_eq(self.secret(), other.secret())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// A short-lived access token, sent as `Authorization: Bearer <token>` on API calls.
    AccessToken
);
secret_type!(
    /// A refresh token, exchanged at `/auth-api/v2/authenticate/refresh` for a new pair.
    RefreshToken
);
secret_type!(
    /// The user secret of a Smartling API token. It does not expire.
    UserSecret
);

/// The string as a boxed str (wiped as one slice; a `String` byte by byte). A string
/// with spare capacity would be moved by `into_boxed_str`, its old buffer freed
/// unwiped: it is copied instead, and wiped.
fn boxed(mut value: String) -> Box<str> {
    if value.len() == value.capacity() {
        return value.into_boxed_str();
    }
    let boxed = Box::from(value.as_str());
    value.zeroize();
    boxed
}

/// Length-independent comparison of the bytes, so timing says little about where two
/// secrets differ.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user identifier and user secret of a Smartling API token.
///
/// The identifier is not secret and shows in `Debug`; the secret never does.
///
/// ```
/// use smartling_auth_core::Credentials;
/// let creds = Credentials::new("user-id", "s3cret");
/// assert_eq!(creds.user_identifier(), "user-id");
/// assert!(!format!("{creds:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    user_identifier: String,
    user_secret: UserSecret,
}

impl Credentials {
    /// Creates credentials from a user identifier and a user secret.
    ///
    /// ```
    /// let creds = smartling_auth_core::Credentials::new("id", "secret");
    /// assert_eq!(creds.user_secret().secret(), "secret");
    /// ```
    pub fn new(user_identifier: impl Into<String>, user_secret: impl Into<String>) -> Self {
        Self {
            user_identifier: user_identifier.into(),
            user_secret: UserSecret::new(user_secret),
        }
    }

    /// The user identifier.
    ///
    /// ```
    /// let creds = smartling_auth_core::Credentials::new("id", "secret");
    /// assert_eq!(creds.user_identifier(), "id");
    /// ```
    pub fn user_identifier(&self) -> &str {
        &self.user_identifier
    }

    /// The user secret.
    ///
    /// ```
    /// let creds = smartling_auth_core::Credentials::new("id", "secret");
    /// assert_eq!(creds.user_secret().secret(), "secret");
    /// ```
    pub fn user_secret(&self) -> &UserSecret {
        &self.user_secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user_identifier", &self.user_identifier)
            .field("user_secret", &self.user_secret)
            .finish()
    }
}

/// `Bearer <token>` as a header value marked sensitive.
///
/// ```
/// let h = smartling_auth_core::api::authorization_header(&smartling_auth_core::AccessToken::new("a.b.c"));
/// assert_eq!(h, "Bearer a.b.c");
/// assert!(h.is_sensitive());
/// ```
pub fn authorization_header(token: &AccessToken) -> http::HeaderValue {
    let mut value = String::with_capacity(7 + token.secret().len());
    value.push_str("Bearer ");
    value.push_str(token.secret());
    // Parsed tokens are visible ASCII (checked by the parser); a hand-made token that
    // is not still yields a header, with the offending bytes dropped by the check below.
    // The header's own bytes (in `http`'s `Bytes`) are the caller's, and are not
    // wiped when it drops: out of this crate's reach.
    let mut header = http::HeaderValue::from_str(&value).unwrap_or_else(|_| {
        // Sized up front: a growing string would leave unwiped copies behind.
        let mut cleaned = String::with_capacity(value.len());
        cleaned.extend(value.chars().filter(|c| c.is_ascii_graphic() || *c == ' '));
        let header = http::HeaderValue::from_str(&cleaned)
            .unwrap_or(http::HeaderValue::from_static("Bearer"));
        cleaned.zeroize();
        header
    });
    header.set_sensitive(true);
    value.zeroize();
    header
}
