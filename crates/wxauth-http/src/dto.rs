//! Response bodies shared by several routes. Field names are camelCase; timestamps RFC 3339.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use wxauth_core::account::{Account, IdentityView};
use wxauth_core::{LoginOutcome, SignedIn};
use wxauth_domain::User;

/// An account as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "0193a5b2-6f1c-7c3e-9a51-3f1e2d4c5b6a",
    "nickname": "Band",
    "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/abc/132",
    "phone": "+8613800138000",
    "blocked": false,
    "createdAt": "2026-11-23T08:00:00Z",
    "updatedAt": "2026-11-23T08:00:00Z"
}))]
pub struct UserDto {
    /// The stable public id (the access token's `sub`).
    pub id: String,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    /// E.164, verified by WeChat.
    pub phone: Option<String>,
    pub blocked: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.public_id.to_string(),
            nickname: u.nickname.as_ref().map(|n| n.as_str().to_owned()),
            avatar_url: u.avatar_url.as_ref().map(|a| a.as_str().to_owned()),
            phone: u.phone.as_ref().map(|p| p.e164()),
            blocked: u.is_blocked(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// How one WeChat app knows the user. Never the session key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": 17, "app": "demo-mp", "kind": "mini_program", "openid": "oDEMO_alice", "unionid": "uDEMO_alice",
    "createdAt": "2026-11-23T08:00:00Z", "lastLoginAt": "2026-11-23T09:00:00Z"
}))]
pub struct IdentityDto {
    /// Addresses this identity (`DELETE /api/v1/me/identities/{id}`): an account may hold
    /// several identities of one app.
    pub id: i64,
    pub app: String,
    /// `mini_program`, `official_account` or `website`.
    pub kind: String,
    pub openid: String,
    pub unionid: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<OffsetDateTime>,
}

impl From<&IdentityView> for IdentityDto {
    fn from(i: &IdentityView) -> Self {
        Self {
            id: i.id.0,
            app: i.app.to_string(),
            kind: i.app_kind.as_str().to_owned(),
            openid: i.openid.to_string(),
            unionid: i.unionid.as_ref().map(|u| u.to_string()),
            created_at: i.created_at,
            last_login_at: i.last_login_at,
        }
    }
}

/// A user with their WeChat identities.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDto {
    pub user: UserDto,
    pub identities: Vec<IdentityDto>,
}

impl From<&Account> for AccountDto {
    fn from(a: &Account) -> Self {
        Self {
            user: UserDto::from(&a.user),
            identities: a.identities.iter().map(IdentityDto::from).collect(),
        }
    }
}

/// A signed-in session: a short-lived access token and a single-use refresh token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "status": "signed_in",
    "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTkzYTViMiJ9.c2ln",
    "tokenType": "Bearer",
    "expiresIn": 900,
    "refreshToken": "rt_019ab0c3f2a07c1e9d42.Zb3Xy1kM0u3o9mQ2bq6hVYc3aJ8hC0yTQy4n6QyB2xE",
    "refreshExpiresIn": 2592000,
    "isNewUser": true,
    "user": {
        "id": "0193a5b2-6f1c-7c3e-9a51-3f1e2d4c5b6a", "nickname": null, "avatarUrl": null,
        "phone": null, "blocked": false,
        "createdAt": "2026-11-23T08:00:00Z", "updatedAt": "2026-11-23T08:00:00Z"
    }
}))]
pub struct TokenResponse {
    /// Always `signed_in`.
    pub status: &'static str,
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single-use: `POST /api/v1/auth/refresh` returns the next one. Keep it secret.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    pub user: UserDto,
    pub is_new_user: bool,
}

impl From<&SignedIn> for TokenResponse {
    fn from(s: &SignedIn) -> Self {
        Self {
            status: "signed_in",
            access_token: s.tokens.access_token.clone(),
            token_type: "Bearer",
            expires_in: s.tokens.expires_in,
            refresh_token: s.tokens.refresh_token.expose().to_owned(),
            refresh_expires_in: s.tokens.refresh_expires_in,
            user: UserDto::from(&s.user),
            is_new_user: s.is_new_user,
        }
    }
}

/// The app registers users by bind code and this WeChat user has no account yet.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "bind_required", "bindCode": "bc_Vx2m3K9pQ0rS7tU1wY4zA6bC8dE0", "expiresIn": 300}))]
pub struct BindRequiredResponse {
    /// Always `bind_required`.
    pub status: &'static str,
    /// Single-use; redeem with `POST /api/v1/auth/register` or `POST /api/v1/me/wechat`.
    pub bind_code: String,
    pub expires_in: i64,
}

/// The result of a WeChat sign-in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    SignedIn(TokenResponse),
    BindRequired(BindRequiredResponse),
}

impl From<&LoginOutcome> for LoginResponse {
    fn from(o: &LoginOutcome) -> Self {
        match o {
            LoginOutcome::SignedIn(s) => Self::SignedIn(TokenResponse::from(s.as_ref())),
            LoginOutcome::BindRequired {
                bind_code,
                expires_in,
            } => Self::BindRequired(BindRequiredResponse {
                status: "bind_required",
                bind_code: bind_code.clone(),
                expires_in: *expires_in,
            }),
        }
    }
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// An empty JSON object, for `details`.
pub fn empty() -> serde_json::Value {
    json!({})
}
