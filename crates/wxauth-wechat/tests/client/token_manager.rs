use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wxauth_wechat::token::{
    AccessTokenManager, MemoryTokenStore, RefreshLock, StoreError, StoredToken, TokenStats,
    TokenStore,
};
use wxauth_wechat::{ExposeSecret, OpenId, TokenRefresh, WechatAppId, WechatError};

use crate::helpers::{TestApp, errcode, json, token};

const STABLE: &str = "/cgi-bin/stable_token";
const API: &str = "/cgi-bin/user/info";

/// A clock the test moves by hand.
#[derive(Clone)]
struct FakeClock(Arc<Mutex<OffsetDateTime>>);

impl FakeClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(
            OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        )))
    }

    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    fn manager(&self, t: &TestApp, store: Arc<dyn TokenStore>) -> AccessTokenManager {
        let clock = self.clone();
        AccessTokenManager::builder(t.app.clone())
            .store(store)
            .clock(Arc::new(move || clock.now()))
            .build()
    }
}

fn stable(token: &str) -> ResponseTemplate {
    json(json!({"access_token": token, "expires_in": 7200}))
}

/// Answers the stable-token API with `token` for the next `times` calls.
async fn stable_answers(t: &TestApp, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(STABLE))
        .and(body_partial_json(json!({"force_refresh": false})))
        .respond_with(stable(token))
        .up_to_n_times(times)
        .mount(&t.server)
        .await;
}

/// The follower API, accepting only `good` as token.
async fn api_accepting(t: &TestApp, good: &str) {
    Mock::given(method("GET"))
        .and(path(API))
        .and(query_param("access_token", good))
        .respond_with(json(json!({"subscribe": 1, "openid": "oUSER"})))
        .with_priority(1)
        .mount(&t.server)
        .await;
    Mock::given(method("GET"))
        .and(path(API))
        .respond_with(errcode(40001))
        .mount(&t.server)
        .await;
}

async fn follower_call(
    manager: &AccessTokenManager,
) -> Result<wxauth_wechat::FollowerInfo, WechatError> {
    let openid = OpenId::parse("oUSER").unwrap();
    manager
        .call(|token| {
            let app = manager.app().clone();
            let openid = openid.clone();
            async move { app.user_info(&token, &openid).await }
        })
        .await
}

fn forced_requests(reqs: &[wiremock::Request]) -> usize {
    reqs.iter()
        .filter(|r| r.body_json::<serde_json::Value>().unwrap()["force_refresh"] == json!(true))
        .count()
}

#[tokio::test]
async fn concurrent_gets_wait_for_one_fetch() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .respond_with(stable("T1").set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&t.server)
        .await;
    let manager = AccessTokenManager::new(t.app.clone());

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let m = manager.clone();
        tasks.spawn(async move { m.get().await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().expose_secret(), "T1");
    }
    assert_eq!(
        manager.stats(),
        TokenStats {
            fetched: 1,
            forced: 0,
            from_store: 0
        }
    );
}

#[tokio::test]
async fn the_token_is_reused_until_the_margin_then_refreshed() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    stable_answers(&t, "T2", 1).await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    clock.advance(Duration::from_secs(6_000)); // 1,200 s left: more than the 300 s margin
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    assert_eq!(t.requests_to(STABLE).await.len(), 1);

    clock.advance(Duration::from_secs(950)); // 250 s left
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T2");
    assert_eq!(t.requests_to(STABLE).await.len(), 2);
    assert_eq!(
        *t.observer.refreshes.lock().unwrap(),
        vec![TokenRefresh::Fetched; 2]
    );
}

#[tokio::test]
async fn a_second_manager_reuses_the_shared_store_without_fetching() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .respond_with(stable("T1"))
        .expect(1)
        .mount(&t.server)
        .await;
    let clock = FakeClock::new();
    let store = Arc::new(MemoryTokenStore::new());
    let first = clock.manager(&t, store.clone());
    let second = clock.manager(&t, store.clone());

    assert_eq!(first.get().await.unwrap().expose_secret(), "T1");
    assert_eq!(second.get().await.unwrap().expose_secret(), "T1");

    assert_eq!(
        second.stats(),
        TokenStats {
            fetched: 0,
            forced: 0,
            from_store: 1
        }
    );
    let saved = store.load(t.app.appid()).await.unwrap().unwrap();
    assert_eq!(saved.expires_at, clock.now() + Duration::from_secs(7200));
}

#[tokio::test]
async fn a_stored_token_inside_the_margin_is_not_reused() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "FRESH", 1).await;
    let clock = FakeClock::new();
    let store = Arc::new(MemoryTokenStore::new());
    let stale = StoredToken {
        token: token("OLD"),
        expires_at: clock.now() + Duration::from_secs(100),
    };
    store.save(t.app.appid(), &stale).await.unwrap();

    let manager = clock.manager(&t, store.clone());

    assert_eq!(manager.get().await.unwrap().expose_secret(), "FRESH");
    let saved = store.load(t.app.appid()).await.unwrap().unwrap();
    assert_eq!(saved.token.expose_secret(), "FRESH");
}

#[tokio::test]
async fn a_refused_token_is_refreshed_and_the_call_retried_once() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    stable_answers(&t, "T2", 1).await;
    api_accepting(&t, "T2").await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    let info = follower_call(&manager).await.unwrap();

    assert!(info.subscribed);
    assert_eq!(t.requests_to(API).await.len(), 2);
    let stable_reqs = t.requests_to(STABLE).await;
    assert_eq!(stable_reqs.len(), 2);
    assert_eq!(forced_requests(&stable_reqs), 0);
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T2");
}

#[tokio::test]
async fn a_second_refusal_is_returned_without_looping() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    stable_answers(&t, "T2", 1).await;
    api_accepting(&t, "NEVER").await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    let e = follower_call(&manager).await.unwrap_err();

    assert_eq!(e.errcode(), Some(40001));
    assert_eq!(t.requests_to(API).await.len(), 2);
    assert_eq!(t.requests_to(STABLE).await.len(), 2);
}

#[tokio::test]
async fn when_wechat_hands_back_the_refused_token_it_is_force_refreshed() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 10).await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(stable("T2"))
        .expect(1)
        .mount(&t.server)
        .await;
    api_accepting(&t, "T2").await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    assert!(follower_call(&manager).await.is_ok());

    assert_eq!(
        manager.stats(),
        TokenStats {
            fetched: 1,
            forced: 1,
            from_store: 0
        }
    );
    assert_eq!(t.requests_to(API).await.len(), 2);
}

#[tokio::test]
async fn forced_refreshes_are_spaced_out() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    // From now on WeChat keeps handing out whatever it last issued, which the API refuses.
    stable_answers(&t, "T2", 100).await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(stable("T2"))
        .mount(&t.server)
        .await;
    api_accepting(&t, "NEVER").await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    // T1 refused → T2 (not forced) refused → error.
    assert!(follower_call(&manager).await.is_err());
    // T2 refused, WeChat hands back T2 → forced refresh (returns T2 again) → refused → error.
    assert!(follower_call(&manager).await.is_err());
    // Within 30 s of that forced refresh: no new forced refresh, the refusal is returned.
    clock.advance(Duration::from_secs(10));
    let e = follower_call(&manager).await.unwrap_err();
    assert_eq!(e.errcode(), Some(40001));

    assert_eq!(forced_requests(&t.requests_to(STABLE).await), 1);
}

#[tokio::test]
async fn invalidate_marks_only_the_current_token() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    stable_answers(&t, "T2", 1).await;
    let manager = AccessTokenManager::new(t.app.clone());

    let t1 = manager.get().await.unwrap();
    assert!(manager.invalidate(&t1).await);
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T2");
    assert!(!manager.invalidate(&t1).await, "T1 is no longer current");
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T2");
}

#[tokio::test]
async fn a_failed_refresh_serves_the_still_valid_token() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    t.answer("POST", STABLE, errcode(-1)).await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    manager.get().await.unwrap();
    clock.advance(Duration::from_secs(7_000)); // due for refresh, 200 s of life left

    assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    let after_first_failure = t.requests_to(STABLE).await.len();
    // The next attempt waits a few seconds instead of costing every call a round trip.
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    assert_eq!(t.requests_to(STABLE).await.len(), after_first_failure);
    clock.advance(Duration::from_secs(300)); // expired
    assert!(manager.get().await.unwrap_err().is_busy());
}

/// Instances sharing a store: both hold T1 when WeChat stops accepting it.
async fn two_instances_holding(
    t: &TestApp,
    clock: &FakeClock,
) -> (AccessTokenManager, AccessTokenManager) {
    let store = MemoryTokenStore::new();
    let a = clock.manager(t, Arc::new(store.clone()));
    let b = clock.manager(t, Arc::new(store));
    assert_eq!(a.get().await.unwrap().expose_secret(), "T1");
    assert_eq!(b.get().await.unwrap().expose_secret(), "T1");
    (a, b)
}

#[tokio::test]
async fn instances_sharing_a_store_replace_a_refused_token_with_one_fetch() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    // Slow enough that both instances are replacing T1 at once.
    Mock::given(method("POST"))
        .and(path(STABLE))
        .respond_with(stable("T2").set_delay(Duration::from_millis(200)))
        .mount(&t.server)
        .await;
    api_accepting(&t, "T2").await;
    let clock = FakeClock::new();
    let (a, b) = two_instances_holding(&t, &clock).await;

    let (from_a, from_b) = tokio::join!(follower_call(&a), follower_call(&b));
    assert!(from_a.is_ok() && from_b.is_ok(), "{from_a:?} {from_b:?}");

    assert_eq!(t.requests_to(STABLE).await.len(), 2, "T1, then T2 once");
    assert_eq!(a.stats().fetched + b.stats().fetched, 2);
}

#[tokio::test]
async fn instances_sharing_a_store_force_a_refresh_once_and_keep_its_token() {
    let t = TestApp::spawn().await;
    // WeChat keeps handing out the refused T1 until one forced refresh issues T2; a second
    // forced refresh would issue T3 and invalidate T2, which the other instance just took.
    stable_answers(&t, "T1", 100).await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(stable("T2").set_delay(Duration::from_millis(200)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&t.server)
        .await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(stable("T3"))
        .with_priority(2)
        .mount(&t.server)
        .await;
    api_accepting(&t, "T2").await;
    let clock = FakeClock::new();
    let (a, b) = two_instances_holding(&t, &clock).await;

    let (from_a, from_b) = tokio::join!(follower_call(&a), follower_call(&b));
    assert!(from_a.is_ok() && from_b.is_ok(), "{from_a:?} {from_b:?}");

    assert_eq!(forced_requests(&t.requests_to(STABLE).await), 1);
    assert_eq!(a.get().await.unwrap().expose_secret(), "T2");
    assert_eq!(b.get().await.unwrap().expose_secret(), "T2");
}

/// A store whose database is down.
struct BrokenStore;

#[async_trait]
impl TokenStore for BrokenStore {
    async fn load(&self, _: &WechatAppId) -> Result<Option<StoredToken>, StoreError> {
        Err(StoreError::new("connection refused"))
    }

    async fn save(&self, _: &WechatAppId, _: &StoredToken) -> Result<(), StoreError> {
        Err(StoreError::new("connection refused"))
    }

    async fn lock_refresh(&self, _: &WechatAppId) -> Result<Box<dyn RefreshLock>, StoreError> {
        Err(StoreError::new("connection refused"))
    }
}

#[tokio::test]
async fn a_broken_store_does_not_stop_token_fetches() {
    let t = TestApp::spawn().await;
    stable_answers(&t, "T1", 1).await;
    let manager = FakeClock::new().manager(&t, Arc::new(BrokenStore));
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    assert_eq!(t.requests_to(STABLE).await.len(), 1);
}

#[tokio::test]
async fn a_token_handed_out_late_in_its_life_is_not_refetched_on_every_call() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(STABLE))
        .respond_with(json(json!({"access_token": "T1", "expires_in": 200})))
        .mount(&t.server)
        .await;
    let clock = FakeClock::new();
    let manager = clock.manager(&t, Arc::new(MemoryTokenStore::new()));

    for _ in 0..5 {
        assert_eq!(manager.get().await.unwrap().expose_secret(), "T1");
    }
    assert_eq!(t.requests_to(STABLE).await.len(), 1);
}
