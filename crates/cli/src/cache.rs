//! The on-disk token cache: one small JSON file per base URL and user, private to its
//! owner, replaced atomically so a reader never sees half a file.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use smartling_auth_core::{BaseUrl, Snapshot};

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
    /// A file that cannot be used, and why (never its content).
    Unusable(&'static str),
}

/// One cache file and its lock file.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    path: PathBuf,
    /// Created (and tightened to 0700) when missing; `false` for a user-chosen
    /// `--cache-file`, whose existing directory is left as the user set it.
    own_dir: bool,
}

impl Cache {
    /// The cache for `key`: `explicit` when given, else a file named by the key's hash
    /// in the platform cache directory. `None` when there is no home directory.
    pub(crate) fn locate(explicit: Option<PathBuf>, key: &Key) -> Option<Self> {
        if let Some(path) = explicit {
            return Some(Self {
                path,
                own_dir: false,
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "smartling-auth")?;
        Some(Self {
            path: dirs.cache_dir().join(key.file_name()),
            own_dir: true,
        })
    }

    /// The cache file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file beside it. It is never deleted: removing a lock file while
    /// another process waits on it would let two renewals run at once.
    pub(crate) fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// Creates the directory (0700) if it is missing.
    pub(crate) fn ensure_dir(&self) -> io::Result<()> {
        let dir = self.dir();
        if self.own_dir {
            create_private_dir(&dir)?;
            tighten_dir(&dir)
        } else if !dir.is_dir() {
            create_private_dir(&dir)
        } else {
            Ok(())
        }
    }

    /// Reads the session for `key`, judging nothing about its freshness.
    pub(crate) fn read(&self, key: &Key) -> Found {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Nothing,
            Err(_) => return Found::Unusable("it cannot be read"),
        };
        // Opening a directory succeeds on Unix; reading it does not.
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Found::Unusable("it is not a regular file");
        }
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
    pub(crate) fn write(&self, key: &Key, snapshot: &Snapshot) -> io::Result<()> {
        let wrapper = Wrapper {
            version: VERSION,
            base_url: key.base_url.clone(),
            user_identifier: key.user.clone(),
            session: RawValue::from_string(snapshot.to_json()).map_err(io::Error::other)?,
        };
        let json = serde_json::to_vec(&wrapper).map_err(io::Error::other)?;
        let dir = self.dir();
        self.ensure_dir()?;
        self.remove_stale_temp_files(&dir);
        // An empty directory where the file should be is replaced; a non-empty one is
        // never deleted (it may be a user's directory passed by mistake).
        if fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir(&self.path)?;
        }
        let mut tmp = temp_builder(&self.temp_prefix()).tempfile_in(&dir)?;
        tmp.write_all(&json)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        // Make the rename itself durable; not every platform can sync a directory.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// `.<file name>.` — temporary files of this cache file start with it.
    fn temp_prefix(&self) -> String {
        format!(
            ".{}.",
            self.path.file_name().unwrap_or_default().to_string_lossy()
        )
    }

    /// Temporary files left by a writer that was killed. Called under the lock, when no
    /// other writer of this file can be active, so every match is stale.
    fn remove_stale_temp_files(&self, dir: &Path) {
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

/// The default directory is ours alone: if someone loosened it, tighten it again.
#[cfg(unix)]
fn tighten_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let json = br#"{"accessToken":"a.b.c","refreshToken":"d.e.f","tokenType":"Bearer",
            "accessExpiresAt":4102444800,"refreshExpiresAt":4102444800,"refreshUsable":true}"#;
        Snapshot::from_json(json).unwrap()
    }

    fn key(user: &str) -> Key {
        Key::new(&BaseUrl::default(), Some(user))
    }

    #[test]
    fn round_trip_and_key_check() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::locate(Some(dir.path().join("sub/c.json")), &key("u")).unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Nothing));
        cache.write(&key("u"), &snapshot()).unwrap();
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
        assert_eq!(cache.lock_path(), dir.path().join("sub/c.json.lock"));
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::locate(Some(dir.path().join("a/b/c.json")), &key("u")).unwrap();
        cache.write(&key("u"), &snapshot()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(cache.path()), 0o600);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }

    #[test]
    fn garbage_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let cache = Cache::locate(Some(path.clone()), &key("u")).unwrap();
        for content in [&b""[..], b"garbage", b"{\"version\":1", b"{\"version\":2}"] {
            fs::write(&path, content).unwrap();
            assert!(matches!(cache.read(&key("u")), Found::Unusable(_)));
        }
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Unusable(_)));
        // ... and is replaced by the next write.
        cache.write(&key("u"), &snapshot()).unwrap();
        assert!(matches!(cache.read(&key("u")), Found::Session(_)));
    }

    #[test]
    fn stale_temp_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let cache = Cache::locate(Some(path), &key("u")).unwrap();
        let stale = dir.path().join(".c.json.abc123.tmp");
        let other = dir.path().join(".d.json.abc123.tmp");
        fs::write(&stale, b"x").unwrap();
        fs::write(&other, b"x").unwrap();
        cache.write(&key("u"), &snapshot()).unwrap();
        assert!(!stale.exists());
        assert!(other.exists(), "another cache file's temp file is not ours");
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
