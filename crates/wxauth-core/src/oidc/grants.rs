//! The token endpoint: a code (with PKCE), a refresh token, or a Mini Program `wx.login` code
//! (RFC 8693 token exchange) for an access token, an ID token and, with `offline_access`, a
//! refresh token.
//!
//! Every grant is a row of its own whose family is the refresh-token family and the access
//! tokens' `sid`: revoking the grant (revocation, a code presented twice, a reused refresh
//! token, withdrawn consent) makes all of them inactive at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use wxauth_domain::{OidcClient, Scope, ScopeSet, SignInMethod, Timestamp, User};

use crate::audit::{AuditEvent, kind};
use crate::error::CoreError;
use crate::ports::{
    LimitClass, NewOidcGrant, NewRefreshToken, OidcGrantRecord, Transaction, UserRef,
};
use crate::secrets::{refresh_token_digest, session_family, token_hash};
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::RefreshToken;
use crate::signin::WechatSignIn;

use super::authorize::{is_pkce_value, s256};
use super::clients::ClientAuth;
use super::{
    ACCESS_TOKEN_TYPE, OAuthError, OAuthErrorCode, TOKEN_EXCHANGE_GRANT,
    WECHAT_LOGIN_CODE_TOKEN_TYPE,
};

/// A token request's form, unparsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenRequest<'a> {
    pub grant_type: Option<&'a str>,
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub refresh_token: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
    pub requested_token_type: Option<&'a str>,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3, RFC 8693 §2.2.1).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds.
    pub expires_in: i64,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<String>,
    pub scope: ScopeSet,
    /// Token exchange only.
    pub issued_token_type: Option<&'static str>,
    /// The client the tokens were issued to.
    pub client_id: String,
}

/// OpenID refresh tokens are told apart from the service's own by their prefix: neither
/// endpoint accepts the other's.
pub(crate) const OIDC_REFRESH_PREFIX: &str = "ort_";

/// What the tokens of a grant say.
struct Issue<'a> {
    client: &'a OidcClient,
    user: &'a User,
    grant_scope: ScopeSet,
    /// The access token's scope: the grant's, or less on a refresh.
    scope: ScopeSet,
    method: SignInMethod,
    auth_time: Timestamp,
    family: &'a str,
    nonce: Option<&'a str>,
    refresh: Option<RefreshToken>,
}

impl Wxauth {
    pub async fn oidc_token(
        &self,
        ctx: &RequestContext,
        auth: ClientAuth<'_>,
        req: TokenRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        self.provider()?;
        self.admit(ctx, LimitClass::Token, None).await?;
        let client = self.authenticate_client(auth).await;
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                self.token_refused(ctx, None, req.grant_type, &e).await;
                return Err(e);
            }
        };
        let result = match req.grant_type {
            Some("authorization_code") => self.code_grant(ctx, &client, &req).await,
            Some("refresh_token") => self.refresh_grant(ctx, &client, &req).await,
            Some(TOKEN_EXCHANGE_GRANT) => self.exchange_grant(ctx, &client, &req).await,
            None | Some("") => Err(OAuthError::invalid_request("grant_type is required")),
            Some(_) => Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token or token exchange",
            )),
        };
        if let Err(e) = &result {
            self.token_refused(ctx, Some(&client), req.grant_type, e)
                .await;
        }
        result
    }

    async fn token_refused(
        &self,
        ctx: &RequestContext,
        client: Option<&OidcClient>,
        grant_type: Option<&str>,
        error: &OAuthError,
    ) {
        let event = AuditEvent {
            kind: kind::OIDC_TOKEN_REFUSED,
            success: false,
            reason: Some(format!(
                "{}: grant={} client={}",
                error.code.as_str(),
                grant_name(grant_type),
                client.map_or("unknown", |c| c.client_id.as_str())
            )),
            app: None,
            user: None,
        };
        self.audit_alone(ctx, event).await;
    }

    async fn code_grant(
        &self,
        ctx: &RequestContext,
        client: &OidcClient,
        req: &TokenRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let code = req
            .code
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let redirect_uri = req
            .redirect_uri
            .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
        let now = self.now();
        let mut read = self.store.read();
        let record = read
            .authorization_by_code(&token_hash(code))
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("the code is unknown"))?;
        if record.client_pk != client.id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        if record.redeemed_at.is_some() {
            self.revoke_reused_code(ctx, record.family.as_deref()).await;
            return Err(OAuthError::invalid_grant(
                "the code was used already; the tokens issued for it are revoked",
            ));
        }
        if record.code_expires_at.is_none_or(|at| at <= now) {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        if record.params.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&record.params.code_challenge, req.code_verifier) {
            (Some(challenge), Some(verifier)) => {
                if !is_pkce_value(verifier) || s256(verifier) != *challenge {
                    return Err(OAuthError::invalid_grant(
                        "the code_verifier does not match",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(OAuthError::invalid_grant("code_verifier is required"));
            }
            // A verifier for a request that had no challenge: a downgrade, or an injected code.
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let (Some(user_id), Some(method), Some(auth_time)) =
            (record.user_id, record.method, record.auth_time)
        else {
            return Err(OAuthError::invalid_grant("the code is unknown"));
        };
        let user = read
            .user_by_id(user_id)
            .await?
            .filter(|u| !u.is_blocked())
            .ok_or_else(|| OAuthError::invalid_grant("the account is blocked or gone"))?;
        let scope = record.params.scope;
        let family = session_family(now);
        let mut tx = self.store.begin().await?;
        let result = async {
            if !tx.redeem_authorization(record.id, &family, now).await? {
                return Ok(None);
            }
            let refresh = self
                .start_grant(
                    tx.as_mut(),
                    ctx,
                    client,
                    &user,
                    scope,
                    method,
                    auth_time,
                    &family,
                    "authorization_code",
                )
                .await?;
            Ok(Some(refresh))
        }
        .await;
        let refresh = match finish(tx, result).await {
            Ok(Some(refresh)) => refresh,
            // A concurrent redemption won: the code was presented twice.
            Ok(None) => {
                let family = self
                    .store
                    .read()
                    .authorization_by_code(&token_hash(code))
                    .await?
                    .and_then(|r| r.family);
                self.revoke_reused_code(ctx, family.as_deref()).await;
                return Err(OAuthError::invalid_grant("the code was used already"));
            }
            Err(e) => return Err(e.into()),
        };
        self.issue(Issue {
            client,
            user: &user,
            grant_scope: scope,
            scope,
            method,
            auth_time,
            family: &family,
            nonce: record.params.nonce.as_deref(),
            refresh,
        })
        .await
    }

    /// A code came back: RFC 6749 §4.1.2 says to revoke what was issued for it.
    async fn revoke_reused_code(&self, ctx: &RequestContext, family: Option<&str>) {
        let now = self.now();
        let result = async {
            let mut tx = self.store.begin().await?;
            let writes = async {
                if let Some(family) = family {
                    tx.revoke_oidc_grant(family, now).await?;
                    tx.revoke_family(family, now).await?;
                }
                let event = AuditEvent::failed(kind::OIDC_CODE_REUSE, &CoreError::InvalidState);
                tx.append_audit(&event.into_entry(ctx, now)).await?;
                Ok(())
            }
            .await;
            finish(tx, writes).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not revoke the grant of a reused code");
        }
    }

    /// Writes a grant, and its first refresh token when `offline_access` was granted.
    #[allow(clippy::too_many_arguments)]
    async fn start_grant(
        &self,
        tx: &mut dyn Transaction,
        ctx: &RequestContext,
        client: &OidcClient,
        user: &User,
        scope: ScopeSet,
        method: SignInMethod,
        auth_time: Timestamp,
        family: &str,
        grant_type: &str,
    ) -> Result<Option<RefreshToken>, CoreError> {
        let now = self.now();
        tx.insert_oidc_grant(
            &NewOidcGrant {
                family: family.to_owned(),
                client_pk: client.id,
                user: UserRef::Id(user.id),
                scope,
                method,
                auth_time,
            },
            now,
        )
        .await?;
        let refresh = if scope.contains(Scope::OfflineAccess) {
            Some(self.insert_oidc_refresh(tx, client, user, family).await?)
        } else {
            None
        };
        let event = AuditEvent::ok(kind::OIDC_TOKEN)
            .user(user.public_id)
            .reason(format!("grant={grant_type} client={}", client.client_id));
        tx.append_audit(&event.into_entry(ctx, now)).await?;
        Ok(refresh)
    }

    async fn insert_oidc_refresh(
        &self,
        tx: &mut dyn Transaction,
        client: &OidcClient,
        user: &User,
        family: &str,
    ) -> Result<RefreshToken, CoreError> {
        let now = self.now();
        let token = crate::secrets::oidc_refresh_token(now);
        tx.insert_refresh_token(
            &NewRefreshToken {
                token_hash: refresh_token_digest(&token),
                family: family.to_owned(),
                user: UserRef::Id(user.id),
                app_id: None,
                expires_at: now + time::Duration::seconds(client.refresh_token_ttl),
            },
            now,
        )
        .await?;
        Ok(RefreshToken::new(token))
    }

    async fn refresh_grant(
        &self,
        ctx: &RequestContext,
        client: &OidcClient,
        req: &TokenRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = req
            .refresh_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        if !presented.starts_with(OIDC_REFRESH_PREFIX) || presented.len() > 256 {
            return Err(invalid());
        }
        let now = self.now();
        let mut read = self.store.read();
        let record = read
            .refresh_token_by_hash(&refresh_token_digest(presented))
            .await?
            .ok_or_else(invalid)?;
        let grant = read.oidc_grant(&record.family).await?.ok_or_else(invalid)?;
        if grant.client_pk != client.id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        if grant.revoked_at.is_some() || record.revoked_at.is_some() || record.expires_at <= now {
            return Err(invalid());
        }
        let user = read
            .user_by_id(grant.user_id)
            .await?
            .filter(|u| !u.is_blocked())
            .ok_or_else(invalid)?;
        let scope = match req.scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => grant.scope,
            Some(s) => {
                let asked = ScopeSet::parse(s).map_err(|_| {
                    OAuthError::new(OAuthErrorCode::InvalidScope, "scope names an unknown scope")
                })?;
                if !asked.is_subset_of(grant.scope) {
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidScope,
                        "scope asks for more than was granted",
                    ));
                }
                asked
            }
        };
        let mut tx = self.store.begin().await?;
        let result = async {
            // A used token coming back means two parties hold it: end the grant for both.
            if record.used_at.is_some() || !tx.mark_refresh_token_used(record.id, now).await? {
                tx.revoke_family(&record.family, now).await?;
                tx.revoke_oidc_grant(&record.family, now).await?;
                let event = AuditEvent::failed(kind::REFRESH_REUSE, &CoreError::RefreshTokenReused)
                    .user(user.public_id)
                    .reason(format!("client={}", client.client_id));
                tx.append_audit(&event.into_entry(ctx, now)).await?;
                return Ok(None);
            }
            let token = self
                .insert_oidc_refresh(tx.as_mut(), client, &user, &record.family)
                .await?;
            let event = AuditEvent::ok(kind::OIDC_TOKEN)
                .user(user.public_id)
                .reason(format!("grant=refresh_token client={}", client.client_id));
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(Some(token))
        }
        .await;
        let Some(token) = finish(tx, result).await? else {
            return Err(OAuthError::invalid_grant(
                "the refresh token was used already; the grant is revoked",
            ));
        };
        self.issue(Issue {
            client,
            user: &user,
            grant_scope: grant.scope,
            scope,
            method: grant.method,
            auth_time: grant.auth_time,
            family: &record.family,
            nonce: None,
            refresh: Some(token),
        })
        .await
    }

    async fn exchange_grant(
        &self,
        ctx: &RequestContext,
        client: &OidcClient,
        req: &TokenRequest<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        match req.subject_token_type {
            Some(WECHAT_LOGIN_CODE_TOKEN_TYPE) => {}
            None => {
                return Err(OAuthError::invalid_request(
                    "subject_token_type is required",
                ));
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "subject_token_type must be urn:wxauth:token-type:wechat-login-code",
                ));
            }
        }
        if req
            .requested_token_type
            .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
        {
            return Err(OAuthError::invalid_request(
                "requested_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ));
        }
        let code = req
            .subject_token
            .filter(|c| !c.is_empty() && c.len() <= 256)
            .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
        let Some(app_key) = &client.apps.mini_program else {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "this client has no Mini Program",
            ));
        };
        let scope = match req.scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => ScopeSet::default().with(Scope::OpenId),
            Some(s) => ScopeSet::parse(s).map_err(|_| {
                OAuthError::new(OAuthErrorCode::InvalidScope, "scope names an unknown scope")
            })?,
        };
        if !scope.is_subset_of(client.scopes) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "scope asks for more than the client may have",
            ));
        }
        let app = self.apps.get(app_key.as_str()).await?;
        let session = self
            .wechat
            .code_to_session(&app, code)
            .await
            .map_err(CoreError::from)?;
        let mut who = WechatSignIn::new(session.openid.clone(), session.unionid.clone());
        who.session_key = Some(session.session_key.clone());
        let user = self.identify_wechat(ctx, &app, who).await?;
        let now = self.now();
        let family = session_family(now);
        let method = SignInMethod::WechatMiniProgram;
        let mut tx = self.store.begin().await?;
        let result = self
            .start_grant(
                tx.as_mut(),
                ctx,
                client,
                &user,
                scope,
                method,
                now,
                &family,
                "token_exchange",
            )
            .await;
        let refresh = finish(tx, result).await?;
        let mut response = self
            .issue(Issue {
                client,
                user: &user,
                grant_scope: scope,
                scope,
                method,
                auth_time: now,
                family: &family,
                nonce: None,
                refresh,
            })
            .await?;
        response.issued_token_type = Some(ACCESS_TOKEN_TYPE);
        Ok(response)
    }

    /// Signs the access token (RFC 9068) and, for OpenID requests, the ID token.
    async fn issue(&self, issue: Issue<'_>) -> Result<TokenResponse, OAuthError> {
        let unionid =
            if issue.grant_scope.contains(Scope::OpenId) && issue.scope.contains(Scope::UnionId) {
                self.unionid_of(issue.user).await?
            } else {
                None
            };
        let provider = self.provider()?;
        let issuer = &provider.settings.issuer;
        let now = self.now().unix_timestamp();
        let ttl = issue.client.access_token_ttl;
        let sub = issue.user.public_id.to_string();
        let access_claims = json!({
            "iss": issuer,
            "sub": sub,
            "aud": issue.client.client_id,
            "client_id": issue.client.client_id,
            "scope": issue.scope.to_string(),
            "iat": now,
            "exp": now + ttl,
            "auth_time": issue.auth_time.unix_timestamp(),
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "sid": issue.family,
        });
        let access_token = provider
            .signer
            .sign(
                provider.signer.access_token_algorithm(),
                "at+jwt",
                &access_claims,
            )
            .map_err(CoreError::Signing)?;
        let id_alg = issue.client.id_token_alg.as_deref().unwrap_or("RS256");
        let id_token = if issue.grant_scope.contains(Scope::OpenId) {
            let mut claims = json!({
                "iss": issuer,
                "sub": sub,
                "aud": issue.client.client_id,
                "azp": issue.client.client_id,
                "iat": now,
                "exp": now + ttl,
                "auth_time": issue.auth_time.unix_timestamp(),
                "amr": [issue.method.as_str()],
                "at_hash": at_hash(id_alg, &access_token),
                "sid": issue.family,
            });
            if let Some(nonce) = issue.nonce {
                claims["nonce"] = Value::from(nonce);
            }
            profile_claims(&mut claims, issue.user, issue.scope);
            if let Some(unionid) = unionid {
                claims["unionid"] = Value::from(unionid);
            }
            Some(
                provider
                    .signer
                    .sign(id_alg, "JWT", &claims)
                    .map_err(CoreError::Signing)?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            expires_in: ttl,
            refresh_token: issue.refresh,
            id_token,
            scope: issue.scope,
            issued_token_type: None,
            client_id: issue.client.client_id.clone(),
        })
    }

    /// The user's unionid: the open platform's id of the person, the same in every app of one
    /// developer. Any identity that has one names it.
    pub(crate) async fn unionid_of(&self, user: &User) -> Result<Option<String>, OAuthError> {
        let identities = self.store.read().identities_of(user.id).await?;
        Ok(identities
            .into_iter()
            .find_map(|i| i.unionid)
            .map(|u| u.as_str().to_owned()))
    }

    /// The grant behind an access token's `sid`, if it is still active.
    pub(crate) async fn active_grant(
        &self,
        family: &str,
    ) -> Result<Option<OidcGrantRecord>, OAuthError> {
        if family.is_empty() || family.len() > 64 {
            return Ok(None);
        }
        Ok(self
            .store
            .read()
            .oidc_grant(family)
            .await?
            .filter(|g| g.revoked_at.is_none()))
    }
}

/// The claims `profile` and `phone` add (to the ID token and userinfo alike). The `unionid`
/// claim needs the user's identities and is added by the caller that reads them.
pub(crate) fn profile_claims(claims: &mut Value, user: &User, scope: ScopeSet) {
    if scope.contains(Scope::Profile) {
        if let Some(name) = &user.nickname {
            claims["name"] = Value::from(name.as_str());
        }
        if let Some(picture) = &user.avatar_url {
            claims["picture"] = Value::from(picture.as_str());
        }
    }
    if scope.contains(Scope::Phone)
        && let Some(phone) = &user.phone
    {
        claims["phone_number"] = Value::from(phone.e164());
        // Every number wxauth holds came from WeChat's verified getPhoneNumber.
        claims["phone_number_verified"] = Value::from(true);
    }
}

/// OpenID Connect Core §3.1.3.6: the left half of the access token's hash, base64url, with the
/// hash of the ID token's algorithm: SHA-256 for RS256 and ES256, SHA-512 for EdDSA (Ed25519
/// signs with SHA-512).
fn at_hash(id_alg: &str, access_token: &str) -> String {
    if id_alg == "EdDSA" {
        let digest = Sha512::digest(access_token.as_bytes());
        return URL_SAFE_NO_PAD.encode(&digest[..32]);
    }
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn grant_name(grant_type: Option<&str>) -> &str {
    match grant_type {
        Some(TOKEN_EXCHANGE_GRANT) => "token_exchange",
        Some(g @ ("authorization_code" | "refresh_token")) => g,
        Some(_) => "unsupported",
        None => "none",
    }
}
