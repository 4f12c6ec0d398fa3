//! wxauth's domain: the values every other crate speaks in.
//!
//! Ids, users and their WeChat identities, apps and their policies, and the validated values
//! (nickname, avatar URL, phone number, redirect rules) that are parsed once at the edge and
//! trusted afterwards ("parse, don't validate").
//!
//! This crate does no I/O and must never depend on a database driver, an HTTP client or an
//! HTTP server: a CI check (`cargo tree -i`) keeps sea-orm, reqwest and actix-web out of it.

pub mod app;
pub mod error;
pub mod ids;
pub mod oidc;
pub mod phone;
pub mod profile;
pub mod redirect;
pub mod secret;
pub mod user;
pub mod wxa_code;

pub use app::{App, AppEndpoints, AppKind, AppName, BaseUrl, EncodingAesKey, RegistrationPolicy};
pub use error::ValidationError;
pub use ids::{AppId, AppKey, IdentityId, OpenId, PublicUserId, UnionId, UserId, WechatAppId};
pub use oidc::{
    ClientApps, ClientKind, OidcClient, RegisteredRedirectUri, Scope, ScopeSet, SignInMethod,
};
pub use phone::PhoneNumber;
pub use profile::{AvatarUrl, Nickname};
pub use redirect::{RedirectAllowList, RedirectRule};
/// Re-exported: apps hold their secrets as `secrecy::SecretString`s.
pub use secrecy;
/// Re-exported: redirect rules and base URLs hand out `url::Url`s.
pub use url;
pub use user::{User, UserStatus};
pub use wxa_code::{MiniProgramCode, MiniProgramEnv, MiniProgramPage};

/// Every instant in wxauth is UTC.
pub type Timestamp = time::OffsetDateTime;
