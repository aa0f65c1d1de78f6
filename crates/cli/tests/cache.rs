//! The cache rules: private modes, warm runs without requests, renewal of an expired
//! cache by refresh, and corrupt files of ours ignored with a warning and replaced
//! (files that are not ours: `hardening.rs`).

mod support;

use std::fs;

use smartling_auth_emulator::{Endpoint, Outcome};
use support::{Env, SECRET, USER, cached_access, expire_access, is_valid_cache, run};

#[cfg(unix)]
#[test]
fn cache_file_is_0600_in_a_0700_directory() {
    let env = Env::start();
    let path = env.dir.path().join("a").join("b").join("token.json");
    let mut cmd = env.bare();
    cmd.args(["--base-url", &env.base_url(), "--cache-file"])
        .arg(&path)
        .arg("token")
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    run(&mut cmd).token();
    assert_eq!(support::mode(&path), 0o600);
    assert_eq!(
        support::mode(&path.with_file_name("token.json.lock")),
        0o600
    );
    assert_eq!(support::mode(&env.dir.path().join("a/b")), 0o700);
    assert_eq!(support::mode(&env.dir.path().join("a")), 0o700);
}

#[cfg(unix)]
#[test]
fn default_location_is_the_platform_cache_directory() {
    let env = Env::start();
    let mut cmd = env.bare();
    cmd.args(["--base-url", &env.base_url(), "token"])
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    let token = run(&mut cmd).token();
    let dir = env.dir.path().join(".cache").join("smartling-auth");
    assert_eq!(support::mode(&dir), 0o700);
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".plain.json"), "{files:?}");
    assert_eq!(files[0].len(), 32 + ".plain.json".len(), "named by a hash");
    let path = dir.join(&files[0]);
    assert_eq!(support::mode(&path), 0o600);
    assert_eq!(cached_access(&path), token);
    // a second run is served from it
    let before = env.counters();
    assert_eq!(run(&mut cmd).token(), token);
    assert_eq!(env.counters(), before);
}

#[test]
fn an_expired_access_token_is_renewed_by_refresh() {
    let env = Env::start();
    let first = run(&mut env.with_creds(&["token"])).token();
    expire_access(&env.cache());
    let second = run(&mut env.with_creds(&["token"])).token();
    assert_ne!(first, second);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(cached_access(&env.cache()), second);
    // and the renewed cache is warm again
    let before = env.counters();
    assert_eq!(run(&mut env.with_creds(&["token"])).token(), second);
    assert_eq!(env.counters(), before);
}

#[test]
fn a_refresh_token_alone_seeds_the_cache_and_later_renewals_use_the_cached_one() {
    let env = Env::start();
    let pair = env.login_pair();
    let first = run(env
        .cmd(&["token"])
        .env("SMARTLING_REFRESH_TOKEN", &pair.refresh))
    .token();
    expire_access(&env.cache());
    // The variable's token is spent now (single use); the cached, rotated one works.
    let second = run(&mut env.cmd(&["token"])).token();
    assert_ne!(first, second);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Success), 2);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Rejected), 0);
}

#[test]
fn a_spent_cached_refresh_token_falls_back_to_login() {
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    // Burn the cached refresh token behind the binary's back.
    let refresh = support::cached_refresh(&env.cache());
    env.cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &refresh)
        .assert()
        .success();
    expire_access(&env.cache());
    run(&mut env.with_creds(&["token"])).token();
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Rejected), 1);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 2);
    // Without credentials, the same situation is a rejection: exit 3.
    let env2 = Env::start();
    let pair = env2.login_pair();
    run(env2
        .cmd(&["token"])
        .env("SMARTLING_REFRESH_TOKEN", &pair.refresh))
    .token();
    let refresh = support::cached_refresh(&env2.cache());
    env2.cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &refresh)
        .assert()
        .success();
    expire_access(&env2.cache());
    run(&mut env2.cmd(&["token"]))
        .assert_failure(3)
        .assert_no_secret_on_stderr(&[refresh]);
}

#[test]
fn no_cache_always_renews_and_writes_nothing() {
    let env = Env::start();
    let mut cmd = env.bare();
    cmd.args(["--base-url", &env.base_url(), "--no-cache", "token"])
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    run(&mut cmd).token();
    run(&mut cmd).token();
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 2);
    let entries: Vec<_> = fs::read_dir(env.dir.path()).unwrap().collect();
    assert!(
        entries.is_empty(),
        "nothing written under HOME: {entries:?}"
    );
}

/// Writes `content` as `path`, a file of ours that no one else may read or write: the
/// only kind of file the cache reads, and the only kind it replaces.
fn write_private(path: &std::path::Path, content: &[u8]) {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).unwrap().write_all(content).unwrap();
}

/// Writes `content` as the cache (a private file of ours), runs `token`, and checks:
/// exit 0, one warning that quotes nothing of the content, one login, and a valid
/// cache afterwards.
fn ignored_and_replaced(env: &Env, content: &[u8], what: &str) {
    let _ = fs::remove_file(env.cache());
    fs::create_dir_all(env.cache().parent().unwrap()).unwrap();
    write_private(&env.cache(), content);
    let logins = env.count(Endpoint::Authenticate, Outcome::Success);
    let run = run(&mut env.with_creds(&["token"]));
    let token = run.token();
    let warnings = run.warnings();
    assert_eq!(warnings.len(), 1, "{what}: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{what}: {}", run.stderr);
    let quoted = String::from_utf8_lossy(content);
    // Field names are the format's, not the content: a message may name one.
    const FIELDS: [&str; 5] = [
        "accessToken",
        "refreshToken",
        "tokenType",
        "expiresInMs",
        "issuedAtMs",
    ];
    for word in quoted.split(|c: char| !c.is_alphanumeric()) {
        if word.len() >= 8 && !FIELDS.contains(&word) {
            assert!(
                !run.stderr.contains(word),
                "{what}: quoted {word}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(
        env.count(Endpoint::Authenticate, Outcome::Success),
        logins + 1
    );
    assert!(is_valid_cache(&env.cache()), "{what}: replaced");
    assert_eq!(cached_access(&env.cache()), token);
}

#[test]
fn corrupt_caches_are_ignored_with_a_warning_and_replaced() {
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    let valid = fs::read(env.cache()).unwrap();
    ignored_and_replaced(&env, b"GARBAGECONTENT not json at all", "garbage");
    ignored_and_replaced(&env, &valid[..valid.len() / 2], "truncated JSON");
    ignored_and_replaced(&env, b"", "empty file");
    ignored_and_replaced(&env, &[0xff, 0xfe, 0x00, 0x01], "binary");
    ignored_and_replaced(
        &env,
        b"{\"version\":99,\"baseUrl\":\"x\"}",
        "unknown version",
    );
    let mut bad_session = support::read_cache(&env.cache());
    bad_session["plain"]["accessToken"] = "".into();
    ignored_and_replaced(
        &env,
        &serde_json::to_vec(&bad_session).unwrap(),
        "bad session",
    );
}

#[test]
fn a_directory_in_place_of_the_cache_is_refused_and_kept() {
    // Not a file of ours: neither read nor replaced, even when empty (it may be a
    // directory the user passed by mistake).
    let env = Env::start();
    fs::create_dir_all(env.cache()).unwrap();
    let run = run(&mut env.with_creds(&["token"]));
    run.assert_failure(2);
    assert!(run.stderr.contains("a directory"), "{}", run.stderr);
    assert!(env.cache().is_dir());
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 0);
}

#[cfg(unix)]
#[test]
fn an_unreadable_cache_is_ignored_and_replaced() {
    use std::os::unix::fs::PermissionsExt;
    if support::is_root() {
        eprintln!("skipped: root can read a mode 000 file");
        return;
    }
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    fs::set_permissions(env.cache(), fs::Permissions::from_mode(0o000)).unwrap();
    let run = run(&mut env.with_creds(&["token"]));
    run.token();
    assert_eq!(run.warnings().len(), 1, "{}", run.stderr);
    assert_eq!(support::mode(&env.cache()), 0o600);
    assert!(is_valid_cache(&env.cache()));
}

#[test]
fn a_foreign_cache_is_ignored_with_a_warning() {
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    let mine = support::read_cache(&env.cache());

    // A record another user or base URL wrote: its owner hash is not ours.
    let mut other = mine.clone();
    other["plain"]["owner"] = "0123456789abcdef0123456789abcdef".into();
    ignored_and_replaced(&env, &serde_json::to_vec(&other).unwrap(), "another owner");
    assert_eq!(
        support::read_cache(&env.cache())["plain"]["owner"],
        mine["plain"]["owner"]
    );
}

#[test]
fn a_token_close_to_expiry_is_not_served_from_the_cache() {
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    // 20 s left is inside the 30 s hard margin of the core policy.
    support::set_access_left(&env.cache(), 20_000);
    run(&mut env.with_creds(&["token"])).token();
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Success), 1);
}

#[test]
fn printed_pairs_and_tokens_work_against_the_server() {
    // The binary's token is one the server accepts: check with the emulator's whoami.
    let env = Env::start();
    let token = run(&mut env.with_creds(&["token"])).token();
    let pair = env.login_pair();
    for t in [token, pair.access] {
        let client = smartling_auth_isahc::Client::new().unwrap();
        let req = smartling_auth_core::http::Request::get(env.emu.url("/auth-api/v2/whoami"))
            .header("Authorization", format!("Bearer {t}"))
            .body(Default::default())
            .unwrap();
        assert_eq!(client.send(&req).unwrap().status(), 200);
    }
}

#[test]
fn a_spent_cached_session_without_credentials_falls_back_to_the_environment_token() {
    let env = Env::start();
    let seed = env.login_pair();
    run(env
        .cmd(&["token"])
        .env("SMARTLING_REFRESH_TOKEN", &seed.refresh))
    .token();
    // Burn the cached (rotated) refresh token, then expire the access token.
    let cached = support::cached_refresh(&env.cache());
    env.cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &cached)
        .assert()
        .success();
    expire_access(&env.cache());
    // A new refresh token in the environment rescues the run.
    let fresh = env.login_pair();
    let token = run(env
        .cmd(&["token"])
        .env("SMARTLING_REFRESH_TOKEN", &fresh.refresh))
    .token();
    assert_eq!(cached_access(&env.cache()), token);
}
