//! Normal processing of the emulated API calls: validation, credentials, tokens.

use serde_json::{Map, Value, json};

use crate::counters::Outcome;
use crate::envelope::ErrorItem;
use crate::reply::Reply;
use crate::state::State;
use crate::tokens::Grant;

/// `POST /auth-api/v2/authenticate`.
pub(crate) fn authenticate(state: &State, body: &[u8]) -> Reply {
    let fields = match parse_object(body)
        .and_then(|obj| required_strings(&obj, &["userIdentifier", "userSecret"]))
    {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    let (id, secret) = (&fields[0], &fields[1]);
    if !state.credentials_match(id, secret) {
        // Never say which half was wrong, and never echo either.
        return Reply::unauthorized(
            "invalid_credentials",
            "Invalid user identifier or user secret",
        );
    }
    grant_reply(&state.tokens.login(id, &state.clock))
}

/// `POST /auth-api/v2/authenticate/refresh`.
pub(crate) fn refresh(state: &State, body: &[u8]) -> Reply {
    let fields = match parse_object(body).and_then(|obj| required_strings(&obj, &["refreshToken"]))
    {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    match state.tokens.refresh(&fields[0], &state.clock) {
        Ok(grant) => grant_reply(&grant),
        Err(why) => Reply::unauthorized("invalid_token", &why.to_string()),
    }
}

/// `GET /auth-api/v2/whoami` (emulator extension): checks a bearer access token.
pub(crate) fn whoami(state: &State, authorization: Option<&str>) -> Reply {
    let Some(header) = authorization else {
        return Reply::unauthorized("invalid_token", "Missing bearer access token");
    };
    let token = match header.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Reply::unauthorized(
                "invalid_token",
                "Authorization header is not a bearer token",
            );
        }
    };
    match state.tokens.whoami(token, &state.clock) {
        Some((user, expires_at)) => Reply::success(json!({
            "userIdentifier": user,
            "expiresAt": expires_at,
        })),
        None => Reply::unauthorized("invalid_token", "Invalid or expired access token"),
    }
}

fn grant_reply(grant: &Grant) -> Reply {
    Reply::success(json!({
        "accessToken": grant.access_token,
        "refreshToken": grant.refresh_token,
        "expiresIn": grant.expires_in,
        "refreshExpiresIn": grant.refresh_expires_in,
        "tokenType": "Bearer",
    }))
}

/// Parses a JSON object body. Messages never quote the body: it may hold secrets.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(Reply::validation(
            "invalid_body",
            "Request body must be a JSON object",
        )),
        Err(_) => Err(Reply::validation(
            "invalid_json",
            "Request body is not valid JSON",
        )),
    }
}

/// Collects the non-empty string `fields`, or one validation error per bad field.
fn required_strings(obj: &Map<String, Value>, fields: &[&str]) -> Result<Vec<String>, Reply> {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for &field in fields {
        match obj.get(field) {
            Some(Value::String(s)) if !s.is_empty() => values.push(s.clone()),
            None | Some(Value::Null) => errors.push(
                ErrorItem::new("missing_field", format!("{field} is required")).with_error_id(),
            ),
            Some(Value::String(_)) => errors.push(
                ErrorItem::new("missing_field", format!("{field} must not be empty"))
                    .with_error_id(),
            ),
            Some(_) => errors.push(
                ErrorItem::new("invalid_field", format!("{field} must be a string"))
                    .with_error_id(),
            ),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(Reply::error(400, Outcome::Rejected, &errors))
    }
}
