//! Whether a cache or lock file may be used, by the rules ssh applies to its key files.
//!
//! A file is used only if it is a regular file of the current user that no one else
//! may read or write, in a directory of that user (or root) that no one else may
//! write, and the same holds for every directory above it up to the home directory.
//! Anything else could hold a token planted by someone else, or make a write land
//! where it must not (a device, another user's file, a symlink's target): it is
//! neither read nor replaced. Files are looked at before they are opened, opened
//! without following a symlink and without blocking, and judged again on the opened
//! descriptor, so what is judged is what is read.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Why a file or a directory is not used: its kind, its path and the reason, never its
/// content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    what: &'static str,
    path: PathBuf,
    why: String,
}

impl Refusal {
    pub(crate) fn new(what: &'static str, path: &Path, why: impl Into<String>) -> Self {
        Self {
            what,
            path: path.to_owned(),
            why: why.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.what, self.path.display(), self.why)
    }
}

/// What opening a file found.
#[derive(Debug)]
pub(crate) enum Opened {
    /// Nothing at the path.
    Missing,
    /// A file that passed every check.
    File(File),
    /// Something that must be neither read nor replaced.
    Refused(Refusal),
    /// A file of ours that could not be opened (unreadable, an I/O error).
    Failed(io::Error),
}

/// The user files must belong to, and where the walk up the directories stops.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    #[cfg(unix)]
    uid: u32,
    /// The home directory (`$HOME`), when there is one.
    #[cfg_attr(not(unix), allow(dead_code))]
    home: Option<PathBuf>,
}

impl Owner {
    /// The effective user of this process.
    pub(crate) fn current() -> Self {
        Self {
            #[cfg(unix)]
            uid: rustix::process::geteuid().as_raw(),
            home: directories::BaseDirs::new().map(|d| d.home_dir().to_owned()),
        }
    }

    /// Whether `path`, if something is there, may be used (or replaced) as a `what`
    /// ("cache file", "lock file"). Looks without opening: a device is never opened.
    pub(crate) fn judge_path(&self, what: &'static str, path: &Path) -> Result<bool, Refusal> {
        match fs::symlink_metadata(path) {
            Ok(meta) => self
                .check_file(&meta)
                .map(|()| true)
                .map_err(|why| Refusal::new(what, path, why)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Refusal::new(what, path, format!("cannot be examined: {e}"))),
        }
    }

    /// Opens the existing file `path` for reading, if it may be used.
    pub(crate) fn open_read(&self, what: &'static str, path: &Path) -> Opened {
        self.open(what, path, false)
    }

    /// Opens `path` for locking, creating it (mode 0600) if it is missing, if it may be
    /// used.
    pub(crate) fn open_lock(&self, what: &'static str, path: &Path) -> Opened {
        self.open(what, path, true)
    }

    fn open(&self, what: &'static str, path: &Path, create: bool) -> Opened {
        match self.judge_path(what, path) {
            Ok(true) => {}
            Ok(false) if create => {}
            Ok(false) => return Opened::Missing,
            Err(refusal) => return Opened::Refused(refusal),
        }
        let file = match open_no_follow(path, create) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Opened::Missing,
            // Changed since it was looked at (by this user: no one else can write
            // here): judge it again, else report the error.
            Err(e) => {
                return match self.judge_path(what, path) {
                    Err(refusal) => Opened::Refused(refusal),
                    Ok(_) => Opened::Failed(e),
                };
            }
        };
        match file.metadata() {
            Ok(meta) => match self.check_file(&meta) {
                Ok(()) => Opened::File(file),
                Err(why) => Opened::Refused(Refusal::new(what, path, why)),
            },
            Err(e) => Opened::Failed(e),
        }
    }

    /// Checks `dir` and the directories above it, and returns it resolved (absolute,
    /// no symlink, no `..`): the path every later use goes through; `None` if it does
    /// not exist. `own` says whether a file will live directly in `dir`; a directory
    /// above it may be shared if it is sticky, like `/tmp`.
    ///
    /// Stops after the home directory (as ssh does: what is above it is the
    /// administrator's), or, for a user other than root, after the first directory
    /// owned by root. For root, every directory up to `/` must be root's: a directory
    /// another user owns would let that user swap root's files.
    pub(crate) fn check_dirs(&self, dir: &Path, own: bool) -> Result<Option<PathBuf>, Refusal> {
        self.check_links(dir, 0)?;
        let real = match fs::canonicalize(dir) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                let why = format!("cannot be resolved: {e}");
                return Err(Refusal::new("directory", dir, why));
            }
        };
        self.walk(&real, own)?;
        Ok(Some(real))
    }
}

#[cfg(unix)]
impl Owner {
    /// Refuses to follow a symlink on the way to `path` that someone other than this
    /// user or root owns: planted in a shared directory (`/tmp`), it would point our
    /// files wherever its owner likes (a private directory of ours among them), and
    /// they could repoint it at any time. Each symlink's target is checked the same
    /// way, as far as the kernel would follow (40 links).
    fn check_links(&self, path: &Path, depth: u32) -> Result<(), Refusal> {
        use std::os::unix::fs::MetadataExt;
        if depth > 40 {
            return Err(Refusal::new(
                "directory",
                path,
                "too many levels of symlinks",
            ));
        }
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Refusal::new("directory", path, format!("cannot be resolved: {e}")))?
                .join(path)
        };
        let mut walked = PathBuf::new();
        for part in absolute.components() {
            walked.push(part);
            let Ok(meta) = fs::symlink_metadata(&walked) else {
                // Missing (created later, by us) or unreadable (canonicalize says why).
                return Ok(());
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            if meta.uid() != self.uid && meta.uid() != 0 {
                return Err(Refusal::new(
                    "symlink",
                    &walked,
                    format!(
                        "owned by uid {}, not by you (uid {}) or root: it is not followed",
                        meta.uid(),
                        self.uid
                    ),
                ));
            }
            let target = fs::read_link(&walked)
                .map_err(|e| Refusal::new("symlink", &walked, format!("cannot be read: {e}")))?;
            let parent = walked.parent().map(Path::to_path_buf).unwrap_or_default();
            self.check_links(&parent.join(target), depth + 1)?;
            // Go on from where it leads (every link on the way was just checked).
            match fs::canonicalize(&walked) {
                Ok(real) => walked = real,
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }

    /// Sets `dir` back to 0700 if it is a real directory of ours with other bits: for
    /// the default directory, which is ours alone. Anything else is left for the
    /// checks to refuse.
    pub(crate) fn tighten_own_dir(&self, dir: &Path) {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(meta) = fs::symlink_metadata(dir) else {
            return;
        };
        if meta.is_dir() && meta.uid() == self.uid && meta.mode() & 0o7777 != 0o700 {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
    }

    /// A regular file of this user that no one else may read or write.
    fn check_file(&self, meta: &fs::Metadata) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        let kind = kind(meta.file_type());
        if !meta.file_type().is_file() {
            return Err(format!("{kind}, not a regular file"));
        }
        if meta.uid() != self.uid {
            return Err(format!(
                "owned by uid {}, not by you (uid {})",
                meta.uid(),
                self.uid
            ));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "its mode {mode:04o} lets other users read or write it (it must be 0600)"
            ));
        }
        Ok(())
    }

    fn walk(&self, real: &Path, own: bool) -> Result<(), Refusal> {
        use std::os::unix::fs::MetadataExt;
        let home = self
            .home
            .as_deref()
            .and_then(|h| fs::metadata(h).ok())
            .map(|m| (m.dev(), m.ino()));
        let mut own = own;
        for dir in real.ancestors() {
            let meta = fs::symlink_metadata(dir)
                .map_err(|e| Refusal::new("directory", dir, format!("cannot be examined: {e}")))?;
            self.check_dir(&meta, own)
                .map_err(|why| Refusal::new("directory", dir, why))?;
            if home == Some((meta.dev(), meta.ino())) || (meta.uid() == 0 && self.uid != 0) {
                break;
            }
            own = false;
        }
        Ok(())
    }

    /// A directory of this user or root that no one else may write; above the file's
    /// own directory, a sticky one may be shared (others cannot rename our entries).
    fn check_dir(&self, meta: &fs::Metadata, own: bool) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        if !meta.file_type().is_dir() {
            return Err(format!("{}, not a directory", kind(meta.file_type())));
        }
        let uid = meta.uid();
        if uid != self.uid && uid != 0 {
            return Err(format!(
                "owned by uid {uid}, not by you (uid {}) or root",
                self.uid
            ));
        }
        let mode = meta.mode() & 0o7777;
        let shared = mode & 0o022 != 0;
        let sticky = mode & 0o1000 != 0;
        if shared && (own || !sticky) {
            let hint = if own && sticky {
                "; a cache file needs a directory of its own, not a shared one"
            } else {
                ""
            };
            return Err(format!(
                "other users can write to it (mode {mode:04o}){hint}"
            ));
        }
        Ok(())
    }
}

#[cfg(unix)]
fn kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "something else"
    }
}

/// `O_NOFOLLOW`: a symlink put in place since it was looked at fails the open.
/// `O_NONBLOCK`: a FIFO (or a device) never blocks the open. `O_NOCTTY`: a terminal
/// never becomes ours.
#[cfg(unix)]
fn open_no_follow(path: &Path, create: bool) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let mut flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    flags |= if create {
        OFlags::RDWR | OFlags::CREATE
    } else {
        OFlags::RDONLY
    };
    let fd = rustix::fs::open(path, flags, Mode::RUSR | Mode::WUSR)?;
    Ok(File::from(fd))
}

#[cfg(not(unix))]
impl Owner {
    pub(crate) fn tighten_own_dir(&self, _dir: &Path) {}

    fn check_links(&self, _path: &Path, _depth: u32) -> Result<(), Refusal> {
        Ok(())
    }

    fn check_file(&self, meta: &fs::Metadata) -> Result<(), String> {
        if meta.file_type().is_symlink() {
            Err("a symbolic link, not a regular file".to_owned())
        } else if !meta.file_type().is_file() {
            Err("not a regular file".to_owned())
        } else {
            Ok(())
        }
    }

    fn walk(&self, _real: &Path, _own: bool) -> Result<(), Refusal> {
        Ok(())
    }
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path, create: bool) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn files_must_be_private_regular_files() {
        let owner = Owner::current();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(matches!(
            owner.open_read("cache file", &path),
            Opened::Missing
        ));
        fs::write(&path, b"x").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o610, 0o601] {
            set_mode(&path, mode);
            let Opened::Refused(r) = owner.open_read("cache file", &path) else {
                panic!("{mode:o} accepted");
            };
            assert!(r.to_string().contains(&format!("{mode:04o}")), "{r}");
        }
        set_mode(&path, 0o600);
        assert!(matches!(
            owner.open_read("cache file", &path),
            Opened::File(_)
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let Opened::Refused(r) = owner.open_read("cache file", &link) else {
            panic!("symlink followed");
        };
        assert_eq!(
            r.to_string(),
            format!(
                "cache file {}: a symbolic link, not a regular file",
                link.display()
            )
        );
        assert!(matches!(
            owner.open_read("cache file", dir.path()),
            Opened::Refused(_)
        ));
    }

    #[test]
    fn a_lock_is_created_private_and_never_through_a_symlink() {
        let owner = Owner::current();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.lock");
        assert!(matches!(
            owner.open_lock("lock file", &path),
            Opened::File(_)
        ));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let link = dir.path().join("link.lock");
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            owner.open_lock("lock file", &link),
            Opened::Refused(_)
        ));
        assert!(!target.exists());
    }

    #[test]
    fn directories_others_can_write_are_refused() {
        let owner = Owner::current();
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        fs::create_dir_all(&inner).unwrap();
        set_mode(&inner, 0o700);
        set_mode(&dir.path().join("a"), 0o755);
        assert!(matches!(owner.check_dirs(&inner, true), Ok(Some(_))));
        for (mode, own_ok, above_ok) in [
            (0o777, false, false),
            (0o775, false, false),
            (0o757, false, false),
            (0o1777, false, true),
            (0o1770, false, true),
            (0o750, true, true),
        ] {
            set_mode(&inner, mode);
            assert_eq!(owner.check_dirs(&inner, true).is_ok(), own_ok, "{mode:o}");
            set_mode(&inner, 0o700);
            set_mode(&dir.path().join("a"), mode);
            assert_eq!(owner.check_dirs(&inner, true).is_ok(), above_ok, "{mode:o}");
            set_mode(&dir.path().join("a"), 0o755);
        }
        let resolved = owner
            .check_dirs(&dir.path().join("a/b/../b"), true)
            .unwrap();
        assert_eq!(resolved, Some(fs::canonicalize(&inner).unwrap()));
        let missing = dir.path().join("missing");
        assert_eq!(owner.check_dirs(&missing, true), Ok(None));
    }

    #[test]
    fn the_walk_stops_at_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let inner = home.join("c");
        fs::create_dir_all(&inner).unwrap();
        set_mode(&inner, 0o700);
        set_mode(&home, 0o700);
        set_mode(dir.path(), 0o777);
        let mut owner = Owner::current();
        owner.home = Some(home);
        assert!(matches!(owner.check_dirs(&inner, true), Ok(Some(_))));
        owner.home = None;
        assert!(owner.check_dirs(&inner, true).is_err());
        set_mode(dir.path(), 0o700);
    }
}
