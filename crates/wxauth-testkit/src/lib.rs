//! Test support for wxauth: [`TestApp`] runs the real server on a random port against an
//! in-process WeChat simulator and a fresh database, and offers typed helpers for the flows.
//!
//! Every HTTP test runs on every configured backend with [`each_backend`]: SQLite always,
//! PostgreSQL and MySQL/MariaDB when `WXAUTH_TEST_POSTGRES_URL` / `WXAUTH_TEST_MYSQL_URL` are
//! set. With `CI` set, a missing URL fails the test instead of skipping that backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod database;

pub use app::{
    Apps, Instance, JWT_SECRET, MASTER_KEY, OIDC_TEST_KEY, TestApp, TestOptions, expect_error,
};
pub use database::{Backend, TestDatabase, backends};

/// Runs `test` once per backend, each time on a fresh app, simulator and database, and shuts
/// each down cleanly afterwards (server stopped, connections closed, database dropped).
pub async fn each_backend<F>(test: F)
where
    F: AsyncFn(&TestApp),
{
    each_backend_with(TestOptions::default(), test).await;
}

/// [`each_backend`] with options (registration policy, rate limits, …).
pub async fn each_backend_with<F>(options: TestOptions, test: F)
where
    F: AsyncFn(&TestApp),
{
    for backend in backends() {
        let app = TestApp::spawn(backend, options.clone()).await;
        test(&app).await;
        app.shutdown().await;
    }
}
