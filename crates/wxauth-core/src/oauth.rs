//! Web sign-in for Official Accounts (公众号 web pages) and open-platform website apps.
//!
//! The authorize step stores a random, single-use `state` server-side together with where the
//! browser goes afterwards, so the token step can trust nothing the browser carries but the
//! code and the state. Redirect targets must be in the app's allow-list: no open redirects.

use wxauth_domain::{AppKind, AvatarUrl, Nickname};

use crate::audit::kind;
use crate::error::{CoreError, CoreResult};
use crate::ports::{LimitClass, NewOAuthState, OAuthScope};
use crate::secrets::{random_alphanumeric, token_hash};
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::LoginOutcome;
use crate::signin::{Unknown, WechatSignIn};

#[derive(Debug, Clone)]
pub struct AuthorizeRequest<'a> {
    pub app: Option<&'a str>,
    /// Where the front end sends the user once signed in.
    pub redirect_uri: &'a str,
    /// Where WeChat sends the browser with the code (the front end's callback page).
    pub callback: &'a str,
    pub scope: Option<&'a str>,
    pub force_popup: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Authorization {
    pub authorize_url: String,
    pub state: String,
    pub expires_in: i64,
}

#[derive(Debug, Clone)]
pub struct OAuthLogin {
    pub outcome: LoginOutcome,
    pub redirect_uri: String,
}

const WEB_KINDS: &[AppKind] = &[AppKind::OfficialAccount, AppKind::Website];

impl Wxauth {
    pub async fn oauth_authorize(
        &self,
        ctx: &RequestContext,
        req: AuthorizeRequest<'_>,
    ) -> CoreResult<Authorization> {
        let app = self.apps.resolve(req.app, WEB_KINDS).await;
        self.admit(ctx, LimitClass::OAuth, app.as_ref().ok().map(|a| &a.key))
            .await?;
        let app = app?;
        let scope = match (app.kind, req.scope.map(str::trim).filter(|s| !s.is_empty())) {
            (AppKind::Website, None | Some("snsapi_login")) => OAuthScope::Login,
            (AppKind::Website, Some(_)) => {
                return Err(CoreError::validation(
                    "scope",
                    "website apps only allow snsapi_login",
                ));
            }
            (_, None) => OAuthScope::Base,
            (_, Some(s)) => match OAuthScope::parse(s) {
                Some(scope @ (OAuthScope::Base | OAuthScope::UserInfo)) => scope,
                _ => {
                    return Err(CoreError::validation(
                        "scope",
                        "must be snsapi_base or snsapi_userinfo",
                    ));
                }
            },
        };
        let allow = &app.redirect_allow_list;
        let redirect = allow.check("redirectUri", req.redirect_uri).map_err(|_| {
            CoreError::RedirectNotAllowed {
                field: "redirectUri",
            }
        })?;
        let callback = allow
            .check("callback", req.callback)
            .map_err(|_| CoreError::RedirectNotAllowed { field: "callback" })?;
        if redirect == callback {
            return Err(CoreError::validation(
                "callback",
                "must differ from redirectUri",
            ));
        }

        let state = random_alphanumeric(32);
        let now = self.now();
        let new_state = NewOAuthState {
            state_hash: token_hash(&state),
            app_id: app.id,
            redirect_uri: redirect.to_string(),
            callback: callback.to_string(),
            scope: scope.as_str().to_owned(),
            expires_at: now + self.settings.oauth_state_ttl,
        };
        let mut tx = self.store.begin().await?;
        let result = tx
            .insert_oauth_state(&new_state, now)
            .await
            .map_err(CoreError::from);
        finish(tx, result).await?;
        let authorize_url =
            self.wechat
                .authorize_url(&app, callback.as_str(), scope, &state, req.force_popup)?;
        Ok(Authorization {
            authorize_url,
            state,
            expires_in: self.settings.oauth_state_ttl.whole_seconds(),
        })
    }

    /// Exchanges the code WeChat gave the callback page, with the state of the authorize step.
    pub async fn oauth_login(
        &self,
        ctx: &RequestContext,
        code: &str,
        state: &str,
    ) -> CoreResult<OAuthLogin> {
        self.admit(ctx, LimitClass::OAuth, None).await?;
        match self.redeem_oauth_state(code, state).await {
            Ok(record) => self.oauth_sign_in(ctx, code, record).await,
            Err(e) => {
                self.sign_in_failed(ctx, kind::LOGIN, None, None, &e).await;
                Err(e)
            }
        }
    }

    /// Uses up the state of the authorize step. It is used up before WeChat is called: a
    /// replayed callback must fail even if the exchange below does.
    async fn redeem_oauth_state(
        &self,
        code: &str,
        state: &str,
    ) -> CoreResult<crate::ports::OAuthStateRecord> {
        if code.is_empty() || code.len() > 256 {
            return Err(CoreError::validation("code", "must be 1 to 256 characters"));
        }
        if state.is_empty()
            || state.len() > 128
            || !state.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(CoreError::InvalidState);
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let record = tx.oauth_state_by_hash(&token_hash(state)).await?;
            let record = match record {
                Some(r) if r.used_at.is_none() && r.expires_at > now => r,
                _ => return Err(CoreError::InvalidState),
            };
            if !tx.mark_oauth_state_used(record.id, now).await? {
                return Err(CoreError::InvalidState);
            }
            Ok(record)
        }
        .await;
        finish(tx, result).await
    }

    async fn oauth_sign_in(
        &self,
        ctx: &RequestContext,
        code: &str,
        record: crate::ports::OAuthStateRecord,
    ) -> CoreResult<OAuthLogin> {
        let app = self.apps.by_id(record.app_id).await?;
        let scope = OAuthScope::parse(&record.scope).unwrap_or(OAuthScope::Base);
        let who = async {
            let grant = self.wechat.exchange_oauth_code(&app, code).await?;
            if grant.is_snapshot_user {
                return Err(CoreError::SnapshotUser);
            }
            let mut who = WechatSignIn::new(grant.openid.clone(), grant.unionid.clone());
            if scope.grants_profile() {
                let profile = self.wechat.oauth_profile(&app, &grant).await?;
                // WeChat's profile fields are untrusted input like any other: keep what parses.
                who.nickname = profile
                    .nickname
                    .as_deref()
                    .and_then(|n| Nickname::parse(n).ok());
                who.avatar_url = profile
                    .avatar_url
                    .as_deref()
                    .and_then(|u| AvatarUrl::parse(u).ok());
                who.unionid = who.unionid.or(profile.unionid);
            }
            Ok(who)
        }
        .await;
        let who = match who {
            Ok(who) => who,
            Err(e) => {
                self.sign_in_failed(ctx, kind::LOGIN, Some(&app), None, &e)
                    .await;
                return Err(e);
            }
        };
        let outcome = self
            .sign_in_wechat(ctx, &app, who, Unknown::ByPolicy)
            .await?;
        Ok(OAuthLogin {
            outcome,
            redirect_uri: record.redirect_uri,
        })
    }
}
