//! Test support, for this crate's tests and other crates' (feature `testing`): in-memory fakes
//! of every port, a [`Harness`] of use cases over them, and the store [`contract`] every store
//! adapter must pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod contract;
mod store;
mod wechat;

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use wxauth_domain::{AppKey, AppKind, AppName, RegistrationPolicy, Timestamp, WechatAppId};

use crate::apps::{AppDraft, AppSource};
use crate::ports::{ManualClock, SignInOutcome, Telemetry, Unlimited};

pub use store::{FakeHandle, FakeMpQrLogin, FakeStore, State};
pub use wechat::{FakeCrypto, FakeProviderSigner, FakeSigner, FakeWechat};

/// Telemetry that remembers what it was told.
#[derive(Debug, Default)]
pub struct RecordedTelemetry(pub Mutex<Vec<(String, SignInOutcome)>>);

impl Telemetry for RecordedTelemetry {
    fn sign_in(&self, app: &str, outcome: SignInOutcome) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((app.to_owned(), outcome));
    }
}

/// A service with one Mini Program (`mp`), a second one (`mp2`) and an Official Account (`oa`).
pub struct Harness {
    pub wxauth: crate::Wxauth,
    pub store: FakeStore,
    pub wechat: Arc<FakeWechat>,
    pub clock: Arc<ManualClock>,
    pub telemetry: Arc<RecordedTelemetry>,
}

pub fn t0() -> Timestamp {
    time::macros::datetime!(2026-11-23 08:00 UTC)
}

impl Harness {
    pub async fn new(policy: RegistrationPolicy) -> Harness {
        let store = FakeStore::default();
        let telemetry = Arc::new(RecordedTelemetry::default());
        let wechat = Arc::new(FakeWechat::default());
        let clock = Arc::new(ManualClock::new(t0()));
        let wxauth = crate::Wxauth::new(
            crate::Ports {
                store: Arc::new(store.clone()),
                wechat: wechat.clone(),
                crypto: Arc::new(FakeCrypto),
                signer: Arc::new(FakeSigner),
                clock: clock.clone(),
                limiter: Arc::new(Unlimited),
                telemetry: telemetry.clone(),
            },
            crate::Settings {
                default_app: Some(AppKey::parse("mp").unwrap()),
                ..Default::default()
            },
        );
        for (key, kind, policy) in [
            ("mp", AppKind::MiniProgram, policy),
            ("mp2", AppKind::MiniProgram, RegistrationPolicy::Open),
            ("oa", AppKind::OfficialAccount, RegistrationPolicy::Open),
        ] {
            wxauth
                .apps()
                .upsert(&AppDraft {
                    key: AppKey::parse(key).unwrap(),
                    kind,
                    name: AppName::parse(key).unwrap(),
                    appid: WechatAppId::parse(format!("wx{key}")).unwrap(),
                    secret: SecretString::from("s"),
                    registration: policy,
                    redirect_allow_list: wxauth_domain::RedirectAllowList::parse_all(&[
                        "https://app.example.com/",
                    ])
                    .unwrap(),
                    event_token: None,
                    encoding_aes_key: None,
                    endpoints: Default::default(),
                    qr_login: Default::default(),
                    enabled: true,
                    source: AppSource::Config,
                })
                .await
                .unwrap();
        }
        Harness {
            wxauth,
            store,
            wechat,
            clock,
            telemetry,
        }
    }

    /// [`Harness::new`], as an OpenID provider (issuer `https://id.example.com`).
    pub async fn oidc(policy: RegistrationPolicy) -> Harness {
        let Harness {
            wxauth,
            store,
            wechat,
            clock,
            telemetry,
        } = Harness::new(policy).await;
        let wxauth = wxauth.with_oidc(crate::oidc::OidcProvider {
            signer: Arc::new(FakeProviderSigner),
            settings: crate::oidc::OidcSettings::new("https://id.example.com"),
        });
        Harness {
            wxauth,
            store,
            wechat,
            clock,
            telemetry,
        }
    }

    /// Another instance of the service on the same store, WeChat and clock.
    pub fn sibling(&self) -> crate::Wxauth {
        crate::Wxauth::new(
            crate::Ports {
                store: Arc::new(self.store.clone()),
                wechat: self.wechat.clone(),
                crypto: Arc::new(FakeCrypto),
                signer: Arc::new(FakeSigner),
                clock: self.clock.clone(),
                limiter: Arc::new(Unlimited),
                telemetry: self.telemetry.clone(),
            },
            crate::Settings {
                default_app: Some(AppKey::parse("mp").unwrap()),
                ..Default::default()
            },
        )
    }

    pub fn ctx(&self) -> crate::RequestContext {
        crate::RequestContext {
            ip: Some(std::net::IpAddr::from([203, 0, 113, 7])),
            request_id: Some("req-1".into()),
            actor: None,
        }
    }
}
