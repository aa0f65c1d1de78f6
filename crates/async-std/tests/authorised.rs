//! Authorised API calls with the 401 retry built in: a refused token is dropped and
//! the call runs once more with a fresh one, never twice.

use smartling_auth_async_std::TokenProvider;
use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
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
    let whoami = |sent: &mut u32| {
        *sent += 1;
        let url = emu.url("/auth-api/v2/whoami");
        let provider = &provider;
        async move {
            provider
                .call(|authorization| {
                    let url = url.clone();
                    async move {
                        let request = isahc::Request::get(url)
                            .header("Authorization", authorization)
                            .body(())?;
                        Ok::<_, Box<dyn std::error::Error>>(isahc::send_async(request).await?)
                    }
                })
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut calls = 0;
    assert_eq!(smol::block_on(whoami(&mut calls)), 200);
    refuse_next_whoami(&emu, 1);
    assert_eq!(smol::block_on(whoami(&mut calls)), 200);
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1, "one renewal");
    assert_eq!(c.total(Endpoint::WhoAmI), 3);
    refuse_next_whoami(&emu, 2);
    assert_eq!(smol::block_on(whoami(&mut calls)), 401);
    assert_eq!(
        emu.counters().total(Endpoint::WhoAmI),
        5,
        "never a third try"
    );
    emu.shutdown();
}
