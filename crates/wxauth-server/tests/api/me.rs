use serde_json::json;
use wxauth_sim::NewUser;
use wxauth_testkit::{Apps, each_backend, expect_error};

#[tokio::test]
async fn me_returns_the_user_and_identities_but_never_the_session_key() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).unionid("uME_1"));
        let body = app.login(&openid).await;
        let token = body["accessToken"].as_str().unwrap();
        let res = app.get_auth("/api/v1/me", token).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        let session_key = app
            .sim
            .state()
            .session_key(Apps::MP_APPID, &openid)
            .unwrap();
        assert!(!text.contains(&session_key));
        let me: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(me["user"]["id"], body["user"]["id"]);
        let identities = me["identities"].as_array().unwrap();
        assert_eq!(identities.len(), 1);
        assert_eq!(identities[0]["app"], "mp");
        assert_eq!(identities[0]["kind"], "mini_program");
        assert_eq!(identities[0]["openid"], openid.as_str());
        assert_eq!(identities[0]["unionid"], "uME_1");
    })
    .await;
}

#[tokio::test]
async fn me_without_a_token_is_a_401_with_www_authenticate() {
    each_backend(async |app| {
        let res = app.get("/api/v1/me").await;
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        expect_error(res, 401, "UNAUTHORIZED").await;
        let res = app.get_auth("/api/v1/me", "garbage").await;
        expect_error(res, 401, "UNAUTHORIZED").await;
    })
    .await;
}

#[tokio::test]
async fn profile_updates_accept_only_nickname_and_avatar() {
    each_backend(async |app| {
        let (_, token, _) = app.signed_in_user().await;
        let patch = |body| {
            app.request(
                reqwest::Method::PATCH,
                "/api/v1/me",
                Some(&token),
                Some(body),
            )
        };
        let res =
            patch(json!({ "nickname": "Band", "avatarUrl": "https://thirdwx.qlogo.cn/a/132" }))
                .await;
        assert_eq!(res.status(), 200);
        let user: serde_json::Value = res.json().await.unwrap();
        assert_eq!(user["nickname"], "Band");
        assert_eq!(user["avatarUrl"], "https://thirdwx.qlogo.cn/a/132");

        let res = patch(json!({ "nickname": "x", "role": "admin" })).await;
        let body = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["details"]["field"], "role");

        let res = patch(json!({ "avatarUrl": "javascript:alert(1)" })).await;
        let body = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["details"]["field"], "avatarUrl");

        let res = patch(json!({ "nickname": "字".repeat(65) })).await;
        let body = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["details"]["field"], "nickname");

        // null clears a field; leaving it out keeps it.
        let res = patch(json!({ "avatarUrl": null })).await;
        let user: serde_json::Value = res.json().await.unwrap();
        assert_eq!(user["avatarUrl"], serde_json::Value::Null);
        assert_eq!(user["nickname"], "Band");

        // wx.request has no PATCH: POST /api/v1/me/profile does the same.
        let res = app
            .post_auth(
                "/api/v1/me/profile",
                &token,
                json!({ "nickname": "Posted" }),
            )
            .await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["nickname"],
            "Posted"
        );
        let res = app
            .post_auth(
                "/api/v1/me/profile",
                &token,
                json!({ "phone": "+8613800138000" }),
            )
            .await;
        expect_error(res, 400, "VALIDATION_ERROR").await;
    })
    .await;
}
