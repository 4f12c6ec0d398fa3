//! The repository ports of `wxauth-core`, implemented for [`crate::store::Conn`].

mod admin_keys;
mod apps;
mod audit;
mod bind_codes;
mod mp_qr_logins;
mod oauth_states;
mod official;
mod oidc;
mod sessions;
pub(crate) mod users;
