//! Token stores for smartling-auth: [`FileStore`] for the processes of one machine,
//! and `RedisStore` (feature `redis`) for a fleet.
//!
//! Both implement [`Store`](smartling_auth_core::store::Store); the protocol that uses
//! them (read first, one lease-holder renews, everyone else adopts its record) lives in
//! `smartling_auth_core::store` and is the same for every backend.

mod file;
#[cfg(feature = "redis")]
mod redis;

pub use file::FileStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
