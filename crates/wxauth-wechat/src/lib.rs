//! A WeChat server-API client: Mini Program login (`jscode2session`), stable access tokens with a
//! shared cache, phone numbers, session-key checks, Official Account OAuth2 and website login,
//! parametric QR codes, follower checks, Mini Program codes, and the event-push cryptography.
//!
//! Its one job is speaking WeChat's protocol correctly. Among wxauth's crates it depends on
//! `wxauth-domain` only (for [`WechatAppId`], [`OpenId`] and [`UnionId`]), so other services can
//! use it on its own; it must never depend on `wxauth-core` or any server crate.
//!
//! # What it handles for you
//!
//! - Success without `errcode` and errors with HTTP 200; JSON read whatever the content type
//!   (`jscode2session` says `text/plain`); unknown fields ignored.
//! - errcode -1 (busy) retried once after a short backoff; timeouts, transport failures and
//!   unreadable bodies as distinct [`WechatError`] variants; every call reported to a
//!   [`CallObserver`] for metrics.
//! - Query parameters always URL-encoded; secrets ([`SecretString`]) never in `Debug`, logs or
//!   errors; tracing events carry the endpoint, errcode and elapsed time, never the query.
//! - One access token per app shared across callers and instances ([`token`]), refreshed before
//!   expiry, replaced and retried once when WeChat refuses it.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use wxauth_domain::WechatAppId;
//! use wxauth_wechat::token::AccessTokenManager;
//! use wxauth_wechat::{Credentials, Endpoints, WechatClient};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = WechatClient::builder().timeout(Duration::from_secs(5)).build()?;
//! let app = client.app(
//!     Credentials::new(WechatAppId::parse("wx1234567890abcdef")?, "the-app-secret"),
//!     Endpoints::default(),
//! );
//!
//! // Mini Program login: the code from `wx.login`.
//! match app.code_to_session("0a1b2c").await {
//!     Ok(session) => println!("openid {}", session.openid),
//!     Err(e) if e.is_code_used() => println!("the client sent a used code"),
//!     Err(e) => return Err(e.into()),
//! }
//!
//! // Calls that need the app's access token go through one shared manager.
//! let tokens = AccessTokenManager::new(app.clone());
//! let phone = tokens
//!     .call(|token| {
//!         let app = app.clone();
//!         async move { app.phone_number(&token, "phone-code", None).await }
//!     })
//!     .await?;
//! println!("{}", phone.pure_phone_number);
//! # Ok(())
//! # }
//! ```

pub mod api;
mod client;
mod config;
pub mod crypto;
pub mod errcode;
mod error;
mod lenient;
mod observer;
pub mod token;
mod transport;

pub use api::access_token::AccessToken;
pub use api::follower::FollowerInfo;
pub use api::oauth::{OAuthToken, OAuthUserInfo};
pub use api::oauth_url::OAuthScope;
pub use api::phone::{PhoneInfo, PhoneWatermark};
pub use api::qrcode::{QrCodeError, QrCodeRequest, QrScene, QrTicket};
pub use api::session::Code2Session;
pub use api::wxacode::{WxaCodeRequest, WxaEnvVersion};
pub use client::{AppClient, WechatClient, WechatClientBuilder};
pub use config::{Credentials, Endpoints};
pub use crypto::CryptoError;
pub use error::WechatError;
pub use observer::{CallObserver, CallOutcome, NoopObserver, TokenRefresh};

pub use secrecy::{ExposeSecret, SecretString};

/// Compiles the README's example as a doctest, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
/// Re-exported: endpoints and authorize URLs are `url::Url`s.
pub use url;
pub use wxauth_domain::{OpenId, UnionId, WechatAppId};
