//! The file store's promises: compare-and-set writes, a lease the kernel releases,
//! private modes, and files that are not ours neither read nor replaced.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smartling_auth_core::store::{LeaseId, RecordName, Store, StoreErrorKind, Stored, Watched};
use smartling_auth_store::FileStore;

const TTL: Duration = Duration::from_secs(60);

fn name() -> RecordName {
    RecordName::new(&Default::default(), "user", None)
}

fn record(version: u64) -> Stored {
    Stored {
        version,
        payload: format!(r#"{{"n":{version}}}"#).into_bytes(),
    }
}

fn write_private(path: &Path, content: &[u8]) {
    let _ = fs::remove_file(path);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).unwrap().write_all(content).unwrap();
}

#[test]
fn writes_compare_and_set_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("t"));
    assert!(store.read(&name()).unwrap().record.is_none());
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    assert!(!store.write(&name(), 0, &record(1), TTL).unwrap(), "stale");
    assert!(store.write(&name(), 1, &record(2), TTL).unwrap());
    assert!(!store.write(&name(), 1, &record(2), TTL).unwrap(), "stale");
    let got = store.read(&name()).unwrap().record.unwrap();
    assert_eq!(got, record(2));
    // A sealed (binary) payload round-trips too.
    let sealed = Stored {
        version: 3,
        payload: b"SAS1\x00\xff binary".to_vec(),
    };
    assert!(store.write(&name(), 2, &sealed, TTL).unwrap());
    assert_eq!(store.read(&name()).unwrap().record.unwrap(), sealed);
}

#[test]
fn concurrent_writers_converge_on_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path().join("t")));
    let won: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                s.spawn(move || store.write(&name(), 0, &record(1), TTL).unwrap() as usize)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(won, 1, "exactly one writer over version 0");
}

#[test]
fn the_lease_excludes_a_second_holder_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let a = FileStore::new(dir.path().join("t"));
    let b = FileStore::new(dir.path().join("t"));
    assert!(a.lease(&name(), LeaseId(1), TTL).unwrap());
    assert!(!b.lease(&name(), LeaseId(2), TTL).unwrap());
    b.release(&name(), LeaseId(2)).unwrap();
    assert!(
        !b.lease(&name(), LeaseId(2), TTL).unwrap(),
        "only the holder releases"
    );
    a.release(&name(), LeaseId(1)).unwrap();
    assert!(b.lease(&name(), LeaseId(2), TTL).unwrap());
}

/// A waiter on a held lease hears that its holder lives when its wait ends, and is
/// let through by the release (the holder's write comes before it), however the
/// release and the wait interleave.
#[test]
fn a_waiter_blocks_on_the_holders_lock_until_it_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let (holder, waiter) = (FileStore::new(dir.path()), FileStore::new(dir.path()));
    let since = Instant::now();
    assert!(holder.lease(&name(), LeaseId(1), TTL).unwrap());
    assert!(!waiter.lease(&name(), LeaseId(2), TTL).unwrap());
    let until = Instant::now() + Duration::from_millis(300);
    let heard = waiter.watch(&name(), since, until).unwrap();
    assert!(
        matches!(heard, Watched::Alive(at) if at >= until),
        "{heard:?}"
    );
    let (heard, waited) = std::thread::scope(|s| {
        let w = s.spawn(|| {
            let started = Instant::now();
            let heard = waiter.watch(&name(), since, started + Duration::from_secs(20));
            (heard, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(holder.write(&name(), 0, &record(1), TTL).unwrap());
        holder.release(&name(), LeaseId(1)).unwrap();
        w.join().unwrap()
    });
    assert!(matches!(heard, Ok(Watched::Changed)), "{heard:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(waiter.read(&name()).unwrap().record.unwrap().version, 1);
    // Released before the wait began: through at once.
    let since = Instant::now();
    assert!(holder.lease(&name(), LeaseId(3), TTL).unwrap());
    holder.release(&name(), LeaseId(3)).unwrap();
    let started = Instant::now();
    let heard = waiter
        .watch(&name(), since, started + Duration::from_secs(20))
        .unwrap();
    assert!(matches!(heard, Watched::Changed), "{heard:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The child role: take the lease in the directory given, say so, then wait to be
/// killed.
#[test]
#[ignore = "a child process role, run by the_kernel_releases_a_dead_holders_lease"]
fn child_holds_the_lease() {
    let Ok(dir) = std::env::var("FILE_STORE_CHILD_DIR") else {
        return;
    };
    let store = FileStore::new(dir);
    assert!(store.lease(&name(), LeaseId(7), TTL).unwrap());
    println!("holding");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn the_kernel_releases_a_dead_holders_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_holds_the_lease",
            "--ignored",
            "--nocapture",
        ])
        .env("FILE_STORE_CHILD_DIR", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Read on a thread of its own, so a child that never says "holding" fails the
    // test within the limit instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.any(|l| l.is_ok_and(|l| l.contains("holding"))));
    });
    let held = rx.recv_timeout(Duration::from_secs(60));
    if held != Ok(true) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child did not take the lease: {held:?}");
    }
    let store = FileStore::new(&path);
    let since = Instant::now();
    assert!(
        !store.lease(&name(), LeaseId(1), TTL).unwrap(),
        "held by the child"
    );
    // A waiter blocked on the child's lock is let through by its death.
    let (heard, waited) = std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = Instant::now();
            let heard = store.watch(&name(), since, started + Duration::from_secs(20));
            (heard, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(200));
        child.kill().unwrap();
        child.wait().unwrap();
        waiter.join().unwrap()
    });
    assert!(matches!(heard, Ok(Watched::Changed)), "{heard:?}");
    assert!(
        waited < Duration::from_secs(5),
        "woken by the kernel: {waited:?}"
    );
    assert!(
        store.lease(&name(), LeaseId(1), TTL).unwrap(),
        "released by the kernel"
    );
}

#[cfg(unix)]
#[test]
fn files_are_0600_in_0700_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("a/b"));
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store.path_of(&name())), 0o600);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    assert_eq!(mode(&dir.path().join("a")), 0o700);
}

#[test]
fn broken_files_of_ours_read_as_version_0_and_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("t"));
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    let path = store.path_of(&name());
    let good = fs::read(&path).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"garbage".to_vec(),
        good[..good.len() / 2].to_vec(),
        br#"{"format":1,"version":3,"plain":{}}"#.to_vec(),
        br#"{"format":2,"version":3,"sealed":"zz"}"#.to_vec(),
        br#"{"format":2,"version":3,"plain":{},"sealed":"00"}"#.to_vec(),
        vec![b' '; 70_000],
    ];
    for content in cases {
        write_private(&path, &content);
        let got = store.read(&name()).unwrap().record.unwrap();
        assert_eq!(
            got.version,
            0,
            "{}",
            String::from_utf8_lossy(&content[..content.len().min(40)])
        );
        assert!(
            store.write(&name(), 0, &record(5), TTL).unwrap(),
            "replaced"
        );
        assert_eq!(store.read(&name()).unwrap().record.unwrap().version, 5);
    }
}

#[cfg(unix)]
#[test]
fn what_is_not_a_private_file_of_ours_is_neither_read_nor_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("t"));
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    let path = store.path_of(&name());
    let refused = |store: &FileStore| {
        let e = store.read(&name()).unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
        let e = store.write(&name(), 0, &record(9), TTL).unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    };
    // A directory in its place.
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    refused(&store);
    assert!(path.is_dir());
    fs::remove_dir(&path).unwrap();
    // A symlink to someone's file.
    let other = dir.path().join("rc");
    fs::write(&other, b"a shell rc file").unwrap();
    std::os::unix::fs::symlink(&other, &path).unwrap();
    refused(&store);
    assert_eq!(fs::read(&other).unwrap(), b"a shell rc file");
    fs::remove_file(&path).unwrap();
    // A FIFO: never opened for reading (it would block).
    rustix_mkfifo(&path);
    refused(&store);
    fs::remove_file(&path).unwrap();
    // A file others may read.
    write_private(&path, b"{}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    refused(&store);
    assert_eq!(fs::read(&path).unwrap(), b"{}");
    // A directory others may write, chosen by the user: refused, and never changed.
    fs::remove_file(&path).unwrap();
    fs::set_permissions(dir.path().join("t"), fs::Permissions::from_mode(0o777)).unwrap();
    refused(&FileStore::file(dir.path().join("t/chosen.json")));
    refused(&store);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir.path().join("t")), 0o777);
}

/// A directory the user names is never changed, whatever the command does with it: a
/// shared sticky directory and a setgid project directory are refused as they are
/// (the store used to make them 0700 before judging them). One the store creates is
/// 0700.
#[cfg(unix)]
#[test]
fn a_directory_the_user_names_is_refused_untouched_and_one_it_creates_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let dir = tempfile::tempdir().unwrap();
    for loose in [0o1777, 0o2775, 0o0777, 0o0755 | 0o020] {
        let named = dir.path().join(format!("named-{loose:o}"));
        fs::create_dir(&named).unwrap();
        fs::set_permissions(&named, fs::Permissions::from_mode(loose)).unwrap();
        let store = FileStore::new(&named);
        for e in [
            store.read(&name()).map(drop).unwrap_err(),
            store.lease(&name(), LeaseId(1), TTL).map(drop).unwrap_err(),
            store
                .write(&name(), 0, &record(1), TTL)
                .map(drop)
                .unwrap_err(),
            store.check(&name()).unwrap_err(),
        ] {
            assert_eq!(e.kind, StoreErrorKind::Refused, "{loose:o}: {e}");
        }
        assert_eq!(mode(&named), loose, "{} was changed", named.display());
        assert_eq!(fs::read_dir(&named).unwrap().count(), 0, "nothing written");
    }
    let created = dir.path().join("made/by/the/store");
    let store = FileStore::new(&created);
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    assert_eq!(mode(&created), 0o700);
}

#[cfg(unix)]
fn rustix_mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_single_file_store_keeps_one_record_and_its_locks_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.json");
    let store = FileStore::file(&path);
    assert!(store.lease(&name(), LeaseId(1), TTL).unwrap());
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    store.release(&name(), LeaseId(1)).unwrap();
    assert!(path.is_file());
    assert!(dir.path().join("token.json.lease").is_file());
    assert!(dir.path().join("token.json.lock").is_file());
    let other = RecordName::new(&Default::default(), "someone-else", None);
    assert_eq!(
        store.read(&other).unwrap().record.unwrap().version,
        1,
        "the record decides whose it is"
    );
}

#[test]
fn the_store_is_shared_between_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<FileStore>();
}

/// Another user's file (and lock file) is neither read nor replaced, nor waited on.
/// Needs root to give a file away; skipped, and says so, otherwise.
#[cfg(unix)]
#[test]
fn another_users_files_are_refused() {
    use std::os::unix::fs::MetadataExt;
    if !is_root() {
        eprintln!("skipped: giving a file to another user needs root");
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("t"));
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    let path = store.path_of(&name());
    std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    let e = store.read(&name()).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused);
    assert!(e.message.contains("owned by uid 65534"), "{e}");
    assert!(e.message.contains(&path.display().to_string()), "{e}");
    assert!(!e.message.contains("\"n\""), "no content: {e}");
    let e = store.write(&name(), 1, &record(2), TTL).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    assert_eq!(fs::metadata(&path).unwrap().uid(), NOBODY, "not replaced");

    // Another user's lease file: refused at once, not waited on.
    let other = RecordName::new(&Default::default(), "other", None);
    let lease = dir.path().join("t").join(format!("{other}.json.lease"));
    write_private(&lease, b"");
    std::os::unix::fs::chown(&lease, Some(NOBODY), Some(NOBODY)).unwrap();
    let e = store.lease(&other, LeaseId(1), TTL).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
}

/// A symlink another user planted (in a sticky directory like `/tmp`, where anyone may
/// create one) is not followed, even to a private directory of ours; one of ours is.
/// Needs root to give a symlink away; skipped, and says so, otherwise.
#[cfg(unix)]
#[test]
fn another_users_symlink_to_the_store_is_not_followed() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("skipped: giving a symlink to another user needs root");
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("tmp");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let private = dir.path().join("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let planted = shared.join("cache");
    std::os::unix::fs::symlink(&private, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    let store = FileStore::new(&planted);
    let e = store.write(&name(), 0, &record(1), TTL).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    assert!(e.message.contains("owned by uid 65534"), "{e}");
    let e = store.check(&name()).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    assert_eq!(
        fs::read_dir(&private).unwrap().count(),
        0,
        "nothing written"
    );
    // Through a symlink of its own, further down, too.
    let ours = dir.path().join("ours");
    std::os::unix::fs::symlink(&planted, &ours).unwrap();
    let e = FileStore::new(&ours)
        .write(&name(), 0, &record(1), TTL)
        .unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    // A symlink of the user's own is followed.
    let mine = shared.join("mine");
    std::os::unix::fs::symlink(&private, &mine).unwrap();
    assert!(
        FileStore::new(&mine)
            .write(&name(), 0, &record(1), TTL)
            .unwrap()
    );
}

#[cfg(unix)]
fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}
