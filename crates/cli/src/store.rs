//! Which token store `token` uses: the per-user file cache by default, a file named by
//! `--cache-file` or `--store PATH`, or Redis (`--store redis://…`), which falls back
//! to the file cache when it cannot be reached.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use smartling_auth_core::store::{
    Fetched, LeaseId, RecordName, Store, StoreError, Stored, Watched,
};
use smartling_auth_store::{FileStore, RedisStore};

use crate::exit::Failure;
use crate::output;

/// The variable that names the store, like `--store`.
pub(crate) const STORE: &str = "SMARTLING_AUTH_STORE";
/// The variable holding an explicit seal key (64 hex digits).
pub(crate) const STORE_KEY: &str = "SMARTLING_AUTH_STORE_KEY";

/// The store chosen for this run.
pub(crate) enum Chosen {
    /// A file store; `explicit` names the file the user chose (refused, not skipped,
    /// when it fails the checks).
    File {
        store: Arc<FileStore>,
        explicit: Option<PathBuf>,
    },
    /// Redis, falling back to the file cache.
    Redis(Arc<Fallback>),
}

impl Chosen {
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        match self {
            Chosen::File { store, .. } => store.clone(),
            Chosen::Redis(r) => r.clone(),
        }
    }
}

/// Picks the store from `--store` (or `SMARTLING_AUTH_STORE`) and `--cache-file`;
/// `None` without a cache (`--no-cache`, or no home directory).
pub(crate) fn choose(
    flag: Option<&str>,
    cache_file: Option<PathBuf>,
    no_cache: bool,
) -> Result<Option<Chosen>, Failure> {
    // Like every other variable: a value that is not UTF-8 is refused, not dropped.
    // It may hold a Redis password: the copy is wiped when dropped.
    let env = crate::inputs::secret_var(STORE)?;
    if cache_file.is_some() && (flag.is_some() || env.is_some()) {
        return Err(Failure::Usage(
            "--store (or SMARTLING_AUTH_STORE) and --cache-file cannot be used together".to_owned(),
        ));
    }
    if no_cache {
        return Ok(None);
    }
    if let Some(path) = cache_file {
        return Ok(Some(Chosen::File {
            store: Arc::new(FileStore::file(&path)),
            explicit: Some(path),
        }));
    }
    let Some(target) = flag.map(|f| zeroize::Zeroizing::new(f.to_owned())).or(env) else {
        return Ok(default_file().map(|store| Chosen::File {
            store: Arc::new(store),
            explicit: None,
        }));
    };
    if target.starts_with("redis://") || target.starts_with("rediss://") {
        if flag.is_some() && has_password(&target) {
            output::warning(&format!(
                "--store holds a password, which other users can see in `ps`; set {STORE} instead"
            ));
        }
        let redis = RedisStore::open(&target)
            .map_err(|e| Failure::Usage(format!("--store: {}", e.message)))?;
        return Ok(Some(Chosen::Redis(Arc::new(Fallback {
            shown: shown(&target),
            primary: redis,
            // No warning yet about a missing home directory: Redis may well work.
            local: FileStore::default_cache(),
            failed: AtomicBool::new(false),
        }))));
    }
    if target.contains("://") {
        return Err(Failure::Usage(
            "--store takes redis://…, rediss://… or a file path".to_owned(),
        ));
    }
    let path = PathBuf::from(target.as_str());
    let store = if path.is_dir() {
        FileStore::new(&path)
    } else {
        FileStore::file(&path)
    };
    Ok(Some(Chosen::File {
        store: Arc::new(store),
        explicit: Some(path),
    }))
}

fn default_file() -> Option<FileStore> {
    let store = FileStore::default_cache();
    if store.is_none() {
        output::warning("no cache directory (no home directory found); continuing without a cache");
    }
    store
}

/// Whether a Redis URL carries a password (`redis://[user]:password@host`).
fn has_password(url: &str) -> bool {
    userinfo(url).is_some_and(|info| info.contains(':'))
}

fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    authority.rsplit_once('@').map(|(info, _)| info)
}

/// The URL without its user and password, for messages.
fn shown(url: &str) -> String {
    match (url.split_once("://"), userinfo(url)) {
        (Some((scheme, rest)), Some(info)) => {
            format!("{scheme}://{}", &rest[info.len() + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Redis first; after its first failure, the local file cache, with one warning.
#[derive(Debug)]
pub(crate) struct Fallback {
    shown: String,
    primary: RedisStore,
    local: Option<FileStore>,
    failed: AtomicBool,
}

impl Fallback {
    fn either<T>(&self, op: impl Fn(&dyn Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if !self.failed.load(Ordering::Relaxed) {
            match op(&self.primary) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !self.failed.swap(true, Ordering::Relaxed) {
                        let then = if self.local.is_some() {
                            "using the local file cache"
                        } else {
                            "continuing without a cache (no home directory found)"
                        };
                        output::warning(&format!(
                            "token store {} failed ({e}); {then}",
                            self.shown
                        ));
                    }
                }
            }
        }
        match &self.local {
            Some(local) => op(local),
            None => Err(StoreError::new(
                smartling_auth_core::store::StoreErrorKind::Unavailable,
                "no local file cache to fall back to (no home directory found)",
            )),
        }
    }
}

impl Store for Fallback {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        self.either(|s| s.read(name))
    }
    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        self.either(|s| s.lease(name, holder, ttl))
    }
    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.either(|s| s.extend(name, holder, ttl))
    }
    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.either(|s| s.write(name, expected, record, ttl))
    }
    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        self.either(|s| s.release(name, holder))
    }
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        self.either(|s| s.watch(name, since, until))
    }
    fn needs_sealing(&self) -> bool {
        true
    }
}

/// A store whose first read of one record answers what the fast path read already:
/// the renewal starts with a read, and the same one twice would cost every run that
/// renews or waits one more round trip (two more Redis commands).
#[derive(Debug)]
pub(crate) struct Primed {
    inner: Arc<dyn Store>,
    /// The record's name, what its read returned, and when that read began.
    first: Mutex<Option<(RecordName, Fetched, Instant)>>,
}

impl Primed {
    pub(crate) fn new(
        inner: Arc<dyn Store>,
        name: RecordName,
        read: Fetched,
        began: Instant,
    ) -> Self {
        Self {
            inner,
            first: Mutex::new(Some((name, read, began))),
        }
    }
}

impl Store for Primed {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        let first = self
            .first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((primed, mut fetched, began)) = first
            && primed == *name
        {
            // As if read now: the store's clock has moved on as this one has since the
            // read began (counted from its start, so the record only ever looks older).
            fetched.now += began.elapsed();
            return Ok(fetched);
        }
        self.inner.read(name)
    }
    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.lease(name, holder, ttl)
    }
    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.extend(name, holder, ttl)
    }
    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.write(name, expected, record, ttl)
    }
    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        self.inner.release(name, holder)
    }
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        self.inner.watch(name, since, until)
    }
    fn needs_sealing(&self) -> bool {
        self.inner.needs_sealing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_never_shown() {
        assert!(has_password("redis://:pw@h:1/"));
        assert!(has_password("rediss://user:pw@h/"));
        assert!(!has_password("redis://user@h/"));
        assert!(!has_password("redis://h:6379/"));
        assert_eq!(shown("redis://user:pw@h:1/0"), "redis://h:1/0");
        assert_eq!(shown("redis://h:1/"), "redis://h:1/");
        assert!(!has_password("redis://h/path@x:y"));
    }
}
