//! Wake-ups over Redis pub/sub: one subscriber connection and thread per store,
//! shared by every waiter of the process.
//!
//! The holder's scripts publish on the record's channel (`<record key>:wake`): `A`
//! when it takes or extends the lease (it lives), `W <secs> <micros> <value>` when it
//! writes a record (the store's clock at the write, then the value as stored), `R`
//! when it releases the lease. The thread notes the last word of each kind per
//! channel; [`Wakes::watch`] answers from those notes. A message lost (the connection
//! dropped, a user without channel rights) costs the waiter one quiet wait, after
//! which the machine reads the store: nothing here needs to be reliable.
//!
//! A process subscribes to a record's channel before it first asks for the record's
//! lease ([`Wakes::subscribed`]): word published after a refusal then always reaches
//! it, and a write it missed before the refusal is followed by a release it hears.
//!
//! The thread also listens on a channel of its own (`<prefix>wake-ctl:<random>`): a
//! record first waited on while the thread runs is announced there, so it is
//! subscribed to at once rather than at the thread's next look up from the socket.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, UNIX_EPOCH};

use event_listener::{Event, Listener};
use redis::{Msg, RedisResult, Value};
use smartling_auth_core::store::{Fetched, Watched};

use super::endpoint::Endpoint;
use super::link::Link;

/// How often the listening thread looks up from the socket, for the store's end (and
/// for channels to add, should their announcement be lost). It reads no store: a
/// quiet socket costs one wake-up of this thread per tick.
const TICK: Duration = Duration::from_millis(500);
/// The first and the longest pause before the thread connects again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The process's subscription: started by the first watch, ended with the store.
#[derive(Debug)]
pub(super) struct Wakes {
    shared: Arc<Shared>,
    /// The thread's own channel, for announcing channels to add.
    control: String,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified on every word heard.
    heard: Event,
}

#[derive(Debug, Default)]
struct State {
    channels: HashMap<String, Heard>,
    started: bool,
    stop: bool,
    /// The subscription is down; said once per outage.
    down: bool,
}

/// The last word of each kind on one channel, with when this process heard it.
#[derive(Debug, Default)]
struct Heard {
    written: Option<(Instant, Fetched)>,
    changed: Option<Instant>,
    alive: Option<Instant>,
    /// The server confirmed the subscription (on the current connection).
    subscribed: bool,
    /// The server refused this channel (ACL): not asked again.
    refused: bool,
}

impl Drop for Wakes {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
    }
}

impl Wakes {
    /// No subscription yet; `prefix` names the thread's own channel.
    pub(super) fn new(prefix: &str) -> Self {
        use std::hash::{BuildHasher, Hasher};
        // Random enough to tell this store's thread from every other's.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Self {
            shared: Arc::default(),
            control: format!("{prefix}wake-ctl:{:016x}", h.finish()),
        }
    }

    /// Waits for word on `channel` heard after `since`, until `until`. `announce`
    /// publishes on the channel it is given (the thread's own), when the thread must
    /// hear of a new channel at once.
    pub(super) fn watch(
        &self,
        endpoint: &Arc<Endpoint>,
        timeout: Duration,
        channel: &str,
        since: Instant,
        until: Instant,
        announce: impl FnOnce(&str),
    ) -> Watched {
        if self.ensure(endpoint, timeout, channel) {
            announce(&self.control);
        }
        loop {
            // Listen before looking, so word in between is not missed.
            let listener = self.shared.heard.listen();
            if let Some(word) = self
                .shared
                .lock()
                .channels
                .get(channel)
                .and_then(|h| h.after(since))
            {
                return word;
            }
            if Instant::now() >= until {
                return Watched::Quiet;
            }
            listener.wait_deadline(until);
        }
    }

    /// Subscribes to `channel` and waits, until `deadline` at most, for the server to
    /// confirm it (or refuse it, or the subscription to be down): called before the
    /// record's lease is asked for, so no word after a refusal is missed. Returns at
    /// once when the channel is subscribed already. (`timeout` is the store's limit,
    /// for the thread's exchanges.)
    pub(super) fn subscribed(
        &self,
        endpoint: &Arc<Endpoint>,
        timeout: Duration,
        channel: &str,
        deadline: Instant,
        announce: impl FnOnce(&str),
    ) {
        if self.ensure(endpoint, timeout, channel) {
            announce(&self.control);
        }
        loop {
            let listener = self.shared.heard.listen();
            {
                let state = self.shared.lock();
                let settled = state
                    .channels
                    .get(channel)
                    .is_none_or(|h| h.subscribed || h.refused);
                if settled || state.down || !state.started || Instant::now() >= deadline {
                    return;
                }
            }
            listener.wait_deadline(deadline);
        }
    }

    /// Subscribes to `channel` (through the thread, started on first use, with its
    /// own channel). True when the channel is new to a thread already running,
    /// which must then be told.
    fn ensure(&self, endpoint: &Arc<Endpoint>, timeout: Duration, channel: &str) -> bool {
        let mut state = self.shared.lock();
        let new = !state.channels.contains_key(channel);
        state.channels.entry(channel.to_owned()).or_default();
        if state.started {
            return new;
        }
        state.started = true;
        state.channels.entry(self.control.clone()).or_default();
        drop(state);
        // Weak: the thread needs the endpoint (its password) only to connect, and
        // must not keep it alive past the store (it would never be wiped).
        let (shared, endpoint) = (self.shared.clone(), Arc::downgrade(endpoint));
        let spawned = std::thread::Builder::new()
            .name("smartling-auth-redis-wake".to_owned())
            .spawn(move || listen(&shared, &endpoint, timeout));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the Redis wake-up thread; waiters read the store after each quiet wait");
            self.shared.lock().started = false;
        }
        false
    }
}

impl Heard {
    /// The weightiest word heard after `since`: a record, a change, a sign of life.
    fn after(&self, since: Instant) -> Option<Watched> {
        if let Some((_, fetched)) = self.written.as_ref().filter(|(at, _)| *at > since) {
            return Some(Watched::Written(fetched.clone()));
        }
        if self.changed.is_some_and(|at| at > since) {
            return Some(Watched::Changed);
        }
        self.alive.filter(|at| *at > since).map(Watched::Alive)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopped(&self) -> bool {
        self.lock().stop
    }

    /// Notes a message.
    fn hear(&self, channel: &str, payload: &[u8]) {
        let now = Instant::now();
        {
            let mut state = self.lock();
            let Some(heard) = state.channels.get_mut(channel) else {
                return;
            };
            match parse(payload) {
                Some(Word::Alive) => heard.alive = Some(now),
                Some(Word::Written(fetched)) => heard.written = Some((now, fetched)),
                // A release, or a write this process cannot parse: read the store.
                Some(Word::Changed) | None => heard.changed = Some(now),
            }
        }
        self.heard.notify(usize::MAX);
    }

    fn down(&self, error: &redis::RedisError) {
        {
            let mut state = self.lock();
            for heard in state.channels.values_mut() {
                heard.subscribed = false;
            }
            if !std::mem::replace(&mut state.down, true) {
                tracing::warn!(error = %error, "Redis wake-ups are down; waiters read the store after each quiet wait until they are back");
            }
        }
        self.heard.notify(usize::MAX);
    }

    /// `channels` are subscribed (the server confirmed them).
    fn up(&self, channels: &[String]) {
        {
            let mut state = self.lock();
            for c in channels {
                if let Some(heard) = state.channels.get_mut(c) {
                    heard.subscribed = true;
                }
            }
            if std::mem::replace(&mut state.down, false) {
                tracing::info!("Redis wake-ups are back");
            }
        }
        self.heard.notify(usize::MAX);
    }

    /// The channels to subscribe to, beyond `subscribed`.
    fn wanted(&self, subscribed: &HashSet<String>) -> Vec<String> {
        self.lock()
            .channels
            .iter()
            .filter(|(c, h)| !h.refused && !subscribed.contains(*c))
            .map(|(c, _)| c.clone())
            .collect()
    }

    fn refuse(&self, channels: &[String], error: &str) {
        let mut state = self.lock();
        for c in channels {
            if let Some(h) = state.channels.get_mut(c) {
                h.refused = true;
            }
        }
        drop(state);
        self.heard.notify(usize::MAX);
        tracing::warn!(
            error,
            "the Redis user may not subscribe to the store's wake-up channels (grant &<prefix>*); waiters read the store after each quiet wait instead of being woken"
        );
    }
}

enum Word {
    Alive,
    Written(Fetched),
    Changed,
}

/// Parses a message: `A`, `R`, or `W <secs> <micros> <value>`.
fn parse(payload: &[u8]) -> Option<Word> {
    match payload {
        b"A" => Some(Word::Alive),
        b"R" => Some(Word::Changed),
        _ => {
            let rest = payload.strip_prefix(b"W ")?;
            let mut parts = rest.splitn(3, |b| *b == b' ');
            let number = |p: Option<&[u8]>| -> Option<u64> {
                let p = p?;
                if p.is_empty() || p.len() > 19 || !p.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                std::str::from_utf8(p).ok()?.parse().ok()
            };
            let (secs, micros) = (number(parts.next())?, number(parts.next())?);
            let value = parts.next()?;
            let now = UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))?
                .checked_add(Duration::from_micros(micros))?;
            if value.len() > super::MAX_RECORD {
                return None;
            }
            let stored = super::parse(value.to_vec());
            // A value this process would not read as a record is news only.
            (stored.version > 0).then_some(Word::Written(Fetched {
                record: Some(stored),
                now,
            }))
        }
    }
}

/// The thread: connects, subscribes, notes what it hears; connects again after a
/// failure, with a growing pause; ends with the store.
fn listen(shared: &Shared, endpoint: &Weak<Endpoint>, timeout: Duration) {
    let mut pause = RETRY_FIRST;
    while !shared.stopped() {
        let started = Instant::now();
        match session(shared, endpoint, timeout) {
            Ok(()) => return,
            Err(e) => shared.down(&e),
        }
        if started.elapsed() > RETRY_MAX {
            pause = RETRY_FIRST;
        }
        let resume = Instant::now() + pause;
        while Instant::now() < resume && !shared.stopped() {
            std::thread::sleep(TICK.min(resume.saturating_duration_since(Instant::now())));
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// One connection's life: `Ok` when the store ended, `Err` when the connection did.
/// Every exchange is bounded ([`Link`]): connecting and subscribing by the store's
/// time limit; a message may keep the thread waiting for its first byte until the
/// next tick, and must then be whole within the time limit and the byte budget, or
/// the thread connects again. So a hostile server holds no more than that in memory,
/// and cannot keep the thread past the store's end.
fn session(shared: &Shared, endpoint: &Weak<Endpoint>, timeout: Duration) -> RedisResult<()> {
    let Some(endpoint) = endpoint.upgrade() else {
        return Ok(()); // The store is gone.
    };
    let mut con = Link::connect(&endpoint, Instant::now() + timeout)?;
    drop(endpoint);
    let mut subscribed = HashSet::new();
    loop {
        if shared.stopped() {
            return Ok(());
        }
        let wanted = shared.wanted(&subscribed);
        if !wanted.is_empty() {
            subscribe(shared, &mut con, &wanted, timeout)?;
            shared.up(&wanted);
            subscribed.extend(wanted);
        }
        con.arm_idle(Instant::now() + TICK, timeout);
        match con.recv() {
            // Anything else (a late confirmation) is no news.
            Ok(value) => {
                if let Some(msg) = Msg::from_owned_value(value) {
                    shared.hear(msg.get_channel_name(), msg.get_payload_bytes());
                }
            }
            // A quiet tick; the parser keeps whatever part of a message it holds.
            Err(e) if e.is_timeout() && !con.started() => {}
            Err(e) => return Err(e),
        }
    }
}

/// Subscribes to `channels`, noting any message that arrives before the
/// confirmations; a refusal (ACL) marks them refused.
fn subscribe(
    shared: &Shared,
    con: &mut Link,
    channels: &[String],
    timeout: Duration,
) -> RedisResult<()> {
    con.arm(Instant::now() + timeout);
    con.send(&redis::cmd("SUBSCRIBE").arg(channels).get_packed_command())?;
    let mut confirmed = 0;
    while confirmed < channels.len() {
        let reply = match con.recv() {
            Ok(reply) => reply,
            Err(e) if e.code() == Some("NOPERM") => {
                shared.refuse(channels, &e.to_string());
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match reply {
            Value::ServerError(e) => {
                shared.refuse(channels, &format!("{e:?}"));
                return Ok(());
            }
            other => match Msg::from_owned_value(other) {
                Some(msg) => shared.hear(msg.get_channel_name(), msg.get_payload_bytes()),
                None => confirmed += 1,
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_strictly() {
        assert!(matches!(parse(b"A"), Some(Word::Alive)));
        assert!(matches!(parse(b"R"), Some(Word::Changed)));
        let Some(Word::Written(f)) = parse(b"W 1700000000 250000 SA1 7 payload") else {
            panic!("a write parses");
        };
        let stored = f.record.unwrap();
        assert_eq!((stored.version, &stored.payload[..]), (7, &b"payload"[..]));
        assert_eq!(
            f.now,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_micros(250_000)
        );
        for bad in [
            &b""[..],
            b"a",
            b"AA",
            b"W",
            b"W 1 2",
            b"W x 2 SA1 1 p",
            b"W 1 -2 SA1 1 p",
            b"W 1 2 garbage",
            b"W 1 2 SA1 0 p",
            b"W 99999999999999999999 2 SA1 1 p",
            b"W 18446744073709551615 0 SA1 1 p",
        ] {
            assert!(
                !matches!(parse(bad), Some(Word::Written(_) | Word::Alive)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
