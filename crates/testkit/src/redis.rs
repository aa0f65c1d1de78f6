//! A real `redis-server` per test, on a free loopback port, killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `redis-server` is on `PATH`.
///
/// ```
/// let _maybe = smartling_auth_testkit::redis::redis_available();
/// ```
pub fn redis_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// TLS material of a server started with [`RedisServer::start_tls`].
#[derive(Debug, Clone)]
pub struct Tls {
    /// The CA certificate that signed the server's, in PEM.
    pub ca_pem: String,
}

/// A `redis-server` of this test's own, with no persistence. Tests that use it are
/// `#[ignore = "needs redis-server"]`; `cargo xtask ci` runs them.
///
/// ```
/// use smartling_auth_testkit::redis::{RedisServer, redis_available};
/// if redis_available() {
///     let redis = RedisServer::start();
///     assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
/// }
/// ```
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    password: Option<String>,
    tls: Option<Tls>,
    /// More `redis-server` arguments.
    extra: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl RedisServer {
    /// Starts a server; panics with a clear message when `redis-server` is missing.
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start();
    /// assert!(redis.url().starts_with("redis://127.0.0.1:"));
    /// ```
    pub fn start() -> Self {
        Self::launch(None, None)
    }

    /// Starts a server that requires `password` (the default user's).
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start_with_password("pw");
    /// assert!(redis.url().starts_with("redis://:pw@127.0.0.1:"));
    /// ```
    pub fn start_with_password(password: &str) -> Self {
        Self::launch(Some(password.to_owned()), None)
    }

    /// Starts a TLS-only server with a certificate for `127.0.0.1` signed by a CA made
    /// for this test.
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start_tls();
    /// assert!(redis.url().starts_with("rediss://127.0.0.1:"));
    /// assert!(redis.tls().unwrap().ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    /// ```
    pub fn start_tls() -> Self {
        let material = crate::tls::LoopbackTls::new();
        let tls = Tls {
            ca_pem: material.ca_pem,
        };
        let files = (material.cert_pem, material.key_pem);
        Self::launch(None, Some((tls, files)))
    }

    fn launch(password: Option<String>, tls: Option<(Tls, (String, String))>) -> Self {
        assert!(
            redis_available(),
            "redis-server is not on PATH: install it (Debian: apt-get install redis-server) or skip the ignored Redis tests"
        );
        let dir = std::env::temp_dir().join(format!(
            "smartling-auth-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let tls = tls.map(|(tls, (cert, key))| {
            std::fs::write(dir.join("server.pem"), cert).expect("certificate written");
            std::fs::write(dir.join("server.key"), key).expect("key written");
            std::fs::write(dir.join("ca.pem"), &tls.ca_pem).expect("CA written");
            tls
        });
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            password,
            tls,
            extra: Vec::new(),
        };
        server.spawn();
        server
    }

    /// Starts the server; on a port another process took meanwhile (`free_port`'s
    /// race), on another free port, at most 5 times.
    fn spawn(&mut self) {
        for _ in 0..4 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(failure) if failure.contains("Address already in use") => {
                    self.port = free_port();
                }
                Err(failure) => panic!("{failure}"),
            }
        }
        if let Err(failure) = self.try_spawn() {
            panic!("{failure}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            // Its log, for the panic message when it does not come up.
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.tls.is_some() {
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                .arg("--tls-cert-file")
                .arg(self.dir.join("server.pem"))
                .arg("--tls-key-file")
                .arg(self.dir.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(self.dir.join("ca.pem"))
                .args(["--tls-auth-clients", "no"]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        if let Some(pw) = &self.password {
            cmd.args(["--requirepass", pw]);
        }
        cmd.args(&self.extra);
        let mut child = cmd.spawn().expect("redis-server starts");
        // Bounded in time and, through the sleep, in count (at most 500 tries).
        let deadline = Instant::now() + Duration::from_secs(10);
        let failure = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break format!("exited ({status})");
            }
            // Another test's server may hold the port (free_port's race): only our
            // own process counts as up.
            if self.answers() && self.is_ours(child.id()) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break "did not answer within 10 s".to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        Err(format!(
            "redis-server on port {} {failure}; the end of its log:\n{}",
            self.port,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// Whether the server on the port is process `pid` (`INFO server`); a TLS
    /// server is taken on trust.
    fn is_ours(&self, pid: u32) -> bool {
        if self.tls.is_some() {
            return true;
        }
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let auth = self
            .password
            .as_ref()
            .map(|pw| format!("AUTH {pw}\r\n"))
            .unwrap_or_default();
        if s.write_all(format!("{auth}INFO server\r\n").as_bytes())
            .is_err()
        {
            return false;
        }
        let want = format!("process_id:{pid}\r\n");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Bounded: at most 16 reads of a reply of a few kilobytes.
        for _ in 0..16 {
            match s.read(&mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
            if String::from_utf8_lossy(&seen).contains(&want) {
                return true;
            }
        }
        false
    }

    /// Whether the server accepts a connection (and, without TLS, answers PING).
    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls.is_some() {
            return true;
        }
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        // `+PONG`, or `-NOAUTH` with a password: either way it is up.
        matches!(s.read(&mut buf), Ok(n) if n > 0)
    }

    /// The server's URL, with its password if it has one: see [`start`](Self::start).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.password {
            Some(pw) => format!("{scheme}://:{pw}@127.0.0.1:{}/", self.port),
            None => format!("{scheme}://127.0.0.1:{}/", self.port),
        }
    }

    /// The TLS material, for a server started with [`start_tls`](Self::start_tls) (see
    /// there).
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// The port it listens on: see [`RedisServer`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The versions of the token records it holds (every `smartling-auth:` key but the
    /// leases), read with `redis-cli` (from the same package as the server).
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start();
    /// assert!(redis.record_versions().is_empty());
    /// ```
    pub fn record_versions(&self) -> Vec<u64> {
        let cli = |args: &[&str]| self.cli(args);
        let keys = String::from_utf8(cli(&["KEYS", "smartling-auth:*"])).expect("ASCII keys");
        keys.lines()
            .filter(|k| !k.is_empty() && !k.ends_with(":lease"))
            .map(|k| {
                let value = cli(&["GET", k]);
                let digits: Vec<u8> = value
                    .strip_prefix(b"SA1 ")
                    .unwrap_or_else(|| panic!("{k} holds no record"))
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .copied()
                    .collect();
                String::from_utf8(digits)
                    .unwrap()
                    .parse()
                    .expect("a version")
            })
            .collect()
    }

    /// Starts a server whose `PUBLISH` is renamed away (`rename-command`), so every
    /// publish, the store scripts' wake-ups included, fails: a fleet whose wake-ups
    /// are all lost.
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start_without_publish();
    /// let out = std::process::Command::new("redis-cli")
    ///     .args(["-p", &redis.port().to_string(), "PUBLISH", "c", "m"])
    ///     .output()
    ///     .unwrap();
    /// assert!(String::from_utf8_lossy(&out.stdout).contains("unknown command"));
    /// ```
    pub fn start_without_publish() -> Self {
        let mut server = Self::launch(None, None);
        server.extra = vec!["--rename-command".into(), "PUBLISH".into(), String::new()];
        server.restart();
        server
    }

    /// Runs `redis-cli` with `args` against this server; its output.
    fn cli(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success(), "redis-cli {args:?} failed");
        out.stdout
    }

    /// Zeroes the server's command counts (`CONFIG RESETSTAT`).
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start();
    /// redis.reset_stats();
    /// ```
    pub fn reset_stats(&self) {
        self.cli(&["CONFIG", "RESETSTAT"]);
    }

    /// The commands the server ran since its start or [`reset_stats`](Self::reset_stats),
    /// by name, counted by `INFO commandstats` (commands that scripts call are
    /// counted too). The counting's own `CONFIG RESETSTAT` and `INFO` are left out.
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let redis = smartling_auth_testkit::redis::RedisServer::start();
    /// redis.reset_stats();
    /// assert!(redis.commands().is_empty());
    /// std::process::Command::new("redis-cli")
    ///     .args(["-p", &redis.port().to_string(), "GET", "k"])
    ///     .output()
    ///     .unwrap();
    /// assert_eq!(redis.commands().get("get"), Some(&1));
    /// ```
    pub fn commands(&self) -> std::collections::BTreeMap<String, u64> {
        let info = String::from_utf8(self.cli(&["INFO", "commandstats"])).expect("ASCII");
        info.lines()
            .filter_map(|line| {
                let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = stats
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse()
                    .ok()?;
                Some((name.to_owned(), calls))
            })
            .filter(|(name, _)| name != "config|resetstat" && name != "info")
            .collect()
    }

    /// Stops the server (SIGKILL); its data is gone.
    ///
    /// ```
    /// # if !smartling_auth_testkit::redis::redis_available() { return; }
    /// let mut redis = smartling_auth_testkit::redis::RedisServer::start();
    /// redis.stop();
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_err());
    /// redis.restart();
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_ok());
    /// ```
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty: see [`stop`](Self::stop).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
