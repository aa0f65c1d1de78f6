//! [`RedisStore`]: token records in Redis, shared by a fleet of machines (its docs
//! give the keys, the ACL, TLS and why the client is sync); waiters are woken over
//! pub/sub ([`wake`]).

mod endpoint;
mod link;
mod wake;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, UNIX_EPOCH};

use redis::{Cmd, ErrorKind, FromRedisValue, RedisError};
use smartling_auth_core::store::{
    Fetched, LeaseId, RecordName, Store, StoreError, StoreErrorKind, Stored, Watched,
};

/// The default time limit of one operation.
const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// The default key prefix.
const DEFAULT_PREFIX: &str = "smartling-auth:";
/// Versions with more digits are not ours: Lua numbers are doubles, exact below 2^53.
const MAX_VERSION_DIGITS: usize = 15;
/// Idle connections kept for reuse.
const POOL: usize = 4;
/// The largest value the store reads or writes under a record's key (`SA1 <version>
/// <sealed payload>`); a sealed record is a few KiB.
const MAX_RECORD: usize = 64 * 1024;

/// Writes `ARGV[2]` (expiring after `ARGV[3]` ms) if the record's version is `ARGV[1]`;
/// anything that is not `SA1 <digits> ` counts as version 0, a value of another type
/// (a list, a hash) or over [`MAX_RECORD`] bytes too (as a read has it; such a value
/// is not even fetched into the script, `STRLEN` first, unless the user's ACL
/// lacks `STRLEN`). Any other error of `GET` (an ACL refusal) stops the script:
/// reading it as version 0 would let a stale writer through. A write is published on
/// `ARGV[4]` with the store's clock, so waiters take the record without a read; a
/// user without the right to publish still writes (`pcall`).
const WRITE: &str = r"
local n = redis.pcall('STRLEN', KEYS[1])
local cur = false
if type(n) ~= 'number' or n <= 65536 then cur = redis.pcall('GET', KEYS[1]) end
if type(cur) == 'table' and cur.err then
  if string.sub(cur.err, 1, 9) ~= 'WRONGTYPE' then return redis.error_reply(cur.err) end
  cur = false
end
local v = 0
if type(cur) == 'string' and #cur <= 65536 then
  local m = string.match(cur, '^SA1 (%d+) ')
  if m and #m <= 15 then v = tonumber(m) end
end
if v == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  local t = redis.call('TIME')
  redis.pcall('PUBLISH', ARGV[4], 'W ' .. t[1] .. ' ' .. t[2] .. ' ' .. ARGV[2])
  return 1
end
return 0
";

/// Takes the lease for `ARGV[1]` for `ARGV[2]` ms unless another holder has it (1).
/// Every lease of ours expires within its holder's time to live, which its holder
/// extends while it renews; waiters wait on a live lease until their deadline. So a
/// key that claims more (no expiry at all, put there by hand or by `PERSIST`; or one
/// longer than `ARGV[3]` ms, which no holder ever sets) is no holder's: waiting on it
/// would hold every renewal until its caller's deadline. It is taken over at once,
/// as a lease of `ARGV[1]`'s (2, for a warning), so the caller renews without waiting
/// and the fleet shares its record as before. `PTTL` runs under `pcall`: a user whose
/// ACL lacks it gets the lease as before. A lease taken is published on `ARGV[4]`
/// (the holder lives), so waiters of a holder that died hear of the next one.
const LEASE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.pcall('PUBLISH', ARGV[4], 'A')
  return 1
end
local t = redis.pcall('PTTL', KEYS[1])
if t == -1 or (type(t) == 'number' and t > tonumber(ARGV[3])) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.pcall('PUBLISH', ARGV[4], 'A')
  return 2
end
return 0
";

/// The longest lease time a holder ever claims, for a lease of `ttl`: four times it,
/// and never under a minute (fleets whose timings differ still honour each other).
fn lease_ceiling(ttl: Duration) -> Duration {
    ttl.saturating_mul(4).max(Duration::from_secs(60))
}

/// Extends the lease to `ARGV[2]` ms from now if `ARGV[1]` still holds it: a live
/// holder keeps its lease however slow the server is; a dead one loses it within one
/// lease's time. Each extension is published on `ARGV[3]`: the waiters' sign that
/// the holder lives, so they wait on without reading.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.pcall('PUBLISH', ARGV[3], 'A')
  return 1
end
return 0
";

/// Deletes the lease if `ARGV[1]` still holds it, and publishes that on `ARGV[2]`
/// (waiters read: the holder may have failed without a write).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.pcall('PUBLISH', ARGV[2], 'R')
  return 1
end
return 0
";

/// A token store in Redis, for a fleet.
///
/// [`open`](Self::open) only parses the URL; the first operation connects. Records are
/// sealed before they reach Redis (the store says it needs sealing, and the providers
/// derive the key from the user secret), so Redis never holds a token in clear.
///
/// # Why the sync client
/// The store is synchronous: its own blocking socket (see Connections), with the
/// `redis` crate's command packing and reply parser. The blocking provider calls it
/// directly; the async provider runs it on smol's `blocking` thread
/// pool (`Transport::offload`). The crate's async support on the smol stack
/// (`smol-comp`) still pulls in tokio and tokio-util, which the async transport avoids;
/// and a store operation happens once per renewal, not per call, so a pool thread costs
/// nothing that matters.
///
/// # Keys
/// Under a prefix (default `smartling-auth:`), per record name (a hash of the base URL
/// and user, then the seal key's fingerprint; no user identifier in clear):
/// - `<prefix><name>`: the record, `SA1 <version> <sealed payload>`, expiring with the
///   refresh token's lifetime;
/// - `<prefix><name>:lease`: the renewal lease, `SET … NX PX <ttl>`, holding the
///   holder's random id (a key there without an expiry, or with a longer one than
///   any holder sets, is given the lease's time). Its time to
///   live is short (seconds); the holder extends it with a compare-and-expire script
///   while it renews, so the lease lasts as long as its holder and no longer.
///
/// Whatever else is found under a record's key (another format, a list or a hash, a
/// value over 64 KiB) is untrusted garbage: it reads as version 0, and the next renewal
/// writes over it. A value over 64 KiB is never sent to the client (a read asks for
/// its first 64 KiB and one byte more, `GETRANGE`); the store never writes one
/// either. An empty value reads as no record.
///
/// # Wake-ups
/// Waiters do not poll: each process keeps one subscriber connection (and one thread
/// reading it), subscribed to the channel `<prefix><name>:wake` of each record whose
/// lease it has asked for, before it first asks (so nothing published after a
/// refusal is missed). The holder's scripts publish
/// there when it takes or extends the lease (it lives), when it writes (the record
/// itself, so a waiter takes it without a read) and when it releases the lease. A
/// waiter that hears nothing for half the lease's time to live reads the store: a
/// lost message costs that wait, never a stuck caller. Plain `SUBSCRIBE`/`PUBLISH`
/// need no server configuration (keyspace notifications would).
///
/// # Commands (ACL)
/// The store runs `TIME` and `GETRANGE` (a read is the two, pipelined: one round
/// trip), `SUBSCRIBE` on its wake-up channels, and four Lua scripts through
/// `EVALSHA`, falling back to `EVAL` when the server's script cache is empty (after a
/// restart): the lease, which calls `SET` (with `NX PX`), and `PTTL` and `PEXPIRE` to
/// give a key found without an expiry one; the lease's extension, a
/// compare-and-expire that calls `GET` and `PEXPIRE` (without `PEXPIRE` a lease ends
/// after its first few seconds even while its holder lives, and a slow renewal may be
/// made twice); the compare-and-set write, which calls `STRLEN`, `GET`, `SET` and
/// `TIME`; and the compare-and-delete release, which calls `GET` and `DEL`. The
/// lease, extension, write and release also `PUBLISH` on the record's wake-up
/// channel. (Redis checks the commands a script calls against the user's ACL too.) A
/// minimal ACL user:
///
/// ```text
/// ACL SETUSER smartling-auth on >password ~smartling-auth:* &smartling-auth:* +time +get +getrange +strlen +set +del +pttl +pexpire +publish +subscribe +evalsha +eval
/// ```
///
/// An ACL of before the bounded reads (without `+getrange` and `+strlen`) still
/// works: the store then warns once and fetches whole values, as it used to, and a
/// value over 64 KiB under a record's key fails its reads until it is deleted.
///
/// Without the channel rights (`&…`, `+publish`, `+subscribe`; Redis 7 gives a new
/// user no channels) everything works as before but the wake-ups: the scripts
/// publish under `pcall`, the subscriber warns once, and waiters read the store after
/// each quiet wait instead.
///
/// # Connections
/// `rediss://[user:password@]host:port[/db]` (TLS on rustls, with the webpki roots, or
/// a root certificate of your own with [`RedisStore::with_root_certificate`]), and
/// `redis://…` (clear text) to this machine only: `localhost`, 127.0.0.0/8 or `::1`
/// (and `localhost` must resolve to loopback). Clear text to another host carries the
/// password and the sealed records past anyone on the path, and is refused unless the
/// user opts in: `?insecure=plaintext` in the URL (what the CLI can say) or
/// [`RedisStore::open_allowing_plaintext`]; the store then warns once. The password or
/// ACL user comes from the URL; prefer an environment variable to a command-line
/// argument, which `ps` shows. The store keeps the password in memory that is wiped
/// when the store is dropped.
///
/// Each operation has one deadline (default 1 s, [`RedisStore::with_timeout`]) for all
/// of it, whatever the server sends: connecting (name resolution aside, which the
/// system's resolver bounds), the TLS handshake, `AUTH` and `SELECT`, sending the
/// command and reading the whole reply; for a lease, also the wait for the
/// subscription to its wake-ups (half of it at most). A silent server, or one that
/// trickles its reply a byte at a time, delays a caller by the limit and a few
/// milliseconds, never longer. A reply may be at most 256 KiB (the read of a record
/// is at most 64 KiB); whatever it declares (`$2000000000`), the store reads no more
/// and the operation fails. The socket is the store's own (each read and write waits
/// only for the time left); the `redis` crate packs the commands and parses the
/// replies.
///
/// A few connections are kept for reuse; one that fails is dropped. The subscriber's
/// connection is one more, for the store's life; it connects again after a failure,
/// after a pause that grows from 1 s to 30 s; each of its messages, once it starts,
/// must be whole within the time limit and 256 KiB, or it connects again. A new
/// connection sends only `AUTH` (with a password) and `SELECT` (a database other than
/// 0), in one round trip: no `CLIENT SETINFO` pair naming the client library (two
/// commands each, where a waiter's whole renewal costs six). A kept connection
/// the server has closed meanwhile (a restart, or an idle-client `timeout` in the
/// server's configuration) is found closed on its next use; the operation then runs
/// once more on a new connection, as nothing reached the server the first time.
///
/// # Example
///
/// ```
/// use smartling_auth_store::RedisStore;
/// let store = RedisStore::open("redis://:s3cret@127.0.0.1:1/")?; // nothing listens: fine
/// assert!(!format!("{store:?}").contains("s3cret"));
/// assert!(RedisStore::open("http://example.com").is_err());
/// # Ok::<(), smartling_auth_core::store::StoreError>(())
/// ```
pub struct RedisStore {
    /// Where and how to connect; holds the password (wiped on drop), also for
    /// scrubbing error messages, which should never quote it anyway.
    endpoint: Arc<endpoint::Endpoint>,
    prefix: String,
    timeout: Duration,
    idle: Mutex<Vec<link::Link>>,
    /// The user may not run `GETRANGE` (said once).
    getrange_refused: AtomicBool,
    lease: Lua,
    extend: Lua,
    write: Lua,
    release: Lua,
    wakes: wake::Wakes,
}

/// A Lua script run by `EVALSHA`, or by `EVAL` when the server does not know it yet.
/// (`redis::Script` would send `SCRIPT LOAD` instead, one more command for the ACL and
/// one more round trip.)
struct Lua {
    code: &'static str,
    sha: String,
}

impl Lua {
    fn new(code: &'static str) -> Self {
        Self {
            code,
            sha: redis::Script::new(code).get_hash().to_owned(),
        }
    }

    /// Runs the script on `key` with `args`.
    fn run<T: FromRedisValue>(
        &self,
        con: &mut link::Link,
        key: &str,
        args: &[&[u8]],
    ) -> redis::RedisResult<T> {
        let call = |cmd: &str, script: &str| {
            let mut c = Cmd::new();
            c.arg(cmd).arg(script).arg(1).arg(key);
            for a in args {
                c.arg(*a);
            }
            c
        };
        match call("EVALSHA", &self.sha).query(con) {
            Err(e) if has_code(&e, "NOSCRIPT") => call("EVAL", self.code).query(con),
            other => other,
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("addr", &self.endpoint.addr())
            .field("db", &self.endpoint.db)
            .field("tls", &self.endpoint.tls.is_some())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Parses `url` (`rediss://`, or `redis://` to this machine or with
    /// `?insecure=plaintext`). Connects nothing: a Redis that is down now fails no one.
    ///
    /// ```
    /// use smartling_auth_store::RedisStore;
    /// let store = RedisStore::open("rediss://user:pw@redis.internal:6380/2")?;
    /// assert!(format!("{store:?}").contains("redis.internal:6380"));
    /// // Clear text goes to loopback only, unless the URL opts in.
    /// assert!(RedisStore::open("redis://127.0.0.1:6379/").is_ok());
    /// assert!(RedisStore::open("redis://redis.internal/").is_err());
    /// assert!(RedisStore::open("redis://redis.internal/?insecure=plaintext").is_ok());
    /// # Ok::<(), smartling_auth_core::store::StoreError>(())
    /// ```
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::build(url, false)
    }

    /// Like [`open`](Self::open), but also takes `redis://` (clear text: the password
    /// and the sealed records cross the network readable) to a host that is not this
    /// machine, as `?insecure=plaintext` in the URL does. The store warns once that it
    /// does.
    ///
    /// ```
    /// use smartling_auth_store::RedisStore;
    /// let store = RedisStore::open_allowing_plaintext("redis://10.0.0.5:6379/")?;
    /// # let _ = store;
    /// # Ok::<(), smartling_auth_core::store::StoreError>(())
    /// ```
    pub fn open_allowing_plaintext(url: &str) -> Result<Self, StoreError> {
        Self::build(url, true)
    }

    /// Trusts `pem` (PEM root certificates) for `rediss://` instead of the webpki
    /// roots. A `redis://` store has no TLS, and ignores it.
    ///
    /// ```no_run
    /// use smartling_auth_store::RedisStore;
    /// let pem = std::fs::read("ca.pem").unwrap();
    /// let store = RedisStore::open("rediss://127.0.0.1:6380/")?.with_root_certificate(pem)?;
    /// # Ok::<(), smartling_auth_core::store::StoreError>(())
    /// ```
    pub fn with_root_certificate(self, pem: Vec<u8>) -> Result<Self, StoreError> {
        if self.endpoint.tls.is_none() {
            return Ok(self);
        }
        let tls = Arc::new(endpoint::tls_config(Some(&pem))?);
        let endpoint = endpoint::Endpoint {
            host: self.endpoint.host.clone(),
            username: self.endpoint.username.clone(),
            password: self.endpoint.password.clone(),
            tls: Some(tls),
            ..*self.endpoint
        };
        Ok(Self {
            endpoint: Arc::new(endpoint),
            idle: Mutex::default(),
            wakes: wake::Wakes::new(&self.prefix),
            ..self
        })
    }

    /// Sets the key prefix (default `smartling-auth:`).
    ///
    /// ```
    /// let store = smartling_auth_store::RedisStore::open("redis://127.0.0.1/")?.with_prefix("team-a:");
    /// assert!(format!("{store:?}").contains("team-a:"));
    /// # Ok::<(), smartling_auth_core::store::StoreError>(())
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self.wakes = wake::Wakes::new(&self.prefix);
        self
    }

    /// Sets each operation's time limit (default 1 s).
    ///
    /// ```
    /// let store = smartling_auth_store::RedisStore::open("redis://127.0.0.1/")?
    ///     .with_timeout(std::time::Duration::from_millis(300));
    /// # Ok::<(), smartling_auth_core::store::StoreError>(())
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The Redis key of `name`'s record.
    ///
    /// ```
    /// use smartling_auth_core::store::RecordName;
    /// let store = smartling_auth_store::RedisStore::open("redis://127.0.0.1/")?;
    /// let name = RecordName::new(&Default::default(), "u", None);
    /// assert_eq!(store.key_of(&name), format!("smartling-auth:{name}"));
    /// # Ok::<(), smartling_auth_core::store::StoreError>(())
    /// ```
    pub fn key_of(&self, name: &RecordName) -> String {
        format!("{}{}", self.prefix, name.as_str())
    }

    fn build(url: &str, allow_plaintext: bool) -> Result<Self, StoreError> {
        let endpoint = endpoint::Endpoint::parse(url, allow_plaintext)?;
        if endpoint.plaintext_opted_in {
            tracing::warn!(
                addr = %endpoint.addr(),
                "the Redis store talks clear text (redis://) to a host that is not this machine, as asked: its password and records cross the network readable; prefer rediss://"
            );
        }
        Ok(Self {
            endpoint: Arc::new(endpoint),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            idle: Mutex::default(),
            getrange_refused: AtomicBool::new(false),
            lease: Lua::new(LEASE),
            extend: Lua::new(EXTEND),
            write: Lua::new(WRITE),
            release: Lua::new(RELEASE),
            wakes: wake::Wakes::new(DEFAULT_PREFIX),
        })
    }

    /// Tells the subscriber thread, on its own `control` channel, of a channel to add.
    /// Lost, it costs that channel up to half a second: not worth a warning.
    fn announce(&self, control: &str, deadline: Instant) {
        let _ = self.with_until("announce", deadline, |con| {
            redis::cmd("PUBLISH")
                .arg(control)
                .arg("S")
                .query::<i64>(con)
        });
    }

    /// The pub/sub channel of `name`'s wake-ups.
    fn channel_of(&self, name: &RecordName) -> String {
        format!("{}:wake", self.key_of(name))
    }

    /// Runs `op` on a kept connection (or a new one), keeping it only on success. A kept
    /// connection found closed (the server restarted, or closed it as idle) gets the
    /// operation once more on a new one: the first attempt never reached a server.
    /// One deadline, the store's time limit from now, bounds all of it.
    fn with<T>(
        &self,
        what: &str,
        op: impl Fn(&mut link::Link) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        self.with_until(what, Instant::now() + self.timeout, op)
    }

    /// [`with`](Self::with), all of it before `deadline`.
    fn with_until<T>(
        &self,
        what: &str,
        deadline: Instant,
        op: impl Fn(&mut link::Link) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let result = match kept {
            Some(mut con) => {
                con.arm(deadline);
                match op(&mut con) {
                    Err(e) if e.is_connection_dropped() && !e.is_timeout() => {
                        // The others were likely closed with it.
                        self.idle
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clear();
                        self.fresh(deadline, &op)
                    }
                    done => done.map(|value| (value, con)),
                }
            }
            None => self.fresh(deadline, &op),
        };
        match result {
            Ok((value, con)) => {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < POOL {
                    idle.push(con);
                }
                Ok(value)
            }
            Err(e) => Err(self.error(what, &e)),
        }
    }

    /// Runs `op` on a new connection, all before `deadline`.
    fn fresh<T>(
        &self,
        deadline: Instant,
        op: impl Fn(&mut link::Link) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<(T, link::Link)> {
        let mut con = link::Link::connect(&self.endpoint, deadline)?;
        op(&mut con).map(|value| (value, con))
    }

    fn error(&self, what: &str, e: &RedisError) -> StoreError {
        let tls = io_cause::<rustls::Error>(e);
        let kind = if e.is_timeout() {
            StoreErrorKind::Timeout
        } else if io_cause::<link::TooLong>(e).is_some() {
            StoreErrorKind::Protocol
        } else if let Some(tls) = tls {
            // A certificate not trusted stays so until someone changes the setup.
            if matches!(tls, rustls::Error::InvalidCertificate(_)) {
                StoreErrorKind::Refused
            } else {
                StoreErrorKind::Protocol
            }
        } else if e.kind() == ErrorKind::AuthenticationFailed
            || e.kind() == ErrorKind::InvalidClientConfig
            || e.code()
                .is_some_and(|c| c == "NOPERM" || c == "WRONGPASS" || c == "NOAUTH")
            // An ACL refusal inside a script comes back as a plain ERR, in these words.
            || e.to_string()
                .contains("user executing the script can't run this command")
        {
            StoreErrorKind::Refused
        } else if e.is_connection_refusal() || e.is_io_error() || e.is_connection_dropped() {
            StoreErrorKind::Unavailable
        } else {
            StoreErrorKind::Protocol
        };
        let addr = self.endpoint.addr();
        let mut message = format!("{what} on {addr}: {e}");
        // Redis never quotes a password, but should a message contain it by chance, say
        // less: blanking out the password's every occurrence would spell out a short one.
        if let Some(pw) = self.endpoint.password.as_deref().filter(|p| !p.is_empty())
            && message.contains(pw)
        {
            message = format!("{what}: Redis error {:?}", e.kind());
        }
        StoreError::new(kind, message)
    }
}

/// The error of type `T` under `e`'s `io::Error`, if any (rustls reports through one,
/// and so does the socket's byte budget), which redis keeps in an `Arc` (the Redis TLS
/// test checks that this still finds it).
fn io_cause<T: std::error::Error + 'static>(e: &RedisError) -> Option<&T> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let source = std::error::Error::source(e)?;
    let io = match source.downcast_ref::<Shared>() {
        Some(shared) => shared.downcast_ref::<std::io::Error>()?,
        None => source.downcast_ref::<std::io::Error>()?,
    };
    io.get_ref()?.downcast_ref()
}

/// Whether `e` is the server's `code`, alone or inside a pipeline's failures.
fn has_code(e: &RedisError, code: &str) -> bool {
    e.code() == Some(code)
        || e.clone()
            .into_server_errors()
            .is_some_and(|errs| errs.iter().any(|(_, s)| s.code() == code))
}

/// Parses `SA1 <version> <payload>`; anything else is version 0 (replaced).
fn parse(value: Vec<u8>) -> Stored {
    let parsed = value.strip_prefix(b"SA1 ").and_then(|rest| {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > MAX_VERSION_DIGITS || rest.get(digits) != Some(&b' ') {
            return None;
        }
        let version = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        Some(Stored {
            version,
            payload: rest[digits + 1..].to_vec(),
        })
    });
    parsed.unwrap_or(Stored {
        version: 0,
        payload: value,
    })
}

/// A read's answer: the server's `TIME` (seconds, microseconds) and the value.
type Read = ((u64, u64), Option<Vec<u8>>);

/// A read's answer, where a value of another type under our key (`WRONGTYPE`) is
/// garbage like any other: an empty version-0 record, which the next write replaces.
/// (Every reply of the pipeline was read, so the connection is still in step.)
fn other_type_is_garbage(
    con: &mut link::Link,
    read: redis::RedisResult<Read>,
) -> redis::RedisResult<Read> {
    match read {
        Err(e) if has_code(&e, "WRONGTYPE") => {
            Ok((redis::cmd("TIME").query(con)?, Some(Vec::new())))
        }
        other => other,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Store for RedisStore {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        let key = self.key_of(name);
        // The end is inclusive: one byte past the limit tells a longer value.
        let last = MAX_RECORD.to_string();
        let ((secs, micros), value): Read = self.with("read", |con| {
            let read = redis::pipe()
                .cmd("TIME")
                .cmd("GETRANGE")
                .arg(&key)
                .arg(0)
                .arg(&last)
                .query::<((u64, u64), Vec<u8>)>(con);
            match read {
                // No value and an empty one read alike: no record.
                Ok((time, value)) => Ok((time, Some(value).filter(|v| !v.is_empty()))),
                Err(e) if has_code(&e, "NOPERM") => {
                    // An ACL of before the bounded read: the whole value, as before.
                    if !self.getrange_refused.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "the Redis user may not run GETRANGE (grant +getrange): the store reads whole values, and a value over 64 KiB under a record's key fails its reads"
                        );
                    }
                    let got = redis::pipe().cmd("TIME").cmd("GET").arg(&key).query(con);
                    other_type_is_garbage(con, got)
                }
                Err(e) => other_type_is_garbage(con, Err(e)),
            }
        })?;
        let record = match value {
            Some(value) if value.len() > MAX_RECORD => {
                tracing::warn!(
                    record = %name,
                    "the store holds a value over 64 KiB under the record's key, which no client of this store writes; not read, and replaced at the next renewal"
                );
                Some(Stored {
                    version: 0,
                    payload: Vec::new(),
                })
            }
            other => other.map(parse),
        };
        // Checked: a server may answer any numbers (a `TIME` of 2^64 - 1 seconds
        // panicked the client).
        let now = UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .and_then(|t| t.checked_add(Duration::from_micros(micros)))
            .filter(|_| micros < 1_000_000)
            .ok_or_else(|| {
                StoreError::new(
                    StoreErrorKind::Protocol,
                    format!("the server's TIME is not a time: {secs} s {micros} µs"),
                )
            })?;
        Ok(Fetched { record, now })
    }

    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        let key = format!("{}:lease", self.key_of(name));
        let ceiling = ms(lease_ceiling(ttl)).to_string();
        let (holder, ttl) = (holder.0.to_string(), ms(ttl).to_string());
        let channel = self.channel_of(name);
        // One deadline for all of it; the subscription may take half.
        let deadline = Instant::now() + self.timeout;
        let subscribed_by = Instant::now() + self.timeout / 2;
        // Listening before asking: whatever the holder publishes after a refusal is
        // heard (a write published before it is followed by a release that is).
        self.wakes
            .subscribed(&self.endpoint, self.timeout, &channel, subscribed_by, |c| {
                self.announce(c, subscribed_by)
            });
        let taken: i64 = self.with_until("lease", deadline, |con| {
            let args: [&[u8]; 4] = [
                holder.as_bytes(),
                ttl.as_bytes(),
                ceiling.as_bytes(),
                channel.as_bytes(),
            ];
            self.lease.run(con, &key, &args)
        })?;
        if taken == 2 {
            tracing::warn!(
                record = %name,
                "the store's renewal lease had no expiry, or a longer one than any holder sets: no holder's; this process took it over"
            );
        }
        Ok(taken == 1 || taken == 2)
    }

    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = format!("{}:lease", self.key_of(name));
        let (holder, ttl) = (holder.0.to_string(), ms(ttl).to_string());
        let channel = self.channel_of(name);
        let held: i64 = self.with("extend", |con| {
            let args: [&[u8]; 3] = [holder.as_bytes(), ttl.as_bytes(), channel.as_bytes()];
            self.extend.run(con, &key, &args)
        })?;
        Ok(held == 1)
    }

    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.key_of(name);
        let mut value = format!("SA1 {} ", record.version).into_bytes();
        value.extend_from_slice(&record.payload);
        if value.len() > MAX_RECORD {
            return Err(StoreError::new(
                StoreErrorKind::Refused,
                format!(
                    "write: a record of {} bytes is over the store's limit of 64 KiB",
                    value.len()
                ),
            ));
        }
        let (expected, ttl) = (expected.to_string(), ms(ttl).to_string());
        let channel = self.channel_of(name);
        let written: i64 = self.with("write", |con| {
            let args: [&[u8]; 4] = [
                expected.as_bytes(),
                &value,
                ttl.as_bytes(),
                channel.as_bytes(),
            ];
            self.write.run(con, &key, &args)
        })?;
        Ok(written == 1)
    }

    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        let key = format!("{}:lease", self.key_of(name));
        let (holder, channel) = (holder.0.to_string(), self.channel_of(name));
        let _: i64 = self.with("release", |con| {
            self.release
                .run(con, &key, &[holder.as_bytes(), channel.as_bytes()])
        })?;
        Ok(())
    }

    /// Waits on the process's subscription to `name`'s channel (one connection and
    /// thread per store, started by the first watch). Never fails: a subscription
    /// that is down is a wait without word, after which the waiter reads.
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        let channel = self.channel_of(name);
        Ok(self
            .wakes
            .watch(&self.endpoint, self.timeout, &channel, since, until, |c| {
                // Never past the wait's end.
                self.announce(c, until.min(Instant::now() + self.timeout));
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_strictly_and_everything_else_is_version_0() {
        assert_eq!(
            parse(b"SA1 12 payload".to_vec()),
            Stored {
                version: 12,
                payload: b"payload".to_vec()
            }
        );
        assert_eq!(parse(b"SA1 1 ".to_vec()).payload, b"");
        for bad in [
            &b""[..],
            b"SA1",
            b"SA1 ",
            b"SA1 x ",
            b"SA1 12",
            b"SA2 1 p",
            b"SA1 1234567890123456 p",
            b"garbage",
        ] {
            let s = parse(bad.to_vec());
            assert_eq!(s.version, 0, "{}", String::from_utf8_lossy(bad));
            assert_eq!(s.payload, bad);
        }
    }

    #[test]
    fn the_password_is_kept_in_memory_wiped_on_drop() {
        let store = RedisStore::open("redis://user:pw-Z3@127.0.0.1/").unwrap();
        // The type is the point: `Zeroizing` wipes the string when the store drops.
        let kept: &Option<zeroize::Zeroizing<String>> = &store.endpoint.password;
        assert_eq!(kept.as_deref().map(String::as_str), Some("pw-Z3"));
        assert!(!format!("{:?}", store.endpoint).contains("pw-Z3"));
    }

    #[test]
    fn open_parses_only_and_never_shows_the_password() {
        let store = RedisStore::open("redis://admin:hunter2-pw@127.0.0.1:1/3").unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("127.0.0.1:1"), "{shown}");
        assert!(shown.contains("db: 3"), "{shown}");
        assert!(shown.contains("smartling-auth:"), "{shown}");
        let e = store
            .read(&RecordName::new(&Default::default(), "u", None))
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(
            matches!(
                e.kind,
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{e:?}"
        );
        // A password that occurs in the message by chance (here in the port) is not
        // spelled out by blanking it.
        let store = RedisStore::open("redis://:1@127.0.0.1:1/").unwrap();
        let e = store
            .read(&RecordName::new(&Default::default(), "u", None))
            .unwrap_err();
        assert!(!e.message.contains('1'), "{e}");
        for bad in ["", "http://h/", "redis://", "redis://h:notaport/"] {
            let e = RedisStore::open(bad).unwrap_err();
            assert_eq!(e.kind, StoreErrorKind::Refused, "{bad}");
        }
    }
}
