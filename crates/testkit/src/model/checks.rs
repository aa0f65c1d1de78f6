//! The checks the model runs after every step: what each poll may say, and what a
//! request it hands out must look like.

use std::time::Duration;

use smartling_auth_core::http::Method;
use smartling_auth_core::{
    Action, RequestKind, Transmit, api::AUTHENTICATE_PATH, api::REFRESH_PATH,
};

use super::{Model, SECRET, USER, Violation};

impl Model {
    /// Polls (twice, or three times after a `Send`) and checks every invariant; returns
    /// the first answer.
    pub fn check(&mut self) -> Result<Action, Violation> {
        let now = self.now;
        if let Some((id, sent)) = self.outstanding
            && now >= sent + self.policy.request_timeout
        {
            // The session times it out on this poll.
            self.outstanding = None;
            self.old.push(id);
        }
        let first = self.session.poll(now);
        let second = self.session.poll(now);
        if let Action::Send(t) = &first {
            ensure!(
                self.outstanding.is_none(),
                "a second request while one is outstanding"
            );
            ensure!(!matches!(second, Action::Send(_)), "two sends in a row");
            let third = self.session.poll(now);
            ensure!(
                summary(&second) == summary(&third),
                "poll is not repeatable: {} then {}",
                summary(&second),
                summary(&third)
            );
            if let Some(last) = self.last_id {
                ensure!(t.id > last, "a request id was reused");
            }
            self.last_id = Some(t.id);
            self.outstanding = Some((t.id, now));
            self.check_request(t)?;
        } else {
            ensure!(
                summary(&first) == summary(&second),
                "poll is not repeatable: {} then {}",
                summary(&first),
                summary(&second)
            );
        }
        self.check_action(&first)?;
        self.check_action(&second)?;
        Ok(first)
    }

    fn check_request(&self, t: &Transmit) -> Result<(), Violation> {
        ensure!(
            t.request.method() == Method::POST,
            "a request is not a POST"
        );
        ensure!(t.attempt >= 1, "attempt {} of a request", t.attempt);
        let body: serde_json::Value = serde_json::from_slice(t.request.body())
            .map_err(|e| Violation(format!("request body is not JSON: {e}")))?;
        match t.kind {
            RequestKind::Authenticate => {
                ensure!(self.credentials, "a login without credentials");
                ensure!(
                    t.request.uri().path() == AUTHENTICATE_PATH,
                    "a login to {}",
                    t.request.uri().path()
                );
                ensure!(
                    body["userIdentifier"] == USER && body["userSecret"] == SECRET,
                    "a login without the credentials in its body"
                );
            }
            RequestKind::Refresh => {
                ensure!(
                    t.request.uri().path() == REFRESH_PATH,
                    "a refresh to {}",
                    t.request.uri().path()
                );
                let token = body["refreshToken"].as_str().unwrap_or_default();
                ensure!(
                    self.refresh_tokens.contains(token),
                    "a refresh with a token the server never issued"
                );
            }
        }
        Ok(())
    }

    fn check_action(&mut self, action: &Action) -> Result<(), Violation> {
        let now = self.now;
        let kind = match action {
            Action::UseToken(_) => "UseToken".to_owned(),
            Action::Send(t) => format!("Send {:?}", t.kind),
            Action::Wait(_) => "Wait".to_owned(),
            Action::Fail(e) => format!("Fail {}", e.to_string().split(':').next().unwrap_or("")),
        };
        *self.seen.entry(kind).or_default() += 1;
        match action {
            Action::UseToken(g) => {
                let token = g.access_token.secret().to_owned();
                let Some(&(expires, lifetime)) = self.issued.get(&token) else {
                    return Err(Violation(format!(
                        "handed out a token never issued: {token}"
                    )));
                };
                let margin = self.policy.margins(lifetime).min_validity;
                if self.policy.min_validity.is_none() {
                    ensure!(
                        margin == (lifetime / 4).min(Duration::from_secs(30)),
                        "the default hard margin of a {lifetime:?} token is {margin:?}"
                    );
                }
                ensure!(now < expires, "handed out a dead token");
                ensure!(
                    now + margin <= expires,
                    "handed out a token with {:?} left, below its margin {margin:?}",
                    expires.saturating_duration_since(now)
                );
                ensure!(
                    g.valid_until + margin <= expires,
                    "valid_until past the margin"
                );
                ensure!(
                    g.fresh_until <= g.valid_until && now < g.fresh_until,
                    "fresh_until out of range"
                );
                self.last_token = Some(token);
            }
            Action::Wait(until) => {
                ensure!(*until > now, "a wait that would spin");
                let longest = self
                    .policy
                    .retry
                    .longest_wait()
                    .max(self.policy.request_timeout);
                ensure!(
                    *until - now <= longest,
                    "a wait of {:?}, beyond {longest:?}",
                    *until - now
                );
            }
            Action::Send(_) | Action::Fail(_) => {}
        }
        Ok(())
    }
}

/// What a poll said, in a comparable form.
pub(super) fn summary(a: &Action) -> String {
    match a {
        Action::UseToken(g) => format!(
            "use {} {} {:?} {:?}",
            g.access_token.secret(),
            g.token_type,
            g.valid_until,
            g.fresh_until
        ),
        Action::Send(t) => format!("send {:?}", t.id),
        Action::Wait(i) => format!("wait {i:?}"),
        Action::Fail(e) => format!("fail {e}"),
    }
}
