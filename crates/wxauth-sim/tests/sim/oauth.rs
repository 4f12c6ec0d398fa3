use std::time::Duration;

use serde_json::Value;
use url::Url;
use wxauth_sim::{NewUser, OAuthConsent};

use crate::helpers::*;

async fn authorize(sim: &TestSim, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    sim.get(path, query).await
}

fn location(response: &reqwest::Response) -> Url {
    assert_eq!(response.status(), 302, "expected a redirect");
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn query_of(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn exchange(sim: &TestSim, appid: &str, secret: &str, code: &str) -> Value {
    sim.get_json(
        "/sns/oauth2/access_token",
        &[
            ("appid", appid),
            ("secret", secret),
            ("code", code),
            ("grant_type", "authorization_code"),
        ],
    )
    .await
}

#[tokio::test]
async fn authorize_redirects_with_code_and_state_when_consent_is_preset() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    sim.state()
        .set_consent(
            OA,
            OAuthConsent::Approve {
                openid: user.openid.clone(),
            },
        )
        .unwrap();
    let response = authorize(
        &sim,
        "/connect/oauth2/authorize",
        &[
            ("appid", OA),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "snsapi_userinfo"),
            ("state", "xyz123"),
        ],
    )
    .await;
    let target = location(&response);
    assert_eq!(target.path(), "/cb");
    let code = param(&target, "code").expect("code");
    assert_eq!(param(&target, "state").as_deref(), Some("xyz123"));

    let token = exchange(&sim, OA, OA_SECRET, &code).await;
    assert!(token.get("errcode").is_none(), "{token}");
    assert_eq!(token["openid"], user.openid.as_str());
    assert_eq!(token["scope"], "snsapi_userinfo");
    assert_eq!(token["expires_in"], 7200);
    assert!(token["refresh_token"].is_string());
    assert!(token.get("is_snapshotuser").is_none());
}

#[tokio::test]
async fn the_redirect_keeps_an_existing_query_and_omits_an_absent_state() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    sim.state()
        .set_consent(
            OA,
            OAuthConsent::Approve {
                openid: user.openid,
            },
        )
        .unwrap();
    let response = authorize(
        &sim,
        "/connect/oauth2/authorize",
        &[
            ("appid", OA),
            ("redirect_uri", "https://app.example/cb?next=%2Fhome&a=1"),
            ("response_type", "code"),
            ("scope", "snsapi_base"),
        ],
    )
    .await;
    let target = location(&response);
    let pairs = query_of(&target);
    assert_eq!(pairs[0], ("next".to_owned(), "/home".to_owned()));
    assert_eq!(pairs[1], ("a".to_owned(), "1".to_owned()));
    assert_eq!(pairs[2].0, "code");
    assert_eq!(pairs.len(), 3, "no state parameter: {target}");
}

#[tokio::test]
async fn denied_consent_redirects_with_state_but_no_code() {
    let sim = TestSim::spawn().await;
    sim.state().set_consent(OA, OAuthConsent::Deny).unwrap();
    let response = authorize(
        &sim,
        "/connect/oauth2/authorize",
        &[
            ("appid", OA),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "snsapi_userinfo"),
            ("state", "s1"),
        ],
    )
    .await;
    let target = location(&response);
    assert_eq!(param(&target, "code"), None);
    assert_eq!(param(&target, "state").as_deref(), Some("s1"));
}

#[tokio::test]
async fn without_preset_consent_a_page_lists_the_fake_users_and_their_links_consent() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA).nickname("Alice <3"));
    let page = authorize(
        &sim,
        "/connect/oauth2/authorize",
        &[
            ("appid", OA),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "snsapi_base"),
            ("state", "s2"),
        ],
    )
    .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Alice &lt;3"), "names are escaped");
    assert!(html.contains(&user.openid));

    // Follow the user's link as a browser would.
    let href = html
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .find(|href| href.contains(&user.openid))
        .expect("a link for the user");
    let response = sim.http.get(sim.url(&href)).send().await.unwrap();
    let target = location(&response);
    assert_eq!(param(&target, "state").as_deref(), Some("s2"));
    let code = param(&target, "code").unwrap();
    assert_eq!(
        exchange(&sim, OA, OA_SECRET, &code).await["openid"],
        user.openid.as_str()
    );

    let deny = html
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .find(|href| href.contains("deny=1"))
        .expect("a deny link");
    let response = sim.http.get(sim.url(&deny)).send().await.unwrap();
    assert_eq!(param(&location(&response), "code"), None);
}

#[tokio::test]
async fn invalid_authorize_requests_get_an_html_error_page_with_status_400() {
    let sim = TestSim::spawn().await;
    let base = [
        ("appid", OA),
        ("redirect_uri", "https://app.example/cb"),
        ("response_type", "code"),
        ("scope", "snsapi_base"),
    ];
    let with = |key: &'static str, value: &'static str| {
        let mut query: Vec<(&str, &str)> =
            base.iter().copied().filter(|(k, _)| *k != key).collect();
        if !value.is_empty() {
            query.push((key, value));
        }
        query
    };
    let cases = [
        ("unknown appid", with("appid", "wxnope")),
        ("website appid on the OA page", with("appid", WEB)),
        ("missing redirect_uri", with("redirect_uri", "")),
        ("relative redirect_uri", with("redirect_uri", "/cb")),
        ("bad response_type", with("response_type", "token")),
        ("scope of another app kind", with("scope", "snsapi_login")),
    ];
    for (case, query) in cases {
        let response = authorize(&sim, "/connect/oauth2/authorize", &query).await;
        assert_eq!(response.status(), 400, "{case}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn qrconnect_serves_website_apps_with_snsapi_login() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(WEB).unionid("uPERSON"));
    sim.state()
        .set_consent(
            WEB,
            OAuthConsent::Approve {
                openid: user.openid.clone(),
            },
        )
        .unwrap();
    let query = [
        ("appid", WEB),
        ("redirect_uri", "https://pc.example/login"),
        ("response_type", "code"),
        ("scope", "snsapi_login"),
        ("state", "pc"),
    ];
    let target = location(&authorize(&sim, "/connect/qrconnect", &query).await);
    let code = param(&target, "code").unwrap();
    let token = exchange(&sim, WEB, WEB_SECRET, &code).await;
    assert_eq!(token["scope"], "snsapi_login");
    assert_eq!(token["unionid"], "uPERSON");
    let info = sim
        .get_json(
            "/sns/userinfo",
            &[
                ("access_token", token["access_token"].as_str().unwrap()),
                ("openid", &user.openid),
            ],
        )
        .await;
    assert_eq!(info["unionid"], "uPERSON");

    let oa_scope = [("scope", "snsapi_base"), query[0], query[1], query[2]];
    assert_eq!(
        authorize(&sim, "/connect/qrconnect", &oa_scope)
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn an_oauth_code_is_single_use_and_expires_after_five_minutes() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    let code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_base")
        .unwrap();
    assert!(
        exchange(&sim, OA, OA_SECRET, &code)
            .await
            .get("access_token")
            .is_some()
    );
    assert_eq!(errcode(&exchange(&sim, OA, OA_SECRET, &code).await), 40163);

    let late = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_base")
        .unwrap();
    sim.state().advance_clock(Duration::from_secs(300));
    assert_eq!(errcode(&exchange(&sim, OA, OA_SECRET, &late).await), 40029);
    assert_eq!(errcode(&exchange(&sim, OA, "wrong", &late).await), 40125);
}

#[tokio::test]
async fn a_snapshot_user_is_flagged_only_in_the_token_response() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA).snapshot());
    let code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_userinfo")
        .unwrap();
    let token = exchange(&sim, OA, OA_SECRET, &code).await;
    assert_eq!(token["is_snapshotuser"], 1);
    let info = sim
        .get_json(
            "/sns/userinfo",
            &[
                ("access_token", token["access_token"].as_str().unwrap()),
                ("openid", &user.openid),
                ("lang", "zh_CN"),
            ],
        )
        .await;
    assert!(info.get("is_snapshotuser").is_none());
}

#[tokio::test]
async fn userinfo_needs_the_userinfo_scope_the_right_openid_and_a_valid_token() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA).nickname("Bob"));
    let userinfo_code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_userinfo")
        .unwrap();
    let token = exchange(&sim, OA, OA_SECRET, &userinfo_code).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let info = sim
        .get_json(
            "/sns/userinfo",
            &[("access_token", &token), ("openid", &user.openid)],
        )
        .await;
    assert_eq!(info["nickname"], "Bob");
    assert_eq!(info["privilege"], serde_json::json!([]));
    assert!(info.get("errcode").is_none());
    for field in ["sex", "province", "city", "country", "headimgurl"] {
        assert!(info.get(field).is_some(), "{field}");
    }
    let wrong_openid = sim
        .get_json(
            "/sns/userinfo",
            &[("access_token", &token), ("openid", "oother")],
        )
        .await;
    assert_eq!(errcode(&wrong_openid), 40003);
    let bad_token = sim
        .get_json(
            "/sns/userinfo",
            &[("access_token", "bogus"), ("openid", &user.openid)],
        )
        .await;
    assert_eq!(errcode(&bad_token), 40001);

    let base_code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_base")
        .unwrap();
    let base_token = exchange(&sim, OA, OA_SECRET, &base_code).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = sim
        .get_json(
            "/sns/userinfo",
            &[("access_token", &base_token), ("openid", &user.openid)],
        )
        .await;
    assert_eq!(errcode(&refused), 48001);
}

#[tokio::test]
async fn refresh_issues_a_new_access_token_for_thirty_days() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    let code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_userinfo")
        .unwrap();
    let token = exchange(&sim, OA, OA_SECRET, &code).await;
    let refresh_token = token["refresh_token"].as_str().unwrap();
    let refresh = |rt: String| {
        let sim = &sim;
        async move {
            sim.get_json(
                "/sns/oauth2/refresh_token",
                &[
                    ("appid", OA),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                ],
            )
            .await
        }
    };
    sim.state().advance_clock(Duration::from_secs(7200));
    let refreshed = refresh(refresh_token.to_owned()).await;
    assert_ne!(refreshed["access_token"], token["access_token"]);
    assert_eq!(refreshed["refresh_token"], refresh_token);
    assert_eq!(refreshed["openid"], user.openid.as_str());
    let auth = sim
        .get_json(
            "/sns/auth",
            &[
                ("access_token", refreshed["access_token"].as_str().unwrap()),
                ("openid", &user.openid),
            ],
        )
        .await;
    assert_eq!(auth["errcode"], 0);

    assert_eq!(errcode(&refresh("bogus".to_owned()).await), 40030);
    sim.state().advance_clock(Duration::from_secs(30 * 86_400));
    assert_eq!(errcode(&refresh(refresh_token.to_owned()).await), 42002);
}

#[tokio::test]
async fn sns_auth_reports_expired_user_tokens_as_42001() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    let code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_base")
        .unwrap();
    let token = exchange(&sim, OA, OA_SECRET, &code).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = [
        ("access_token", token.as_str()),
        ("openid", user.openid.as_str()),
    ];
    assert_eq!(sim.get_json("/sns/auth", &query).await["errmsg"], "ok");
    sim.state().advance_clock(Duration::from_secs(7200));
    assert_eq!(errcode(&sim.get_json("/sns/auth", &query).await), 42001);
    let unknown = sim
        .get_json(
            "/sns/auth",
            &[("access_token", "bogus"), ("openid", &user.openid)],
        )
        .await;
    assert_eq!(errcode(&unknown), 40001);
}

#[tokio::test]
async fn user_tokens_are_not_app_tokens() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    let code = sim
        .state()
        .oauth_code(OA, &user.openid, "snsapi_base")
        .unwrap();
    let user_token = exchange(&sim, OA, OA_SECRET, &code).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = sim
        .get_json(
            "/cgi-bin/user/info",
            &[("access_token", &user_token), ("openid", &user.openid)],
        )
        .await;
    assert_eq!(errcode(&body), 40001);
}
