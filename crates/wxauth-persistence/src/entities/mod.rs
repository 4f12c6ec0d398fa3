//! sea-orm entities, one per table. The schema itself is defined by the `migration` crate;
//! these mirror it.

pub mod admin_keys;
pub mod apps;
pub mod audit_log;
pub mod bind_codes;
pub mod mp_qr_login_images;
pub mod mp_qr_logins;
pub mod oauth_states;
pub mod official_followers;
pub mod oidc_authorizations;
pub mod oidc_browser_sessions;
pub mod oidc_clients;
pub mod oidc_consents;
pub mod oidc_grants;
pub mod qr_logins;
pub mod refresh_tokens;
pub mod users;
pub mod wechat_access_tokens;
pub mod wechat_events;
pub mod wechat_identities;
