//! Web OAuth2 state: what the authorize page does for an app, and user-level tokens.
//!
//! User tokens are per user and unrelated to the app access tokens of `app_tokens`.

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::SimTime;
use crate::wx_error::WxErr;

pub(crate) const USER_TOKEN_TTL: Duration = Duration::from_secs(7200);
pub(crate) const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);
/// Expired user tokens are kept this long to answer 42001 instead of 40001.
const RETENTION: Duration = Duration::from_secs(86_400);

/// What the authorize page does when a browser arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OAuthConsent {
    /// Show the page listing the app's fake users (the default).
    #[default]
    Prompt,
    /// Redirect at once with a code for this user, as if they had agreed.
    Approve { openid: String },
    /// Redirect at once without a code, as if the user had refused.
    Deny,
}

/// What an OAuth code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthGrant {
    pub(crate) openid: String,
    pub(crate) scope: String,
}

#[derive(Debug, Clone)]
pub(crate) struct UserToken {
    pub(crate) appid: String,
    pub(crate) openid: String,
    pub(crate) scope: String,
    expires_at: SimTime,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) appid: String,
    pub(crate) openid: String,
    pub(crate) scope: String,
    expires_at: SimTime,
}

#[derive(Debug, Default)]
pub(crate) struct UserTokens {
    access: HashMap<String, UserToken>,
    refresh: HashMap<String, RefreshGrant>,
    next_sweep: Option<SimTime>,
}

impl UserTokens {
    /// A new access token for the grant.
    pub(crate) fn issue_access(&mut self, appid: &str, grant: &OAuthGrant, now: SimTime) -> String {
        self.sweep(now);
        let token = crate::ids::user_token();
        self.access.insert(
            token.clone(),
            UserToken {
                appid: appid.to_owned(),
                openid: grant.openid.clone(),
                scope: grant.scope.clone(),
                expires_at: now.plus(USER_TOKEN_TTL),
            },
        );
        token
    }

    /// A new refresh token for the grant, valid 30 days.
    pub(crate) fn issue_refresh(
        &mut self,
        appid: &str,
        grant: &OAuthGrant,
        now: SimTime,
    ) -> String {
        let token = crate::ids::user_token();
        self.refresh.insert(
            token.clone(),
            RefreshGrant {
                appid: appid.to_owned(),
                openid: grant.openid.clone(),
                scope: grant.scope.clone(),
                expires_at: now.plus(REFRESH_TOKEN_TTL),
            },
        );
        token
    }

    /// The token's owner, or 41001 / 40001 / 42001.
    pub(crate) fn check_access(
        &self,
        token: Option<&str>,
        now: SimTime,
    ) -> Result<&UserToken, WxErr> {
        let token = token.ok_or(WxErr::ACCESS_TOKEN_MISSING)?;
        let entry = self.access.get(token).ok_or(WxErr::INVALID_CREDENTIAL)?;
        if entry.expires_at <= now {
            return Err(WxErr::ACCESS_TOKEN_EXPIRED);
        }
        Ok(entry)
    }

    /// The refresh token's grant, or 41003 / 40030 / 42002. The token must belong to `appid`.
    pub(crate) fn check_refresh(
        &self,
        appid: &str,
        token: Option<&str>,
        now: SimTime,
    ) -> Result<&RefreshGrant, WxErr> {
        let token = token.ok_or(WxErr::REFRESH_TOKEN_MISSING)?;
        let grant = self
            .refresh
            .get(token)
            .filter(|grant| grant.appid == appid)
            .ok_or(WxErr::INVALID_REFRESH_TOKEN)?;
        if grant.expires_at <= now {
            return Err(WxErr::REFRESH_TOKEN_EXPIRED);
        }
        Ok(grant)
    }

    pub(crate) fn clear(&mut self) {
        self.access.clear();
        self.refresh.clear();
    }

    fn sweep(&mut self, now: SimTime) {
        if self.next_sweep.is_some_and(|at| now < at) {
            return;
        }
        self.access
            .retain(|_, token| token.expires_at.plus(RETENTION) > now);
        self.refresh
            .retain(|_, grant| grant.expires_at.plus(RETENTION) > now);
        self.next_sweep = Some(now.plus(Duration::from_secs(3600)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_expire_after_two_hours() {
        let mut tokens = UserTokens::default();
        let grant = OAuthGrant {
            openid: "o1".into(),
            scope: "snsapi_base".into(),
        };
        let start = SimTime::from_millis(0);
        let token = tokens.issue_access("wx1", &grant, start);
        assert!(tokens.check_access(Some(&token), start).is_ok());
        let later = start.plus(USER_TOKEN_TTL);
        assert_eq!(
            tokens.check_access(Some(&token), later).err(),
            Some(WxErr::ACCESS_TOKEN_EXPIRED)
        );
    }

    #[test]
    fn refresh_tokens_belong_to_their_app() {
        let mut tokens = UserTokens::default();
        let grant = OAuthGrant {
            openid: "o1".into(),
            scope: "snsapi_base".into(),
        };
        let now = SimTime::from_millis(0);
        let refresh = tokens.issue_refresh("wx1", &grant, now);
        assert!(tokens.check_refresh("wx1", Some(&refresh), now).is_ok());
        assert_eq!(
            tokens.check_refresh("wx2", Some(&refresh), now).err(),
            Some(WxErr::INVALID_REFRESH_TOKEN)
        );
    }
}
