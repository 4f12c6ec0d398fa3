use wxauth_sim::{NewUser, OAuthConsent};
use wxauth_testkit::{Apps, TestApp, each_backend, expect_error};

const HOME: &str = "https://app.example.com/home";
const CALLBACK: &str = "https://app.example.com/wechat/callback";

async fn authorize(app: &TestApp, scope: &str) -> serde_json::Value {
    let url = format!(
        "/api/v1/oauth/authorize?app=oa&redirectUri={}&callback={}&scope={scope}",
        urlencode(HOME),
        urlencode(CALLBACK)
    );
    let res = app.get(&url).await;
    assert_eq!(res.status(), 200, "authorize on {}", app.backend());
    res.json().await.unwrap()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Follows the authorize URL through the simulator's consent page to the callback.
async fn consent(app: &TestApp, authorize_url: &str, openid: &str) -> (String, String) {
    app.sim
        .state()
        .set_consent(
            Apps::OA_APPID,
            OAuthConsent::Approve {
                openid: openid.into(),
            },
        )
        .unwrap();
    let res = app.client.get(authorize_url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    (q["code"].clone(), q["state"].clone())
}

#[tokio::test]
async fn the_authorize_url_is_built_exactly_as_wechat_expects() {
    each_backend(async |app| {
        let body = authorize(app, "snsapi_userinfo").await;
        let url = body["authorizeUrl"].as_str().unwrap();
        let state = body["state"].as_str().unwrap();
        assert!(url.ends_with("#wechat_redirect"));
        let expected = format!(
            "/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope=snsapi_userinfo&state={state}#wechat_redirect",
            Apps::OA_APPID,
            urlencode(CALLBACK)
        );
        assert!(url.ends_with(&expected), "{url}");
        assert_eq!(body["expiresIn"], 600);
        assert!(state.len() >= 32 && state.bytes().all(|b| b.is_ascii_alphanumeric()));
        // redirect=true answers a 302 to the same kind of URL.
        let res = app
            .get(&format!("/api/v1/oauth/authorize?app=oa&redirectUri={}&callback={}&redirect=true", urlencode(HOME), urlencode(CALLBACK)))
            .await;
        assert_eq!(res.status(), 302);
        assert!(res.headers()["location"].to_str().unwrap().contains("/connect/oauth2/authorize?appid="));
    })
    .await;
}

#[tokio::test]
async fn the_code_and_state_sign_in_once_and_keep_the_profile() {
    each_backend(async |app| {
        let openid = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID).nickname("Web User"))
            .unwrap()
            .openid;
        let body = authorize(app, "snsapi_userinfo").await;
        let (code, state) = consent(app, body["authorizeUrl"].as_str().unwrap(), &openid).await;
        let res = app
            .get(&format!("/api/v1/oauth/token?code={code}&state={state}"))
            .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        let login: serde_json::Value = res.json().await.unwrap();
        assert_eq!(login["redirectUri"], HOME);
        assert_eq!(login["user"]["nickname"], "Web User");
        assert!(login["accessToken"].is_string());
        let again = app
            .get(&format!("/api/v1/oauth/token?code={code}&state={state}"))
            .await;
        expect_error(again, 400, "INVALID_STATE").await;
        let unknown = app
            .get("/api/v1/oauth/token?code=x&state=NotAStateWeIssued")
            .await;
        expect_error(unknown, 400, "INVALID_STATE").await;
    })
    .await;
}

#[tokio::test]
async fn redirects_outside_the_allow_list_are_refused() {
    each_backend(async |app| {
        for (redirect, callback, field) in [
            ("https://evil.example.com/", CALLBACK, "redirectUri"),
            (HOME, "https://app.example.com.evil.net/cb", "callback"),
            (HOME, "http://app.example.com/cb", "callback"),
        ] {
            let url = format!(
                "/api/v1/oauth/authorize?app=oa&redirectUri={}&callback={}",
                urlencode(redirect),
                urlencode(callback)
            );
            let body = expect_error(app.get(&url).await, 400, "REDIRECT_NOT_ALLOWED").await;
            assert_eq!(body["details"]["field"], field);
        }
        let same = format!(
            "/api/v1/oauth/authorize?app=oa&redirectUri={}&callback={}",
            urlencode(HOME),
            urlencode(HOME)
        );
        expect_error(app.get(&same).await, 400, "VALIDATION_ERROR").await;
    })
    .await;
}

#[tokio::test]
async fn snapshot_users_are_refused() {
    each_backend(async |app| {
        let openid = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID).snapshot())
            .unwrap()
            .openid;
        let body = authorize(app, "snsapi_base").await;
        let (code, state) = consent(app, body["authorizeUrl"].as_str().unwrap(), &openid).await;
        let res = app
            .get(&format!("/api/v1/oauth/token?code={code}&state={state}"))
            .await;
        expect_error(res, 403, "SNAPSHOT_USER").await;
    })
    .await;
}

#[tokio::test]
async fn a_unionid_makes_one_user_across_a_mini_program_and_an_official_account() {
    each_backend(async |app| {
        let mp = app.mp_user(NewUser::new(Apps::MP_APPID).unionid("uSHARED"));
        let from_mp = app.login(&mp).await;
        let oa = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID).unionid("uSHARED"))
            .unwrap()
            .openid;
        let body = authorize(app, "snsapi_base").await;
        let (code, state) = consent(app, body["authorizeUrl"].as_str().unwrap(), &oa).await;
        let from_oa: serde_json::Value = app
            .get(&format!("/api/v1/oauth/token?code={code}&state={state}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            from_oa["user"]["id"],
            from_mp["user"]["id"],
            "one person, one account, on {}",
            app.backend()
        );
        assert_eq!(from_oa["isNewUser"], false);
        let token = from_oa["accessToken"].as_str().unwrap();
        let me: serde_json::Value = app
            .get_auth("/api/v1/me", token)
            .await
            .json()
            .await
            .unwrap();
        let apps: Vec<&str> = me["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["app"].as_str().unwrap())
            .collect();
        assert_eq!(apps.len(), 2);
        assert!(apps.contains(&"mp") && apps.contains(&"oa"));
    })
    .await;
}

#[tokio::test]
async fn website_apps_use_qrconnect_and_snsapi_login() {
    each_backend(async |app| {
        let url = format!(
            "/api/v1/oauth/authorize?app=web&redirectUri={}&callback={}",
            urlencode(HOME),
            urlencode(CALLBACK)
        );
        let body: serde_json::Value = app.get(&url).await.json().await.unwrap();
        let authorize_url = body["authorizeUrl"].as_str().unwrap();
        assert!(
            authorize_url.contains("/connect/qrconnect?appid="),
            "{authorize_url}"
        );
        assert!(authorize_url.contains("scope=snsapi_login"));
        let bad = format!("{url}&scope=snsapi_userinfo");
        expect_error(app.get(&bad).await, 400, "VALIDATION_ERROR").await;
    })
    .await;
}
