//! One record's file: a small JSON file private to its owner, replaced atomically so a
//! reader never sees half a file. Only a private file of the user's, in directories no
//! one else can change, is read or replaced (`trust.rs` holds the rules).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use smartling_auth_core::store::Stored;

use super::lock::Lock;
use super::trust::{Opened, Owner, Refusal};

/// The file format written by this version.
const FORMAT: u64 = 2;
/// A real record file is under 4 KiB; anything much larger is not one of ours.
const MAX_SIZE: u64 = 64 * 1024;

/// The file: the record's version, and its payload. A plain record (JSON) is kept as
/// JSON, readable with `jq`; a sealed one (binary) as lowercase hex, which keeps the
/// file JSON without a base64 dependency and is only twice the size of a few hundred
/// bytes.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wrapper {
    format: u64,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plain: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Found {
    /// No file: the first run, or the cache was removed.
    Nothing,
    /// A record (version 0 when the file cannot be parsed: it is replaced).
    Record(Stored),
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

/// One record's file and its lock files.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// The path as named: on the command line, or the default location.
    path: PathBuf,
    /// The store's own directory (the default location): tightened back to 0700 if
    /// loosened. `false` for a directory the user chose, which is never changed
    /// (only created, 0700, when missing).
    own_dir: bool,
    /// Whose files may be used, and where the walk up the directories stops.
    owner: Owner,
    /// The file's directory, resolved and checked; `None` until it is checked, or
    /// while it does not exist.
    dir: Option<PathBuf>,
}

impl Place {
    /// The file at `path`; `own_dir` when its directory is ours to tighten (the
    /// default location), not a directory the user chose.
    pub(crate) fn at(path: PathBuf, own_dir: bool, owner: Owner) -> Self {
        Self {
            path,
            own_dir,
            owner,
            dir: None,
        }
    }

    /// The cache file, as named.
    pub(crate) fn path(&self) -> &Path {
        &self.path
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
        self.beside(".lock")
    }

    /// The renewal lease's lock file beside it; never deleted either.
    pub(crate) fn lease_path(&self) -> PathBuf {
        self.beside(".lease")
    }

    fn beside(&self, suffix: &str) -> PathBuf {
        let mut name = self.name().to_owned();
        name.push(suffix);
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

    /// Whether a missing directory could be created where no one else could change
    /// it: the nearest existing ancestor passes the checks. Creates nothing.
    pub(crate) fn check_creatable(&self) -> Result<(), Refusal> {
        if self.dir.is_some() {
            return Ok(());
        }
        self.check_nearest_existing(&self.named_dir())
    }

    /// Makes the directory ready for the lock and the write: the directories that
    /// exist are checked first, the missing ones created (0700), then the whole chain
    /// is checked again.
    pub(crate) fn prepare(&mut self) -> Result<(), DirError> {
        if self.dir.is_some() {
            return Ok(());
        }
        let dir = self.named_dir();
        self.check_nearest_existing(&dir)
            .map_err(DirError::Refused)?;
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

    /// Checks the nearest existing ancestor of `dir` (and the directories above it),
    /// the one a missing directory would be created in.
    fn check_nearest_existing(&self, dir: &Path) -> Result<(), Refusal> {
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
            self.owner.check_dirs(existing, existing == dir)?;
        }
        Ok(())
    }

    /// Reads the record, judging nothing about it.
    pub(crate) fn read(&self) -> Found {
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
        Found::Record(parse(bytes))
    }

    /// Replaces the file with `stored`: a private temporary file in
    /// the same directory, written and synced, then renamed over the old one, so a
    /// crash at any moment leaves either the old file or the new one, never a mix.
    /// Only a private regular file of ours is replaced.
    ///
    /// Temporary files left by killed writers are swept only under `lock`: without
    /// it, another process's pending write may be one of them.
    pub(crate) fn write(&self, stored: &Stored, lock: Option<&Lock>) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Err(io::Error::other("the cache directory was not checked"));
        };
        let path = self.file();
        self.owner
            .judge_path("cache file", &path)
            .map_err(|refusal| io::Error::other(refusal.to_string()))?;
        let json = encode(stored)?;
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

/// The file's bytes as a record. Anything but our format reads as version 0 with the
/// raw bytes as payload: the protocol finds it undecodable, warns, and replaces it.
fn parse(bytes: Vec<u8>) -> Stored {
    let garbage = |bytes| Stored {
        version: 0,
        payload: bytes,
    };
    let Ok(w) = serde_json::from_slice::<Wrapper>(&bytes) else {
        return garbage(bytes);
    };
    let payload = match (w.format, w.plain, w.sealed) {
        (FORMAT, Some(plain), None) => plain.get().as_bytes().to_vec(),
        (FORMAT, None, Some(hex)) => match unhex(&hex) {
            Some(bytes) => bytes,
            None => return garbage(bytes),
        },
        _ => return garbage(bytes),
    };
    Stored {
        version: w.version,
        payload,
    }
}

fn encode(stored: &Stored) -> io::Result<Vec<u8>> {
    let (plain, sealed) = match serde_json::from_slice::<Box<RawValue>>(&stored.payload) {
        Ok(raw) if stored.payload.first() == Some(&b'{') => (Some(raw), None),
        _ => (None, Some(hex(&stored.payload))),
    };
    serde_json::to_vec(&Wrapper {
        format: FORMAT,
        version: stored.version,
        plain,
        sealed,
    })
    .map_err(io::Error::other)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
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
