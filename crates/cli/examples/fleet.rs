//! A fleet of three worker processes sharing one token (`cargo xtask demo fleet`).
//!
//! Starts the emulator with 4-second tokens and a token store: a `redis-server` of its
//! own when one is on `PATH`, else a file store in a temporary directory. Then runs
//! three copies of itself as workers, each asking its provider for a token five times a
//! second for about three token lifetimes. Each worker prints what happened when its
//! token changed: it renewed (and which request it sent), or it adopted the token
//! another worker stored. Tokens are shown only as short SHA-256 fingerprints. At the
//! end: the emulator's request counts, which should be one login and one renewal per
//! expiry for the whole fleet.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use smartling_auth_emulator::{Emulator, Endpoint};
use smartling_auth_isahc::{BaseUrl, Credentials, FileStore, Handled, TokenProvider};
use smartling_auth_store::RedisStore;

const WORKERS: usize = 3;
const LIFE: Duration = Duration::from_secs(4);
const RUN: Duration = Duration::from_secs(12);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [role, n, base, store] if role == "worker" => worker(n, base, store),
        [] => fleet(),
        _ => Err("usage: fleet [worker N BASE STORE]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn fleet() -> Result {
    let emu = Emulator::builder()
        .access_ttl(LIFE)
        .refresh_ttl(Duration::from_secs(120))
        .start()?;
    let redis = smartling_auth_testkit::redis::redis_available()
        .then(smartling_auth_testkit::redis::RedisServer::start);
    let dir = tempfile::tempdir()?;
    let store = match &redis {
        Some(r) => r.url(),
        None => format!("file:{}", dir.path().join("tokens").display()),
    };
    println!("smartling-auth fleet demo: emulator on {}", emu.base_url());
    match &redis {
        Some(r) => println!(
            "token store: a redis-server of this demo's own on port {}",
            r.port()
        ),
        None => println!("token store: files in a temporary directory (no redis-server on PATH)"),
    }
    println!(
        "{WORKERS} workers ask for a token 5 times a second for {} s; tokens live {} s\n",
        RUN.as_secs(),
        LIFE.as_secs()
    );
    let (user, secret) = emu.demo_user();
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for n in 1..=WORKERS {
        children.push(
            Command::new(&exe)
                .args(["worker", &n.to_string(), &emu.base_url(), &store])
                // Secrets go through the environment, never argv.
                .env("FLEET_USER", &user)
                .env("FLEET_SECRET", &secret)
                .stdout(Stdio::piped())
                .spawn()?,
        );
    }
    // Print the workers' lines as they come, one thread per worker.
    let printers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let out = c.stdout.take().expect("piped");
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
                    println!("{line}");
                }
            })
        })
        .collect();
    let mut failed = false;
    for mut c in children {
        failed |= !c.wait()?.success();
    }
    for p in printers {
        let _ = p.join();
    }
    let c = emu.counters();
    let (logins, refreshes) = (c.total(Endpoint::Authenticate), c.total(Endpoint::Refresh));
    println!("\nrequests to the auth API: {logins} authenticate, {refreshes} refresh");
    println!(
        "expected for the fleet: 1 login, then 1 renewal per refresh point (~{}-{} in {} s)",
        RUN.as_secs() / LIFE.as_secs(),
        RUN.as_secs() / (LIFE.as_secs() / 2),
        RUN.as_secs()
    );
    if failed {
        return Err("a worker failed".into());
    }
    Ok(())
}

fn worker(n: &str, base: &str, store: &str) -> Result {
    let builder = TokenProvider::builder(BaseUrl::parse(base)?).credentials(Credentials::new(
        std::env::var("FLEET_USER")?,
        std::env::var("FLEET_SECRET")?,
    ));
    let builder = match store.strip_prefix("file:") {
        Some(dir) => builder.store(FileStore::new(dir)),
        None => builder.store(RedisStore::open(store)?),
    };
    let provider = builder.build()?;
    let end = Instant::now() + RUN;
    let mut last = String::new();
    for _ in 0..1_000 {
        if Instant::now() >= end {
            break;
        }
        let mut what = None;
        let token = provider.access_token_with(|kind, handled| match handled {
            Handled::Renewed(_) => what = Some(format!("renewed ({kind:?})")),
            Handled::Adopted(_) => what = Some("adopted the shared token".to_owned()),
            _ => {}
        })?;
        let print = fingerprint(token.secret());
        if print != last {
            let what = what.unwrap_or_else(|| "kept its token".to_owned());
            println!("worker {n}: {what}: {print}");
            last = print;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// `sha256:` and the first 8 hex digits of the hash: enough to tell tokens apart.
fn fingerprint(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
