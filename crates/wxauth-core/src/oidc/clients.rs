//! Relying parties: created, changed and removed by an admin; authenticated at the token,
//! introspection and revocation endpoints.
//!
//! The client secret is generated here (256 random bits), shown once, and stored as its
//! SHA-256; authentication compares digests in constant time.

use std::fmt;

use subtle::ConstantTimeEq;
use wxauth_domain::{
    AppKey, AppKind, ClientApps, ClientKind, OidcClient, RegisteredRedirectUri, ScopeSet,
    ValidationError,
};

use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::secrets::{random_token, token_hash};
use crate::service::{RequestContext, Wxauth, finish};

use super::OAuthError;

/// A client secret as handed to the admin, once. Redacted from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([REDACTED])")
    }
}

/// A client as an admin describes it.
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    pub name: String,
    /// `confidential` (default) or `public`.
    pub kind: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Space-separated; default `openid profile phone offline_access`.
    pub scopes: Option<String>,
    pub official_account: Option<String>,
    pub website: Option<String>,
    pub mini_program: Option<String>,
    pub first_party: bool,
    /// The ID tokens' JWS algorithm (`id_token_signed_response_alg`): one the provider has a
    /// key for; RS256 when unset.
    pub id_token_alg: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
}

/// A client just created: the only time its secret is visible.
#[derive(Debug, Clone)]
pub struct CreatedClient {
    pub client: OidcClient,
    /// Confidential clients only.
    pub secret: Option<ClientSecret>,
}

/// How a request at the token endpoint (or introspection, revocation) authenticates its client
/// (RFC 6749 §2.3). A request may use one method only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth<'a> {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic { id: &'a str, secret: &'a str },
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post { id: &'a str, secret: &'a str },
    /// `client_id` alone: public clients (`none`).
    None { id: &'a str },
    /// Nothing identifies the client.
    Missing,
}

const MAX_REDIRECT_URIS: usize = 20;
const DEFAULT_SCOPES: &str = "openid profile phone offline_access";
const ACCESS_TTL: std::ops::RangeInclusive<i64> = 60..=86_400;
const REFRESH_TTL: std::ops::RangeInclusive<i64> = 3_600..=31_536_000;

fn redirect_list(field: &'static str, uris: &[String]) -> CoreResult<Vec<RegisteredRedirectUri>> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(CoreError::validation(field, "at most 20 entries"));
    }
    let mut list = Vec::with_capacity(uris.len());
    for uri in uris {
        let uri = RegisteredRedirectUri::parse(field, uri)?;
        if !list.contains(&uri) {
            list.push(uri);
        }
    }
    Ok(list)
}

impl Wxauth {
    /// Checks a spec against the apps it names, into the client it describes (with `base`'s
    /// identity, secret and creation time).
    async fn client_from_spec(&self, spec: ClientSpec, base: OidcClient) -> CoreResult<OidcClient> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return Err(CoreError::validation("name", "must be 1 to 128 characters"));
        }
        let kind = match spec.kind.as_deref() {
            None => base.kind,
            Some(k) => ClientKind::parse(k)?,
        };
        let redirect_uris = redirect_list("redirectUris", &spec.redirect_uris)?;
        if redirect_uris.is_empty() {
            return Err(CoreError::validation(
                "redirectUris",
                "at least one is required",
            ));
        }
        let post_logout_redirect_uris =
            redirect_list("postLogoutRedirectUris", &spec.post_logout_redirect_uris)?;
        let scopes = ScopeSet::parse(spec.scopes.as_deref().unwrap_or(DEFAULT_SCOPES))?;
        if !scopes.contains(wxauth_domain::Scope::OpenId) {
            return Err(CoreError::validation("scopes", "must include openid"));
        }
        let apps = ClientApps {
            official_account: self
                .client_app(
                    "officialAccount",
                    spec.official_account,
                    AppKind::OfficialAccount,
                )
                .await?,
            website: self
                .client_app("website", spec.website, AppKind::Website)
                .await?,
            mini_program: self
                .client_app("miniProgram", spec.mini_program, AppKind::MiniProgram)
                .await?,
        };
        if apps.is_empty() {
            return Err(CoreError::validation(
                "officialAccount",
                "name at least one WeChat app (officialAccount, website or miniProgram)",
            ));
        }
        let access_token_ttl = spec
            .access_token_ttl
            .unwrap_or(self.settings.access_token_ttl.whole_seconds());
        if !ACCESS_TTL.contains(&access_token_ttl) {
            return Err(CoreError::validation(
                "accessTokenTtl",
                "must be 60 to 86400 seconds",
            ));
        }
        let refresh_token_ttl = spec
            .refresh_token_ttl
            .unwrap_or(self.settings.refresh_token_ttl.whole_seconds());
        if !REFRESH_TTL.contains(&refresh_token_ttl) {
            return Err(CoreError::validation(
                "refreshTokenTtl",
                "must be 3600 to 31536000 seconds",
            ));
        }
        let id_token_alg = match spec.id_token_alg.filter(|a| !a.is_empty()) {
            None => None,
            Some(alg) => {
                let known = self
                    .oidc
                    .as_ref()
                    .map_or(vec!["RS256", "ES256", "EdDSA"], |p| p.signer.algorithms());
                let Some(alg) = known.into_iter().find(|k| *k == alg) else {
                    return Err(CoreError::validation(
                        "idTokenSignedResponseAlg",
                        "must be an algorithm the provider has a signing key for",
                    ));
                };
                Some(alg.to_owned())
            }
        };
        let secret_hash = match kind {
            ClientKind::Public => None,
            ClientKind::Confidential => base.secret_hash,
        };
        Ok(OidcClient {
            name: name.to_owned(),
            kind,
            secret_hash,
            redirect_uris,
            post_logout_redirect_uris,
            scopes,
            apps,
            first_party: spec.first_party,
            id_token_alg,
            access_token_ttl,
            refresh_token_ttl,
            updated_at: self.now(),
            ..base
        })
    }

    async fn client_app(
        &self,
        field: &'static str,
        key: Option<String>,
        kind: AppKind,
    ) -> CoreResult<Option<AppKey>> {
        let Some(key) = key.filter(|k| !k.trim().is_empty()) else {
            return Ok(None);
        };
        let app = self.apps.get(key.trim()).await.map_err(|e| match e {
            CoreError::AppNotFound(_) => {
                CoreError::Validation(ValidationError::new(field, "no such app"))
            }
            other => other,
        })?;
        if app.kind != kind {
            return Err(CoreError::Validation(ValidationError::new(
                field,
                format!("must name a {kind} app"),
            )));
        }
        Ok(Some(app.key.clone()))
    }

    pub async fn admin_create_oidc_client(
        &self,
        ctx: &RequestContext,
        spec: ClientSpec,
    ) -> CoreResult<CreatedClient> {
        let now = self.now();
        let kind = match spec.kind.as_deref() {
            None => ClientKind::Confidential,
            Some(k) => ClientKind::parse(k)?,
        };
        let secret = (kind == ClientKind::Confidential).then(new_secret);
        let base = OidcClient {
            id: 0,
            client_id: random_token("client_", 12),
            name: String::new(),
            kind,
            secret_hash: secret.as_ref().map(|s| token_hash(s.expose())),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            scopes: ScopeSet::default(),
            apps: ClientApps::default(),
            first_party: false,
            id_token_alg: None,
            access_token_ttl: 0,
            refresh_token_ttl: 0,
            created_at: now,
            updated_at: now,
        };
        let client = self.client_from_spec(spec, base).await?;
        let mut tx = self.store.begin().await?;
        let result = async {
            tx.insert_oidc_client(&client).await?;
            let event = admin_event(kind::ADMIN_OIDC_CLIENT_CREATE, &client.client_id);
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        let client = self.admin_oidc_client(&client.client_id).await?;
        Ok(CreatedClient { client, secret })
    }

    pub async fn admin_update_oidc_client(
        &self,
        ctx: &RequestContext,
        client_id: &str,
        spec: ClientSpec,
    ) -> CoreResult<OidcClient> {
        let current = self.admin_oidc_client(client_id).await?;
        let had_secret = current.secret_hash.is_some();
        let mut client = self.client_from_spec(spec, current).await?;
        // A public client turned confidential needs a secret: the admin rotates one in.
        if client.kind == ClientKind::Confidential && !had_secret {
            return Err(CoreError::validation(
                "type",
                "a public client cannot become confidential; create a new client",
            ));
        }
        client.updated_at = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            if !tx.update_oidc_client(&client).await? {
                return Err(CoreError::NotFound("client"));
            }
            let event = admin_event(kind::ADMIN_OIDC_CLIENT_UPDATE, client_id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.oidc_clients.forget(client_id);
        Ok(client)
    }

    /// Replaces the secret of a confidential client; the old one stops working at once.
    pub async fn admin_rotate_oidc_client_secret(
        &self,
        ctx: &RequestContext,
        client_id: &str,
    ) -> CoreResult<ClientSecret> {
        let mut client = self.admin_oidc_client(client_id).await?;
        if client.kind == ClientKind::Public {
            return Err(CoreError::validation(
                "type",
                "public clients have no secret",
            ));
        }
        let secret = new_secret();
        client.secret_hash = Some(token_hash(secret.expose()));
        client.updated_at = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            if !tx.update_oidc_client(&client).await? {
                return Err(CoreError::NotFound("client"));
            }
            let event = admin_event(kind::ADMIN_OIDC_CLIENT_SECRET, client_id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.oidc_clients.forget(client_id);
        Ok(secret)
    }

    pub async fn admin_delete_oidc_client(
        &self,
        ctx: &RequestContext,
        client_id: &str,
    ) -> CoreResult<()> {
        let client = self.admin_oidc_client(client_id).await?;
        let mut tx = self.store.begin().await?;
        let result = async {
            if !tx.delete_oidc_client(client.id).await? {
                return Err(CoreError::NotFound("client"));
            }
            let event = admin_event(kind::ADMIN_OIDC_CLIENT_DELETE, client_id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.oidc_clients.forget(client_id);
        Ok(())
    }

    pub async fn admin_oidc_client(&self, client_id: &str) -> CoreResult<OidcClient> {
        if client_id.is_empty() || client_id.len() > 64 {
            return Err(CoreError::NotFound("client"));
        }
        self.store
            .read()
            .oidc_client(client_id)
            .await?
            .ok_or(CoreError::NotFound("client"))
    }

    pub async fn admin_list_oidc_clients(&self) -> CoreResult<Vec<OidcClient>> {
        Ok(self.store.read().list_oidc_clients().await?)
    }

    /// The client a request names, if it exists; the authorize endpoint's first question.
    pub(crate) async fn find_client(
        &self,
        client_id: &str,
    ) -> Result<Option<OidcClient>, OAuthError> {
        if client_id.is_empty() || client_id.len() > 64 {
            return Ok(None);
        }
        if let Some(client) = self.oidc_clients.get(client_id, self.now()) {
            return Ok(Some(client));
        }
        let client = self.store.read().oidc_client(client_id).await?;
        if let Some(client) = &client {
            self.oidc_clients
                .put(client, self.now() + self.settings.app_cache_ttl);
        }
        Ok(client)
    }

    /// Authenticates the client of a back-channel request, by the method its type requires:
    /// a confidential client by its secret (Basic or form), a public one by its id alone.
    pub async fn authenticate_client(
        &self,
        auth: ClientAuth<'_>,
    ) -> Result<OidcClient, OAuthError> {
        let (id, secret) = match auth {
            ClientAuth::Basic { id, secret } | ClientAuth::Post { id, secret } => {
                (id, Some(secret))
            }
            ClientAuth::None { id } => (id, None),
            ClientAuth::Missing => {
                return Err(OAuthError::invalid_client(
                    "client authentication is required",
                ));
            }
        };
        let unknown = || OAuthError::invalid_client("unknown client or wrong secret");
        let client = self.find_client(id).await?.ok_or_else(unknown)?;
        match (client.kind, &client.secret_hash, secret) {
            (ClientKind::Confidential, Some(hash), Some(secret)) => {
                let presented = token_hash(secret);
                if bool::from(presented.as_bytes().ct_eq(hash.as_bytes())) {
                    Ok(client)
                } else {
                    Err(unknown())
                }
            }
            (ClientKind::Confidential, _, _) => Err(OAuthError::invalid_client(
                "this client authenticates with its secret (client_secret_basic or client_secret_post)",
            )),
            (ClientKind::Public, _, None) => Ok(client),
            (ClientKind::Public, _, Some(_)) => Err(OAuthError::invalid_client(
                "a public client has no secret: send client_id alone",
            )),
        }
    }
}

/// Clients as recently read: every token, introspection and revocation request authenticates
/// one, and they change only by an admin's hand. An entry is trusted for the service's app
/// cache lifetime (another instance's change is seen within it); this instance's own changes
/// drop their entry at once.
#[derive(Default)]
pub(crate) struct ClientCache {
    by_id: std::sync::RwLock<
        std::collections::HashMap<String, (OidcClient, wxauth_domain::Timestamp)>,
    >,
    ids_by_pk: std::sync::RwLock<std::collections::HashMap<i64, String>>,
}

impl ClientCache {
    fn get(&self, client_id: &str, now: wxauth_domain::Timestamp) -> Option<OidcClient> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        map.get(client_id)
            .filter(|(_, until)| *until > now)
            .map(|(c, _)| c.clone())
    }

    fn id_of(&self, pk: i64) -> Option<String> {
        let map = self.ids_by_pk.read().unwrap_or_else(|p| p.into_inner());
        map.get(&pk).cloned()
    }

    fn put(&self, client: &OidcClient, until: wxauth_domain::Timestamp) {
        self.ids_by_pk
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client.id, client.client_id.clone());
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client.client_id.clone(), (client.clone(), until));
    }

    fn forget(&self, client_id: &str) {
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(client_id);
    }
}

impl Wxauth {
    /// A client by its row id (the one authorizations and grants name), through the cache.
    pub(crate) async fn client_by_pk(&self, pk: i64) -> Result<Option<OidcClient>, OAuthError> {
        if let Some(id) = self.oidc_clients.id_of(pk)
            && let Some(client) = self.oidc_clients.get(&id, self.now())
        {
            return Ok(Some(client));
        }
        let client = self.store.read().oidc_client_by_id(pk).await?;
        if let Some(client) = &client {
            self.oidc_clients
                .put(client, self.now() + self.settings.app_cache_ttl);
        }
        Ok(client)
    }
}

fn new_secret() -> ClientSecret {
    ClientSecret(random_token("cs_", 32))
}

fn admin_event(kind: &'static str, client_id: &str) -> AuditEvent<'static> {
    AuditEvent::ok(kind).reason(format!("client={client_id}"))
}
