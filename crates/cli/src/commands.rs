//! The three commands.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use smartling_auth_core::store::{
    Inspected, Origin, SealKey, SharedStore, Store, StoreError, StoreErrorKind,
};
use smartling_auth_core::{BaseUrl, Credentials, Policy, RefreshToken, TokenPair};

use crate::args::{Cli, Command};
use crate::exit::Failure;
use crate::renew::{self, Limits, Renewed};
use crate::{inputs, output, store};

/// Everything a command needs from the command line.
struct Context {
    base: BaseUrl,
    limits: Limits,
    no_cache: bool,
    cache_file: Option<PathBuf>,
    store: Option<String>,
}

/// Runs the parsed command line; `start` is when the process started, for the deadline.
pub(crate) fn run(cli: Cli, start: Instant) -> Result<(), Failure> {
    let ctx = Context {
        base: inputs::base_url(cli.base_url.as_deref())?,
        limits: Limits::new(start, cli.timeout),
        no_cache: cli.no_cache,
        cache_file: cli.cache_file,
        store: cli.store,
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
        Some(pair) => output::answer(&zeroize::Zeroizing::new(pair.secret_json())),
        // A provider built without tokens sends a request before it hands one out.
        None => Err(Failure::Usage("no token pair was received".to_owned())),
    }
}

/// What `token` renews with.
struct Sources {
    credentials: Option<Credentials>,
    refresh_token: Option<RefreshToken>,
}

/// Prints a valid access token: from the token store when fresh (no lock, no HTTP
/// client), else renewed through the store's protocol, so concurrent runs (and, with
/// Redis, other machines) share one renewal. A file that is not a private file of ours
/// is neither read nor replaced: see `without_store`.
fn token(ctx: &Context) -> Result<(), Failure> {
    let credentials = inputs::credentials()?;
    let mut refresh_token = inputs::env_refresh_token()?;
    // The credentials decide the account: a refresh token does not say whose it is,
    // and what it renews would be cached (and, over Redis, shared) as theirs.
    if credentials.is_some() && refresh_token.take().is_some() {
        output::warning(&format!(
            "ignoring {}: {} and {} are set and decide the account",
            inputs::REFRESH_TOKEN,
            inputs::USER_IDENTIFIER,
            inputs::USER_SECRET
        ));
    }
    let sources = Sources {
        credentials,
        refresh_token,
    };
    let Some(chosen) = store::choose(ctx.store.as_deref(), ctx.cache_file.clone(), ctx.no_cache)?
    else {
        return renew_and_print(ctx, None, &sources, None);
    };
    let store = chosen.store();
    let explicit_key = match inputs::secret_var(store::STORE_KEY)? {
        Some(text) => Some(
            SealKey::parse(&text)
                .map_err(|e| Failure::Usage(format!("{}: {e}", store::STORE_KEY)))?,
        ),
        None => None,
    };
    // A session from a bare refresh token has its own record per base URL (and key).
    let identity = sources
        .credentials
        .as_ref()
        .map_or("", |c| c.user_identifier())
        .to_owned();
    let key = match (&explicit_key, &sources.credentials) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(c)) if store.needs_sealing() => {
            Some(SealKey::derive(&ctx.base, &identity, c.user_secret()))
        }
        (None, None) if store.needs_sealing() => {
            return Err(Failure::Usage(format!(
                "a Redis store seals its records with a key derived from the user secret; with a refresh token alone, set {} (64 hex digits, the same for every process sharing the store)",
                store::STORE_KEY
            )));
        }
        _ => None,
    };
    let policy = Policy::default();
    let mut shared =
        SharedStore::for_user(store.clone(), &ctx.base, &identity, key.clone(), &policy)
            .map_err(|e| Failure::Usage(e.to_string()))?;
    // Without credentials, the record is this refresh token's session's, not any
    // other token's (another account's) that was cached at the same base URL.
    let mut origin = sources
        .refresh_token
        .as_ref()
        .filter(|_| sources.credentials.is_none())
        .map(|t| Origin::of(&ctx.base, t));
    if let Some(origin) = origin {
        shared = shared.with_origin(origin);
    }
    let name = shared.name().clone();
    if let store::Chosen::File {
        store: file,
        explicit,
    } = &chosen
    {
        // Nothing is read in a directory others could have changed.
        if let Err(e) = file.check(&name) {
            return without_store(ctx, explicit.as_deref(), &sources, &e);
        }
    }

    // The fast path: no lock, no HTTP client.
    let now = Instant::now();
    let mut stale = None;
    let mut store = store;
    match store.read(&name) {
        Ok(fetched) => {
            match shared.inspect(&fetched, now) {
                Inspected::Fresh { pair, .. } => {
                    return output::answer(pair.access_token.secret());
                }
                // A stale record's refresh token still renews without credentials, and
                // its session goes on under the record's origin.
                Inspected::Stale {
                    pair,
                    origin: found,
                    ..
                } => {
                    stale = pair;
                    origin = origin.or(found);
                }
                Inspected::Untrusted { reason, .. } => {
                    let place = match &chosen {
                        store::Chosen::File { store: file, .. } => {
                            format!("the token cache file {}", file.path_of(&name).display())
                        }
                        store::Chosen::Redis(_) => "the stored token record".to_owned(),
                    };
                    output::warning(&format!("ignoring {place}: {reason}; it will be replaced"));
                }
                _ => {}
            }
            // The renewal's first read is this one.
            store = Arc::new(store::Primed::new(store, name.clone(), fetched, now));
        }
        Err(e) if e.kind == StoreErrorKind::Refused => {
            if let store::Chosen::File { explicit, .. } = &chosen {
                return without_store(ctx, explicit.as_deref(), &sources, &e);
            }
        }
        // Redis failures are reported (once) by the fallback store.
        Err(e) => {
            if let store::Chosen::File { .. } = &chosen {
                output::warning(&format!("cannot read the token cache: {e}"));
            }
        }
    }
    let setup = StoreSetup {
        store,
        identity,
        key,
        origin,
    };
    renew_and_print(ctx, stale, &sources, Some(setup))
}

/// The store a renewal goes through.
struct StoreSetup {
    store: Arc<dyn Store>,
    identity: String,
    key: Option<SealKey>,
    /// Whose session the record is, for a run without credentials.
    origin: Option<Origin>,
}

/// A cache file (or a directory above it, or a lock file) that must be neither read
/// nor replaced. A file the user named is refused: they asked for that file, and
/// silently running without it would hide the problem. The default location gets a
/// warning and the command runs as with `--no-cache`.
fn without_store(
    ctx: &Context,
    explicit: Option<&std::path::Path>,
    sources: &Sources,
    error: &StoreError,
) -> Result<(), Failure> {
    if let Some(path) = explicit {
        let flag = if ctx.cache_file.is_some() {
            "--cache-file"
        } else {
            "--store"
        };
        return Err(Failure::Usage(format!(
            "refusing {flag} {}: {}; it is neither read nor replaced (use a private file in a private directory, or --no-cache)",
            path.display(),
            error.message
        )));
    }
    output::warning(&format!(
        "not using the token cache: {}; continuing without the cache",
        error.message
    ));
    renew_and_print(ctx, None, sources, None)
}

/// Renews from every source there is (a stored pair first, then the environment's
/// refresh token, then the credentials: the core's order), through the store if
/// given, then prints.
fn renew_and_print(
    ctx: &Context,
    pair: Option<(TokenPair, Instant)>,
    sources: &Sources,
    store: Option<StoreSetup>,
) -> Result<(), Failure> {
    if pair.is_none() && sources.credentials.is_none() && sources.refresh_token.is_none() {
        return Err(missing_credentials());
    }
    let mut builder = ctx.limits.builder(&ctx.base);
    if let Some((pair, sent_at)) = pair {
        builder = builder.token_pair(pair, sent_at);
    }
    if let Some(token) = &sources.refresh_token {
        builder = builder.refresh_token(token.clone());
    }
    if let Some(credentials) = &sources.credentials {
        builder = builder.credentials(credentials.clone());
    }
    if let Some(setup) = store {
        builder = builder.store(setup.store).store_identity(setup.identity);
        if let Some(key) = setup.key {
            builder = builder.store_key(key);
        }
        if let Some(origin) = setup.origin {
            builder = builder.store_origin(origin);
        }
    }
    let renewed = renew::run(builder, &ctx.limits)?;
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
