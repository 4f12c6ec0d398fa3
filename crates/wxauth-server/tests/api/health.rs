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
async fn connections_the_database_dropped_cost_at_most_a_503_and_are_replaced() {
    each_backend(async |app| {
        if app.backend() == "sqlite" {
            return; // an embedded database has no connections to lose
        }
        let (_, token, _) = app.signed_in_user().await;
        drop_server_connections(app).await;
        // Pooled connections used moments ago are not pinged, so a request may meet a dead
        // one: that request gets a 503 in the envelope, never a 500, and the pool moves on.
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let res = app.get_auth("/api/v1/me", &token).await;
            let status = res.status().as_u16();
            statuses.push(status);
            if status == 200 {
                break;
            }
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(status, 503, "on {}: {statuses:?} {body}", app.backend());
            assert_eq!(body["name"], "SERVICE_UNAVAILABLE", "{body}");
        }
        assert_eq!(
            statuses.last(),
            Some(&200),
            "the pool recovers on {}: {statuses:?}",
            app.backend()
        );
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200);
    })
    .await;
}
