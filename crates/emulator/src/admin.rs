//! The `/_emulator/` control API: clock, faults and counters over HTTP. Requests
//! reach it only once the `guard` module has let them through.

use std::time::Duration;

use hyper::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::endpoint::Endpoint;
use crate::faults::{Fault, FaultSpec};
use crate::handlers::parse_object;
use crate::reply::Reply;
use crate::state::State;

/// Upper bounds that keep a typo from wedging a test run.
const MAX_ADVANCE_SECS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;
const MAX_COUNT: u64 = 1_000_000;

/// Dispatches one admin request.
pub(crate) fn handle(state: &State, method: &Method, path: &str, body: &[u8]) -> Reply {
    let allowed: &str = match path {
        "/_emulator/clock/advance" | "/_emulator/counters/reset" | "/_emulator/panic" => "POST",
        "/_emulator/faults" => "POST, DELETE",
        "/_emulator/counters" => "GET",
        _ => return Reply::not_found("Unknown emulator admin path"),
    };
    match (method, path) {
        (&Method::POST, "/_emulator/clock/advance") => advance(state, body),
        (&Method::POST, "/_emulator/faults") => inject(state, body),
        (&Method::DELETE, "/_emulator/faults") => {
            state.faults.clear();
            Reply::success(json!({}))
        }
        (&Method::GET, "/_emulator/counters") => {
            Reply::success(state.counters.snapshot().to_json())
        }
        (&Method::POST, "/_emulator/counters/reset") => {
            state.counters.reset();
            Reply::success(json!({}))
        }
        (&Method::POST, "/_emulator/panic") => {
            // Lets tests prove a panicking handler becomes a 500 and the server lives on.
            panic!("deliberate panic requested through /_emulator/panic")
        }
        _ => Reply::method_not_allowed(allowed),
    }
}

fn bad(message: impl Into<String>) -> Reply {
    Reply::validation("invalid_admin_request", message)
}

fn advance(state: &State, body: &[u8]) -> Reply {
    let obj = match parse_object(body) {
        Ok(obj) => obj,
        Err(reply) => return reply,
    };
    let seconds = match obj.get("seconds") {
        None => return bad("seconds is required"),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(-1.0),
        Some(_) => return bad("seconds must be a number"),
    };
    if !(0.0..=MAX_ADVANCE_SECS).contains(&seconds) {
        return bad(format!(
            "seconds must be between 0 and {MAX_ADVANCE_SECS:.0}"
        ));
    }
    state.clock.advance(Duration::from_secs_f64(seconds));
    Reply::success(json!({ "offsetSeconds": state.clock.offset().as_secs_f64() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectRequest {
    endpoint: String,
    #[serde(default = "one")]
    count: u64,
    fault: FaultSpec,
}

fn one() -> u64 {
    1
}

fn inject(state: &State, body: &[u8]) -> Reply {
    if let Err(reply) = parse_object(body) {
        return reply;
    }
    let req: InjectRequest = match serde_json::from_slice(body) {
        Ok(req) => req,
        Err(e) => return bad(format!("invalid fault request: {e}")),
    };
    let Some(endpoint) = Endpoint::from_name(&req.endpoint) else {
        return bad("endpoint must be one of authenticate, refresh, whoami, other");
    };
    if !(1..=MAX_COUNT).contains(&req.count) {
        return bad(format!("count must be between 1 and {MAX_COUNT}"));
    }
    let fault = match Fault::try_from(req.fault) {
        Ok(fault) => fault,
        Err(message) => return bad(message),
    };
    state.faults.push(endpoint, fault, req.count);
    Reply::success(json!({
        "endpoint": endpoint.name(),
        "pending": state.faults.pending(endpoint),
    }))
}
