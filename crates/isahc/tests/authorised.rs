//! Authorised API calls with the 401 retry built in: a refused token is dropped and
//! the call runs once more with a fresh one, never twice.

use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
use smartling_auth_isahc::TokenProvider;
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;

fn refuse_next_whoami(emu: &Emulator, n: u64) {
    let fault = Fault::Status {
        status: 401,
        envelope: true,
        retry_after: None,
    };
    emu.inject(Endpoint::WhoAmI, fault, n);
}

#[test]
fn a_401_is_retried_once_with_a_fresh_token_and_never_twice() {
    let emu = start(Emulator::builder());
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .build()
        .unwrap();
    let whoami = || {
        smartling_auth_isahc::http::Request::get(emu.url("/auth-api/v2/whoami"))
            .body(())
            .unwrap()
    };
    assert_eq!(provider.send_authorized(whoami()).unwrap().status(), 200);
    refuse_next_whoami(&emu, 1);
    assert_eq!(provider.send_authorized(whoami()).unwrap().status(), 200);
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1, "one renewal");
    assert_eq!(c.total(Endpoint::WhoAmI), 3);
    // Refused twice: the second 401 is the answer.
    refuse_next_whoami(&emu, 2);
    assert_eq!(provider.send_authorized(whoami()).unwrap().status(), 401);
    assert_eq!(
        emu.counters().total(Endpoint::WhoAmI),
        5,
        "never a third try"
    );
    // The closure form, with any client.
    refuse_next_whoami(&emu, 1);
    let mut sent = 0;
    let answer = provider
        .call(|authorization| -> Result<_, Box<dyn std::error::Error>> {
            sent += 1;
            let request = isahc::Request::get(emu.url("/auth-api/v2/whoami"))
                .header("Authorization", authorization)
                .body(())?;
            Ok(isahc::send(request)?)
        })
        .unwrap();
    assert_eq!((answer.status().as_u16(), sent), (200, 2));
    emu.shutdown();
}
