//! The schema's migrations go up, all the way down, and up again on every backend, and the
//! schema they build is the one the entities expect.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
use wxauth_testkit::{TestDatabase, backends};

const TABLES: [&str; 19] = [
    "admin_keys",
    "apps",
    "audit_log",
    "bind_codes",
    "mp_qr_login_images",
    "mp_qr_logins",
    "oauth_states",
    "official_followers",
    "oidc_authorizations",
    "oidc_browser_sessions",
    "oidc_clients",
    "oidc_consents",
    "oidc_grants",
    "qr_logins",
    "refresh_tokens",
    "users",
    "wechat_access_tokens",
    "wechat_events",
    "wechat_identities",
];

async fn tables(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
        }
        sea_orm::DatabaseBackend::MySql => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"
        }
    };
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap();
    // Sorted here: the databases' collations order `_` differently.
    let mut tables: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .filter(|t| t != "seaql_migrations")
        .collect();
    tables.sort();
    tables
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_every_backend() {
    for backend in backends() {
        let mut test_db = TestDatabase::create(backend).await;
        let db = sea_orm::Database::connect(test_db.url.as_str())
            .await
            .unwrap();
        let name = test_db.backend.name();

        Migrator::up(&db, None)
            .await
            .unwrap_or_else(|e| panic!("up on {name}: {e}"));
        assert_eq!(tables(&db).await, TABLES, "tables after up on {name}");
        assert!(
            Migrator::get_pending_migrations(&db)
                .await
                .unwrap()
                .is_empty()
        );

        Migrator::down(&db, None)
            .await
            .unwrap_or_else(|e| panic!("down on {name}: {e}"));
        assert!(
            tables(&db).await.is_empty(),
            "down leaves nothing on {name}"
        );

        Migrator::up(&db, None)
            .await
            .unwrap_or_else(|e| panic!("up again on {name}: {e}"));
        assert_eq!(
            tables(&db).await,
            TABLES,
            "tables after the second up on {name}"
        );
        db.close().await.unwrap();
        test_db.drop_now().await;
    }
}
