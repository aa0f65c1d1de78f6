//! The cache and lock files as an attacker or a careless user would leave them: the
//! binary uses one only when it is a regular file of the current user that no one else
//! can read or write, in directories no one else can change. Anything else is neither
//! read nor replaced: an explicit `--cache-file` is refused (exit 2), the default
//! location is skipped with a warning. No file and no silent stdin holds a command
//! past its deadline.
//!
//! Tests that need another user's file (chowned to 65534) or a device node need root
//! and say so when they skip; CI runs as root. FIFO tests need no root.

#![cfg(unix)]

mod support;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use smartling_auth_emulator::{Endpoint, Outcome};
use support::{Env, Run, SECRET, USER, cached_access, is_valid_cache, run};

/// An access token planted by "another user": printing it is the injection.
const INJECTED: &str = "injected-access-token-0123456789";
/// An unused uid, for files that belong to someone else.
const NOBODY: u32 = 65534;
/// A safety net for runs that would hang on the code before the fix; not a duration
/// being asserted.
const GUARD: Duration = Duration::from_secs(30);

fn needs_root(why: &str) -> bool {
    if support::is_root() {
        true
    } else {
        eprintln!("skipped: {why} needs root");
        false
    }
}

/// `token` with the credentials and `--cache-file path`.
fn token_at(env: &Env, path: &Path) -> assert_cmd::Command {
    let mut cmd = env.bare();
    cmd.args(["--base-url", &env.base_url(), "--cache-file"])
        .arg(path)
        .arg("token")
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    cmd
}

/// `token` with the credentials and the default cache location (under HOME).
fn token_default(env: &Env) -> assert_cmd::Command {
    let mut cmd = env.bare();
    cmd.args(["--base-url", &env.base_url(), "token"])
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    cmd
}

/// The default cache file of the test user: its record name, in the cache directory.
fn default_cache(env: &Env, home: &Path) -> PathBuf {
    let base = smartling_auth_core::BaseUrl::parse(&env.base_url()).unwrap();
    let name = smartling_auth_core::store::RecordName::new(&base, USER, None);
    home.join(".cache/smartling-auth")
        .join(format!("{name}.json"))
}

/// A well-formed cache file for the test user whose access token is `INJECTED`,
/// fresh until 2100.
fn planted(env: &Env) -> Vec<u8> {
    let seed = env.dir.path().join("seed").join("token.json");
    run(&mut token_at(env, &seed)).token();
    let mut v = support::read_cache(&seed);
    v["plain"]["accessToken"] = INJECTED.into();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    v["plain"]["issuedAtMs"] = now_ms.into();
    serde_json::to_vec(&v).unwrap()
}

/// Creates `path` with exactly `mode` (the umask does not apply).
fn write_mode(path: &Path, content: &[u8], mode: u32) {
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap();
    f.write_all(content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir_mode(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Runs `cmd` and checks the refusal: exit 2, one `error:` line naming `--cache-file`
/// and `needle`, nothing printed, no request made, and the planted token nowhere.
fn refused(env: &Env, cmd: &mut assert_cmd::Command, needle: &str) -> Run {
    let before = env.counters();
    let run = run(cmd);
    run.assert_failure(2);
    assert!(run.stderr.contains("--cache-file"), "{}", run.stderr);
    assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    assert!(!run.stderr.contains(INJECTED), "{}", run.stderr);
    assert_eq!(env.counters(), before, "no request");
    run
}

/// Exit 0 with a token from the emulator (never the planted one), and one warning that
/// names `needle` and says the command runs without the cache.
fn assert_skipped(run: &Run, needle: &str) -> String {
    let token = run.token();
    assert_ne!(token, INJECTED);
    let warnings = run.warnings();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(warnings[0].contains(needle), "{needle}: {}", run.stderr);
    assert!(warnings[0].contains("without the cache"), "{}", run.stderr);
    token
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_device_node_is_refused_and_never_replaced() {
    if !needs_root("making a device node") {
        return;
    }
    let env = Env::start();
    let dir = env.dir.path().join("dev");
    mkdir_mode(&dir, 0o700);
    // The same device as /dev/null, made inside the temporary directory.
    let node = dir.join("null");
    let status = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .expect("mknod");
    assert!(status.success());
    refused(&env, &mut token_at(&env, &node), "character device");
    assert!(
        fs::symlink_metadata(&node)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(names(&dir), ["null"], "no lock or temporary file beside it");
}

#[test]
fn a_fifo_as_cache_file_is_refused_without_hanging() {
    let env = Env::start();
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let fifo = dir.join("token.json");
    mkfifo(&fifo);
    refused(
        &env,
        token_at(&env, &fifo)
            .args(["--timeout", "1"])
            .timeout(GUARD),
        "FIFO",
    );
    assert!(is_fifo(&fifo));
    assert_eq!(names(&dir), ["token.json"]);
}

#[test]
fn a_fifo_at_the_default_location_is_skipped_with_a_warning() {
    let env = Env::start();
    let path = default_cache(&env, env.dir.path());
    mkdir_mode(path.parent().unwrap(), 0o700);
    mkfifo(&path);
    let run = run(token_default(&env).args(["--timeout", "5"]).timeout(GUARD));
    assert_skipped(&run, "FIFO");
    assert!(is_fifo(&path), "never replaced");
    assert_eq!(
        names(path.parent().unwrap()),
        [path.file_name().unwrap().to_str().unwrap()],
        "no lock, no write"
    );
}

#[test]
fn a_symlink_at_the_cache_path_is_neither_followed_nor_replaced() {
    let env = Env::start();
    let content = planted(&env);
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let target = dir.join("elsewhere.json");
    write_mode(&target, &content, 0o600);
    let link = dir.join("token.json");
    symlink(&target, &link).unwrap();
    refused(&env, &mut token_at(&env, &link), "symbolic link");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read(&target).unwrap(), content);

    // A dangling one: its target is not created.
    let missing = dir.join("victim");
    let dangling = dir.join("dangling.json");
    symlink(&missing, &dangling).unwrap();
    refused(&env, &mut token_at(&env, &dangling), "symbolic link");
    assert!(!missing.exists());
    assert!(fs::symlink_metadata(&dangling).unwrap().is_symlink());
}

#[test]
fn another_users_cache_file_is_neither_read_nor_replaced() {
    if !needs_root("chowning a file to another user") {
        return;
    }
    let env = Env::start();
    let content = planted(&env);
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let path = dir.join("token.json");
    write_mode(&path, &content, 0o600);
    chown_nobody(&path);
    refused(&env, &mut token_at(&env, &path), "owned by uid 65534");
    assert_eq!(fs::read(&path).unwrap(), content);
    assert_eq!(fs::metadata(&path).unwrap().uid(), NOBODY);
    assert_eq!(names(&dir), ["token.json"]);
}

#[test]
fn a_cache_file_others_may_read_or_write_is_refused() {
    let env = Env::start();
    let content = planted(&env);
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let path = dir.join("token.json");
    for mode in [0o644, 0o660, 0o602, 0o640] {
        write_mode(&path, &content, mode);
        refused(&env, &mut token_at(&env, &path), &format!("{mode:04o}"));
        assert_eq!(fs::read(&path).unwrap(), content, "{mode:o}");
        assert_eq!(support::mode(&path), mode);
    }
}

#[test]
fn a_cache_in_a_directory_others_may_write_is_refused() {
    let env = Env::start();
    let content = planted(&env);
    // The file's own directory: world-writable, group-writable, sticky (like /tmp).
    for mode in [0o777, 0o770, 0o1777, 0o730] {
        let dir = env.dir.path().join(format!("shared-{mode:o}"));
        mkdir_mode(&dir, 0o700);
        let path = dir.join("token.json");
        write_mode(&path, &content, 0o600);
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        let run = refused(&env, &mut token_at(&env, &path), &dir.display().to_string());
        assert!(
            run.stderr.contains("other users can write"),
            "{}",
            run.stderr
        );
        assert_eq!(names(&dir), ["token.json"], "{mode:o}: nothing created");
        assert_eq!(fs::read(&path).unwrap(), content);
    }
    // A directory further up that others may write (not sticky): they could rename the
    // private one away and put their own in its place.
    let open = env.dir.path().join("open");
    let private = open.join("private");
    mkdir_mode(&private, 0o700);
    let path = private.join("token.json");
    write_mode(&path, &content, 0o600);
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    refused(
        &env,
        &mut token_at(&env, &path),
        &open.display().to_string(),
    );
    assert_eq!(names(&private), ["token.json"]);
}

#[test]
fn a_cache_file_directly_in_tmp_is_refused() {
    let tmp = Path::new("/tmp");
    let Ok(meta) = fs::metadata(tmp) else {
        eprintln!("skipped: no /tmp");
        return;
    };
    if meta.uid() != 0 || meta.mode() & 0o7777 != 0o1777 {
        eprintln!("skipped: /tmp is not a root-owned sticky world-writable directory");
        return;
    }
    let env = Env::start();
    let name = format!("smartling-auth-hardening-{}.json", std::process::id());
    let path = tmp.join(&name);
    let lock = tmp.join(format!("{name}.lock"));
    let run = run(&mut token_at(&env, &path));
    let created = (path.exists(), lock.exists());
    let _ = fs::remove_file(&path);
    let _ = fs::remove_file(&lock);
    run.assert_failure(2);
    assert!(run.stderr.contains("directory /tmp: "), "{}", run.stderr);
    assert_eq!(created, (false, false), "nothing created in /tmp");
}

#[test]
fn a_sticky_directory_above_a_private_one_is_fine() {
    // Like /tmp above a private temporary directory: others may add entries there but
    // cannot rename or remove ours.
    let env = Env::start();
    let sticky = env.dir.path().join("sticky");
    mkdir_mode(&sticky.join("mine"), 0o700);
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let path = sticky.join("mine/token.json");
    let token = run(&mut token_at(&env, &path)).token();
    assert_eq!(cached_access(&path), token);
    let before = env.counters();
    let warm = run(&mut token_at(&env, &path));
    assert_eq!(warm.token(), token);
    assert_eq!(warm.stderr, "");
    assert_eq!(env.counters(), before);
}

#[test]
fn the_walk_stops_at_the_home_directory() {
    // As ssh does: above HOME is the administrator's business, not the cache's.
    let env = Env::start();
    let open = env.dir.path().join("open");
    let home = open.join("home");
    mkdir_mode(&home, 0o700);
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let mut cmd = token_default(&env);
    cmd.env("HOME", &home);
    let token = run(&mut cmd).token();
    assert_eq!(cached_access(&default_cache(&env, &home)), token);
}

#[test]
fn the_default_directory_made_by_another_user_is_not_trusted() {
    if !needs_root("chowning a directory to another user") {
        return;
    }
    let env = Env::start();
    let content = planted(&env);
    let path = default_cache(&env, env.dir.path());
    let dir = path.parent().unwrap();
    mkdir_mode(dir, 0o777);
    write_mode(&path, &content, 0o644);
    chown_nobody(&path);
    chown_nobody(dir);
    let run = run(&mut token_default(&env));
    assert_skipped(&run, &dir.display().to_string());
    assert_eq!(fs::read(&path).unwrap(), content, "not replaced");
    let meta = fs::metadata(dir).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777),
        (NOBODY, 0o777),
        "untouched"
    );
    assert_eq!(names(dir).len(), 1, "no lock, no write: {:?}", names(dir));
}

#[test]
fn a_loose_default_directory_of_ours_is_tightened_before_anything_is_read() {
    if !needs_root("chowning a file to another user") {
        return;
    }
    let env = Env::start();
    let content = planted(&env);
    let path = default_cache(&env, env.dir.path());
    let dir = path.parent().unwrap();
    mkdir_mode(dir, 0o777);
    // Planted while the directory was open to everyone.
    write_mode(&path, &content, 0o600);
    chown_nobody(&path);
    let run = run(&mut token_default(&env));
    assert_skipped(&run, "owned by uid 65534");
    assert_eq!(support::mode(dir), 0o700);
    assert_eq!(fs::read(&path).unwrap(), content, "not replaced");
    assert_eq!(names(dir).len(), 1, "no lock, no write: {:?}", names(dir));
}

#[test]
fn root_does_not_trust_a_home_owned_by_another_user() {
    if !needs_root("chowning a directory to another user") {
        return;
    }
    // `sudo` keeping the caller's HOME: that user could swap root's cache files.
    let env = Env::start();
    let home = env.dir.path().join("alice");
    mkdir_mode(&home, 0o755);
    chown_nobody(&home);
    let mut cmd = token_default(&env);
    cmd.env("HOME", &home);
    let run = run(&mut cmd);
    assert_skipped(&run, &home.display().to_string());
    assert!(names(&home).is_empty(), "{:?}", names(&home));
}

#[test]
fn a_symlinked_lock_is_not_followed() {
    let env = Env::start();
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let victim = dir.join("victim");
    let path = dir.join("token.json");
    symlink(&victim, dir.join("token.json.lock")).unwrap();
    let run = refused(&env, &mut token_at(&env, &path), "symbolic link");
    assert!(run.stderr.contains("token.json.lock"), "{}", run.stderr);
    assert!(!victim.exists(), "the symlink's target is not created");
    assert!(!path.exists());

    // At the default location: a warning, and the command runs without the cache.
    let path = default_cache(&env, env.dir.path());
    let dir = path.parent().unwrap();
    mkdir_mode(dir, 0o700);
    let victim = dir.join("victim");
    let mut lock = path.clone().into_os_string();
    lock.push(".lock");
    symlink(&victim, &lock).unwrap();
    let run = support::run(&mut token_default(&env));
    assert_skipped(&run, "symbolic link");
    assert!(!victim.exists());
    assert!(!path.exists(), "no write without the lock");
}

#[test]
fn another_users_lock_is_refused_not_waited_on() {
    if !needs_root("chowning a file to another user") {
        return;
    }
    let env = Env::start();
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let path = dir.join("token.json");
    let lock_path = dir.join("token.json.lock");
    write_mode(&lock_path, b"", 0o600);
    chown_nobody(&lock_path);
    // "Another user" holds it, as their stuck process would.
    let held = fs::File::open(&lock_path).unwrap();
    fs4::FileExt::try_lock(&held).unwrap();
    let run = refused(
        &env,
        token_at(&env, &path).args(["--timeout", "1"]),
        "owned by uid 65534",
    );
    assert!(run.stderr.contains("token.json.lock"), "{}", run.stderr);
    assert!(!path.exists());

    let path = default_cache(&env, env.dir.path());
    let dir = path.parent().unwrap();
    mkdir_mode(dir, 0o700);
    let mut lock_path = path.clone().into_os_string();
    lock_path.push(".lock");
    write_mode(Path::new(&lock_path), b"", 0o600);
    chown_nobody(Path::new(&lock_path));
    let held2 = fs::File::open(&lock_path).unwrap();
    fs4::FileExt::try_lock(&held2).unwrap();
    let run = support::run(token_default(&env).args(["--timeout", "1"]));
    assert_skipped(&run, "owned by uid 65534");
    assert!(!path.exists(), "no write without the lock");
    drop((held, held2));
}

#[test]
fn temp_files_are_not_swept_without_the_lock() {
    // A directory where the lock file should be: the lock cannot be taken, and the
    // pending writes of other processes (their temporary files) stay.
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    let cache = env.cache();
    let dir = cache.parent().unwrap();
    let expired = {
        support::expire_access(&cache);
        fs::read(&cache).unwrap()
    };
    fs::remove_file(dir.join("token.json.lock")).unwrap();
    fs::create_dir(dir.join("token.json.lock")).unwrap();
    let pending = dir.join(".token.json.AbC123.tmp");
    write_mode(&pending, b"another process's pending write", 0o600);
    let run = run(&mut env.with_creds(&["token"]));
    run.assert_failure(2);
    assert!(run.stderr.contains("token.json.lock"), "{}", run.stderr);
    assert!(
        pending.exists(),
        "another process's temporary file was removed"
    );
    assert_eq!(fs::read(&cache).unwrap(), expired);

    // The default location: a warning, no write, no sweep.
    let path = default_cache(&env, env.dir.path());
    let dir = path.parent().unwrap();
    mkdir_mode(&path.with_extension("json.lock"), 0o700);
    let pending = dir.join(format!(
        ".{}.XyZ789.tmp",
        path.file_name().unwrap().to_str().unwrap()
    ));
    write_mode(&pending, b"pending", 0o600);
    let run = support::run(&mut token_default(&env));
    assert_skipped(&run, "directory");
    assert!(pending.exists());
    assert!(!path.exists());
}

#[test]
fn a_corrupt_cache_file_of_ours_is_still_replaced() {
    let env = Env::start();
    let dir = env.dir.path().join("cache");
    mkdir_mode(&dir, 0o700);
    let path = dir.join("token.json");
    write_mode(&path, b"not json at all", 0o600);
    let run = run(&mut token_at(&env, &path));
    let token = run.token();
    assert_eq!(run.warnings().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("will be replaced"), "{}", run.stderr);
    assert!(is_valid_cache(&path));
    assert_eq!(cached_access(&path), token);
}

/// Waits for `child` at most `GUARD`; kills it past that.
fn wait_bounded(child: &mut std::process::Child) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refresh_reads_stdin_against_the_deadline() {
    // `sleep 7 | smartling-auth --timeout 1 refresh`, with a line that never ends.
    let env = Env::start();
    let partial = "partial-refresh-token-never-ended";
    let mut child = Command::new(support::BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .args(["--base-url", &env.base_url(), "--timeout", "1", "refresh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(partial.as_bytes()).unwrap();
    let status = wait_bounded(&mut child);
    drop(stdin);
    let status = status.expect("refresh kept waiting on stdin past --timeout");
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    };
    run.assert_failure(4);
    assert!(run.stderr.contains("stdin"), "{}", run.stderr);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    run.assert_no_secret_on_stderr(&[partial.to_owned()]);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Success), 0);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Rejected), 0);
}

/// `--store DIR` on a shared sticky directory or a setgid project directory: refused
/// with exit 2, no request, and the directory as it was (it used to become 0700, even
/// though the command was then refused).
#[test]
fn a_directory_named_by_store_is_refused_and_never_changed() {
    let env = Env::start();
    for loose in [0o1777, 0o2775] {
        let dir = env.dir.path().join(format!("shared-{loose:o}"));
        mkdir_mode(&dir, loose);
        let before = env.counters();
        let mut cmd = env.bare();
        cmd.args(["--base-url", &env.base_url(), "--store"])
            .arg(&dir)
            .arg("token")
            .env("SMARTLING_USER_IDENTIFIER", USER)
            .env("SMARTLING_USER_SECRET", SECRET);
        let run = run(&mut cmd);
        run.assert_failure(2);
        assert!(run.stderr.contains("--store"), "{}", run.stderr);
        assert_eq!(env.counters(), before, "no request");
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, loose, "{loose:o}: changed");
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    }
}
