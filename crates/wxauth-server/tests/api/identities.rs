//! One account, several WeChat identities: two WeChat users of the same app on one account,
//! addressed by their own ids.

use reqwest::Method;
use serde_json::{Value, json};
use wxauth_sim::NewUser;
use wxauth_testkit::{Apps, TestApp, each_backend, expect_error};

use crate::admin::admin;

/// Logs in with a `wx.login` code and a `getPhoneNumber` code of the same sim user.
async fn login_with_phone(app: &TestApp, openid: &str) -> Value {
    let code = app.login_code(Apps::MP_APPID, openid);
    let phone_code = app.phone_code(Apps::MP_APPID, openid);
    let res = app
        .post(
            "/api/v1/miniprogram/login",
            json!({ "code": code, "phoneCode": phone_code }),
        )
        .await;
    assert_eq!(res.status(), 200, "on {}", app.backend());
    res.json().await.unwrap()
}

fn openids(account: &Value) -> Vec<&str> {
    account["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["openid"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_new_wechat_account_with_the_same_phone_joins_the_phones_account() {
    each_backend(async |app| {
        let phone = "+8613900139000";
        let old = app.mp_user(NewUser::new(Apps::MP_APPID).phone(phone));
        let new = app.mp_user(NewUser::new(Apps::MP_APPID).phone(phone));
        let first = login_with_phone(app, &old).await;
        let second = login_with_phone(app, &new).await;
        assert_eq!(second["user"]["id"], first["user"]["id"]);
        assert_eq!(second["isNewUser"], false);

        let token = second["accessToken"].as_str().unwrap();
        let me: Value = app
            .get_auth("/api/v1/me", token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(openids(&me), [old.as_str(), new.as_str()]);
        let ids: Vec<i64> = me["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_ne!(ids[0], ids[1], "each identity has its own id");

        // The old WeChat account still signs in to the same account.
        let again = app.login(&old).await;
        assert_eq!(again["user"]["id"], first["user"]["id"]);

        // The admin API shows both.
        let key = app.admin_key().await;
        let user = first["user"]["id"].as_str().unwrap();
        let seen: Value = admin(
            app,
            &key,
            Method::GET,
            &format!("/api/v1/admin/users/{user}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(openids(&seen), [old.as_str(), new.as_str()]);
    })
    .await;
}

#[tokio::test]
async fn binding_a_second_wechat_user_of_the_same_app_attaches_it() {
    each_backend(async |app| {
        let (first, token, _) = app.signed_in_user().await;
        let second = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &second);
        let res = app
            .post_auth(
                "/api/v1/me/wechat",
                &token,
                json!({ "app": Apps::MP, "code": code }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let account: Value = res.json().await.unwrap();
        assert_eq!(openids(&account), [first.as_str(), second.as_str()]);

        // The second WeChat user now signs in to this account.
        let login = app.login(&second).await;
        assert_eq!(login["user"]["id"], account["user"]["id"]);
    })
    .await;
}

#[tokio::test]
async fn an_openid_of_another_account_is_refused_never_moved() {
    each_backend(async |app| {
        let (_, token, _) = app.signed_in_user().await;
        let (someone_else, _, theirs) = app.signed_in_user().await;
        let code = app.login_code(Apps::MP_APPID, &someone_else);
        let res = app
            .post_auth(
                "/api/v1/me/wechat",
                &token,
                json!({ "app": Apps::MP, "code": code }),
            )
            .await;
        expect_error(res, 409, "WECHAT_ALREADY_BOUND").await;
        let login = app.login(&someone_else).await;
        assert_eq!(login["user"]["id"], theirs["user"]["id"], "still theirs");
    })
    .await;
}

#[tokio::test]
async fn unbinding_by_app_names_the_choices_when_there_are_several() {
    each_backend(async |app| {
        let (first, token, _) = app.signed_in_user().await;
        let second = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &second);
        let account: Value = app
            .post_auth(
                "/api/v1/me/wechat",
                &token,
                json!({ "app": Apps::MP, "code": code }),
            )
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<i64> = account["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();

        let res = app
            .request(Method::DELETE, "/api/v1/me/wechat/mp", Some(&token), None)
            .await;
        let error = expect_error(res, 409, "IDENTITY_AMBIGUOUS").await;
        assert_eq!(error["details"]["choices"], json!(ids));

        // By its id, one goes; the other stays and is then the only one.
        let path = format!("/api/v1/me/identities/{}", ids[0]);
        let res = app.request(Method::DELETE, &path, Some(&token), None).await;
        assert_eq!(res.status(), 200);
        let account: Value = res.json().await.unwrap();
        assert_eq!(openids(&account), [second.as_str()]);
        let res = app.request(Method::DELETE, &path, Some(&token), None).await;
        expect_error(res, 404, "NOT_FOUND").await;

        // The last way to sign in stays.
        let res = app
            .request(Method::DELETE, "/api/v1/me/wechat/mp", Some(&token), None)
            .await;
        expect_error(res, 409, "LAST_SIGN_IN_METHOD").await;
        let _ = first;
    })
    .await;
}

#[tokio::test]
async fn another_accounts_identity_cannot_be_unbound_by_id() {
    each_backend(async |app| {
        let (_, token, _) = app.signed_in_user().await;
        let (_, other_token, _) = app.signed_in_user().await;
        let theirs: Value = app
            .get_auth("/api/v1/me", &other_token)
            .await
            .json()
            .await
            .unwrap();
        let id = theirs["identities"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/me/identities/{id}");
        let res = app.request(Method::DELETE, &path, Some(&token), None).await;
        expect_error(res, 404, "NOT_FOUND").await;
        let res = app
            .request(
                Method::DELETE,
                "/api/v1/me/identities/not-a-number",
                Some(&token),
                None,
            )
            .await;
        expect_error(res, 404, "NOT_FOUND").await;
    })
    .await;
}

#[tokio::test]
async fn an_admin_removes_one_identity_by_its_id() {
    each_backend(async |app| {
        let (first, token, body) = app.signed_in_user().await;
        let second = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &second);
        let account: Value = app
            .post_auth(
                "/api/v1/me/wechat",
                &token,
                json!({ "app": Apps::MP, "code": code }),
            )
            .await
            .json()
            .await
            .unwrap();
        let user = body["user"]["id"].as_str().unwrap();
        let key = app.admin_key().await;
        let by_app = format!("/api/v1/admin/users/{user}/identities/{}", Apps::MP);
        let res = admin(app, &key, Method::DELETE, &by_app, None).await;
        expect_error(res, 409, "IDENTITY_AMBIGUOUS").await;
        let id = account["identities"][1]["id"].as_i64().unwrap();
        let by_id = format!("/api/v1/admin/users/{user}/identities/by-id/{id}");
        let res = admin(app, &key, Method::DELETE, &by_id, None).await;
        assert_eq!(res.status(), 200);
        let account: Value = res.json().await.unwrap();
        assert_eq!(openids(&account), [first.as_str()]);
        // Now there is one in the app, and the path by app works again.
        let res = admin(app, &key, Method::DELETE, &by_app, None).await;
        assert_eq!(res.status(), 200, "an admin may remove the last one");
    })
    .await;
}
