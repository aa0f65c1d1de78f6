//! `--store` and `SMARTLING_AUTH_STORE`: Redis shared between runs, its broken forms,
//! and the fall back to the file cache. Tests that need a `redis-server` are ignored
//! without one; `cargo xtask ci` runs them.

mod support;

use smartling_auth_emulator::{Endpoint, Outcome};
use support::{Env, SECRET, USER, run};

/// `token` with credentials at the default location, and `args` before the command.
fn token(env: &Env, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = env.bare();
    cmd.args(["--base-url", &env.base_url()])
        .args(args)
        .arg("token")
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    cmd
}

#[test]
fn store_and_cache_file_together_are_a_usage_error() {
    let env = Env::start();
    let path = env.cache();
    let path = path.to_str().unwrap();
    let r = run(&mut token(
        &env,
        &["--store", "redis://127.0.0.1:1/", "--cache-file", path],
    ));
    r.assert_failure(2);
    assert!(r.stderr.contains("--cache-file"), "{}", r.stderr);
    let r =
        run(token(&env, &["--cache-file", path])
            .env("SMARTLING_AUTH_STORE", "redis://127.0.0.1:1/"));
    r.assert_failure(2);
    assert_eq!(env.counters().total(Endpoint::Authenticate), 0);
}

#[test]
fn malformed_store_urls_and_keys_are_usage_errors_that_quote_no_secret() {
    let env = Env::start();
    for bad in [
        "http://cache.example/",
        "redis://h:notaport/",
        "memcached://x",
    ] {
        let r = run(&mut token(&env, &["--store", bad]));
        r.assert_failure(2);
    }
    let r = run(token(&env, &["--store", "redis://127.0.0.1:1/"])
        .env("SMARTLING_AUTH_STORE_KEY", "k3y-not-hex"));
    r.assert_failure(2);
    assert!(
        r.stderr.contains("SMARTLING_AUTH_STORE_KEY"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("k3y-not-hex"), "{}", r.stderr);
    // Well formed but not random: all zero, one byte repeated.
    for weak in ["00".repeat(32), "5a".repeat(32)] {
        let r = run(token(&env, &["--store", "redis://127.0.0.1:1/"])
            .env("SMARTLING_AUTH_STORE_KEY", &weak));
        r.assert_failure(2);
        assert!(r.stderr.contains("distinct bytes"), "{}", r.stderr);
        assert!(!r.stderr.contains(&weak), "{}", r.stderr);
    }
    assert_eq!(env.counters().total(Endpoint::Authenticate), 0);
}

#[test]
fn an_unreachable_redis_warns_once_and_falls_back_to_the_file_cache() {
    let env = Env::start();
    let r = run(&mut token(
        &env,
        &["--store", "redis://:pw-Sd81x@127.0.0.1:1/"],
    ));
    let first = r.token();
    let warnings = r.warnings();
    assert_eq!(warnings.len(), 2, "{}", r.stderr);
    assert!(
        warnings.iter().any(|w| w.contains("ps")),
        "the argv password warning: {}",
        r.stderr
    );
    assert!(
        warnings.iter().any(|w| w.contains("local file cache")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("pw-Sd81x"), "{}", r.stderr);
    // Through the variable: no argv warning; the file cache serves the second run.
    let r = run(token(&env, &[]).env("SMARTLING_AUTH_STORE", "redis://:pw-Sd81x@127.0.0.1:1/"));
    assert_eq!(r.token(), first, "served from the local file cache");
    assert_eq!(r.warnings().len(), 1, "{}", r.stderr);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
}

#[test]
fn a_refresh_token_alone_with_redis_needs_the_store_key() {
    let env = Env::start();
    let pair = env.login_pair();
    let mut cmd = env.bare();
    cmd.args([
        "--base-url",
        &env.base_url(),
        "--store",
        "redis://127.0.0.1:1/",
        "token",
    ])
    .env("SMARTLING_REFRESH_TOKEN", &pair.refresh);
    let r = run(&mut cmd);
    r.assert_failure(2);
    assert!(
        r.stderr.contains("SMARTLING_AUTH_STORE_KEY"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&pair.refresh));
    // With a key it runs (Redis is down: the local file cache takes over).
    cmd.env(
        "SMARTLING_AUTH_STORE_KEY",
        "3f9c0e51a7d2b8460c1e95f3a27d6b08e4c1795a0d3b6f2e8a51c7940b6de2f1",
    );
    run(&mut cmd).token();
}

#[test]
fn a_store_path_is_a_file_store() {
    let env = Env::start();
    let path = env.dir.path().join("shared").join("token.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            path.parent().unwrap(),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
    }
    let store = path.to_str().unwrap();
    let first = run(&mut token(&env, &["--store", store])).token();
    assert!(support::is_valid_cache(&path));
    assert_eq!(run(&mut token(&env, &["--store", store])).token(), first);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
}

#[test]
fn store_with_no_cache_is_a_usage_error() {
    let env = Env::start();
    let r = run(&mut token(
        &env,
        &["--store", "redis://127.0.0.1:1/", "--no-cache"],
    ));
    r.assert_failure(2);
    assert!(r.stderr.contains("--store"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("127.0.0.1:1"),
        "no value echoed: {}",
        r.stderr
    );
    assert_eq!(env.counters().total(Endpoint::Authenticate), 0);
}

#[test]
fn a_malformed_url_with_a_password_is_refused_without_showing_it() {
    let env = Env::start();
    for url in [
        "redis://:pw-Q7z1@h:notaport/",
        "rediss://user:pw-Q7z1@/",
        "redis://u:pw-Q7z1@h:1/notadb",
    ] {
        let r = run(&mut token(&env, &["--store", url]));
        r.assert_failure(2);
        assert!(!r.stderr.contains("pw-Q7z1"), "{url}: {}", r.stderr);
        let r = run(token(&env, &[]).env("SMARTLING_AUTH_STORE", url));
        r.assert_failure(2);
        assert!(!r.stderr.contains("pw-Q7z1"), "{url}: {}", r.stderr);
    }
    assert_eq!(env.counters().total(Endpoint::Authenticate), 0);
}

#[test]
fn an_empty_store_variable_means_the_default_file_cache() {
    let env = Env::start();
    let first = run(token(&env, &[]).env("SMARTLING_AUTH_STORE", "")).token();
    let r = run(token(&env, &[]).env("SMARTLING_AUTH_STORE", ""));
    assert_eq!(r.token(), first);
    assert!(r.warnings().is_empty(), "{}", r.stderr);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
}

#[cfg(unix)]
#[test]
fn a_store_path_others_may_read_is_refused_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::start();
    let dir = env.dir.path().join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join("token.json");
    std::fs::write(&path, b"planted").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(&mut token(&env, &["--store", path.to_str().unwrap()]));
    r.assert_failure(2);
    assert!(r.stderr.contains("refusing --store"), "{}", r.stderr);
    assert!(r.stderr.contains("0644"), "{}", r.stderr);
    assert!(!r.stderr.contains("planted"), "{}", r.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), b"planted");
    assert_eq!(env.counters().total(Endpoint::Authenticate), 0);
}

#[test]
fn a_store_directory_holds_one_file_per_user() {
    let env = Env::start();
    let dir = env.dir.path().join("tokens");
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let store = dir.to_str().unwrap();
    let first = run(&mut token(&env, &["--store", store])).token();
    assert_eq!(run(&mut token(&env, &["--store", store])).token(), first);
    let records: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(!records[0].contains(USER), "{records:?}");
    assert!(support::is_valid_cache(&dir.join(&records[0])));
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
}

#[cfg(unix)]
#[test]
#[ignore = "needs redis-server"]
fn runs_share_one_token_through_redis_which_holds_no_secret() {
    let redis = smartling_auth_testkit_redis();
    let env = Env::start();
    let url = redis.url();
    let first = run(token(&env, &[]).env("SMARTLING_AUTH_STORE", &url)).token();
    // Another "machine": another HOME, so no shared file cache.
    let other_home = tempfile::tempdir().unwrap();
    let second = run(token(&env, &[])
        .env("SMARTLING_AUTH_STORE", &url)
        .env("HOME", other_home.path()))
    .token();
    assert_eq!(first, second);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(!key.contains(USER), "{key}");
        let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(&mut con).unwrap();
        for secret in [first.as_bytes(), SECRET.as_bytes()] {
            assert!(
                !dump.windows(secret.len()).any(|w| w == secret),
                "{key} holds a secret"
            );
        }
    }
}

fn smartling_auth_testkit_redis() -> smartling_auth_testkit::redis::RedisServer {
    smartling_auth_testkit::redis::RedisServer::start()
}

/// The store's variables are refused when not UTF-8, like every other variable (they
/// used to be dropped: a run then used another store than the one named).
#[test]
fn store_variables_that_are_not_utf8_are_usage_errors() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::start();
    let bad = std::ffi::OsStr::from_bytes(b"redis://127.0.0.1:1/\xff");
    for var in ["SMARTLING_AUTH_STORE", "SMARTLING_AUTH_STORE_KEY"] {
        let args: &[&str] = if var == "SMARTLING_AUTH_STORE_KEY" {
            &["--store", "redis://127.0.0.1:1/"]
        } else {
            &[]
        };
        let r = run(token(&env, args).env(var, bad));
        r.assert_failure(2);
        assert!(r.stderr.contains(var), "{var}: {}", r.stderr);
        assert!(r.stderr.contains("UTF-8"), "{var}: {}", r.stderr);
    }
    assert_eq!(env.counters().total(Endpoint::Authenticate), 0);
}
