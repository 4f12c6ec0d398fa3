//! Secrets never appear in clear: not in the database, not in responses.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use wxauth_sim::NewUser;
use wxauth_testkit::{Apps, each_backend};

/// Every text value of every table, as the database holds it.
async fn dump(app: &wxauth_testkit::TestApp) -> String {
    let db = app.components_store.database().connection();
    let backend = db.get_database_backend();
    let mut out = String::new();
    for table in [
        "apps",
        "users",
        "wechat_identities",
        "refresh_tokens",
        "bind_codes",
        "wechat_access_tokens",
        "oauth_states",
        "official_followers",
        "wechat_events",
        "qr_logins",
        "audit_log",
        "admin_keys",
    ] {
        let rows = db
            .query_all(Statement::from_string(
                backend,
                format!("SELECT * FROM {table}"),
            ))
            .await
            .unwrap();
        for row in rows {
            for col in row.column_names() {
                if let Ok(Some(v)) = row.try_get::<Option<String>>("", &col) {
                    out.push_str(&v);
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn no_secret_is_stored_in_clear() {
    each_backend(async |app| {
        // Populate every secret column: app secrets and keys (config), session keys (login),
        // cached access tokens (a phone lookup), refresh tokens, admin keys.
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613800138000"));
        let body = app.login(&openid).await;
        let code = app.phone_code(Apps::MP_APPID, &openid);
        app.post("/api/v1/miniprogram/phone-number", json!({ "code": code }))
            .await;
        let admin_key = app.admin_key().await;

        let session_key = app
            .sim
            .state()
            .session_key(Apps::MP_APPID, &openid)
            .unwrap();
        let stats = app.sim.state().stats();
        assert!(
            stats.token_fetches.contains_key(Apps::MP_APPID),
            "an access token was cached"
        );
        let dump = dump(app).await;
        let refresh = body["refreshToken"].as_str().unwrap();
        for (what, secret) in [
            ("mini program secret", Apps::MP_SECRET),
            ("official account secret", Apps::OA_SECRET),
            ("EncodingAESKey", Apps::OA_AES_KEY),
            ("event token", Apps::OA_TOKEN),
            ("session key", session_key.as_str()),
            ("refresh token", refresh),
            ("admin key secret", admin_key.splitn(3, '_').nth(2).unwrap()),
        ] {
            assert!(
                !dump.contains(secret),
                "{what} found in clear on {}",
                app.backend()
            );
        }
        // Cached access tokens are encrypted envelopes.
        let db = app.components_store.database().connection();
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                "SELECT token_enc FROM wechat_access_tokens".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let stored: String = row.try_get_by_index(0).unwrap();
        assert!(stored.starts_with("v1."), "{stored}");
    })
    .await;
}

#[tokio::test]
async fn housekeeping_deletes_what_has_expired_and_keeps_the_rest() {
    use wxauth_persistence::Retention;
    each_backend(async |app| {
        let (_, _, body) = app.signed_in_user().await;
        app.post("/api/v1/official/qr-login", json!({ "app": "oa" }))
            .await;
        let now = time::OffsetDateTime::now_utc();
        // Cut-offs in the past: nothing live goes.
        let past = now - time::Duration::days(1);
        let purged = app
            .components_store
            .purge(Retention {
                refresh_tokens: past,
                one_time_codes: past,
                events: past,
                audit: Some(past),
            })
            .await
            .unwrap();
        assert_eq!(purged, Default::default(), "on {}", app.backend());
        let refresh = body["refreshToken"].as_str().unwrap();
        assert_eq!(
            app.post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
                .await
                .status(),
            200
        );
        // Cut-offs in the future: everything expired by then goes.
        let future = now + time::Duration::days(400);
        let purged = app
            .components_store
            .purge(Retention {
                refresh_tokens: future,
                one_time_codes: future,
                events: future,
                audit: Some(future),
            })
            .await
            .unwrap();
        assert_eq!(purged.refresh_tokens, 2, "the used one and its successor");
        assert_eq!(purged.one_time_codes, 1, "the QR login");
        assert!(purged.audit >= 2);
    })
    .await;
}
