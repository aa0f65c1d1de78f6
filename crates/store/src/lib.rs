//! Token stores for smartling-auth: [`FileStore`] for the processes of one machine,
//! and `RedisStore` (feature `redis`) for a fleet.
//!
//! Both implement [`Store`](smartling_auth_core::store::Store); the protocol that uses
//! them (read first, one lease-holder renews, everyone else adopts its record) lives in
//! `smartling_auth_core::store` and is the same for every backend.
//!
//! `RedisStore` exists only with the `redis` feature, off by default (it brings the
//! `redis` crate and rustls): `smartling-auth-store = { version = "0.1", features =
//! ["redis"] }`, or the `redis` feature of `smartling-auth-isahc` or
//! `smartling-auth-async-std`, which turns it on and re-exports it.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod file;
#[cfg(feature = "redis")]
mod redis;

pub use file::FileStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;
