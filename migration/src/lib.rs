//! wxauth's database schema, as sea-orm migrations that run on SQLite, PostgreSQL and
//! MySQL/MariaDB alike. The server applies pending migrations at start-up and through its
//! `migrate` subcommand; this crate's own binary is the plain sea-orm-migration CLI.
//!
//! Conventions: every timestamp is a UTC `datetime` (microsecond precision where the database
//! has a choice), secrets are `text` columns holding AES-256-GCM envelopes, and every natural
//! key has a unique index so the database settles races.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_accounts;
mod m20261123_000002_miniprogram;
mod m20261123_000003_official;
mod m20261123_000004_admin;
mod m20261202_000005_identities_per_app;
mod m20261203_000006_mini_program_qr_logins;
mod m20261204_000007_oidc;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_accounts::Migration),
            Box::new(m20261123_000002_miniprogram::Migration),
            Box::new(m20261123_000003_official::Migration),
            Box::new(m20261123_000004_admin::Migration),
            Box::new(m20261202_000005_identities_per_app::Migration),
            Box::new(m20261203_000006_mini_program_qr_logins::Migration),
            Box::new(m20261204_000007_oidc::Migration),
        ]
    }
}
