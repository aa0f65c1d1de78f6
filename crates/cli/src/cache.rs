//! The on-disk token cache: one small JSON file per base URL and user, private to its
//! owner, replaced atomically so a reader never sees half a file. Only a private file
//! of the user's, in directories no one else can change, is read or replaced
//! (`trust.rs` holds the rules).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use smartling_auth_core::{BaseUrl, Snapshot};

use crate::lock::Lock;
use crate::trust::{Opened, Owner, Refusal};

/// The wrapper format written by this version.
const VERSION: u64 = 1;
/// A real cache file is under 4 KiB; anything much larger is not one of ours.
const MAX_SIZE: u64 = 64 * 1024;

/// Which session a cache file holds: the API and the user it was obtained for.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    base_url: String,
    /// `None` when the session started from a bare refresh token.
    user: Option<String>,
}

impl Key {
    /// The key of `user`'s sessions at `base`.
    pub(crate) fn new(base: &BaseUrl, user: Option<&str>) -> Self {
        Self {
            base_url: base.as_str().to_owned(),
            user: user.map(str::to_owned),
        }
    }

    /// The default file name: a hash, so that neither the URL nor the user shows in
    /// the directory listing and any identifier makes a valid name.
    fn file_name(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.base_url.as_bytes());
        h.update(b"\n");
        h.update(self.user.as_deref().unwrap_or("").as_bytes());
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}.json")
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wrapper {
    version: u64,
    base_url: String,
    user_identifier: Option<String>,
    session: Box<RawValue>,
}

/// What reading the cache found.
#[derive(Debug)]
pub(crate) enum Found {
    /// No file: the first run, or the cache was removed.
    Nothing,
    /// A session for this key.
    Session(Snapshot),
    /// A file of ours that cannot be used, and why (never its content): it will be
    /// replaced.
    Unusable(&'static str),
    /// Something that is not a private file of ours: neither read nor replaced.
    Refused(Refusal),
}

/// Why the cache's directory is not ready.
#[derive(Debug)]
pub(crate) enum DirError {
    /// It, or a directory above it, is not trusted.
    Refused(Refusal),
    /// It could not be created.
    Io(io::Error),
}

/// One cache file and its lock file.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    /// The path as named: on the command line, or the default location.
    path: PathBuf,
    /// Created (and tightened to 0700) when missing; `false` for a user-chosen
    /// `--cache-file`, whose existing directory is left as the user set it.
    own_dir: bool,
    /// Whose files may be used, and where the walk up the directories stops.
    owner: Owner,
    /// The file's directory, resolved and checked; `None` until it is checked, or
    /// while it does not exist.
    dir: Option<PathBuf>,
}

impl Cache {
    /// The cache for `key`: `explicit` when given, else a file named by the key's hash
    /// in the platform cache directory. `None` when there is no home directory.
    pub(crate) fn locate(explicit: Option<PathBuf>, key: &Key) -> Option<Self> {
        let (path, own_dir) = match explicit {
            Some(path) => (path, false),
            None => {
                let dirs = directories::ProjectDirs::from("", "", "smartling-auth")?;
                (dirs.cache_dir().join(key.file_name()), true)
            }
        };
        Some(Self {
            path,
            own_dir,
            owner: Owner::current(),
            dir: None,
        })
    }

    /// The cache file, as named.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whose files the cache and lock files must be.
    pub(crate) fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The file's name; `inspect` refuses a path without one.
    fn name(&self) -> &OsStr {
        self.path.file_name().unwrap_or_default()
    }

    /// The directory as named.
    fn named_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// The file in its checked directory (as named until it is checked).
    fn file(&self) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(self.name()),
            None => self.path.clone(),
        }
    }

    /// The lock file beside it. It is never deleted: removing a lock file while
    /// another process waits on it would let two renewals run at once.
    pub(crate) fn lock_path(&self) -> PathBuf {
        let mut name = self.name().to_owned();
        name.push(".lock");
        self.file().with_file_name(name)
    }

    /// Checks the directory, if it exists, before anything in it is read: it and the
    /// directories above it must be the user's (or root's) and closed to others. The
    /// default directory is ours alone: if we loosened it, it is tightened first.
    pub(crate) fn inspect(&mut self) -> Result<(), Refusal> {
        if self.path.file_name().is_none() {
            return Err(Refusal::new(
                "cache file",
                &self.path,
                "does not name a file",
            ));
        }
        let dir = self.named_dir();
        if self.own_dir {
            self.owner.tighten_own_dir(&dir);
        }
        // `None` when it does not exist yet: nothing to read, and `prepare` creates it.
        self.dir = self.owner.check_dirs(&dir, true)?;
        Ok(())
    }

    /// Makes the directory ready for the lock and the write: the directories that
    /// exist are checked first, the missing ones created (0700), then the whole chain
    /// is checked again.
    pub(crate) fn prepare(&mut self) -> Result<(), DirError> {
        if self.dir.is_some() {
            return Ok(());
        }
        let dir = self.named_dir();
        let existing = dir
            .ancestors()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .find(|d| fs::metadata(d).is_ok());
        if let Some(existing) = existing {
            self.owner
                .check_dirs(existing, existing == dir)
                .map_err(DirError::Refused)?;
        }
        create_private_dir(&dir).map_err(DirError::Io)?;
        if self.own_dir {
            self.owner.tighten_own_dir(&dir);
        }
        match self.owner.check_dirs(&dir, true) {
            Ok(Some(real)) => self.dir = Some(real),
            Ok(None) => return Err(DirError::Io(io::ErrorKind::NotFound.into())),
            Err(refusal) => return Err(DirError::Refused(refusal)),
        }
        Ok(())
    }

    /// Reads the session for `key`, judging nothing about its freshness.
    pub(crate) fn read(&self, key: &Key) -> Found {
        if self.dir.is_none() {
            return Found::Nothing;
        }
        let file = match self.owner.open_read("cache file", &self.file()) {
            Opened::File(f) => f,
            Opened::Missing => return Found::Nothing,
            Opened::Refused(refusal) => return Found::Refused(refusal),
            Opened::Failed(_) => return Found::Unusable("it cannot be read"),
        };
        let mut bytes = Vec::new();
        if file.take(MAX_SIZE + 1).read_to_end(&mut bytes).is_err() {
            return Found::Unusable("it cannot be read");
        }
        if bytes.is_empty() {
            return Found::Unusable("it is empty");
        }
        if bytes.len() as u64 > MAX_SIZE {
            return Found::Unusable("it is too large to be a cache file");
        }
        parse(&bytes, key)
    }

    /// Replaces the cache file with `snapshot` for `key`: a private temporary file in
    /// the same directory, written and synced, then renamed over the old one, so a
    /// crash at any moment leaves either the old file or the new one, never a mix.
    /// Only a private regular file of ours is replaced.
    ///
    /// Temporary files left by killed writers are swept only under `lock`: without
    /// it, another process's pending write may be one of them.
    pub(crate) fn write(
        &self,
        key: &Key,
        snapshot: &Snapshot,
        lock: Option<&Lock>,
    ) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Err(io::Error::other("the cache directory was not checked"));
        };
        let path = self.file();
        self.owner
            .judge_path("cache file", &path)
            .map_err(|refusal| io::Error::other(refusal.to_string()))?;
        let wrapper = Wrapper {
            version: VERSION,
            base_url: key.base_url.clone(),
            user_identifier: key.user.clone(),
            session: RawValue::from_string(snapshot.to_json()).map_err(io::Error::other)?,
        };
        let json = serde_json::to_vec(&wrapper).map_err(io::Error::other)?;
        if let Some(lock) = lock {
            self.remove_stale_temp_files(dir, lock);
        }
        let mut tmp = temp_builder(&self.temp_prefix()).tempfile_in(dir)?;
        tmp.write_all(&json)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        // Make the rename itself durable; not every platform can sync a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// `.<file name>.` — temporary files of this cache file start with it.
    fn temp_prefix(&self) -> String {
        format!(".{}.", self.name().to_string_lossy())
    }

    /// Temporary files left by a writer that was killed. Under the lock no other
    /// writer of this file can be active, so every match is stale.
    fn remove_stale_temp_files(&self, dir: &Path, _held: &Lock) {
        let prefix = self.temp_prefix();
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn parse(bytes: &[u8], key: &Key) -> Found {
    let Ok(wrapper) = serde_json::from_slice::<Wrapper>(bytes) else {
        return Found::Unusable("it is not a valid cache file");
    };
    if wrapper.version != VERSION {
        return Found::Unusable("it has an unknown format version");
    }
    if wrapper.base_url != key.base_url || wrapper.user_identifier != key.user {
        return Found::Unusable("it belongs to another base URL or user");
    }
    match Snapshot::from_json(wrapper.session.get().as_bytes()) {
        Ok(s) => Found::Session(s),
        Err(_) => Found::Unusable("its session is invalid"),
    }
}

#[cfg(unix)]
fn temp_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    use std::os::unix::fs::PermissionsExt;
    let mut b = tempfile::Builder::new();
    b.prefix(prefix)
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600));
    b
}

#[cfg(not(unix))]
fn temp_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).suffix(".tmp");
    b
}

/// `mkdir -p` with mode 0700 for every directory it creates.
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn snapshot() -> Snapshot {
        let json = br#"{"accessToken":"a.b.c","refreshToken":"d.e.f","tokenType":"Bearer",
            "accessExpiresAt":4102444800,"refreshExpiresAt":4102444800,"refreshUsable":true}"#;
        Snapshot::from_json(json).unwrap()
    }

    fn key(user: &str) -> Key {
        Key::new(&BaseUrl::default(), Some(user))
    }

    /// A checked cache at `path`, its directory created.
    fn ready(path: PathBuf) -> Cache {
        let mut cache = Cache::locate(Some(path), &key("u")).unwrap();
        cache.inspect().unwrap();
        cache.prepare().unwrap();
        cache
    }

    fn lock(cache: &Cache) -> Lock {
        let soon = Instant::now() + Duration::from_secs(5);
        crate::lock::acquire(&cache.lock_path(), soon, cache.owner()).unwrap()
    }

    /// `content` as a private file of ours (mode 0600 on Unix).
    fn write_private(path: &Path, content: &[u8]) {
        let _ = fs::remove_file(path);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path).unwrap().write_all(content).unwrap();
    }

    #[test]
    fn round_trip_and_key_check() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::locate(Some(dir.path().join("sub/c.json")), &key("u")).unwrap();
        cache.inspect().unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Nothing));
        cache.prepare().unwrap();
        cache.write(&key("u"), &snapshot(), None).unwrap();
        let Found::Session(s) = cache.read(&key("u")) else {
            panic!("no session")
        };
        assert_eq!(s.access_token.secret(), "a.b.c");
        assert!(matches!(
            cache.read(&key("other")),
            Found::Unusable("it belongs to another base URL or user")
        ));
        let no_user = Key::new(&BaseUrl::default(), None);
        assert!(matches!(cache.read(&no_user), Found::Unusable(_)));
        let real = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(cache.lock_path(), real.join("sub/c.json.lock"));
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = ready(dir.path().join("a/b/c.json"));
        cache.write(&key("u"), &snapshot(), None).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(cache.path()), 0o600);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }

    #[test]
    fn garbage_of_ours_is_unusable_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let cache = ready(path.clone());
        for content in [&b""[..], b"garbage", b"{\"version\":1", b"{\"version\":2}"] {
            write_private(&path, content);
            assert!(matches!(cache.read(&key("u")), Found::Unusable(_)));
        }
        cache.write(&key("u"), &snapshot(), None).unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Session(_)));
    }

    #[cfg(unix)]
    #[test]
    fn what_is_not_a_private_file_of_ours_is_neither_read_nor_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let cache = ready(path.clone());
        fs::create_dir(&path).unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Refused(_)));
        assert!(cache.write(&key("u"), &snapshot(), None).is_err());
        assert!(path.is_dir(), "even an empty directory stays");
        fs::remove_dir(&path).unwrap();
        let other = dir.path().join("other");
        fs::write(&other, b"a shell rc file").unwrap();
        std::os::unix::fs::symlink(&other, &path).unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Refused(_)));
        assert!(cache.write(&key("u"), &snapshot(), None).is_err());
        assert_eq!(fs::read(&other).unwrap(), b"a shell rc file");
        assert!(fs::symlink_metadata(&path).unwrap().is_symlink());
    }

    #[test]
    fn stale_temp_files_are_swept_under_the_lock_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ready(dir.path().join("c.json"));
        let stale = dir.path().join(".c.json.abc123.tmp");
        let other = dir.path().join(".d.json.abc123.tmp");
        fs::write(&stale, b"x").unwrap();
        fs::write(&other, b"x").unwrap();
        cache.write(&key("u"), &snapshot(), None).unwrap();
        assert!(stale.exists(), "without the lock it may be a pending write");
        let held = lock(&cache);
        cache.write(&key("u"), &snapshot(), Some(&held)).unwrap();
        assert!(!stale.exists());
        assert!(other.exists(), "another cache file's temp file is not ours");
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let mut cache = Cache::locate(Some(PathBuf::from("/")), &key("u")).unwrap();
        assert!(cache.inspect().is_err());
    }

    #[test]
    fn file_names_differ_by_key() {
        let a = key("a").file_name();
        assert_eq!(a.len(), 64 + 5);
        assert_ne!(a, key("b").file_name());
        let gw = Key::new(&BaseUrl::parse("https://gw.example").unwrap(), Some("a"));
        assert_ne!(a, gw.file_name());
    }
}
