//! What a relying party does with its tokens: userinfo (OpenID Connect Core §5.3),
//! introspection (RFC 7662), revocation (RFC 7009) and RP-initiated logout; and the user's own
//! view of the clients they consented to.

use serde_json::{Value, json};
use wxauth_domain::{OidcClient, Scope, ScopeSet, Timestamp, User};

use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::ports::{AccessClaims, LimitClass, TokenError};
use crate::secrets::{refresh_token_digest, token_hash};
use crate::service::{RequestContext, Wxauth, finish};

use super::authorize::Browser;
use super::clients::ClientAuth;
use super::grants::{OIDC_REFRESH_PREFIX, profile_claims};
use super::{OAuthError, OAuthErrorCode};

/// An access token's claims, as wxauth signed them (RFC 9068).
#[derive(Debug, Clone)]
struct AccessToken {
    sub: String,
    client_id: String,
    scope: ScopeSet,
    iat: i64,
    exp: i64,
    jti: String,
    sid: String,
}

/// RFC 7662's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Introspection {
    Inactive,
    Active(Value),
}

/// A logout request (RP-Initiated Logout 1.0 §2).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogoutRequest<'a> {
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// Where a logout ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutEnd {
    /// Back to the client's registered post-logout URI (with `state`).
    Redirect(String),
    /// The provider's "signed out" page.
    Page,
}

/// A consent as the user sees it.
#[derive(Debug, Clone)]
pub struct ConsentView {
    pub client_id: String,
    pub client_name: String,
    pub scope: ScopeSet,
    pub granted_at: Timestamp,
}

impl Wxauth {
    /// Checks an access token's signature, type, expiry and issuer.
    fn access_token(&self, token: &str) -> Result<AccessToken, OAuthError> {
        let provider = self.provider()?;
        let claims = provider
            .signer
            .verify("at+jwt", token, true)
            .map_err(|e| match e {
                TokenError::Expired => OAuthError::invalid_token("the access token has expired"),
                _ => OAuthError::invalid_token("the access token is invalid"),
            })?;
        let invalid = || OAuthError::invalid_token("the access token is invalid");
        if claims["iss"].as_str() != Some(provider.settings.issuer.as_str()) {
            return Err(invalid());
        }
        let text = |name: &str| claims[name].as_str().map(str::to_owned).ok_or_else(invalid);
        Ok(AccessToken {
            sub: text("sub")?,
            client_id: text("client_id")?,
            scope: ScopeSet::parse(claims["scope"].as_str().unwrap_or_default())
                .map_err(|_| invalid())?,
            iat: claims["iat"].as_i64().ok_or_else(invalid)?,
            exp: claims["exp"].as_i64().ok_or_else(invalid)?,
            jti: text("jti")?,
            sid: text("sid")?,
        })
    }

    /// The user an active access token stands for, with the token.
    async fn token_user(&self, token: &str) -> Result<(AccessToken, User, OidcClient), OAuthError> {
        let access = self.access_token(token)?;
        let revoked = || OAuthError::invalid_token("the access token is revoked");
        let grant = self.active_grant(&access.sid).await?.ok_or_else(revoked)?;
        let mut read = self.store.read();
        let user = read
            .user_by_id(grant.user_id)
            .await?
            .filter(|u| !u.is_blocked() && u.public_id.to_string() == access.sub)
            .ok_or_else(revoked)?;
        let client = self
            .client_by_pk(grant.client_pk)
            .await?
            .filter(|c| c.client_id == access.client_id)
            .ok_or_else(revoked)?;
        Ok((access, user, client))
    }

    /// The userinfo endpoint: the claims the token's scope allows.
    pub async fn oidc_userinfo(
        &self,
        ctx: &RequestContext,
        bearer: Option<&str>,
    ) -> Result<Value, OAuthError> {
        self.provider()?;
        self.admit(ctx, LimitClass::Token, None).await?;
        let bearer =
            bearer.ok_or_else(|| OAuthError::invalid_token("a bearer token is required"))?;
        let (access, user, _) = self.token_user(bearer).await?;
        if !access.scope.contains(Scope::OpenId) {
            return Err(OAuthError::new(
                OAuthErrorCode::InsufficientScope,
                "userinfo needs the openid scope",
            ));
        }
        let mut claims = json!({ "sub": access.sub });
        profile_claims(&mut claims, &user, access.scope);
        if access.scope.contains(Scope::UnionId)
            && let Some(unionid) = self.unionid_of(&user).await?
        {
            claims["unionid"] = Value::from(unionid);
        }
        Ok(claims)
    }

    /// The introspection endpoint. A token that is not the asking client's is inactive, like
    /// one that is revoked, expired, malformed or not wxauth's.
    pub async fn oidc_introspect(
        &self,
        ctx: &RequestContext,
        auth: ClientAuth<'_>,
        token: Option<&str>,
    ) -> Result<Introspection, OAuthError> {
        self.provider()?;
        self.admit(ctx, LimitClass::Token, None).await?;
        let client = self.authenticate_client(auth).await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let issuer = self.provider()?.settings.issuer.clone();
        if token.starts_with(OIDC_REFRESH_PREFIX) {
            let Some((grant, expires_at)) = self.refresh_grant_of(token).await? else {
                return Ok(Introspection::Inactive);
            };
            if grant.client_pk != client.id {
                return Ok(Introspection::Inactive);
            }
            let Some(user) = self
                .store
                .read()
                .user_by_id(grant.user_id)
                .await?
                .filter(|u| !u.is_blocked())
            else {
                return Ok(Introspection::Inactive);
            };
            return Ok(Introspection::Active(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": grant.scope.to_string(),
                "client_id": client.client_id,
                "sub": user.public_id.to_string(),
                "exp": expires_at.unix_timestamp(),
                "iss": issuer,
                "sid": grant.family,
            })));
        }
        let (access, _, token_client) = match self.token_user(token).await {
            Ok(found) => found,
            Err(e) if e.code == OAuthErrorCode::InvalidToken => return Ok(Introspection::Inactive),
            Err(e) => return Err(e),
        };
        if token_client.id != client.id {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Active(json!({
            "active": true,
            "token_type": "Bearer",
            "scope": access.scope.to_string(),
            "client_id": access.client_id,
            "sub": access.sub,
            "aud": access.client_id,
            "iss": issuer,
            "iat": access.iat,
            "exp": access.exp,
            "jti": access.jti,
            "sid": access.sid,
        })))
    }

    /// A live refresh token's grant and expiry.
    async fn refresh_grant_of(
        &self,
        token: &str,
    ) -> Result<Option<(crate::ports::OidcGrantRecord, Timestamp)>, OAuthError> {
        if token.len() > 256 {
            return Ok(None);
        }
        let mut read = self.store.read();
        let Some(record) = read
            .refresh_token_by_hash(&refresh_token_digest(token))
            .await?
        else {
            return Ok(None);
        };
        if record.revoked_at.is_some()
            || record.used_at.is_some()
            || record.expires_at <= self.now()
        {
            return Ok(None);
        }
        Ok(read
            .oidc_grant(&record.family)
            .await?
            .filter(|g| g.revoked_at.is_none())
            .map(|g| (g, record.expires_at)))
    }

    /// The revocation endpoint. Revoking either token of a grant revokes the grant: its
    /// refresh tokens stop refreshing and its access tokens are inactive at once. A token that
    /// is unknown, or not the asking client's, is answered the same as a revoked one (RFC 7009
    /// §2.2): the client learns nothing about other clients' tokens.
    pub async fn oidc_revoke(
        &self,
        ctx: &RequestContext,
        auth: ClientAuth<'_>,
        token: Option<&str>,
    ) -> Result<(), OAuthError> {
        self.provider()?;
        self.admit(ctx, LimitClass::Token, None).await?;
        let client = self.authenticate_client(auth).await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let family = if token.starts_with(OIDC_REFRESH_PREFIX) {
            if token.len() > 256 {
                return Ok(());
            }
            let record = self
                .store
                .read()
                .refresh_token_by_hash(&refresh_token_digest(token))
                .await?;
            record.map(|r| r.family)
        } else {
            // An expired access token may still be revoked: its grant may have refresh tokens.
            self.provider()?
                .signer
                .verify("at+jwt", token, false)
                .ok()
                .and_then(|claims| claims["sid"].as_str().map(str::to_owned))
        };
        let Some(family) = family else {
            return Ok(());
        };
        let Some(grant) = self.store.read().oidc_grant(&family).await? else {
            return Ok(());
        };
        if grant.client_pk != client.id {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            tx.revoke_oidc_grant(&family, now).await?;
            tx.revoke_family(&family, now).await?;
            let event =
                AuditEvent::ok(kind::OIDC_REVOKE).reason(format!("client={}", client.client_id));
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(())
        }
        .await;
        Ok(finish(tx, result).await?)
    }

    /// RP-initiated logout: ends the browser session; goes back to the client only to a
    /// post-logout URI it registered, compared exactly, and only when the request proves which
    /// client it is (an ID token the provider signed, or its client id).
    pub async fn oidc_logout(
        &self,
        ctx: &RequestContext,
        req: LogoutRequest<'_>,
        browser: Browser<'_>,
    ) -> Result<LogoutEnd, OAuthError> {
        let provider = self.provider()?;
        let hinted_client = match req.id_token_hint.filter(|t| !t.is_empty()) {
            None => None,
            Some(hint) => {
                // Expired hints are normal: the ID token is usually older than its lifetime.
                let claims = provider.signer.verify("JWT", hint, false).map_err(|_| {
                    OAuthError::invalid_request("id_token_hint is not an ID token of this provider")
                })?;
                if claims["iss"].as_str() != Some(provider.settings.issuer.as_str()) {
                    return Err(OAuthError::invalid_request(
                        "id_token_hint is not an ID token of this provider",
                    ));
                }
                claims["aud"].as_str().map(str::to_owned)
            }
        };
        let client_id = match (
            hinted_client.as_deref(),
            req.client_id.filter(|c| !c.is_empty()),
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the id_token_hint's audience",
                ));
            }
            (Some(a), _) => Some(a.to_owned()),
            (None, b) => b.map(str::to_owned),
        };
        let end = match req.post_logout_redirect_uri.filter(|u| !u.is_empty()) {
            None => LogoutEnd::Page,
            Some(uri) => {
                let client = match &client_id {
                    Some(id) => self.find_client(id).await?,
                    None => None,
                };
                let client = client.ok_or_else(|| {
                    OAuthError::invalid_request(
                        "post_logout_redirect_uri needs id_token_hint or client_id",
                    )
                })?;
                let registered = client.post_logout_redirect_uri(uri).ok_or_else(|| {
                    OAuthError::invalid_request(
                        "post_logout_redirect_uri is not registered for this client",
                    )
                })?;
                let mut url = registered.as_str().to_owned();
                if let Some(state) = req.state.filter(|s| !s.is_empty()) {
                    let query = wxauth_domain::url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", state)
                        .finish();
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(&query);
                }
                LogoutEnd::Redirect(url)
            }
        };
        if let Some(cookie) = browser.session.filter(|c| !c.is_empty() && c.len() <= 128) {
            let now = self.now();
            let hash = token_hash(cookie);
            let session = self.store.read().browser_session(&hash).await?;
            let mut tx = self.store.begin().await?;
            let result = async {
                if tx.revoke_browser_session(&hash, now).await? {
                    let mut event = AuditEvent::ok(kind::OIDC_LOGOUT);
                    if let Some(client) = &client_id {
                        event = event.reason(format!("client={client}"));
                    }
                    if let Some(session) = &session
                        && let Some(user) = self.store.read().user_by_id(session.user_id).await?
                    {
                        event = event.user(user.public_id);
                    }
                    tx.append_audit(&event.into_entry(ctx, now)).await?;
                }
                Ok(())
            }
            .await;
            finish(tx, result).await?;
        }
        Ok(end)
    }

    /// The third-party clients the signed-in user consented to.
    pub async fn my_consents(&self, claims: &AccessClaims) -> CoreResult<Vec<ConsentView>> {
        let user = self.user_of_claims(claims).await?;
        let mut read = self.store.read();
        let mut views = Vec::new();
        for consent in read.consents_of(user.id).await? {
            if let Some(client) = read.oidc_client_by_id(consent.client_pk).await? {
                views.push(ConsentView {
                    client_id: client.client_id,
                    client_name: client.name,
                    scope: consent.scope,
                    granted_at: consent.granted_at,
                });
            }
        }
        Ok(views)
    }

    /// Withdraws the user's consent to one client, or to every client: the client's grants
    /// are revoked with it, and its next request asks again.
    pub async fn withdraw_consent(
        &self,
        ctx: &RequestContext,
        claims: &AccessClaims,
        client_id: Option<&str>,
    ) -> CoreResult<u64> {
        let user = self.user_of_claims(claims).await?;
        let mut read = self.store.read();
        let clients: Vec<i64> = match client_id {
            Some(id) => {
                let client = read
                    .oidc_client(id)
                    .await?
                    .ok_or(CoreError::NotFound("client"))?;
                if read.consent(user.id, client.id).await?.is_none() {
                    return Err(CoreError::NotFound("consent"));
                }
                vec![client.id]
            }
            None => read
                .consents_of(user.id)
                .await?
                .into_iter()
                .map(|c| c.client_pk)
                .collect(),
        };
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let mut withdrawn = 0;
            for client in &clients {
                if tx.delete_consent(user.id, *client).await? {
                    withdrawn += 1;
                }
                for family in tx.revoke_oidc_grants_of(user.id, *client, now).await? {
                    tx.revoke_family(&family, now).await?;
                }
            }
            let event = AuditEvent::ok(kind::OIDC_CONSENT_WITHDRAW)
                .user(user.public_id)
                .reason(format!("clients={withdrawn}"));
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(withdrawn)
        }
        .await;
        finish(tx, result).await
    }

    async fn user_of_claims(&self, claims: &AccessClaims) -> CoreResult<User> {
        self.store
            .read()
            .user_by_public_id(&claims.sub)
            .await?
            .ok_or(CoreError::Unauthenticated("the account no longer exists"))
    }
}
