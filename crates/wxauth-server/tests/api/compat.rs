//! Clients written against the Strapi plugins and the legacy Official Account service work
//! against wxauth by changing the host only.

use serde_json::json;
use wxauth_sim::{NewUser, OAuthConsent};
use wxauth_testkit::{Apps, each_backend};

#[tokio::test]
async fn a_strapi_v5_client_logs_in_unchanged() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post(
                "/api/strapi-plugin-wechat-miniprogram/login",
                json!({ "openidCode": code }),
            )
            .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        let body: serde_json::Value = res.json().await.unwrap();
        let jwt = body["jwt"].as_str().unwrap();
        let user = &body["user"];
        for field in [
            "id",
            "documentId",
            "username",
            "email",
            "provider",
            "confirmed",
            "blocked",
            "createdAt",
            "updatedAt",
            "publishedAt",
        ] {
            assert!(user.get(field).is_some(), "user.{field}");
        }
        assert!(user["id"].is_i64());
        assert_eq!(user["documentId"].as_str().unwrap().len(), 24);
        assert_eq!(user["username"], openid.as_str());
        assert_eq!(user["confirmed"], true);
        // The jwt works on wxauth's own API too.
        assert_eq!(app.get_auth("/api/v1/me", jwt).await.status(), 200);

        // auth/update: nickname and avatar; an unverified phone is refused.
        let res = app
            .post_auth(
                "/api/strapi-plugin-wechat-miniprogram/auth/update",
                jwt,
                json!({ "nickname": "理塘策马大王" }),
            )
            .await;
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], 0);
        assert_eq!(body["data"]["nickname"], "理塘策马大王");
        assert_eq!(body["data"]["openid"], openid.as_str());
        let res = app
            .post_auth(
                "/api/strapi-plugin-wechat-miniprogram/auth/update",
                jwt,
                json!({ "phone": "13800138000" }),
            )
            .await;
        assert_eq!(res.status(), 400);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["data"], serde_json::Value::Null);
        assert_eq!(body["error"]["details"]["field"], "phone");
    })
    .await;
}

#[tokio::test]
async fn strapi_v5_phone_keyed_login_and_helpers() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).phone("+8613800138000"));
        let code = app.login_code(Apps::MP_APPID, &openid);
        let phone_code = app.phone_code(Apps::MP_APPID, &openid);
        let body: serde_json::Value = app
            .post(
                "/api/strapi-plugin-wechat-miniprogram/login",
                json!({ "openidCode": code, "phoneCode": phone_code }),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["user"]["username"], "13800138000");

        let phone_code = app.phone_code(Apps::MP_APPID, &openid);
        let res: serde_json::Value = app
            .post(
                "/api/strapi-plugin-wechat-miniprogram/getPhoneNumber",
                json!({ "code": phone_code }),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(res["errcode"], 0);
        assert_eq!(res["phone_info"]["purePhoneNumber"], "13800138000");

        let code = app.login_code(Apps::MP_APPID, &openid);
        let text = app
            .post(
                "/api/strapi-plugin-wechat-miniprogram/auth/openid",
                json!({ "code": code }),
            )
            .await
            .text()
            .await
            .unwrap();
        let res: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(res["openid"], openid.as_str());
        assert!(!text.contains("session_key"), "deliberately left out");
    })
    .await;
}

#[tokio::test]
async fn a_strapi_v4_client_logs_in_with_its_user_info() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let user_info = json!({ "nickName": "wfz", "gender": 0, "language": "zh_CN", "avatarUrl": "https://thirdwx.qlogo.cn/a/132" });
        let res = app.post("/strapi-wechat-miniprogram-auth/login", json!({ "code": code, "userInfo": user_info })).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["token"].is_string());
        assert_eq!(body["user"]["openid"], openid.as_str());
        assert_eq!(body["user"]["provider"], "local");
        assert_eq!(body["user"]["wechatUserInfo"]["nickName"], "wfz");
        assert_eq!(body["user"]["wechatUserInfo"]["avatarUrl"], "https://thirdwx.qlogo.cn/a/132");
    })
    .await;
}

#[tokio::test]
async fn the_legacy_official_account_service_flow_works() {
    each_backend(async |app| {
        let home = "https://app.example.com/home";
        let callback = "https://app.example.com/cb";
        let res = app
            .get(&format!(
                "/wechat/authorize?redirectUri={home}&callback={callback}&scope=snsapi_base"
            ))
            .await;
        assert_eq!(
            res.status(),
            401,
            "the legacy service answers 401 with the URL"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["details"]["field"], "authorization url");
        let url = body["details"]["fieldValue"].as_str().unwrap().to_owned();
        let openid = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID))
            .unwrap()
            .openid;
        app.sim
            .state()
            .set_consent(Apps::OA_APPID, OAuthConsent::Approve { openid })
            .unwrap();
        let redirect = app.client.get(&url).send().await.unwrap();
        let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
        let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        let res = app
            .get(&format!(
                "/wechat/jwt?code={}&state={}",
                q["code"], q["state"]
            ))
            .await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["redirectUri"], home);
        assert!(body["jwt"].is_string());
        let res = app
            .get(&format!(
                "/wechat/jwt?code={}&state={}",
                q["code"], q["state"]
            ))
            .await;
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 400);
        assert_eq!(body["details"]["field"], "state");
        assert!(body["details"].get("fieldValue").is_some());
    })
    .await;
}
