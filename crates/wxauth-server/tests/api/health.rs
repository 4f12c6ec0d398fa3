use sea_orm::ConnectionTrait;
use serde_json::json;
use wxauth_testkit::Apps;
use wxauth_testkit::each_backend;

#[tokio::test]
async fn probes_answer_and_carry_a_request_id() {
    each_backend(async |app| {
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().contains_key("x-request-id"));
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200, "readyz on {}", app.backend());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    })
    .await;
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced() {
    each_backend(async |app| {
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-request-id"], "abc-123");
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", "bad id\twith spaces")
            .send()
            .await
            .unwrap();
        assert_ne!(res.headers()["x-request-id"], "bad id\twith spaces");
    })
    .await;
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    each_backend(async |app| {
        app.get("/healthz").await;
        let text = app.get("/metrics").await.text().await.unwrap();
        assert!(
            text.contains(
                "wxauth_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}"
            ),
            "{text}"
        );
        assert!(text.contains("wxauth_db_pool_connections"), "{text}");
    })
    .await;
}

/// Ends every connection the server holds, from the database's side, as a database restart
/// or a proxy's idle timeout would.
async fn drop_server_connections(app: &wxauth_testkit::TestApp) {
    use sea_orm::{ConnectionTrait, Statement};
    let url = url::Url::parse(&app.db.url).unwrap();
    let name = url.path().trim_start_matches('/').to_owned();
    let admin = sea_orm::Database::connect(app.db.url.as_str())
        .await
        .unwrap();
    let backend = admin.get_database_backend();
    match app.backend() {
        "postgres" => {
            let sql = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            );
            admin
                .query_all(Statement::from_string(backend, sql))
                .await
                .unwrap();
        }
        "mysql" => {
            let sql = format!(
                "SELECT id FROM information_schema.processlist \
                 WHERE db = '{name}' AND id <> CONNECTION_ID()"
            );
            let rows = admin
                .query_all(Statement::from_string(backend, sql))
                .await
                .unwrap();
            for row in rows {
                let id: i64 = row.try_get_by_index(0).unwrap();
                // A connection may end on its own meanwhile.
                let _ = admin.execute_unprepared(&format!("KILL {id}")).await;
            }
        }
        other => unreachable!("no server connections to drop on {other}"),
    }
    admin.close().await.unwrap();
}

#[tokio::test]
async fn after_the_database_drops_every_connection_no_read_fails_and_at_most_one_write_does() {
    each_backend(async |app| {
        if app.backend() == "sqlite" {
            return; // an embedded database has no connections to lose
        }
        let (_, token, _) = app.signed_in_user().await;
        // Fill the pool: several connections are idle when the database drops them.
        let warm: Vec<_> = (0..6).map(|_| app.get_auth("/api/v1/me", &token)).collect();
        for res in futures::future::join_all(warm).await {
            assert_eq!(res.status(), 200);
        }
        drop_server_connections(app).await;

        // The readiness probe and reads retry on a fresh connection: none of them fails.
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200, "/readyz tests a real connection");
        for _ in 0..10 {
            let res = app.get_auth("/api/v1/me", &token).await;
            assert_eq!(
                res.status(),
                200,
                "reads are retried once on {}",
                app.backend()
            );
        }
        // Writes: at most one fails (503, in the envelope), and it is not a 500.
        let mut failed = Vec::new();
        for _ in 0..10 {
            let openid = app.new_mp_user();
            let code = app.login_code(Apps::MP_APPID, &openid);
            let res = app
                .post("/api/v1/miniprogram/login", json!({ "code": code }))
                .await;
            if res.status() != 200 {
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(body["name"], "DATABASE_UNAVAILABLE", "{body}");
                failed.push(body);
            }
        }
        assert!(failed.len() <= 1, "on {}: {failed:?}", app.backend());
    })
    .await;
}

/// Holds a lock on `refresh_tokens` (which every sign-in writes) from another connection, as
/// a long migration or a stuck job would, until the returned guard is dropped.
async fn lock_the_refresh_tokens(app: &wxauth_testkit::TestApp) -> impl Drop {
    let statements = match app.backend() {
        "postgres" => (
            "BEGIN; LOCK TABLE refresh_tokens IN EXCLUSIVE MODE",
            "ROLLBACK",
        ),
        "mysql" => ("LOCK TABLES refresh_tokens WRITE", "UNLOCK TABLES"),
        _ => ("BEGIN IMMEDIATE", "ROLLBACK"),
    };
    hold_lock(app, statements).await
}

/// Holds a lock taken by `lock` on a connection of its own until the guard is dropped.
async fn hold_lock(
    app: &wxauth_testkit::TestApp,
    (lock, unlock): (&'static str, &'static str),
) -> impl Drop {
    struct Held(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for Held {
        fn drop(&mut self) {
            if let Some(release) = self.0.take() {
                let _ = release.send(());
            }
        }
    }
    let (locked_tx, locked) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let url = app.db.url.clone();
    tokio::spawn(async move {
        // One connection: the lock and its release must meet on it.
        let mut options = sea_orm::ConnectOptions::new(url);
        options.max_connections(1).min_connections(1);
        let conn = sea_orm::Database::connect(options).await.unwrap();
        conn.execute_unprepared(lock).await.unwrap();
        let _ = locked_tx.send(());
        let _ = released.await;
        let _ = conn.execute_unprepared(unlock).await;
        let _ = conn.close().await;
    });
    locked.await.unwrap();
    Held(Some(release))
}

#[tokio::test]
async fn a_stalled_database_answers_503_within_the_lock_timeout_and_readyz_says_so() {
    let options = wxauth_testkit::TestOptions::default().customize(|config| {
        config.database.lock_timeout_ms = 500;
        config.database.statement_timeout_ms = 2_000;
    });
    wxauth_testkit::each_backend_with(options, async |app| {
        let held = lock_the_refresh_tokens(app).await;
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let started = std::time::Instant::now();
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        let took = started.elapsed();
        wxauth_testkit::expect_error(res, 503, "DATABASE_UNAVAILABLE").await;
        assert!(
            took < std::time::Duration::from_secs(3),
            "answered in {took:?} on {}",
            app.backend()
        );
        let res = app.get("/readyz").await;
        assert_eq!(
            res.status(),
            503,
            "readyz reports the stall on {}",
            app.backend()
        );

        drop(held);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        assert_eq!(res.status(), 200, "serves again on {}", app.backend());
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200, "ready again on {}", app.backend());
    })
    .await;
}

/// A stalled read is not asked again: the identity lookup of a returning sign-in that times out
/// on a locked table answers 503 after one lock timeout, not after one per attempt (a replica,
/// then the primary, then the full sign-in path each waited it out before).
#[tokio::test]
async fn a_sign_in_blocked_on_a_lock_waits_out_the_lock_timeout_once() {
    let options = wxauth_testkit::TestOptions::default().customize(|config| {
        config.database.lock_timeout_ms = 1_000;
        config.database.statement_timeout_ms = 5_000;
    });
    wxauth_testkit::each_backend_with(options, async |app| {
        let lock = match app.backend() {
            "postgres" => (
                "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
                "ROLLBACK",
            ),
            "mysql" => ("LOCK TABLES users WRITE", "UNLOCK TABLES"),
            // SQLite readers never wait for a writer.
            _ => return,
        };
        let openid = app.new_mp_user();
        app.login(&openid).await;
        let held = hold_lock(app, lock).await;
        let code = app.login_code(Apps::MP_APPID, &openid);
        let started = std::time::Instant::now();
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        let took = started.elapsed();
        wxauth_testkit::expect_error(res, 503, "DATABASE_UNAVAILABLE").await;
        assert!(
            took < std::time::Duration::from_millis(1_900),
            "one lock timeout, not two: answered in {took:?} on {}",
            app.backend()
        );
        drop(held);
    })
    .await;
}
