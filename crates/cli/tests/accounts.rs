//! A record belongs to one account, and no token source crosses accounts: a run with
//! one refresh token never prints the token of another's cached session, and a
//! refresh token set beside credentials never files its account's tokens as theirs
//! (through the file cache and through Redis).

mod support;

use smartling_auth_emulator::{Emulator, Endpoint, Outcome};
use support::{Env, Pair, run};

const ALICE: (&str, &str) = ("alice-account", "alice-secret-5c2e9d1f");
const BOB: (&str, &str) = ("bob-account", "bob-secret-8a4b7e3c");
/// The store key a fleet without credentials shares (64 hex digits).
const STORE_KEY: &str = "3f9c0e51a7d2b8460c1e95f3a27d6b08e4c1795a0d3b6f2e8a51c7940b6de2f1";

fn two_accounts() -> Env {
    let emu = Emulator::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .start()
        .expect("emulator starts");
    Env {
        emu,
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

/// Logs `who` in through the binary: a pair of theirs.
fn login(env: &Env, who: (&str, &str)) -> Pair {
    let r = run(env
        .cmd(&["authenticate"])
        .env("SMARTLING_USER_IDENTIFIER", who.0)
        .env("SMARTLING_USER_SECRET", who.1));
    r.assert_code(0);
    Pair::parse(&r.stdout)
}

/// Whose access token `token` is, by the server's word.
fn whoami(env: &Env, token: &str) -> String {
    let client = smartling_auth_isahc::Client::new().unwrap();
    let req = smartling_auth_core::http::Request::get(env.emu.url("/auth-api/v2/whoami"))
        .header("Authorization", format!("Bearer {token}"))
        .body(Default::default())
        .unwrap();
    let answer = client.send(&req).unwrap();
    assert_eq!(answer.status(), 200, "the printed token is a live one");
    let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
    body["response"]["data"]["userIdentifier"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `token` with `store` (a Redis URL) or the default file cache, from a HOME of its own
/// when `home` is given (another machine).
fn token_run(
    env: &Env,
    store: Option<&str>,
    home: Option<&std::path::Path>,
) -> assert_cmd::Command {
    let mut cmd = env.bare();
    cmd.arg("--base-url").arg(env.base_url());
    match store {
        Some(url) => {
            cmd.arg("--store")
                .arg(url)
                .env("SMARTLING_AUTH_STORE_KEY", STORE_KEY);
        }
        None => {
            cmd.arg("--cache-file").arg(env.cache());
        }
    }
    if let Some(home) = home {
        cmd.env("HOME", home);
    }
    cmd.arg("token");
    cmd
}

/// Alice's refresh token, then Bob's: the second run printed Alice's cached token.
fn another_refresh_token_gets_its_own_accounts_token(store: Option<&str>) {
    let env = two_accounts();
    let (alice, bob) = (login(&env, ALICE), login(&env, BOB));
    let homes = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = run(token_run(&env, store, Some(homes[0].path()))
        .env("SMARTLING_REFRESH_TOKEN", &alice.refresh))
    .token();
    assert_eq!(whoami(&env, &first), ALICE.0);
    let second =
        run(token_run(&env, store, Some(homes[1].path()))
            .env("SMARTLING_REFRESH_TOKEN", &bob.refresh));
    let second_token = second.token();
    assert_eq!(
        whoami(&env, &second_token),
        BOB.0,
        "Bob's token, never Alice's"
    );
    assert!(
        second.stderr.contains("another refresh token"),
        "the replaced record is named: {}",
        second.stderr
    );
    // Bob's session is cached now: his (spent) token finds it and is served without
    // a request, and a run with no token at all continues it.
    let refreshes = env.count(Endpoint::Refresh, Outcome::Success);
    let again =
        run(token_run(&env, store, Some(homes[1].path()))
            .env("SMARTLING_REFRESH_TOKEN", &bob.refresh))
        .token();
    assert_eq!(again, second_token);
    let bare = run(&mut token_run(&env, store, Some(homes[1].path()))).token();
    assert_eq!(bare, second_token);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Success), refreshes);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Rejected), 0);
}

/// Alice's credentials with a stray refresh token of Bob's: Bob's token was filed,
/// and over Redis shared, as Alice's.
fn credentials_decide_whatever_refresh_token_is_set(store: Option<&str>) {
    let env = two_accounts();
    let bob = login(&env, BOB);
    let home = tempfile::tempdir().unwrap();
    let r = run(token_run(&env, store, Some(home.path()))
        .env("SMARTLING_USER_IDENTIFIER", ALICE.0)
        .env("SMARTLING_USER_SECRET", ALICE.1)
        .env("SMARTLING_REFRESH_TOKEN", &bob.refresh));
    let token = r.token();
    assert_eq!(whoami(&env, &token), ALICE.0);
    assert!(
        r.warnings()
            .iter()
            .any(|w| w.contains("ignoring SMARTLING_REFRESH_TOKEN")),
        "{}",
        r.stderr
    );
    r.assert_no_secret_on_stderr(std::slice::from_ref(&bob.refresh));
    assert_eq!(
        env.count(Endpoint::Refresh, Outcome::Success),
        0,
        "Bob's token unused"
    );
    // Another of Alice's processes (another HOME) gets her record, and it is hers.
    let other = tempfile::tempdir().unwrap();
    let shared = run(token_run(&env, store, Some(other.path()))
        .env("SMARTLING_USER_IDENTIFIER", ALICE.0)
        .env("SMARTLING_USER_SECRET", ALICE.1))
    .token();
    assert_eq!(whoami(&env, &shared), ALICE.0);
}

#[test]
fn a_refresh_token_never_gets_another_refresh_tokens_cached_token() {
    another_refresh_token_gets_its_own_accounts_token(None);
}

#[test]
fn credentials_decide_the_account_whatever_refresh_token_is_set() {
    credentials_decide_whatever_refresh_token_is_set(None);
}

#[cfg(unix)]
#[test]
#[ignore = "needs redis-server"]
fn over_redis_a_refresh_token_never_gets_another_refresh_tokens_token() {
    let redis = smartling_auth_testkit::redis::RedisServer::start();
    another_refresh_token_gets_its_own_accounts_token(Some(&redis.url()));
}

#[cfg(unix)]
#[test]
#[ignore = "needs redis-server"]
fn over_redis_credentials_decide_the_account_for_the_whole_fleet() {
    let redis = smartling_auth_testkit::redis::RedisServer::start();
    credentials_decide_whatever_refresh_token_is_set(Some(&redis.url()));
}
