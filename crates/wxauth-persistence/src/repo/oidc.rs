//! The OpenID provider's tables: clients, authorizations, browser sessions, consents and grants.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wxauth_core::RepoError;
use wxauth_core::ports::{
    AuthorizationGrant, AuthorizationParams, AuthorizationReads, AuthorizationRecord,
    AuthorizationWrites, BrowserSessionReads, BrowserSessionRecord, BrowserSessionWrites,
    ConsentReads, ConsentRecord, ConsentWrites, NewAuthorization, NewBrowserSession, NewOidcGrant,
    OidcClientReads, OidcClientWrites, OidcGrantReads, OidcGrantRecord, OidcGrantWrites,
    RepoResult, UserRef,
};
use wxauth_domain::{
    AppKey, ClientApps, ClientKind, OidcClient, RegisteredRedirectUri, ScopeSet, SignInMethod,
    Timestamp, UserId,
};

use crate::convert::{from_db, to_db};
use crate::entities::{
    oidc_authorizations as authorizations, oidc_browser_sessions as browser_sessions,
    oidc_clients as clients, oidc_consents as consents, oidc_grants as grants, users,
};
use crate::errors::{corrupt, db_err};
use crate::store::{Backing, Conn, TxConn};

// ---------------------------------------------------------------------------------------------
// Conversions

fn scope_from_db(s: &str) -> RepoResult<ScopeSet> {
    ScopeSet::parse(s).map_err(|_| corrupt("scope"))
}

fn method_from_db(s: &str) -> RepoResult<SignInMethod> {
    SignInMethod::parse(s).ok_or_else(|| corrupt("sign-in method"))
}

fn app_key_from_db(s: Option<String>) -> RepoResult<Option<AppKey>> {
    s.map(|k| AppKey::parse(k).map_err(|_| corrupt("client app key")))
        .transpose()
}

fn app_key_to_db(k: &Option<AppKey>) -> Option<String> {
    k.as_ref().map(|k| k.as_str().to_owned())
}

/// A JSON array of strings, each checked again as a registered redirect URI.
fn uris_from_db(s: &str) -> RepoResult<Vec<RegisteredRedirectUri>> {
    serde_json::from_str(s).map_err(|_| corrupt("client redirect URIs"))
}

fn uris_to_db(uris: &[RegisteredRedirectUri]) -> String {
    let uris: Vec<&str> = uris.iter().map(RegisteredRedirectUri::as_str).collect();
    serde_json::to_string(&uris).unwrap_or_else(|_| "[]".into())
}

fn client(m: clients::Model) -> RepoResult<OidcClient> {
    Ok(OidcClient {
        id: m.id,
        kind: ClientKind::parse(&m.kind).map_err(|_| corrupt("client type"))?,
        redirect_uris: uris_from_db(&m.redirect_uris)?,
        post_logout_redirect_uris: uris_from_db(&m.post_logout_redirect_uris)?,
        scopes: scope_from_db(&m.scopes)?,
        apps: ClientApps {
            official_account: app_key_from_db(m.official_app)?,
            website: app_key_from_db(m.website_app)?,
            mini_program: app_key_from_db(m.mini_program_app)?,
        },
        client_id: m.client_id,
        name: m.name,
        secret_hash: m.secret_hash,
        first_party: m.first_party,
        id_token_alg: m.id_token_alg,
        access_token_ttl: m.access_token_ttl,
        refresh_token_ttl: m.refresh_token_ttl,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

/// Every column of a client but the row id, the client id and the creation time.
fn client_row(c: &OidcClient) -> clients::ActiveModel {
    clients::ActiveModel {
        name: Set(c.name.clone()),
        kind: Set(c.kind.as_str().to_owned()),
        secret_hash: Set(c.secret_hash.clone()),
        redirect_uris: Set(uris_to_db(&c.redirect_uris)),
        post_logout_redirect_uris: Set(uris_to_db(&c.post_logout_redirect_uris)),
        scopes: Set(c.scopes.to_string()),
        official_app: Set(app_key_to_db(&c.apps.official_account)),
        website_app: Set(app_key_to_db(&c.apps.website)),
        mini_program_app: Set(app_key_to_db(&c.apps.mini_program)),
        first_party: Set(c.first_party),
        id_token_alg: Set(c.id_token_alg.clone()),
        access_token_ttl: Set(c.access_token_ttl),
        refresh_token_ttl: Set(c.refresh_token_ttl),
        updated_at: Set(to_db(c.updated_at)),
        ..Default::default()
    }
}

fn authorization(m: authorizations::Model) -> RepoResult<AuthorizationRecord> {
    Ok(AuthorizationRecord {
        id: m.id,
        client_pk: m.client_pk,
        params: AuthorizationParams {
            scope: scope_from_db(&m.scope)?,
            redirect_uri: m.redirect_uri,
            state: m.state,
            nonce: m.nonce,
            code_challenge: m.code_challenge,
            force_consent: m.force_consent,
            ui_locales: m.ui_locales,
        },
        method: m.method.as_deref().map(method_from_db).transpose()?,
        qr_login_id: m.qr_login_id,
        mp_login_id: m.mp_login_id,
        expires_at: from_db(m.expires_at),
        user_id: m.user_id.map(UserId),
        auth_time: m.auth_time.map(from_db),
        session_hash: m.session_hash,
        code_hash: m.code_hash,
        code_expires_at: m.code_expires_at.map(from_db),
        redeemed_at: m.redeemed_at.map(from_db),
        family: m.family,
    })
}

fn browser_session(m: browser_sessions::Model) -> RepoResult<BrowserSessionRecord> {
    Ok(BrowserSessionRecord {
        id: m.id,
        method: method_from_db(&m.method)?,
        session_hash: m.session_hash,
        user_id: UserId(m.user_id),
        auth_time: from_db(m.auth_time),
        expires_at: from_db(m.expires_at),
        revoked_at: m.revoked_at.map(from_db),
    })
}

fn consent(m: consents::Model) -> RepoResult<ConsentRecord> {
    Ok(ConsentRecord {
        client_pk: m.client_pk,
        scope: scope_from_db(&m.scope)?,
        granted_at: from_db(m.granted_at),
    })
}

fn grant(m: grants::Model) -> RepoResult<OidcGrantRecord> {
    Ok(OidcGrantRecord {
        scope: scope_from_db(&m.scope)?,
        method: method_from_db(&m.method)?,
        family: m.family,
        client_pk: m.client_pk,
        user_id: UserId(m.user_id),
        auth_time: from_db(m.auth_time),
        revoked_at: m.revoked_at.map(from_db),
    })
}

impl TxConn {
    /// The row id of a user: given, or looked up by public id (after the transaction's
    /// deferred writes, which may have inserted the user, are sent).
    async fn user_row_id(&mut self, user: UserRef) -> RepoResult<i64> {
        match user {
            UserRef::Id(id) => Ok(id.0),
            UserRef::Public(public_id) => {
                let id: Option<i64> = users::Entity::find()
                    .select_only()
                    .column(users::Column::Id)
                    .filter(users::Column::PublicId.eq(public_id.to_string()))
                    .into_tuple()
                    .one(self.synced().await?)
                    .await
                    .map_err(db_err)?;
                id.ok_or_else(|| RepoError::other("no such user"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

#[async_trait]
impl<C: Backing> OidcClientReads for Conn<C> {
    async fn oidc_client(&mut self, client_id: &str) -> RepoResult<Option<OidcClient>> {
        let row = clients::Entity::find()
            .filter(clients::Column::ClientId.eq(client_id))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(client).transpose()
    }

    async fn oidc_client_by_id(&mut self, id: i64) -> RepoResult<Option<OidcClient>> {
        let row = clients::Entity::find_by_id(id)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(client).transpose()
    }

    async fn list_oidc_clients(&mut self) -> RepoResult<Vec<OidcClient>> {
        let rows = clients::Entity::find()
            .order_by_asc(clients::Column::Id)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(client).collect()
    }
}

#[async_trait]
impl OidcClientWrites for TxConn {
    async fn insert_oidc_client(&mut self, c: &OidcClient) -> RepoResult<()> {
        let mut row = client_row(c);
        row.client_id = Set(c.client_id.clone());
        row.created_at = Set(to_db(c.created_at));
        clients::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn update_oidc_client(&mut self, c: &OidcClient) -> RepoResult<bool> {
        let res = clients::Entity::update_many()
            .set(client_row(c))
            .filter(clients::Column::Id.eq(c.id))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn delete_oidc_client(&mut self, id: i64) -> RepoResult<bool> {
        // Explicit deletes rather than relying on ON DELETE CASCADE, which an operator's
        // hand-made schema might lack.
        authorizations::Entity::delete_many()
            .filter(authorizations::Column::ClientPk.eq(id))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        consents::Entity::delete_many()
            .filter(consents::Column::ClientPk.eq(id))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        grants::Entity::delete_many()
            .filter(grants::Column::ClientPk.eq(id))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        let res = clients::Entity::delete_by_id(id)
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }
}

// ---------------------------------------------------------------------------------------------
// Authorizations

#[async_trait]
impl<C: Backing> AuthorizationReads for Conn<C> {
    async fn authorization_by_request(
        &mut self,
        request_hash: &str,
    ) -> RepoResult<Option<AuthorizationRecord>> {
        let row = authorizations::Entity::find()
            .filter(authorizations::Column::RequestHash.eq(request_hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(authorization).transpose()
    }

    async fn authorization_by_code(
        &mut self,
        code_hash: &str,
    ) -> RepoResult<Option<AuthorizationRecord>> {
        let row = authorizations::Entity::find()
            .filter(authorizations::Column::CodeHash.eq(code_hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(authorization).transpose()
    }
}

#[async_trait]
impl AuthorizationWrites for TxConn {
    async fn insert_authorization(
        &mut self,
        a: &NewAuthorization,
        now: Timestamp,
    ) -> RepoResult<()> {
        let p = &a.params;
        let row = authorizations::ActiveModel {
            request_hash: Set(a.request_hash.clone()),
            client_pk: Set(a.client_pk),
            redirect_uri: Set(p.redirect_uri.clone()),
            scope: Set(p.scope.to_string()),
            state: Set(p.state.clone()),
            nonce: Set(p.nonce.clone()),
            code_challenge: Set(p.code_challenge.clone()),
            force_consent: Set(p.force_consent),
            ui_locales: Set(p.ui_locales.clone()),
            method: Set(a.method.map(|m| m.as_str().to_owned())),
            qr_login_id: Set(None),
            mp_login_id: Set(None),
            created_at: Set(to_db(now)),
            expires_at: Set(to_db(a.expires_at)),
            user_id: Set(None),
            auth_time: Set(None),
            session_hash: Set(None),
            code_hash: Set(None),
            code_expires_at: Set(None),
            redeemed_at: Set(None),
            family: Set(None),
            ..Default::default()
        };
        authorizations::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn set_authorization_method(
        &mut self,
        id: i64,
        method: SignInMethod,
        qr_login_id: Option<&str>,
    ) -> RepoResult<bool> {
        use authorizations::Column;
        let res = authorizations::Entity::update_many()
            .col_expr(
                Column::Method,
                Expr::value(Some(method.as_str().to_owned())),
            )
            .col_expr(
                Column::QrLoginId,
                Expr::value(qr_login_id.map(str::to_owned)),
            )
            .filter(Column::Id.eq(id))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn set_authorization_mp_login(&mut self, id: i64, login_id: &str) -> RepoResult<bool> {
        use authorizations::Column;
        let res = authorizations::Entity::update_many()
            .col_expr(Column::MpLoginId, Expr::value(Some(login_id.to_owned())))
            .filter(Column::Id.eq(id))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn complete_authorization(
        &mut self,
        id: i64,
        g: &AuthorizationGrant,
    ) -> RepoResult<bool> {
        use authorizations::Column;
        let res = authorizations::Entity::update_many()
            .col_expr(Column::UserId, Expr::value(Some(g.user_id.0)))
            .col_expr(
                Column::Method,
                Expr::value(Some(g.method.as_str().to_owned())),
            )
            .col_expr(Column::AuthTime, Expr::value(Some(to_db(g.auth_time))))
            .col_expr(
                Column::SessionHash,
                Expr::value(Some(g.session_hash.clone())),
            )
            .col_expr(Column::CodeHash, Expr::value(Some(g.code_hash.clone())))
            .col_expr(
                Column::CodeExpiresAt,
                Expr::value(Some(to_db(g.code_expires_at))),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::CodeHash.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn redeem_authorization(
        &mut self,
        id: i64,
        family: &str,
        now: Timestamp,
    ) -> RepoResult<bool> {
        use authorizations::Column;
        let res = authorizations::Entity::update_many()
            .col_expr(Column::Family, Expr::value(Some(family.to_owned())))
            .col_expr(Column::RedeemedAt, Expr::value(Some(to_db(now))))
            .filter(Column::Id.eq(id))
            .filter(Column::RedeemedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }
}

// ---------------------------------------------------------------------------------------------
// Browser sessions

#[async_trait]
impl<C: Backing> BrowserSessionReads for Conn<C> {
    async fn browser_session(&mut self, hash: &str) -> RepoResult<Option<BrowserSessionRecord>> {
        let row = browser_sessions::Entity::find()
            .filter(browser_sessions::Column::SessionHash.eq(hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(browser_session).transpose()
    }
}

#[async_trait]
impl BrowserSessionWrites for TxConn {
    async fn insert_browser_session(
        &mut self,
        s: &NewBrowserSession,
        now: Timestamp,
    ) -> RepoResult<()> {
        let user_id = self.user_row_id(s.user).await?;
        let row = browser_sessions::ActiveModel {
            session_hash: Set(s.session_hash.clone()),
            user_id: Set(user_id),
            method: Set(s.method.as_str().to_owned()),
            auth_time: Set(to_db(s.auth_time)),
            created_at: Set(to_db(now)),
            expires_at: Set(to_db(s.expires_at)),
            revoked_at: Set(None),
            ..Default::default()
        };
        browser_sessions::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_browser_session(&mut self, hash: &str, now: Timestamp) -> RepoResult<bool> {
        use browser_sessions::Column;
        let res = browser_sessions::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Some(to_db(now))))
            .filter(Column::SessionHash.eq(hash))
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }
}

// ---------------------------------------------------------------------------------------------
// Consents

#[async_trait]
impl<C: Backing> ConsentReads for Conn<C> {
    async fn consent(&mut self, user: UserId, client_pk: i64) -> RepoResult<Option<ConsentRecord>> {
        let row = consents::Entity::find()
            .filter(consents::Column::UserId.eq(user.0))
            .filter(consents::Column::ClientPk.eq(client_pk))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(consent).transpose()
    }

    async fn consents_of(&mut self, user: UserId) -> RepoResult<Vec<ConsentRecord>> {
        let rows = consents::Entity::find()
            .filter(consents::Column::UserId.eq(user.0))
            .order_by_asc(consents::Column::ClientPk)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(consent).collect()
    }
}

#[async_trait]
impl ConsentWrites for TxConn {
    async fn put_consent(
        &mut self,
        user: UserId,
        client_pk: i64,
        scope: ScopeSet,
        now: Timestamp,
    ) -> RepoResult<()> {
        // One statement on the (user, client) key: two consents given at once both succeed,
        // the later one stays.
        let row = consents::ActiveModel {
            user_id: Set(user.0),
            client_pk: Set(client_pk),
            scope: Set(scope.to_string()),
            granted_at: Set(to_db(now)),
            ..Default::default()
        };
        consents::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([consents::Column::UserId, consents::Column::ClientPk])
                    .update_columns([consents::Column::Scope, consents::Column::GrantedAt])
                    .to_owned(),
            )
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_consent(&mut self, user: UserId, client_pk: i64) -> RepoResult<bool> {
        let res = consents::Entity::delete_many()
            .filter(consents::Column::UserId.eq(user.0))
            .filter(consents::Column::ClientPk.eq(client_pk))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }
}

// ---------------------------------------------------------------------------------------------
// Grants

#[async_trait]
impl<C: Backing> OidcGrantReads for Conn<C> {
    async fn oidc_grant(&mut self, family: &str) -> RepoResult<Option<OidcGrantRecord>> {
        let row = grants::Entity::find()
            .filter(grants::Column::Family.eq(family))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(grant).transpose()
    }
}

#[async_trait]
impl OidcGrantWrites for TxConn {
    async fn insert_oidc_grant(&mut self, g: &NewOidcGrant, now: Timestamp) -> RepoResult<()> {
        let user_id = self.user_row_id(g.user).await?;
        let row = grants::ActiveModel {
            family: Set(g.family.clone()),
            client_pk: Set(g.client_pk),
            user_id: Set(user_id),
            scope: Set(g.scope.to_string()),
            method: Set(g.method.as_str().to_owned()),
            auth_time: Set(to_db(g.auth_time)),
            created_at: Set(to_db(now)),
            revoked_at: Set(None),
            ..Default::default()
        };
        grants::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_oidc_grant(&mut self, family: &str, now: Timestamp) -> RepoResult<bool> {
        use grants::Column;
        let res = grants::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Some(to_db(now))))
            .filter(Column::Family.eq(family))
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn revoke_oidc_grants_of(
        &mut self,
        user: UserId,
        client_pk: i64,
        now: Timestamp,
    ) -> RepoResult<Vec<String>> {
        use grants::Column;
        let families: Vec<String> = grants::Entity::find()
            .select_only()
            .column(Column::Family)
            .filter(Column::UserId.eq(user.0))
            .filter(Column::ClientPk.eq(client_pk))
            .filter(Column::RevokedAt.is_null())
            .order_by_asc(Column::Id)
            .into_tuple()
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        if families.is_empty() {
            return Ok(families);
        }
        grants::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Some(to_db(now))))
            .filter(Column::Family.is_in(families.iter().cloned()))
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(families)
    }
}
