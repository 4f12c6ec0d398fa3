use serde_json::json;
use wxauth_sim::NewUser;
use wxauth_testkit::{Apps, TestOptions, each_backend, each_backend_with, expect_error};

#[tokio::test]
async fn a_phone_code_resolves_to_the_verified_number() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613800138000"));
        let code = app.phone_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/phone-number", json!({ "code": code }))
            .await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["purePhoneNumber"], "13800138000");
        assert_eq!(body["countryCode"], "86");
        assert_eq!(body["e164"], "+8613800138000");
        assert_eq!(body["watermark"]["appid"], Apps::MP_APPID);
        let again = app
            .post("/api/v1/miniprogram/phone-number", json!({ "code": code }))
            .await;
        expect_error(again, 400, "INVALID_CODE").await;
    })
    .await;
}

#[tokio::test]
async fn many_phone_lookups_fetch_one_access_token() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613800138001"));
        let codes: Vec<String> = (0..10)
            .map(|_| app.phone_code(Apps::MP_APPID, &openid))
            .collect();
        let requests = codes
            .iter()
            .map(|code| app.post("/api/v1/miniprogram/phone-number", json!({ "code": code })));
        for res in futures::future::join_all(requests).await {
            assert_eq!(res.status(), 200);
        }
        let stats = app.sim.state().stats();
        let fetches = &stats.token_fetches[Apps::MP_APPID];
        assert_eq!(
            fetches.stable + fetches.plain,
            1,
            "one token for ten calls on {}",
            app.backend()
        );
        assert_eq!(
            fetches.plain, 0,
            "never the plain API, which invalidates other instances' tokens"
        );
    })
    .await;
}

#[tokio::test]
async fn instances_replace_a_refused_access_token_with_one_fetch_between_them() {
    each_backend(async |app| {
        let other = app.another_instance().await;
        let instances = [app.url(""), other.url("")];
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613800138002"));
        let phone_number = |base: &str| {
            let code = app.phone_code(Apps::MP_APPID, &openid);
            app.client
                .post(format!("{base}/api/v1/miniprogram/phone-number"))
                .json(&json!({ "code": code }))
                .send()
        };
        for base in &instances {
            assert_eq!(phone_number(base).await.unwrap().status(), 200);
        }
        let before = app.sim.state().stats().token_fetches_of(Apps::MP_APPID);
        assert_eq!(
            before.stable, 1,
            "the second instance took the first one's token"
        );

        // WeChat stops accepting the token (as when a forced refresh elsewhere replaced it)
        // while both instances hold it and are busy.
        app.sim
            .state()
            .invalidate_access_tokens(Apps::MP_APPID)
            .unwrap();
        let calls = (0..20).map(|i| phone_number(&instances[i % 2]));
        for res in futures::future::join_all(calls).await {
            assert_eq!(res.unwrap().status(), 200, "on {}", app.backend());
        }

        let after = app.sim.state().stats().token_fetches_of(Apps::MP_APPID);
        assert_eq!(
            after.stable - before.stable,
            1,
            "one fetch for both instances on {}: {after:?}",
            app.backend()
        );
        other.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_and_the_call_retried() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613800138002"));
        let code = app.phone_code(Apps::MP_APPID, &openid);
        assert_eq!(
            app.post("/api/v1/miniprogram/phone-number", json!({ "code": code }))
                .await
                .status(),
            200
        );
        app.sim
            .state()
            .expire_access_tokens(Apps::MP_APPID)
            .unwrap();
        let code = app.phone_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/phone-number", json!({ "code": code }))
            .await;
        assert_eq!(
            res.status(),
            200,
            "42001 → refresh → retry on {}",
            app.backend()
        );
        app.sim
            .state()
            .invalidate_access_tokens(Apps::MP_APPID)
            .unwrap();
        let code = app.phone_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/phone-number", json!({ "code": code }))
            .await;
        assert_eq!(
            res.status(),
            200,
            "40001 → forced refresh → retry on {}",
            app.backend()
        );
    })
    .await;
}

#[tokio::test]
async fn login_with_a_phone_code_keys_the_account_by_phone() {
    each_backend(async |app| {
        let a = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613900139000"));
        let b = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::MP2_APPID).phone("+8613900139000"))
            .unwrap()
            .openid;
        let login = |appid: &'static str, key: &'static str, openid: String| {
            let app = &app;
            async move {
                let code = app.login_code(appid, &openid);
                let phone_code = app.phone_code(appid, &openid);
                let res = app
                    .post(
                        "/api/v1/miniprogram/login",
                        json!({ "app": key, "code": code, "phoneCode": phone_code }),
                    )
                    .await;
                assert_eq!(res.status(), 200);
                res.json::<serde_json::Value>().await.unwrap()
            }
        };
        let first = login(Apps::MP_APPID, Apps::MP, a).await;
        assert_eq!(first["user"]["phone"], "+8613900139000");
        let second = login(Apps::MP2_APPID, Apps::MP2, b).await;
        assert_eq!(
            second["user"]["id"], first["user"]["id"],
            "same phone, same account"
        );
        assert_eq!(second["isNewUser"], false);
    })
    .await;
}

#[tokio::test]
async fn openid_lookup_never_returns_the_session_key() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).unionid("uOPEN_1"));
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/openid", json!({ "code": code }))
            .await;
        let text = res.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["openid"], openid.as_str());
        assert_eq!(body["unionid"], "uOPEN_1");
        assert!(!text.contains("session"));
    })
    .await;
}

#[tokio::test]
async fn encrypted_data_is_decrypted_with_the_server_held_session_key() {
    each_backend(async |app| {
        let (openid, token, _) = app.signed_in_user().await;
        let (data, iv) = app
            .sim
            .state()
            .encrypt_user_data(
                Apps::MP_APPID,
                &openid,
                json!({ "stepInfoList": [{ "step": 8000 }] }),
            )
            .unwrap();
        let res = app
            .post_auth(
                "/api/v1/miniprogram/decrypt",
                &token,
                json!({ "encryptedData": data, "iv": iv }),
            )
            .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["data"]["stepInfoList"][0]["step"], 8000);
    })
    .await;
}

#[tokio::test]
async fn data_with_another_apps_watermark_or_a_stale_key_is_refused() {
    each_backend(async |app| {
        let (openid, token, _) = app.signed_in_user().await;
        let forged = json!({ "x": 1, "watermark": { "appid": "wxsomeoneelse", "timestamp": 1 } });
        let (data, iv) = app
            .sim
            .state()
            .encrypt_user_data(Apps::MP_APPID, &openid, forged)
            .unwrap();
        let res = app
            .post_auth(
                "/api/v1/miniprogram/decrypt",
                &token,
                json!({ "encryptedData": data, "iv": iv }),
            )
            .await;
        expect_error(res, 400, "WATERMARK_MISMATCH").await;

        // The client called wx.login again elsewhere: the key the server holds is stale.
        let (data, iv) = app
            .sim
            .state()
            .encrypt_user_data(Apps::MP_APPID, &openid, json!({ "x": 1 }))
            .unwrap();
        let code = app.login_code(Apps::MP_APPID, &openid);
        app.post("/api/v1/miniprogram/openid", json!({ "code": code }))
            .await;
        let res = app
            .post_auth(
                "/api/v1/miniprogram/decrypt",
                &token,
                json!({ "encryptedData": data, "iv": iv }),
            )
            .await;
        expect_error(res, 400, "DECRYPT_FAILED").await;
    })
    .await;
}

#[tokio::test]
async fn raw_data_signatures_are_checked_against_the_session_key() {
    each_backend(async |app| {
        let (openid, token, _) = app.signed_in_user().await;
        let raw = r#"{"nickName":"Band","gender":1}"#;
        let signature = app
            .sim
            .state()
            .sign_raw_data(Apps::MP_APPID, &openid, raw)
            .unwrap();
        let res = app
            .post_auth(
                "/api/v1/miniprogram/verify-signature",
                &token,
                json!({ "rawData": raw, "signature": signature }),
            )
            .await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["valid"],
            true
        );
        let res = app
            .post_auth(
                "/api/v1/miniprogram/verify-signature",
                &token,
                json!({ "rawData": raw, "signature": "00" }),
            )
            .await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["valid"],
            false
        );
    })
    .await;
}

#[tokio::test]
async fn a_user_sets_their_phone_and_cannot_take_someone_elses() {
    each_backend(async |app| {
        let owner = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613700137000"));
        let code = app.login_code(Apps::MP_APPID, &owner);
        let phone_code = app.phone_code(Apps::MP_APPID, &owner);
        app.post(
            "/api/v1/miniprogram/login",
            json!({ "code": code, "phoneCode": phone_code }),
        )
        .await;

        let me = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613600136000"));
        let body = app.login(&me).await;
        let token = body["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(
            body["user"]["phone"],
            serde_json::Value::Null,
            "a plain login does not set the phone"
        );
        let code = app.phone_code(Apps::MP_APPID, &me);
        let res = app
            .post_auth("/api/v1/me/phone", &token, json!({ "code": code }))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["phone"],
            "+8613600136000"
        );

        // A code that proves the owner's number cannot move it to this account.
        let code = app.phone_code(Apps::MP_APPID, &owner);
        let res = app
            .post_auth("/api/v1/me/phone", &token, json!({ "code": code }))
            .await;
        expect_error(res, 409, "PHONE_TAKEN").await;
    })
    .await;
}

#[tokio::test]
async fn bind_code_registration_over_http() {
    each_backend_with(
        TestOptions::default().mp_registration("bind_code"),
        async |app| {
            let openid = app.new_mp_user();
            let code = app.login_code(Apps::MP_APPID, &openid);
            let res = app
                .post("/api/v1/miniprogram/login", json!({ "code": code }))
                .await;
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["status"], "bind_required");
            assert_eq!(body["expiresIn"], 300);
            let bind_code = body["bindCode"].as_str().unwrap();
            let res = app
                .post(
                    "/api/v1/auth/register",
                    json!({ "bindCode": bind_code, "nickname": "New" }),
                )
                .await;
            assert_eq!(res.status(), 200, "on {}", app.backend());
            let registered: serde_json::Value = res.json().await.unwrap();
            assert_eq!(registered["user"]["nickname"], "New");
            assert_eq!(registered["isNewUser"], true);
            let twice = app
                .post("/api/v1/auth/register", json!({ "bindCode": bind_code }))
                .await;
            expect_error(twice, 400, "BIND_CODE_USED").await;
        },
    )
    .await;
}

#[tokio::test]
async fn closed_registration_is_a_403() {
    each_backend_with(
        TestOptions::default().mp_registration("closed"),
        async |app| {
            let openid = app.new_mp_user();
            let code = app.login_code(Apps::MP_APPID, &openid);
            let res = app
                .post("/api/v1/miniprogram/login", json!({ "code": code }))
                .await;
            expect_error(res, 403, "REGISTRATION_CLOSED").await;
        },
    )
    .await;
}

#[tokio::test]
async fn binding_and_unbinding_wechat_identities() {
    each_backend(async |app| {
        let (_, token, _) = app.signed_in_user().await;
        // The last identity cannot go.
        let res = app
            .request(
                reqwest::Method::DELETE,
                "/api/v1/me/wechat/mp",
                Some(&token),
                None,
            )
            .await;
        expect_error(res, 409, "LAST_SIGN_IN_METHOD").await;
        // Add one in mp2, then remove it.
        let other = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::MP2_APPID))
            .unwrap()
            .openid;
        let code = app.login_code(Apps::MP2_APPID, &other);
        let res = app
            .post_auth(
                "/api/v1/me/wechat",
                &token,
                json!({ "app": "mp2", "code": code }),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["identities"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let res = app
            .request(
                reqwest::Method::DELETE,
                "/api/v1/me/wechat/mp2",
                Some(&token),
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        // Someone else's WeChat user cannot be taken over.
        let (taken, _, _) = app.signed_in_user().await;
        let code = app.login_code(Apps::MP_APPID, &taken);
        let res = app
            .post_auth(
                "/api/v1/me/wechat",
                &token,
                json!({ "app": "mp", "code": code }),
            )
            .await;
        expect_error(res, 409, "WECHAT_ALREADY_BOUND").await;
    })
    .await;
}

#[tokio::test]
async fn blocked_users_get_403_on_login_and_me() {
    each_backend(async |app| {
        let (openid, token, body) = app.signed_in_user().await;
        let key = app.admin_key().await;
        let id = body["user"]["id"].as_str().unwrap();
        let res = app
            .client
            .post(app.url(&format!("/api/v1/admin/users/{id}/block")))
            .header("x-admin-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        expect_error(
            app.get_auth("/api/v1/me", &token).await,
            403,
            "USER_BLOCKED",
        )
        .await;
        let code = app.login_code(Apps::MP_APPID, &openid);
        expect_error(
            app.post("/api/v1/miniprogram/login", json!({ "code": code }))
                .await,
            403,
            "USER_BLOCKED",
        )
        .await;
        // The session was ended too, yet the client is told why: a block, not an expiry.
        let refresh = body["refreshToken"].as_str().unwrap();
        let res = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
            .await;
        expect_error(res, 403, "USER_BLOCKED").await;
        // Both refusals are filed under the user.
        let user = body["user"]["id"].as_str().unwrap();
        let path = format!("/api/v1/admin/audit?user={user}");
        let audit: serde_json::Value =
            crate::admin::admin(app, &key, reqwest::Method::GET, &path, None)
                .await
                .json()
                .await
                .unwrap();
        let refused: Vec<(&str, &str)> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["success"] == false)
            .map(|e| (e["kind"].as_str().unwrap(), e["reason"].as_str().unwrap()))
            .collect();
        assert_eq!(
            refused,
            [("refresh", "USER_BLOCKED"), ("login", "USER_BLOCKED")],
            "newest first"
        );
    })
    .await;
}

#[tokio::test]
async fn a_high_risk_user_is_refused() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).high_risk());
        let code = app.login_code(Apps::MP_APPID, &openid);
        expect_error(
            app.post("/api/v1/miniprogram/login", json!({ "code": code }))
                .await,
            403,
            "WECHAT_RISK_BLOCKED",
        )
        .await;
    })
    .await;
}
