//! The store contract of `wxauth-core` (the same cases the in-memory fake passes) against the
//! SQL store on every backend.

use std::sync::Arc;

use secrecy::SecretString;
use wxauth_persistence::{Database, DatabaseConfig, SecretCipher, SqlStore};
use wxauth_testkit::{MASTER_KEY, TestDatabase, backends};

async fn keeps_the_contract(backend: wxauth_testkit::Backend, pgbouncer: bool) {
    let mut db = TestDatabase::create(backend).await;
    let database = Database::connect(&DatabaseConfig {
        url: db.url.clone(),
        pgbouncer,
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    database.migrate().await.unwrap();
    let cipher = SecretCipher::new(&SecretString::from(MASTER_KEY), &[]).unwrap();
    let store = SqlStore::new(database.clone(), Arc::new(cipher));
    wxauth_core::testing::contract::run(&store).await;
    database.close().await.unwrap();
    db.drop_now().await;
}

#[tokio::test]
async fn the_sql_store_keeps_the_store_contract_on_every_backend() {
    for backend in backends() {
        keeps_the_contract(backend, false).await;
    }
}

/// Behind a transaction-pooling pgbouncer, PostgreSQL is spoken to in the simple query
/// protocol: the same contract holds (values inlined and escaped, rows decoded from text).
#[tokio::test]
async fn the_simple_query_protocol_keeps_the_store_contract_on_postgres() {
    for backend in backends() {
        if backend.name() == "postgres" {
            keeps_the_contract(backend, true).await;
        }
    }
}
