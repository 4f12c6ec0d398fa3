//! The store contract: what every [`Store`] must do, as one suite of cases that runs against
//! the in-memory fake (this crate's tests) and the SQL store on SQLite, PostgreSQL and MariaDB
//! (the server's tests). A fake that drifted from the real thing fails here.
//!
//! Cases share one store: each makes its own app, users and keys, so they cannot see each
//! other's rows.

use std::future::Future;
use std::pin::Pin;

use secrecy::{ExposeSecret, SecretString};
use time::Duration;
use wxauth_domain::{
    App, AppId, ClientApps, ClientKind, IdentityId, OidcClient, OpenId, PhoneNumber, PublicUserId,
    RegisteredRedirectUri, ScopeSet, SignInMethod, Timestamp, UnionId, UserStatus,
};

use crate::apps::{AppDraft, AppSource, AppSpec};
use crate::error::RepoError;
use crate::ports::*;

type Case = for<'a> fn(&'a dyn Store) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), |s| Box::pin($name(s)))),*];
    };
}

cases!(
    apps_are_upserted_by_key_and_keep_their_id,
    instances_writing_one_new_app_at_once_all_succeed,
    a_new_app_cannot_take_a_key_in_use,
    a_transaction_reads_its_own_writes,
    a_rolled_back_transaction_leaves_nothing,
    an_openid_belongs_to_one_account,
    an_account_may_hold_several_identities_of_one_app,
    phone_numbers_are_unique,
    a_refresh_token_is_used_once_and_its_family_revoked_together,
    bind_codes_and_oauth_states_are_used_once,
    scan_logins_move_from_pending_to_scanned_to_consumed_once,
    mini_program_scan_logins_keep_their_code_and_move_once,
    event_pushes_are_remembered_once,
    users_are_found_by_unionid_phone_and_search,
    the_audit_log_filters_and_pages_newest_first,
    admin_keys_are_revoked_once,
    deleting_a_user_deletes_their_identities_and_sessions,
    concurrent_transactions_lose_no_write,
    oidc_clients_round_trip,
    oidc_codes_and_grants_are_single_use,
);

/// Runs every case against `store`, naming the case that fails.
pub async fn run(store: &dyn Store) {
    for (name, case) in CASES {
        let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(case(store)));
        if let Err(panic) = outcome.await {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("store contract case `{name}` failed: {message}");
        }
    }
}

/// A fixed instant at microsecond precision, which every database keeps exactly.
fn now() -> Timestamp {
    time::macros::datetime!(2026-12-01 10:00:00.123456 UTC)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn openid() -> OpenId {
    OpenId::parse(unique("o")).unwrap()
}

async fn new_app(store: &dyn Store) -> App {
    let spec = AppSpec {
        key: unique("c"),
        kind: "mini_program".into(),
        appid: unique("wx"),
        secret: Some(SecretString::from(unique("s"))),
        ..Default::default()
    };
    let draft = AppDraft::parse(spec, None, AppSource::Admin).unwrap();
    let mut tx = store.begin().await.unwrap();
    let app = tx.upsert_app(&draft, now()).await.unwrap();
    tx.commit().await.unwrap();
    app
}

/// Registers a user with one identity in `app`; returns the user's public id and the openid.
async fn new_user(store: &dyn Store, app: AppId) -> (PublicUserId, OpenId) {
    let public_id = PublicUserId::new_random();
    let openid = openid();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&new_user_row(public_id, None), now())
        .await
        .unwrap();
    tx.insert_identity(&identity(UserRef::Public(public_id), app, &openid), now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (public_id, openid)
}

fn new_user_row(public_id: PublicUserId, phone: Option<PhoneNumber>) -> NewUser {
    NewUser {
        public_id,
        nickname: None,
        avatar_url: None,
        phone,
    }
}

fn identity(user: UserRef, app: AppId, openid: &OpenId) -> NewIdentity {
    NewIdentity {
        user,
        app_id: app,
        openid: openid.clone(),
        unionid: None,
        session_key: Some(SecretString::from(format!("key-of-{openid}"))),
    }
}

/// A write that must be refused by a unique key: at the statement, or at the latest at the
/// commit (stores may defer writes).
async fn assert_conflict(
    mut tx: Box<dyn Transaction>,
    write: impl for<'t> FnOnce(
        &'t mut dyn Transaction,
    ) -> Pin<Box<dyn Future<Output = RepoResult<()>> + Send + 't>>,
) {
    match write(tx.as_mut()).await {
        Err(RepoError::Conflict(_)) => {
            tx.rollback().await.unwrap();
        }
        Err(other) => panic!("expected a conflict, got {other:?}"),
        Ok(()) => match tx.commit().await {
            Err(RepoError::Conflict(_)) => {}
            other => panic!("expected a conflict at the commit, got {other:?}"),
        },
    }
}

async fn user_id(store: &dyn Store, public_id: &PublicUserId) -> wxauth_domain::UserId {
    store
        .read()
        .user_by_public_id(public_id)
        .await
        .unwrap()
        .unwrap()
        .id
}

pub async fn apps_are_upserted_by_key_and_keep_their_id(store: &dyn Store) {
    let app = new_app(store).await;
    let mut read = store.read();
    assert_eq!(read.app_by_key(&app.key).await.unwrap().unwrap().id, app.id);
    assert_eq!(read.app_by_id(app.id).await.unwrap().unwrap().key, app.key);
    assert!(
        read.list_apps()
            .await
            .unwrap()
            .iter()
            .any(|a| a.id == app.id)
    );
    assert!(!read.app_has_identities(app.id).await.unwrap());

    let spec = AppSpec {
        key: app.key.to_string(),
        kind: "mini_program".into(),
        name: Some("Renamed".into()),
        appid: app.appid.to_string(),
        encoding_aes_key: Some(SecretString::from(
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        )),
        ..Default::default()
    };
    let draft = AppDraft::parse(spec, Some(&app), AppSource::Admin).unwrap();
    let mut tx = store.begin().await.unwrap();
    let replaced = tx.upsert_app(&draft, now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(replaced.id, app.id, "the row id survives a replace");
    let stored = store.read().app_by_key(&app.key).await.unwrap().unwrap();
    assert_eq!(stored.name.as_str(), "Renamed");
    assert_eq!(
        stored.secret.expose_secret(),
        app.secret.expose_secret(),
        "the secret was kept"
    );
    assert!(stored.encoding_aes_key.is_some());

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_app(&app.key).await.unwrap());
    assert!(!tx.delete_app(&app.key).await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.read().app_by_key(&app.key).await.unwrap().is_none());
}

/// Instances starting together each write the configured apps: the upsert of a key no row has
/// yet must not fail for the ones that lose the race.
pub async fn instances_writing_one_new_app_at_once_all_succeed(store: &dyn Store) {
    let spec = AppSpec {
        key: unique("c"),
        kind: "mini_program".into(),
        appid: unique("wx"),
        secret: Some(SecretString::from(unique("s"))),
        ..Default::default()
    };
    let draft = AppDraft::parse(spec, None, AppSource::Config).unwrap();
    let upsert = || async {
        let mut tx = store.begin().await?;
        let app = tx.upsert_app(&draft, now()).await?;
        tx.commit().await?;
        Ok::<_, RepoError>(app.id)
    };
    let ids = futures::future::join_all((0..6).map(|_| upsert())).await;
    let first = ids[0].clone().unwrap();
    for id in ids {
        assert_eq!(id.unwrap(), first, "one row, whoever won");
    }
}

pub async fn a_new_app_cannot_take_a_key_in_use(store: &dyn Store) {
    let app = new_app(store).await;
    let spec = AppSpec {
        key: app.key.to_string(),
        kind: "official_account".into(),
        appid: unique("wx"),
        secret: Some(SecretString::from(unique("s"))),
        ..Default::default()
    };
    let draft = AppDraft::parse(spec, None, AppSource::Admin).unwrap();
    let tx = store.begin().await.unwrap();
    assert_conflict(tx, move |tx| {
        Box::pin(async move { tx.insert_app(&draft, now()).await })
    })
    .await;
    let stored = store.read().app_by_key(&app.key).await.unwrap().unwrap();
    assert_eq!(stored.kind, app.kind, "the first app is untouched");
}

pub async fn a_transaction_reads_its_own_writes(store: &dyn Store) {
    let app = new_app(store).await;
    let public_id = PublicUserId::new_random();
    let openid = openid();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&new_user_row(public_id, None), now())
        .await
        .unwrap();
    tx.insert_identity(
        &identity(UserRef::Public(public_id), app.id, &openid),
        now(),
    )
    .await
    .unwrap();
    let (found, user) = tx
        .identity_with_user(app.id, &openid)
        .await
        .unwrap()
        .expect("the transaction sees its identity");
    assert_eq!(user.public_id, public_id);
    assert_eq!(found.created_at, now());
    // Not committed: the read path does not see it yet.
    assert!(
        store
            .read()
            .user_by_public_id(&public_id)
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
    let (user, identities) = store
        .read()
        .account_of(&public_id)
        .await
        .unwrap()
        .expect("committed");
    assert_eq!(user.status, UserStatus::Active);
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].openid, openid);
    assert!(store.read().app_has_identities(app.id).await.unwrap());
}

pub async fn a_rolled_back_transaction_leaves_nothing(store: &dyn Store) {
    let public_id = PublicUserId::new_random();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&new_user_row(public_id, None), now())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        store
            .read()
            .user_by_public_id(&public_id)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn an_openid_belongs_to_one_account(store: &dyn Store) {
    let app = new_app(store).await;
    let (_, openid) = new_user(store, app.id).await;
    let (other, _) = new_user(store, app.id).await;
    let other = user_id(store, &other).await;
    let tx = store.begin().await.unwrap();
    let taken = identity(UserRef::Id(other), app.id, &openid);
    assert_conflict(tx, move |tx| {
        Box::pin(async move { tx.insert_identity(&taken, now()).await })
    })
    .await;
    // The same openid in another app is another identity.
    let second = new_app(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity(UserRef::Id(other), second.id, &openid), now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub async fn an_account_may_hold_several_identities_of_one_app(store: &dyn Store) {
    let app = new_app(store).await;
    let (public_id, first) = new_user(store, app.id).await;
    let user = user_id(store, &public_id).await;
    let second = openid();
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(
        &identity(UserRef::Id(user), app.id, &second),
        now() + Duration::seconds(1),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let identities = store.read().identities_of(user).await.unwrap();
    let openids: Vec<_> = identities.iter().map(|i| i.openid.clone()).collect();
    assert_eq!(openids, [first.clone(), second.clone()], "oldest first");

    // The session key is the one of the identity that signed in last.
    let key = store
        .read()
        .session_key(user, app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.expose_secret(), format!("key-of-{second}"));
    let mut tx = store.begin().await.unwrap();
    tx.record_sign_in(
        identities[0].id,
        Some(&SecretString::from("fresh")),
        None,
        now() + Duration::seconds(2),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let key = store
        .read()
        .session_key(user, app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.expose_secret(), "fresh");

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_identity(identities[1].id).await.unwrap());
    assert!(!tx.delete_identity(identities[1].id).await.unwrap());
    assert!(!tx.delete_identity(IdentityId(i64::MAX)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.read().identities_of(user).await.unwrap().len(), 1);
}

pub async fn phone_numbers_are_unique(store: &dyn Store) {
    let national = format!("139{:08}", rand::random::<u32>() % 100_000_000);
    let phone = PhoneNumber::from_parts("86", &national).unwrap();
    let owner = PublicUserId::new_random();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&new_user_row(owner, Some(phone.clone())), now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .read()
            .user_by_phone(&phone)
            .await
            .unwrap()
            .unwrap()
            .public_id,
        owner
    );

    let tx = store.begin().await.unwrap();
    let taken = phone.clone();
    assert_conflict(tx, move |tx| {
        Box::pin(async move {
            tx.insert_user(
                &new_user_row(PublicUserId::new_random(), Some(taken)),
                now(),
            )
            .await
        })
    })
    .await;

    let app = new_app(store).await;
    let (other, _) = new_user(store, app.id).await;
    let other = user_id(store, &other).await;
    let change = ProfileChange {
        phone: Some(Some(phone)),
        ..Default::default()
    };
    let tx = store.begin().await.unwrap();
    assert_conflict(tx, move |tx| {
        Box::pin(async move { tx.update_profile(other, &change, now()).await.map(|_| ()) })
    })
    .await;
}

pub async fn a_refresh_token_is_used_once_and_its_family_revoked_together(store: &dyn Store) {
    let app = new_app(store).await;
    let (public_id, _) = new_user(store, app.id).await;
    let family = uuid::Uuid::new_v4().simple().to_string();
    let hashes = [unique("h"), unique("h")];
    let mut tx = store.begin().await.unwrap();
    for hash in &hashes {
        tx.insert_refresh_token(
            &NewRefreshToken {
                token_hash: hash.clone(),
                family: family.clone(),
                user: UserRef::Public(public_id),
                app_id: Some(app.id),
                expires_at: now() + Duration::days(30),
            },
            now(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let record = store
        .read()
        .refresh_token_by_hash(&hashes[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.family, family);
    assert_eq!(record.app_id, Some(app.id));
    assert_eq!(record.expires_at, now() + Duration::days(30));
    assert_eq!(record.user_id, user_id(store, &public_id).await);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.mark_refresh_token_used(record.id, now()).await.unwrap());
    assert!(!tx.mark_refresh_token_used(record.id, now()).await.unwrap());
    tx.commit().await.unwrap();
    let used = store
        .read()
        .refresh_token_by_hash(&hashes[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.used_at, Some(now()));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.revoke_family(&family, now()).await.unwrap(), 2);
    assert_eq!(tx.revoke_family(&family, now()).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let second = store
        .read()
        .refresh_token_by_hash(&hashes[1])
        .await
        .unwrap()
        .unwrap();
    assert!(second.revoked_at.is_some());
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.mark_refresh_token_used(second.id, now()).await.unwrap(),
        "a revoked token cannot be used"
    );
    tx.rollback().await.unwrap();
}

pub async fn bind_codes_and_oauth_states_are_used_once(store: &dyn Store) {
    let app = new_app(store).await;
    let hash = unique("b");
    let mut tx = store.begin().await.unwrap();
    tx.insert_bind_code(
        &NewBindCode {
            code_hash: hash.clone(),
            app_id: app.id,
            openid: openid(),
            unionid: Some(UnionId::parse(unique("u")).unwrap()),
            session_key: Some(SecretString::from("bind-key")),
            phone: None,
            expires_at: now() + Duration::minutes(5),
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let code = store
        .read()
        .bind_code_by_hash(&hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        code.session_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned()),
        Some("bind-key".to_owned())
    );
    let mut tx = store.begin().await.unwrap();
    assert!(tx.mark_bind_code_used(code.id, now()).await.unwrap());
    assert!(!tx.mark_bind_code_used(code.id, now()).await.unwrap());
    tx.commit().await.unwrap();

    let state = unique("s");
    let mut tx = store.begin().await.unwrap();
    tx.insert_oauth_state(
        &NewOAuthState {
            state_hash: state.clone(),
            app_id: app.id,
            redirect_uri: "https://app.example.com/done".into(),
            callback: "https://app.example.com/cb".into(),
            scope: "snsapi_base".into(),
            expires_at: now() + Duration::minutes(10),
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let record = store
        .read()
        .oauth_state_by_hash(&state)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.callback, "https://app.example.com/cb");
    let mut tx = store.begin().await.unwrap();
    assert!(tx.mark_oauth_state_used(record.id, now()).await.unwrap());
    assert!(!tx.mark_oauth_state_used(record.id, now()).await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn scan_logins_move_from_pending_to_scanned_to_consumed_once(store: &dyn Store) {
    let app = new_app(store).await;
    let login_id = unique("ql_");
    let scene = unique("scene");
    let mut tx = store.begin().await.unwrap();
    tx.insert_qr_login(
        &NewQrLogin {
            login_id: login_id.clone(),
            app_id: app.id,
            scene: scene.clone(),
            ticket: "ticket".into(),
            expires_at: now() + Duration::minutes(5),
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let login = store
        .read()
        .qr_login_by_scene(app.id, &scene)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(login.status, QrLoginStatus::Pending);
    assert_eq!(login.login_id, login_id);

    let scanner = openid();
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.mark_qr_login_consumed(login.id).await.unwrap(),
        "not scanned yet"
    );
    assert!(tx.mark_qr_login_scanned(login.id, &scanner).await.unwrap());
    assert!(!tx.mark_qr_login_scanned(login.id, &openid()).await.unwrap());
    tx.commit().await.unwrap();
    let scanned = store
        .read()
        .qr_login_by_id(&login_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scanned.status, QrLoginStatus::Scanned);
    assert_eq!(scanned.openid, Some(scanner));

    let mut tx = store.begin().await.unwrap();
    assert!(tx.mark_qr_login_consumed(login.id).await.unwrap());
    assert!(!tx.mark_qr_login_consumed(login.id).await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn event_pushes_are_remembered_once(store: &dyn Store) {
    let app = new_app(store).await;
    let key = unique("e");
    let mut tx = store.begin().await.unwrap();
    assert!(tx.remember_event(app.id, &key, now()).await.unwrap());
    tx.record_follower(&FollowerChange {
        app_id: app.id,
        openid: openid(),
        subscribed: true,
        at: now(),
        scene: Some("qrscene_x".into()),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.remember_event(app.id, &key, now()).await.unwrap());
    tx.commit().await.unwrap();
    let other = new_app(store).await;
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.remember_event(other.id, &key, now()).await.unwrap(),
        "keys are per app"
    );
    tx.commit().await.unwrap();
}

pub async fn users_are_found_by_unionid_phone_and_search(store: &dyn Store) {
    let app = new_app(store).await;
    let unionid = UnionId::parse(unique("u")).unwrap();
    let national = format!("137{:08}", rand::random::<u32>() % 100_000_000);
    let phone = PhoneNumber::from_parts("86", &national).unwrap();
    let public_id = PublicUserId::new_random();
    let openid = openid();
    let nickname = unique("Nick");
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(
        &NewUser {
            public_id,
            nickname: Some(wxauth_domain::Nickname::parse(&nickname).unwrap()),
            avatar_url: None,
            phone: Some(phone.clone()),
        },
        now(),
    )
    .await
    .unwrap();
    let mut with_union = identity(UserRef::Public(public_id), app.id, &openid);
    with_union.unionid = Some(unionid.clone());
    tx.insert_identity(&with_union, now()).await.unwrap();
    tx.commit().await.unwrap();

    let mut read = store.read();
    let by_union = read.user_by_unionid(&unionid).await.unwrap().unwrap();
    assert_eq!(by_union.public_id, public_id);
    assert_eq!(by_union.phone.as_ref(), Some(&phone));
    assert_eq!(
        by_union.nickname.as_ref().map(|n| n.as_str()),
        Some(nickname.as_str())
    );

    let search = |text: &str, phone: Option<PhoneNumber>| UserQuery {
        text: Some(text.to_owned()),
        phone,
        status: None,
        offset: 0,
        limit: 10,
    };
    for (what, query) in [
        ("public id", search(&public_id.to_string(), None)),
        ("openid", search(openid.as_str(), None)),
        ("unionid", search(unionid.as_str(), None)),
        ("nickname part", search(&nickname[4..], None)),
        ("phone", search(&national, Some(phone.clone()))),
    ] {
        let (users, total) = read.list_users(&query).await.unwrap();
        assert_eq!(total, 1, "search by {what}");
        assert_eq!(users[0].public_id, public_id, "search by {what}");
    }
    let blocked = UserQuery {
        status: Some(UserStatus::Blocked),
        ..search(openid.as_str(), None)
    };
    assert_eq!(read.list_users(&blocked).await.unwrap().1, 0);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.set_user_status(by_union.id, UserStatus::Blocked, now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(store.read().list_users(&blocked).await.unwrap().1, 1);
}

pub async fn the_audit_log_filters_and_pages_newest_first(store: &dyn Store) {
    let user = PublicUserId::new_random();
    let kind = unique("k");
    let mut tx = store.begin().await.unwrap();
    for i in 0..5 {
        tx.append_audit(&AuditEntry {
            at: now() + Duration::seconds(i),
            kind: kind.clone(),
            success: i % 2 == 0,
            reason: (i % 2 == 1).then(|| "INVALID_CODE".to_owned()),
            app_key: Some("shop".into()),
            user: Some(user),
            actor: None,
            ip: Some("203.0.113.7".into()),
            request_id: Some(format!("r{i}")),
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let query = AuditQuery {
        user: Some(user),
        limit: 2,
        ..Default::default()
    };
    let (entries, total) = store.read().query_audit(&query).await.unwrap();
    assert_eq!(total, 5);
    let ids: Vec<_> = entries
        .iter()
        .map(|e| e.request_id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["r4", "r3"], "newest first, paged");
    assert_eq!(entries[1].reason.as_deref(), Some("INVALID_CODE"));
    let window = AuditQuery {
        kind: Some(kind.clone()),
        since: Some(now() + Duration::seconds(1)),
        until: Some(now() + Duration::seconds(3)),
        limit: 10,
        ..Default::default()
    };
    let (entries, total) = store.read().query_audit(&window).await.unwrap();
    assert_eq!(total, 2, "since is inclusive, until exclusive");
    assert_eq!(entries[0].at, now() + Duration::seconds(2));
}

pub async fn admin_keys_are_revoked_once(store: &dyn Store) {
    let key_id = unique("")[..12].to_owned();
    let mut tx = store.begin().await.unwrap();
    tx.insert_admin_key(&AdminKeyRecord {
        key_id: key_id.clone(),
        name: "ops".into(),
        secret_hash: "hash".into(),
        created_at: now(),
        revoked_at: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let stored = store.read().admin_key(&key_id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash, "hash");
    assert!(
        store
            .read()
            .list_admin_keys()
            .await
            .unwrap()
            .iter()
            .any(|k| k.key_id == key_id)
    );
    let mut tx = store.begin().await.unwrap();
    assert!(tx.revoke_admin_key(&key_id, now()).await.unwrap());
    assert!(!tx.revoke_admin_key(&key_id, now()).await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn deleting_a_user_deletes_their_identities_and_sessions(store: &dyn Store) {
    let app = new_app(store).await;
    let (public_id, openid) = new_user(store, app.id).await;
    let hash = unique("h");
    let mut tx = store.begin().await.unwrap();
    tx.insert_refresh_token(
        &NewRefreshToken {
            token_hash: hash.clone(),
            family: uuid::Uuid::new_v4().simple().to_string(),
            user: UserRef::Public(public_id),
            app_id: None,
            expires_at: now() + Duration::days(1),
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let user = user_id(store, &public_id).await;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_user(user).await.unwrap());
    tx.commit().await.unwrap();
    let mut read = store.read();
    assert!(
        read.identity_with_user(app.id, &openid)
            .await
            .unwrap()
            .is_none()
    );
    assert!(read.refresh_token_by_hash(&hash).await.unwrap().is_none());
    assert!(read.user_by_id(user).await.unwrap().is_none());
}

pub async fn concurrent_transactions_lose_no_write(store: &dyn Store) {
    let app = new_app(store).await;
    let (public_id, _) = new_user(store, app.id).await;
    let hash = unique("h");
    let mut tx = store.begin().await.unwrap();
    tx.insert_refresh_token(
        &NewRefreshToken {
            token_hash: hash.clone(),
            family: uuid::Uuid::new_v4().simple().to_string(),
            user: UserRef::Public(public_id),
            app_id: None,
            expires_at: now() + Duration::days(1),
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let id = store
        .read()
        .refresh_token_by_hash(&hash)
        .await
        .unwrap()
        .unwrap()
        .id;
    // Ten transactions race to use one token and each writes an audit entry: exactly one
    // wins the token, and no entry is lost.
    let kind = unique("race");
    let attempt = |i: i64| {
        let kind = kind.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let won = tx.mark_refresh_token_used(id, now()).await.unwrap();
            tx.append_audit(&AuditEntry {
                at: now() + Duration::milliseconds(i),
                kind,
                success: won,
                reason: None,
                app_key: None,
                user: None,
                actor: None,
                ip: None,
                request_id: None,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
            won
        }
    };
    let winners = futures::future::join_all((0..10).map(attempt))
        .await
        .into_iter()
        .filter(|won| *won)
        .count();
    assert_eq!(winners, 1);
    let query = AuditQuery {
        kind: Some(kind),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(store.read().query_audit(&query).await.unwrap().1, 10);
}

async fn mini_program_scan_logins_keep_their_code_and_move_once(store: &dyn Store) {
    // The app keeps how it draws its code.
    let spec = AppSpec {
        key: unique("c"),
        kind: "mini_program".into(),
        appid: unique("wx"),
        secret: Some(SecretString::from(unique("s"))),
        qr_login: crate::apps::QrLoginSpec {
            page: Some("pages/login/index".into()),
            env_version: Some("trial".into()),
            check_path: Some(false),
        },
        ..Default::default()
    };
    let draft = AppDraft::parse(spec, None, AppSource::Admin).unwrap();
    let mut tx = store.begin().await.unwrap();
    let app = tx.upsert_app(&draft, now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.qr_login, draft.qr_login);

    // An image larger than MySQL's plain blob holds.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(100_000, 7);
    let login = NewMpQrLogin {
        login_hash: unique("lh"),
        scene_hash: unique("sh"),
        app_id: app.id,
        desktop_ip: Some("203.0.113.9".into()),
        desktop_agent: Some("Mozilla/5.0".into()),
        expires_at: now() + Duration::minutes(5),
        image: CodeImage {
            media_type: "image/png".into(),
            bytes: bytes.clone(),
        },
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_mp_qr_login(&login, now()).await.unwrap();
    tx.commit().await.unwrap();
    let same_scene = NewMpQrLogin {
        login_hash: unique("lh"),
        ..login.clone()
    };
    assert_conflict(store.begin().await.unwrap(), |tx| {
        Box::pin(async move { tx.insert_mp_qr_login(&same_scene, now()).await })
    })
    .await;

    let mut read = store.read();
    let found = read
        .mp_qr_login_by_login(&login.login_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.status, MpQrLoginStatus::Pending);
    assert_eq!(found.desktop_agent.as_deref(), Some("Mozilla/5.0"));
    assert_eq!(found.created_at, now());
    assert_eq!(
        read.mp_qr_login_by_scene(&login.scene_hash)
            .await
            .unwrap()
            .map(|l| l.id),
        Some(found.id)
    );
    let image = read
        .mp_qr_login_image(&login.login_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(image.bytes, bytes);
    assert_eq!(image.media_type, "image/png");

    let scan = |openid: &OpenId| MpQrScan {
        id: found.id,
        openid: openid.clone(),
        unionid: None,
        confirm_hash: unique("ch"),
        scanner_ip: Some("198.51.100.1".into()),
    };
    let (scanner, other) = (openid(), openid());
    let at = now() + Duration::seconds(10);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.mark_mp_qr_login_scanned(&scan(&scanner), at)
            .await
            .unwrap()
    );
    assert!(
        !tx.mark_mp_qr_login_scanned(&scan(&other), at)
            .await
            .unwrap(),
        "another scanner"
    );
    let rescan = scan(&scanner);
    assert!(
        tx.mark_mp_qr_login_scanned(&rescan, at).await.unwrap(),
        "the same scanner again"
    );
    assert!(
        tx.move_mp_qr_login(
            found.id,
            MpQrLoginStatus::Scanned,
            MpQrLoginStatus::Confirmed,
            at
        )
        .await
        .unwrap()
    );
    assert!(
        !tx.move_mp_qr_login(
            found.id,
            MpQrLoginStatus::Scanned,
            MpQrLoginStatus::Cancelled,
            at
        )
        .await
        .unwrap(),
        "moved on already"
    );
    tx.commit().await.unwrap();
    let late = now() + Duration::minutes(6);
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.mark_mp_qr_login_scanned(&scan(&scanner), late)
            .await
            .unwrap(),
        "expired"
    );
    tx.rollback().await.unwrap();

    let mut read = store.read();
    let scanned = read
        .mp_qr_login_by_login(&login.login_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scanned.status, MpQrLoginStatus::Confirmed);
    assert_eq!(scanned.openid.as_ref(), Some(&scanner));
    assert_eq!(scanned.confirm_hash, Some(rescan.confirm_hash.clone()));
    let changed = read.mp_qr_logins_changed_since(at, 100_000).await.unwrap();
    assert!(changed.contains(&(login.login_hash.clone(), at)));
    let expired = read.mp_qr_logins_expired(late, 100_000).await.unwrap();
    assert!(expired.iter().any(|l| l.id == found.id));
    assert!(
        !read
            .mp_qr_logins_expired(now(), 100_000)
            .await
            .unwrap()
            .iter()
            .any(|l| l.id == found.id),
        "not expired yet"
    );

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete_mp_qr_logins(&[found.id]).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let mut read = store.read();
    assert!(
        read.mp_qr_login_by_login(&login.login_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        read.mp_qr_login_image(&login.login_hash)
            .await
            .unwrap()
            .is_none()
    );
}

fn redirect_uri(s: &str) -> RegisteredRedirectUri {
    RegisteredRedirectUri::parse("redirectUris", s).unwrap()
}

/// A client with every field set, its apps the given app; its row id is the store's to give.
fn new_oidc_client(app: &App) -> OidcClient {
    OidcClient {
        id: 0,
        client_id: unique("rp"),
        name: "Relying party".into(),
        kind: ClientKind::Confidential,
        secret_hash: Some(unique("sh")),
        redirect_uris: vec![
            redirect_uri("https://rp.example.com/cb"),
            redirect_uri("http://localhost:3000/cb?tenant=1"),
        ],
        post_logout_redirect_uris: vec![redirect_uri("https://rp.example.com/bye")],
        scopes: ScopeSet::all(),
        apps: ClientApps {
            official_account: Some(app.key.clone()),
            website: Some(app.key.clone()),
            mini_program: Some(app.key.clone()),
        },
        first_party: true,
        id_token_alg: None,
        access_token_ttl: 900,
        refresh_token_ttl: 30 * 86_400,
        created_at: now(),
        updated_at: now(),
    }
}

/// Inserts a new client; returns it as stored.
async fn insert_oidc_client(store: &dyn Store, app: &App) -> OidcClient {
    let client = new_oidc_client(app);
    let mut tx = store.begin().await.unwrap();
    tx.insert_oidc_client(&client).await.unwrap();
    tx.commit().await.unwrap();
    store
        .read()
        .oidc_client(&client.client_id)
        .await
        .unwrap()
        .expect("the client was inserted")
}

pub async fn oidc_clients_round_trip(store: &dyn Store) {
    let app = new_app(store).await;
    let client = new_oidc_client(&app);
    let mut tx = store.begin().await.unwrap();
    tx.insert_oidc_client(&client).await.unwrap();
    tx.commit().await.unwrap();

    let mut read = store.read();
    let stored = read
        .oidc_client(&client.client_id)
        .await
        .unwrap()
        .expect("found by client id");
    assert_eq!(
        stored,
        OidcClient {
            id: stored.id,
            ..client.clone()
        },
        "every field reads back as written"
    );
    assert_eq!(
        read.oidc_client_by_id(stored.id).await.unwrap(),
        Some(stored.clone()),
        "found by row id"
    );
    assert!(
        read.list_oidc_clients()
            .await
            .unwrap()
            .iter()
            .any(|c| c == &stored)
    );
    assert!(read.oidc_client(&unique("rp")).await.unwrap().is_none());
    assert!(read.oidc_client_by_id(i64::MAX).await.unwrap().is_none());

    let changed = OidcClient {
        // Neither the client id nor the creation time changes.
        client_id: unique("rp"),
        created_at: now() + Duration::days(1),
        name: "Renamed".into(),
        kind: ClientKind::Public,
        secret_hash: None,
        redirect_uris: vec![redirect_uri("https://rp.example.com/other")],
        post_logout_redirect_uris: Vec::new(),
        scopes: ScopeSet::parse("openid profile").unwrap(),
        apps: ClientApps {
            official_account: None,
            website: None,
            mini_program: Some(app.key.clone()),
        },
        first_party: false,
        id_token_alg: Some("EdDSA".into()),
        access_token_ttl: 300,
        refresh_token_ttl: 86_400,
        updated_at: now() + Duration::seconds(5),
        ..stored.clone()
    };
    let mut tx = store.begin().await.unwrap();
    assert!(tx.update_oidc_client(&changed).await.unwrap());
    let missing = OidcClient {
        id: i64::MAX,
        ..changed.clone()
    };
    assert!(
        !tx.update_oidc_client(&missing).await.unwrap(),
        "no such client"
    );
    tx.commit().await.unwrap();
    let updated = store
        .read()
        .oidc_client_by_id(stored.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        updated,
        OidcClient {
            client_id: stored.client_id.clone(),
            created_at: stored.created_at,
            ..changed.clone()
        }
    );

    let impostor = OidcClient {
        name: "Impostor".into(),
        ..client.clone()
    };
    assert_conflict(store.begin().await.unwrap(), move |tx| {
        Box::pin(async move { tx.insert_oidc_client(&impostor).await })
    })
    .await;
    let kept = store
        .read()
        .oidc_client(&client.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.name, "Renamed", "the first client is untouched");

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_oidc_client(stored.id).await.unwrap());
    assert!(!tx.delete_oidc_client(stored.id).await.unwrap());
    tx.commit().await.unwrap();
    let mut read = store.read();
    assert!(read.oidc_client(&client.client_id).await.unwrap().is_none());
    assert!(
        !read
            .list_oidc_clients()
            .await
            .unwrap()
            .iter()
            .any(|c| c.id == stored.id)
    );
}

pub async fn oidc_codes_and_grants_are_single_use(store: &dyn Store) {
    let app = new_app(store).await;
    let (public_id, _) = new_user(store, app.id).await;
    let user = user_id(store, &public_id).await;
    let client_pk = insert_oidc_client(store, &app).await.id;

    // An authorization request, kept while the user signs in.
    let request_hash = unique("rq");
    let params = AuthorizationParams {
        redirect_uri: "https://rp.example.com/cb".into(),
        scope: ScopeSet::parse("openid profile offline_access").unwrap(),
        state: Some("af0ifjsldkj".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        force_consent: true,
        ui_locales: Some("zh-CN en".into()),
    };
    let request = NewAuthorization {
        request_hash: request_hash.clone(),
        client_pk,
        params: params.clone(),
        method: None,
        expires_at: now() + Duration::minutes(10),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_authorization(&request, now()).await.unwrap();
    tx.commit().await.unwrap();
    let pending = store
        .read()
        .authorization_by_request(&request_hash)
        .await
        .unwrap()
        .expect("found by its request");
    assert_eq!(
        pending,
        AuthorizationRecord {
            id: pending.id,
            client_pk,
            params: params.clone(),
            method: None,
            qr_login_id: None,
            mp_login_id: None,
            expires_at: now() + Duration::minutes(10),
            user_id: None,
            auth_time: None,
            session_hash: None,
            code_hash: None,
            code_expires_at: None,
            redeemed_at: None,
            family: None,
        }
    );
    let again = request.clone();
    assert_conflict(store.begin().await.unwrap(), move |tx| {
        Box::pin(async move { tx.insert_authorization(&again, now()).await })
    })
    .await;

    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.set_authorization_method(pending.id, SignInMethod::WechatOaQr, Some("ql_1"))
            .await
            .unwrap()
    );
    assert!(
        !tx.set_authorization_method(i64::MAX, SignInMethod::WechatOaQr, None)
            .await
            .unwrap()
    );
    assert!(
        tx.set_authorization_mp_login(pending.id, "mql_1")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let chosen = store
        .read()
        .authorization_by_request(&request_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chosen.method, Some(SignInMethod::WechatOaQr));
    assert_eq!(chosen.qr_login_id.as_deref(), Some("ql_1"));
    assert_eq!(chosen.mp_login_id.as_deref(), Some("mql_1"));

    // The sign-in gives it a code, once.
    let session_hash = unique("bs");
    let code_hash = unique("cd");
    let signed_in = AuthorizationGrant {
        user_id: user,
        method: SignInMethod::WechatOaQr,
        auth_time: now() + Duration::seconds(30),
        session_hash: session_hash.clone(),
        code_hash: code_hash.clone(),
        code_expires_at: now() + Duration::seconds(90),
    };
    let second = AuthorizationGrant {
        code_hash: unique("cd"),
        ..signed_in.clone()
    };
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.complete_authorization(pending.id, &signed_in)
            .await
            .unwrap()
    );
    assert!(
        !tx.complete_authorization(pending.id, &second)
            .await
            .unwrap(),
        "the request is single-use"
    );
    tx.commit().await.unwrap();
    let mut read = store.read();
    let completed = read
        .authorization_by_code(&code_hash)
        .await
        .unwrap()
        .expect("found by its code");
    assert_eq!(completed.id, pending.id);
    assert_eq!(completed.params, params);
    assert_eq!(completed.user_id, Some(user));
    assert_eq!(completed.method, Some(SignInMethod::WechatOaQr));
    assert_eq!(completed.auth_time, Some(now() + Duration::seconds(30)));
    assert_eq!(
        completed.session_hash.as_deref(),
        Some(session_hash.as_str())
    );
    assert_eq!(
        completed.code_expires_at,
        Some(now() + Duration::seconds(90))
    );
    assert_eq!(completed.redeemed_at, None);
    assert!(
        read.authorization_by_code(&second.code_hash)
            .await
            .unwrap()
            .is_none()
    );

    // The code is redeemed once.
    let family = unique("f");
    let redeemed_at = now() + Duration::seconds(40);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.redeem_authorization(pending.id, &family, redeemed_at)
            .await
            .unwrap()
    );
    assert!(
        !tx.redeem_authorization(pending.id, &unique("f"), redeemed_at)
            .await
            .unwrap(),
        "the code is single-use"
    );
    tx.commit().await.unwrap();
    let redeemed = store
        .read()
        .authorization_by_code(&code_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(redeemed.family.as_deref(), Some(family.as_str()));
    assert_eq!(redeemed.redeemed_at, Some(redeemed_at));

    // A browser session, revoked once; and one of a user written in the same transaction.
    let newcomer = PublicUserId::new_random();
    let newcomer_session = unique("bs");
    let session = |hash: &str, user: UserRef| NewBrowserSession {
        session_hash: hash.to_owned(),
        user,
        method: SignInMethod::WechatOaQr,
        auth_time: now() + Duration::seconds(30),
        expires_at: now() + Duration::days(7),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_browser_session(&session(&session_hash, UserRef::Public(public_id)), now())
        .await
        .unwrap();
    tx.insert_user(&new_user_row(newcomer, None), now())
        .await
        .unwrap();
    tx.insert_browser_session(
        &session(&newcomer_session, UserRef::Public(newcomer)),
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let taken = session(&session_hash, UserRef::Id(user));
    assert_conflict(store.begin().await.unwrap(), move |tx| {
        Box::pin(async move { tx.insert_browser_session(&taken, now()).await })
    })
    .await;
    let mut read = store.read();
    let browser = read
        .browser_session(&session_hash)
        .await
        .unwrap()
        .expect("found by its hash");
    assert_eq!(
        browser,
        BrowserSessionRecord {
            id: browser.id,
            session_hash: session_hash.clone(),
            user_id: user,
            method: SignInMethod::WechatOaQr,
            auth_time: now() + Duration::seconds(30),
            expires_at: now() + Duration::days(7),
            revoked_at: None,
        }
    );
    assert_eq!(
        read.browser_session(&newcomer_session)
            .await
            .unwrap()
            .map(|s| s.user_id),
        Some(user_id(store, &newcomer).await)
    );
    let revoked_at = now() + Duration::minutes(1);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.revoke_browser_session(&session_hash, revoked_at)
            .await
            .unwrap()
    );
    assert!(
        !tx.revoke_browser_session(&session_hash, revoked_at)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .read()
            .browser_session(&session_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(revoked_at)
    );

    // A consent given twice is one, with the later scope.
    let mut tx = store.begin().await.unwrap();
    tx.put_consent(user, client_pk, ScopeSet::parse("openid").unwrap(), now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let wider = ScopeSet::parse("openid profile phone").unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.put_consent(user, client_pk, wider, now() + Duration::seconds(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let expected = ConsentRecord {
        client_pk,
        scope: wider,
        granted_at: now() + Duration::seconds(1),
    };
    let mut read = store.read();
    assert_eq!(
        read.consents_of(user).await.unwrap(),
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        read.consent(user, client_pk).await.unwrap(),
        Some(expected.clone())
    );
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_consent(user, client_pk).await.unwrap());
    assert!(!tx.delete_consent(user, client_pk).await.unwrap());
    tx.commit().await.unwrap();
    assert!(
        store
            .read()
            .consent(user, client_pk)
            .await
            .unwrap()
            .is_none()
    );

    // Grants: one revoked alone, the others of the user and client together.
    let families = [unique("f"), unique("f"), unique("f")];
    let new_grant = |family: &str| NewOidcGrant {
        family: family.to_owned(),
        client_pk,
        user: UserRef::Public(public_id),
        scope: params.scope,
        method: SignInMethod::WechatOaQr,
        auth_time: now() + Duration::seconds(30),
    };
    let mut tx = store.begin().await.unwrap();
    for family in &families {
        tx.insert_oidc_grant(&new_grant(family), now())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let taken = new_grant(&families[0]);
    assert_conflict(store.begin().await.unwrap(), move |tx| {
        Box::pin(async move { tx.insert_oidc_grant(&taken, now()).await })
    })
    .await;
    assert_eq!(
        store.read().oidc_grant(&families[0]).await.unwrap(),
        Some(OidcGrantRecord {
            family: families[0].clone(),
            client_pk,
            user_id: user,
            scope: params.scope,
            method: SignInMethod::WechatOaQr,
            auth_time: now() + Duration::seconds(30),
            revoked_at: None,
        })
    );
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.revoke_oidc_grant(&families[0], revoked_at)
            .await
            .unwrap()
    );
    assert!(
        !tx.revoke_oidc_grant(&families[0], revoked_at)
            .await
            .unwrap()
    );
    let mut revoked = tx
        .revoke_oidc_grants_of(user, client_pk, revoked_at)
        .await
        .unwrap();
    revoked.sort();
    let mut rest = families[1..].to_vec();
    rest.sort();
    assert_eq!(revoked, rest, "the grants still live");
    assert!(
        tx.revoke_oidc_grants_of(user, client_pk, revoked_at)
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();
    let mut read = store.read();
    for family in &families {
        let grant = read.oidc_grant(family).await.unwrap().unwrap();
        assert_eq!(grant.revoked_at, Some(revoked_at), "{family}");
    }

    // Deleting the user deletes their authorizations, sessions, consents and grants.
    let mut tx = store.begin().await.unwrap();
    tx.put_consent(user, client_pk, wider, now()).await.unwrap();
    assert!(tx.delete_user(user).await.unwrap());
    tx.commit().await.unwrap();
    let mut read = store.read();
    assert!(
        read.authorization_by_request(&request_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(read.browser_session(&session_hash).await.unwrap().is_none());
    assert!(read.consents_of(user).await.unwrap().is_empty());
    for family in &families {
        assert!(read.oidc_grant(family).await.unwrap().is_none(), "{family}");
    }

    // Deleting the client deletes what is left of it.
    let other = NewAuthorization {
        request_hash: unique("rq"),
        ..request
    };
    let newcomer = user_id(store, &newcomer).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_authorization(&other, now()).await.unwrap();
    tx.put_consent(newcomer, client_pk, wider, now())
        .await
        .unwrap();
    tx.insert_oidc_grant(
        &NewOidcGrant {
            user: UserRef::Id(newcomer),
            ..new_grant(&unique("f"))
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_oidc_client(client_pk).await.unwrap());
    tx.commit().await.unwrap();
    let mut read = store.read();
    assert!(
        read.authorization_by_request(&other.request_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(read.consents_of(newcomer).await.unwrap().is_empty());
    assert!(read.oidc_client_by_id(client_pk).await.unwrap().is_none());
}
