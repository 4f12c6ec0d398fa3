//! The OpenID provider in the service's own API: relying parties for admins, consents for
//! users. These speak the service's envelope, like the rest of `/api/v1`.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use wxauth_core::oidc::clients::ClientSpec;
use wxauth_domain::OidcClient;

use super::Result;
use crate::error::ErrorBody;
use crate::extract::{Admin, Auth, Ctx};
use crate::json::Json;
use crate::state::HttpState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "Grafana",
    "type": "confidential",
    "redirectUris": ["https://grafana.example.com/login/generic_oauth"],
    "postLogoutRedirectUris": ["https://grafana.example.com/login"],
    "scopes": "openid profile offline_access",
    "officialAccount": "oa",
    "website": "web",
    "firstParty": true
}))]
pub struct ClientBody {
    pub name: String,
    /// `confidential` (default) or `public` (PKCE, no secret).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Compared exactly. https, or http to localhost / 127.0.0.1.
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Space-separated; default `openid profile phone offline_access`.
    pub scopes: Option<String>,
    /// The Official Account: sign-in inside WeChat and the follow-QR scan on the desktop.
    pub official_account: Option<String>,
    /// The website app: the desktop QR page.
    pub website: Option<String>,
    /// The Mini Program: token exchange of a `wx.login` code.
    pub mini_program: Option<String>,
    /// No consent page.
    #[serde(default)]
    pub first_party: bool,
    /// The ID tokens' algorithm (`RS256`, the default, or `ES256` / `EdDSA` when the provider
    /// has such a key).
    pub id_token_signed_response_alg: Option<String>,
    /// Seconds (60 to 86400); the ID token lives as long.
    pub access_token_ttl: Option<i64>,
    /// Seconds (3600 to 31536000).
    pub refresh_token_ttl: Option<i64>,
}

impl ClientBody {
    fn spec(self) -> ClientSpec {
        ClientSpec {
            name: self.name,
            kind: self.kind,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            scopes: self.scopes,
            official_account: self.official_account,
            website: self.website,
            mini_program: self.mini_program,
            first_party: self.first_party,
            id_token_alg: self.id_token_signed_response_alg,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDto {
    pub client_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: String,
    pub official_account: Option<String>,
    pub website: Option<String>,
    pub mini_program: Option<String>,
    pub first_party: bool,
    pub id_token_signed_response_alg: String,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Only in the answer that creates the client or rotates its secret: store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl From<&OidcClient> for ClientDto {
    fn from(c: &OidcClient) -> Self {
        let uris = |list: &[wxauth_domain::RegisteredRedirectUri]| {
            list.iter().map(|u| u.as_str().to_owned()).collect()
        };
        Self {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            kind: c.kind.as_str(),
            redirect_uris: uris(&c.redirect_uris),
            post_logout_redirect_uris: uris(&c.post_logout_redirect_uris),
            scopes: c.scopes.to_string(),
            official_account: c
                .apps
                .official_account
                .as_ref()
                .map(|k| k.as_str().to_owned()),
            website: c.apps.website.as_ref().map(|k| k.as_str().to_owned()),
            mini_program: c.apps.mini_program.as_ref().map(|k| k.as_str().to_owned()),
            first_party: c.first_party,
            id_token_signed_response_alg: c.id_token_alg.clone().unwrap_or_else(|| "RS256".into()),
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            client_secret: None,
        }
    }
}

/// Every OpenID client.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    responses(
        (status = 200, description = "The clients (without secrets)", body = Vec<ClientDto>),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
#[get("/api/v1/admin/oidc/clients")]
pub async fn list_clients(state: web::Data<HttpState>, _admin: Admin) -> Result<HttpResponse> {
    let clients = state.wxauth.admin_list_oidc_clients().await?;
    Ok(HttpResponse::Ok().json(clients.iter().map(ClientDto::from).collect::<Vec<_>>()))
}

/// Register an OpenID client. A confidential client's secret is in this answer only.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    request_body = ClientBody,
    responses(
        (status = 201, description = "Created, with `clientSecret` for confidential clients", body = ClientDto),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
#[post("/api/v1/admin/oidc/clients")]
pub async fn create_client(
    state: web::Data<HttpState>,
    admin: Admin,
    body: Json<ClientBody>,
) -> Result<HttpResponse> {
    let created = state
        .wxauth
        .admin_create_oidc_client(admin.context(), body.into_inner().spec())
        .await?;
    let mut dto = ClientDto::from(&created.client);
    dto.client_secret = created.secret.map(|s| s.expose().to_owned());
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(dto))
}

/// One OpenID client.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("clientId" = String, Path)),
    responses(
        (status = 200, description = "The client", body = ClientDto),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[get("/api/v1/admin/oidc/clients/{clientId}")]
pub async fn get_client(
    state: web::Data<HttpState>,
    _admin: Admin,
    client_id: web::Path<String>,
) -> Result<HttpResponse> {
    let client = state.wxauth.admin_oidc_client(&client_id).await?;
    Ok(HttpResponse::Ok().json(ClientDto::from(&client)))
}

/// Replace an OpenID client's settings (its id and secret stay).
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("clientId" = String, Path)),
    request_body = ClientBody,
    responses(
        (status = 200, description = "The client", body = ClientDto),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[put("/api/v1/admin/oidc/clients/{clientId}")]
pub async fn put_client(
    state: web::Data<HttpState>,
    admin: Admin,
    client_id: web::Path<String>,
    body: Json<ClientBody>,
) -> Result<HttpResponse> {
    let client = state
        .wxauth
        .admin_update_oidc_client(admin.context(), &client_id, body.into_inner().spec())
        .await?;
    Ok(HttpResponse::Ok().json(ClientDto::from(&client)))
}

/// Delete an OpenID client, with its grants and consents.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("clientId" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[delete("/api/v1/admin/oidc/clients/{clientId}")]
pub async fn delete_client(
    state: web::Data<HttpState>,
    admin: Admin,
    client_id: web::Path<String>,
) -> Result<HttpResponse> {
    state
        .wxauth
        .admin_delete_oidc_client(admin.context(), &client_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a new secret for a confidential client; the old one stops working at once.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("clientId" = String, Path)),
    responses(
        (status = 200, description = "The client with its new `clientSecret`", body = ClientDto),
        (status = 400, description = "VALIDATION_ERROR: public clients have no secret", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[post("/api/v1/admin/oidc/clients/{clientId}/secret")]
pub async fn rotate_client_secret(
    state: web::Data<HttpState>,
    admin: Admin,
    client_id: web::Path<String>,
) -> Result<HttpResponse> {
    let secret = state
        .wxauth
        .admin_rotate_oidc_client_secret(admin.context(), &client_id)
        .await?;
    let client = state.wxauth.admin_oidc_client(&client_id).await?;
    let mut dto = ClientDto::from(&client);
    dto.client_secret = Some(secret.expose().to_owned());
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(dto))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentDto {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: String,
}

/// The applications the caller allowed to receive their data.
#[utoipa::path(tag = "Account", security(("bearer" = [])),
    responses(
        (status = 200, description = "The consents", body = Vec<ConsentDto>),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
#[get("/api/v1/me/consents")]
pub async fn my_consents(state: web::Data<HttpState>, auth: Auth) -> Result<HttpResponse> {
    let consents = state.wxauth.my_consents(&auth.0).await?;
    Ok(HttpResponse::Ok().json(
        consents
            .into_iter()
            .map(|c| ConsentDto {
                client_id: c.client_id,
                client_name: c.client_name,
                scope: c.scope.to_string(),
                granted_at: rfc3339(c.granted_at),
            })
            .collect::<Vec<_>>(),
    ))
}

/// Withdraw every consent: each client's grants are revoked and its next request asks again.
#[utoipa::path(tag = "Account", security(("bearer" = [])),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
#[delete("/api/v1/me/consents")]
pub async fn withdraw_consents(
    state: web::Data<HttpState>,
    ctx: Ctx,
    auth: Auth,
) -> Result<HttpResponse> {
    state
        .wxauth
        .withdraw_consent(&ctx.context, &auth.0, None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Withdraw the consent to one client, revoking its grants.
#[utoipa::path(tag = "Account", security(("bearer" = [])),
    params(("clientId" = String, Path)),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 404, description = "NOT_FOUND: no such client or no consent to it", body = ErrorBody),
    ))]
#[delete("/api/v1/me/consents/{clientId}")]
pub async fn withdraw_consent(
    state: web::Data<HttpState>,
    ctx: Ctx,
    auth: Auth,
    client_id: web::Path<String>,
) -> Result<HttpResponse> {
    state
        .wxauth
        .withdraw_consent(&ctx.context, &auth.0, Some(&client_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
