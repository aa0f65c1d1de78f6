//! The parser against its floor: the seed success answer through `parse_token_response`,
//! through a minimal borrowed `serde` struct (the floor), and into `serde_json::Value`
//! (the naive way); and the cost of building a refresh request.
//!
//! `parse_token_response` reads an answer in its plain form (the seed's) on a fast path
//! written by hand, and anything else with lenient `serde` shapes; the breakdown group
//! times the second too, on the seed with one lifetime sent as a string.
//!
//! Run: `cargo bench -p smartling-auth-core --bench parse -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use smartling_auth_core::{BaseUrl, RefreshToken, parse_token_response, refresh_request};

const SEED: &[u8] = include_bytes!("../tests/fixtures/seed_success.json");

/// The least any parser of this envelope can do: borrow every string, read two `u64`s.
#[derive(Deserialize)]
struct FloorEnvelope<'a> {
    #[serde(borrow)]
    response: FloorResponse<'a>,
}

#[derive(Deserialize)]
struct FloorResponse<'a> {
    code: &'a str,
    #[serde(borrow)]
    data: FloorData<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FloorData<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    expires_in: u64,
    refresh_expires_in: u64,
    token_type: &'a str,
}

fn floor(body: &[u8]) -> (usize, u64) {
    let env: FloorEnvelope<'_> = serde_json::from_slice(body).unwrap();
    let d = env.response.data;
    assert_eq!(env.response.code, "SUCCESS");
    (
        d.access_token.len() + d.refresh_token.len() + d.token_type.len(),
        d.expires_in + d.refresh_expires_in,
    )
}

fn parse_seed(c: &mut Criterion) {
    let response = http::Response::builder()
        .status(200)
        .body(SEED.to_vec())
        .unwrap();
    // Same answer from every contender, or the comparison means nothing.
    let pair = parse_token_response(&response).unwrap();
    assert_eq!(
        floor(SEED),
        (
            pair.access_token.secret().len() + pair.refresh_token.secret().len() + 6,
            480 + 3660
        )
    );

    let mut group = c.benchmark_group("parse_seed");
    group.throughput(Throughput::Bytes(SEED.len() as u64));
    group.bench_function("parse_token_response", |b| {
        b.iter(|| parse_token_response(black_box(&response)).unwrap())
    });
    group.bench_function("serde_floor_borrowed", |b| {
        b.iter(|| floor(black_box(SEED)))
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(SEED)).unwrap())
    });
    group.finish();

    // Where the time goes: the same parse without the drop (which wipes both tokens),
    // and the floor plus the copies the parser must make to own its tokens.
    let mut group = c.benchmark_group("parse_seed_breakdown");
    group.throughput(Throughput::Bytes(SEED.len() as u64));
    group.bench_function("parse_token_response_excluding_drop", |b| {
        b.iter_batched_ref(
            || (),
            |()| parse_token_response(black_box(&response)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("floor_plus_owned_tokens", |b| {
        b.iter(|| {
            let env: FloorEnvelope<'_> = serde_json::from_slice(black_box(SEED)).unwrap();
            let d = env.response.data;
            (
                d.access_token.to_owned(),
                d.refresh_token.to_owned(),
                d.expires_in,
                d.refresh_expires_in,
            )
        })
    });
    // The same answer with `refreshExpiresIn` as a string, as the endpoint page types
    // it: the fast path declines it, the lenient path reads it.
    let lenient = String::from_utf8(SEED.to_vec())
        .unwrap()
        .replacen("3660", "\"3660\"", 1);
    let lenient = http::Response::builder()
        .status(200)
        .body(lenient.into_bytes())
        .unwrap();
    assert_eq!(
        parse_token_response(&lenient)
            .unwrap()
            .refresh_expires_in
            .as_secs(),
        3660
    );
    group.bench_function("parse_token_response_lenient_path", |b| {
        b.iter(|| parse_token_response(black_box(&lenient)).unwrap())
    });
    group.bench_function("drop_token_pair", |b| {
        b.iter_batched(
            || parse_token_response(&response).unwrap(),
            drop,
            BatchSize::SmallInput,
        )
    });
    // The header check on both tokens: short-circuiting, branch-free so that it
    // vectorises, and as a max reduction (how the lenient path checks a token; the fast
    // path checks it while finding its end).
    let tokens = [
        pair.access_token.secret().to_owned(),
        pair.refresh_token.secret().to_owned(),
    ];
    group.bench_function("header_check_short_circuit", |b| {
        b.iter(|| {
            black_box(&tokens)
                .iter()
                .all(|t| t.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        })
    });
    group.bench_function("header_check_branch_free", |b| {
        b.iter(|| {
            black_box(&tokens).iter().all(|t| {
                t.bytes()
                    .fold(true, |ok, b| ok & (b.wrapping_sub(0x21) < 0x5e))
            })
        })
    });
    group.bench_function("header_check_max_reduce", |b| {
        b.iter(|| {
            black_box(&tokens)
                .iter()
                .all(|t| t.bytes().fold(0, |top, b| top.max(b.wrapping_sub(0x21))) <= 0x5d)
        })
    });
    // Wiping on drop: the secrets are `Zeroizing<String>`, which zeroize wipes one
    // volatile byte at a time (`Vec<u8>` goes element by element); a `Zeroizing<Box<str>>`
    // is wiped as one slice (a memset behind an optimisation barrier).
    let joined = tokens.concat();
    group.bench_function("drop_zeroizing_string", |b| {
        b.iter_batched(
            || zeroize::Zeroizing::new(joined.clone()),
            drop,
            BatchSize::SmallInput,
        )
    });
    group.bench_function("drop_zeroizing_box_str", |b| {
        b.iter_batched(
            || zeroize::Zeroizing::new(joined.clone().into_boxed_str()),
            drop,
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn build_refresh(c: &mut Criterion) {
    let base = BaseUrl::default();
    let token = parse_token_response(&http::Response::builder().status(200).body(SEED).unwrap())
        .unwrap()
        .refresh_token;
    c.bench_function("refresh_request", |b| {
        b.iter(|| refresh_request(black_box(&base), black_box(&token)))
    });
    let short = RefreshToken::new("r.e.f");
    c.bench_function("refresh_request_short_token", |b| {
        b.iter(|| refresh_request(black_box(&base), black_box(&short)))
    });
}

criterion_group!(benches, parse_seed, build_refresh);
criterion_main!(benches);
