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
pub mod phone;
pub mod profile;
pub mod redirect;
pub mod user;

pub use app::{App, AppKind, RegistrationPolicy};
pub use error::ValidationError;
pub use ids::{AppKey, OpenId, PublicUserId, UnionId, UserId, WechatAppId};
pub use phone::PhoneNumber;
pub use profile::{AvatarUrl, Nickname};
pub use redirect::{RedirectAllowList, RedirectRule};
pub use user::{User, UserStatus, WechatIdentity};

/// Every instant in wxauth is UTC.
pub type Timestamp = time::OffsetDateTime;
