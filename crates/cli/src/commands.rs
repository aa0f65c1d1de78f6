//! The three commands.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use smartling_auth_core::{
    AccessToken, Action, BaseUrl, Credentials, Policy, RefreshToken, Session, Snapshot,
};

use crate::args::{Cli, Command};
use crate::cache::{Cache, DirError, Found, Key};
use crate::exit::Failure;
use crate::lock::{self, LockError};
use crate::renew::{self, Limits, Renewed};
use crate::trust::Refusal;
use crate::{inputs, output};

/// Everything a command needs from the command line.
struct Context {
    base: BaseUrl,
    limits: Limits,
    no_cache: bool,
    cache_file: Option<PathBuf>,
}

/// Runs the parsed command line; `start` is when the process started, for the deadline.
pub(crate) fn run(cli: Cli, start: Instant) -> Result<(), Failure> {
    let ctx = Context {
        base: inputs::base_url(cli.base_url.as_deref())?,
        limits: Limits::new(start, cli.timeout),
        no_cache: cli.no_cache,
        cache_file: cli.cache_file,
    };
    match cli.command {
        Command::Authenticate => authenticate(&ctx),
        Command::Refresh => refresh(&ctx),
        Command::Token => token(&ctx),
    }
}

/// Logs in and prints the pair. Neither reads nor writes the cache.
fn authenticate(ctx: &Context) -> Result<(), Failure> {
    let credentials = inputs::required_credentials()?;
    let builder = ctx.limits.builder(&ctx.base).credentials(credentials);
    print_pair(renew::run(builder, &ctx.limits)?)
}

/// Refreshes and prints the new pair. Neither reads nor writes the cache, and never
/// logs in: a refused refresh token is an error.
fn refresh(ctx: &Context) -> Result<(), Failure> {
    let token = inputs::refresh_token_from_env_or_stdin(ctx.limits.deadline, ctx.limits.budget)?;
    let builder = ctx.limits.builder(&ctx.base).refresh_token(token);
    print_pair(renew::run(builder, &ctx.limits)?)
}

fn print_pair(renewed: Renewed) -> Result<(), Failure> {
    match renewed.pair {
        Some(pair) => output::answer(&pair.secret_json()),
        // A provider built without tokens sends a request before it hands one out.
        None => Err(Failure::Usage("no token pair was received".to_owned())),
    }
}

/// What `token` renews with.
struct Sources {
    credentials: Option<Credentials>,
    refresh_token: Option<RefreshToken>,
}

/// Prints a valid access token: from the cache when fresh, else renewed under the
/// cross-process lock, so concurrent runs share one renewal. A cache or lock file that
/// is not a private file of ours is neither read nor replaced: see `without_cache`.
fn token(ctx: &Context) -> Result<(), Failure> {
    let sources = Sources {
        credentials: inputs::credentials()?,
        refresh_token: inputs::env_refresh_token()?,
    };
    if ctx.no_cache {
        return renew_and_print(ctx, None, &sources, None);
    }
    let user = sources.credentials.as_ref().map(|c| c.user_identifier());
    let key = Key::new(&ctx.base, user);
    let Some(mut cache) = Cache::locate(ctx.cache_file.clone(), &key) else {
        output::warning("no cache directory (no home directory found); continuing without a cache");
        return renew_and_print(ctx, None, &sources, None);
    };
    // Nothing is read in a directory others could have changed.
    if let Err(refusal) = cache.inspect() {
        return without_cache(ctx, &cache, &sources, &refusal);
    }
    let mut warned = false;

    // The fast path: no lock, no HTTP client.
    let snapshot = match read(&cache, &key, &mut warned) {
        Ok(snapshot) => snapshot,
        Err(refusal) => return without_cache(ctx, &cache, &sources, &refusal),
    };
    if let Some(token) = snapshot.as_ref().and_then(|s| fresh(ctx, s)) {
        return output::answer(token.secret());
    }
    // Nothing to renew with: fail before touching the file system.
    if snapshot.is_none() && sources.credentials.is_none() && sources.refresh_token.is_none() {
        return Err(missing_credentials());
    }

    match cache.prepare() {
        Ok(()) => {}
        Err(DirError::Refused(refusal)) => return without_cache(ctx, &cache, &sources, &refusal),
        Err(DirError::Io(e)) => {
            output::warning(&format!(
                "cannot create the token cache directory for {}: {e}; continuing without the cache",
                cache.path().display()
            ));
            return renew_and_print(ctx, snapshot, &sources, None);
        }
    }
    let lock = match lock::acquire(&cache.lock_path(), ctx.limits.deadline, cache.owner()) {
        Ok(lock) => Some(lock),
        Err(LockError::TimedOut) => {
            return Err(Failure::TimedOut(format!(
                "timed out after {:?} waiting for another smartling-auth process to renew the token (lock file {})",
                ctx.limits.budget,
                cache.lock_path().display()
            )));
        }
        Err(LockError::Refused(refusal)) => {
            return without_cache(ctx, &cache, &sources, &refusal);
        }
        Err(LockError::Io(e)) => {
            output::warning(&format!(
                "cannot lock the token cache ({}): {e}; renewing without the lock",
                cache.lock_path().display()
            ));
            None
        }
    };
    // Another process may have renewed while this one waited for the lock.
    let snapshot = match read(&cache, &key, &mut warned) {
        Ok(snapshot) => snapshot,
        Err(refusal) => {
            drop(lock);
            return without_cache(ctx, &cache, &sources, &refusal);
        }
    };
    if let Some(token) = snapshot.as_ref().and_then(|s| fresh(ctx, s)) {
        drop(lock);
        return output::answer(token.secret());
    }
    renew_and_print(ctx, snapshot, &sources, Some((&cache, &key, lock)))
}

/// A cache or lock file (or a directory above it) that must be neither read nor
/// replaced. A `--cache-file` the user named is refused: they asked for that file, and
/// silently running without it would hide the problem. The default location gets a
/// warning and the command runs as with `--no-cache`: no read, no write, no lock.
fn without_cache(
    ctx: &Context,
    cache: &Cache,
    sources: &Sources,
    refusal: &Refusal,
) -> Result<(), Failure> {
    if ctx.cache_file.is_some() {
        // The cache file itself is already named by the flag.
        let what: &dyn std::fmt::Display = if refusal.is_about("cache file") {
            &refusal.reason()
        } else {
            refusal
        };
        return Err(Failure::Usage(format!(
            "refusing --cache-file {}: {what}; it is neither read nor replaced (use a private file in a private directory, or --no-cache)",
            cache.path().display()
        )));
    }
    output::warning(&format!(
        "not using the token cache: {refusal}; continuing without the cache"
    ));
    renew_and_print(ctx, None, sources, None)
}

/// Reads the cache, warning (once per run) about a file of ours that cannot be used
/// and will be replaced.
fn read(cache: &Cache, key: &Key, warned: &mut bool) -> Result<Option<Snapshot>, Refusal> {
    match cache.read(key) {
        Found::Session(s) => Ok(Some(s)),
        Found::Nothing => Ok(None),
        Found::Refused(refusal) => Err(refusal),
        Found::Unusable(why) => {
            if !*warned {
                *warned = true;
                output::warning(&format!(
                    "ignoring the token cache file {}: {why}; it will be replaced",
                    cache.path().display()
                ));
            }
            Ok(None)
        }
    }
}

/// The cached access token, if the core lifecycle rules would hand it out now (hard
/// margin and refresh-ahead applied).
fn fresh(ctx: &Context, snapshot: &Snapshot) -> Option<AccessToken> {
    let now = Instant::now();
    let mut session = Session::from_snapshot(
        ctx.base.clone(),
        Policy::default(),
        snapshot,
        now,
        SystemTime::now(),
    );
    match session.poll(now) {
        Action::UseToken(grant) => Some(grant.access_token),
        _ => None,
    }
}

/// Renews from every source there is (the cached session first, then the
/// environment's refresh token, then the credentials: the core's order), writes the
/// cache if asked, releases the lock, then prints.
fn renew_and_print(
    ctx: &Context,
    snapshot: Option<Snapshot>,
    sources: &Sources,
    cache: Option<(&Cache, &Key, Option<lock::Lock>)>,
) -> Result<(), Failure> {
    if snapshot.is_none() && sources.credentials.is_none() && sources.refresh_token.is_none() {
        return Err(missing_credentials());
    }
    let mut builder = ctx.limits.builder(&ctx.base);
    if let Some(snapshot) = snapshot {
        builder = builder.snapshot(snapshot);
    }
    if let Some(token) = &sources.refresh_token {
        builder = builder.refresh_token(token.clone());
    }
    if let Some(credentials) = &sources.credentials {
        builder = builder.credentials(credentials.clone());
    }
    let renewed = renew::run(builder, &ctx.limits)?;
    if let Some((cache, key, lock)) = cache {
        match renewed.provider.snapshot() {
            Some(snap) => {
                if let Err(e) = cache.write(key, &snap, lock.as_ref()) {
                    output::warning(&format!(
                        "cannot write the token cache file {}: {e}",
                        cache.path().display()
                    ));
                }
            }
            None => output::warning("no session to cache"),
        }
        drop(lock);
    }
    output::answer(renewed.token.secret())
}

fn missing_credentials() -> Failure {
    Failure::Usage(format!(
        "missing credentials: set {} and {} (or {})",
        inputs::USER_IDENTIFIER,
        inputs::USER_SECRET,
        inputs::REFRESH_TOKEN
    ))
}
