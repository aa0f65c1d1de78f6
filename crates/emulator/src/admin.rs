//! The `/_emulator/` control API: clock, faults and counters over HTTP.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tiny_http::Method;

use crate::counters::Outcome;
use crate::endpoint::Endpoint;
use crate::envelope::ErrorItem;
use crate::faults::Fault;
use crate::handlers::parse_object;
use crate::reply::Reply;
use crate::server::Shared;

/// Upper bounds that keep a typo from wedging a test run.
const MAX_ADVANCE_SECS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;
const MAX_COUNT: u64 = 1_000_000;
const MAX_DELAY_MS: u64 = 600_000;
const MAX_OVERSIZED: usize = 1 << 30;

/// Dispatches one admin request.
pub(crate) fn handle(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Reply {
    let allowed: &str = match path {
        "/_emulator/clock/advance" | "/_emulator/counters/reset" | "/_emulator/panic" => "POST",
        "/_emulator/faults" => "POST, DELETE",
        "/_emulator/counters" => "GET",
        _ => {
            return Reply::error(
                404,
                Outcome::NotFound,
                &[ErrorItem::new("not_found", "Unknown emulator admin path")],
            );
        }
    };
    match (method, path) {
        (Method::Post, "/_emulator/clock/advance") => advance(shared, body),
        (Method::Post, "/_emulator/faults") => inject(shared, body),
        (Method::Delete, "/_emulator/faults") => {
            shared.faults.clear();
            Reply::success(json!({}))
        }
        (Method::Get, "/_emulator/counters") => {
            Reply::success(shared.counters.snapshot().to_json())
        }
        (Method::Post, "/_emulator/counters/reset") => {
            shared.counters.reset();
            Reply::success(json!({}))
        }
        (Method::Post, "/_emulator/panic") => {
            // Lets tests prove a panicking handler becomes a 500 and the server lives on.
            panic!("deliberate panic requested through /_emulator/panic")
        }
        _ => method_not_allowed(allowed),
    }
}

/// 405 with an envelope and the `Allow` header.
pub(crate) fn method_not_allowed(allowed: &str) -> Reply {
    Reply::error(
        405,
        Outcome::MethodNotAllowed,
        &[ErrorItem::new(
            "method_not_allowed",
            format!("Method not allowed; use {allowed}"),
        )],
    )
    .with_header("Allow", allowed)
}

fn bad(message: impl Into<String>) -> Reply {
    Reply::validation("invalid_admin_request", message)
}

fn advance(shared: &Shared, body: &[u8]) -> Reply {
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
    shared.clock.advance(Duration::from_secs_f64(seconds));
    Reply::success(json!({ "offsetSeconds": shared.clock.offset().as_secs_f64() }))
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

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FaultSpec {
    Status {
        status: u16,
        #[serde(default = "yes")]
        envelope: bool,
        #[serde(rename = "retryAfter", default)]
        retry_after: Option<String>,
    },
    Html {
        status: u16,
    },
    DelayHeaders {
        ms: u64,
    },
    DelayBody {
        ms: u64,
    },
    Truncate,
    Reset,
    Oversized {
        bytes: usize,
    },
}

fn inject(shared: &Shared, body: &[u8]) -> Reply {
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
    let fault = match to_fault(req.fault) {
        Ok(fault) => fault,
        Err(message) => return bad(message),
    };
    shared.faults.push(endpoint, fault, req.count);
    Reply::success(json!({
        "endpoint": endpoint.name(),
        "pending": shared.faults.pending(endpoint),
    }))
}

fn to_fault(spec: FaultSpec) -> Result<Fault, String> {
    let status_ok = |status: u16| {
        if (100..=599).contains(&status) {
            Ok(status)
        } else {
            Err("status must be between 100 and 599".to_owned())
        }
    };
    let delay = |ms: u64| {
        if ms <= MAX_DELAY_MS {
            Ok(Duration::from_millis(ms))
        } else {
            Err(format!("ms must be at most {MAX_DELAY_MS}"))
        }
    };
    Ok(match spec {
        FaultSpec::Status {
            status,
            envelope,
            retry_after,
        } => {
            if retry_after
                .as_deref()
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                return Err("retryAfter must not contain control characters".into());
            }
            Fault::Status {
                status: status_ok(status)?,
                envelope,
                retry_after,
            }
        }
        FaultSpec::Html { status } => Fault::Html {
            status: status_ok(status)?,
        },
        FaultSpec::DelayHeaders { ms } => Fault::DelayHeaders(delay(ms)?),
        FaultSpec::DelayBody { ms } => Fault::DelayBody(delay(ms)?),
        FaultSpec::Truncate => Fault::Truncate,
        FaultSpec::Reset => Fault::Reset,
        FaultSpec::Oversized { bytes } => {
            if bytes > MAX_OVERSIZED {
                return Err(format!("bytes must be at most {MAX_OVERSIZED}"));
            }
            Fault::Oversized { bytes }
        }
    })
}
