//! Facts of Smartling's authentication API: its production address, its paths, the
//! limits the parser holds answers to, the token type, and the helpers for a single
//! call's details (parse options, the `Authorization` header).

pub use crate::base_url::PRODUCTION;
pub use crate::request::{AUTHENTICATE_PATH, REFRESH_PATH, USER_AGENT_VALUE};
pub use crate::response::{
    DEFAULT_MAX_BODY, MAX_LIFETIME, ParseOptions, TokenType, parse_token_response_with,
};
pub use crate::secret::authorization_header;
