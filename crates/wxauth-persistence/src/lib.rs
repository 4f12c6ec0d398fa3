//! wxauth's persistence adapter: sea-orm entities and the [`SqlStore`] that implements
//! `wxauth-core`'s store ports on SQLite, PostgreSQL and MySQL/MariaDB, chosen by URL at run
//! time.
//!
//! Nothing above this crate sees sea-orm: database errors become `RepoError`s here, rows become
//! domain values, and every secret column is encrypted and decrypted here ([`cipher`]).

pub mod access_tokens;
pub mod cipher;
mod connection;
mod convert;
pub mod database;
mod deferred;
pub mod entities;
mod errors;
pub mod housekeeping;
mod lazy_tx;
mod read_batch;
mod repo;
pub mod rotation;
mod store;
mod write_queue;

pub use access_tokens::{AccessTokenCache, RefreshGuard};
pub use cipher::{CipherError, Purpose, SecretCipher};
pub use database::{Database, DatabaseConfig, DatabaseKind, PoolUsage};
pub use housekeeping::{Purged, Retention};
pub use store::SqlStore;
