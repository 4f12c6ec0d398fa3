//! A fresh database per test, dropped afterwards (even when the test panics).

use sea_orm::{ConnectionTrait, Database};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres(String),
    MySql(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
            Backend::MySql(_) => "mysql",
        }
    }
}

pub const POSTGRES_ENV: &str = "WXAUTH_TEST_POSTGRES_URL";
pub const MYSQL_ENV: &str = "WXAUTH_TEST_MYSQL_URL";

/// The backends to run on. In CI (`CI` set) every backend is required.
pub fn backends() -> Vec<Backend> {
    let ci = std::env::var_os("CI").is_some();
    let mut list = vec![Backend::Sqlite];
    for (var, make) in [
        (POSTGRES_ENV, Backend::Postgres as fn(String) -> Backend),
        (MYSQL_ENV, Backend::MySql as fn(String) -> Backend),
    ] {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => list.push(make(url)),
            _ if ci => panic!("{var} must be set in CI: database tests may not be skipped"),
            _ => {}
        }
    }
    list
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        let name = format!("wxauth_t_{}", uuid::Uuid::new_v4().simple());
        match &backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/wxauth.db?mode=rwc", dir.path().display());
                TestDatabase {
                    backend,
                    url,
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres(admin) | Backend::MySql(admin) => {
                let conn = Database::connect(admin.as_str())
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", backend.name()));
                let quoted = quote(&backend, &name);
                conn.execute_unprepared(&format!("CREATE DATABASE {quoted}"))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
                let _ = conn.close().await;
                let mut url = url::Url::parse(admin).expect("database URL");
                url.set_path(&format!("/{name}"));
                TestDatabase {
                    url: url.to_string(),
                    admin_url: Some(admin.clone()),
                    backend,
                    name,
                    _dir: None,
                }
            }
        }
    }
}

fn quote(backend: &Backend, name: &str) -> String {
    match backend {
        Backend::MySql(_) => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

impl TestDatabase {
    fn drop_statement(&self) -> String {
        match &self.backend {
            Backend::Postgres(_) => {
                format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote(&self.backend, &self.name)
                )
            }
            _ => format!(
                "DROP DATABASE IF EXISTS {}",
                quote(&self.backend, &self.name)
            ),
        }
    }

    /// Drops the database now (after the app's connections are closed).
    pub async fn drop_now(&mut self) {
        let Some(admin) = self.admin_url.take() else {
            return;
        };
        let conn = Database::connect(admin.as_str())
            .await
            .expect("admin connection");
        conn.execute_unprepared(&self.drop_statement())
            .await
            .expect("drop test database");
        let _ = conn.close().await;
    }
}

impl Drop for TestDatabase {
    /// Only reached when a test panicked before its shutdown. It must not block: the test's
    /// runtime may be holding the very connections the drop would wait for. On MySQL the drop
    /// may then wait until the test process exits and its connections close.
    fn drop(&mut self) {
        let Some(admin) = self.admin_url.take() else {
            return;
        };
        let statement = self.drop_statement();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(conn) = Database::connect(admin.as_str()).await {
                    let _ = conn.execute_unprepared(&statement).await;
                    let _ = conn.close().await;
                }
            });
        });
    }
}
