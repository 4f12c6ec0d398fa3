//! The simulator's mutable world: apps, their users, codes, tokens and tickets.
//!
//! Everything lives in one `Inner` behind one mutex (see `state`): operations are short map
//! lookups, and one lock keeps cross-map invariants (a code's user exists, a token's app exists)
//! trivially true. Nothing here is async or does I/O.

pub(crate) mod app_tokens;
pub(crate) mod codes;
pub(crate) mod oauth;
pub(crate) mod tickets;
pub(crate) mod users;

use std::collections::HashMap;

use crate::clock::SimTime;
use crate::config::{SimApp, SimAppKind};
use crate::error::SimError;
use crate::stats::TokenFetches;
use crate::wx_error::WxErr;
use app_tokens::AppTokens;
use codes::CodeStore;
use oauth::{OAuthConsent, OAuthGrant, UserTokens};
use tickets::Tickets;
use users::UserRecord;

/// Accounts by appid.
pub(crate) type Apps = HashMap<String, AppState>;

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) apps: Apps,
    pub(crate) app_tokens: AppTokens,
    pub(crate) user_tokens: UserTokens,
    pub(crate) tickets: Tickets,
}

/// One account and everything scoped to it.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) app: SimApp,
    /// The decoded EncodingAESKey, if any.
    pub(crate) aes_key: Option<[u8; 32]>,
    pub(crate) users: HashMap<String, UserRecord>,
    /// `wx.login` codes; the grant is the openid.
    pub(crate) login_codes: CodeStore<String>,
    /// `getPhoneNumber` codes; the grant is the openid.
    pub(crate) phone_codes: CodeStore<String>,
    pub(crate) oauth_codes: CodeStore<OAuthGrant>,
    pub(crate) consent: OAuthConsent,
    pub(crate) tokens: TokenSlots,
    pub(crate) fetches: TokenFetches,
}

/// The app's current tokens and the bookkeeping of WeChat's limits on fetching them.
#[derive(Debug, Default)]
pub(crate) struct TokenSlots {
    pub(crate) stable: Option<String>,
    pub(crate) plain: Option<String>,
    pub(crate) last_forced: Option<SimTime>,
    pub(crate) plain_today: DailyCounter,
    pub(crate) forced_today: DailyCounter,
}

/// Calls per WeChat day. WeChat's quotas reset at midnight Beijing time (UTC+8).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DailyCounter {
    day: u64,
    count: u32,
}

impl DailyCounter {
    /// Counts one call; false (and not counted) when `limit` calls were made today already.
    pub(crate) fn admit(&mut self, now: SimTime, limit: u32) -> bool {
        let day = (now.unix_secs() + 8 * 3600) / 86_400;
        if day != self.day {
            self.day = day;
            self.count = 0;
        }
        if self.count >= limit {
            return false;
        }
        self.count += 1;
        true
    }
}

impl AppState {
    pub(crate) fn new(app: SimApp, aes_key: Option<[u8; 32]>) -> Self {
        Self {
            app,
            aes_key,
            users: HashMap::new(),
            login_codes: CodeStore::default(),
            phone_codes: CodeStore::default(),
            oauth_codes: CodeStore::default(),
            consent: OAuthConsent::Prompt,
            tokens: TokenSlots::default(),
            fetches: TokenFetches::default(),
        }
    }

    /// Forgets users, codes and token bookkeeping; keeps the account itself.
    pub(crate) fn reset(&mut self) {
        let app = self.app.clone();
        *self = Self::new(app, self.aes_key);
    }

    pub(crate) fn user(&self, openid: &str) -> Result<&UserRecord, SimError> {
        self.users
            .get(openid)
            .ok_or_else(|| SimError::unknown_user(&self.app.appid, openid))
    }

    pub(crate) fn user_mut(&mut self, openid: &str) -> Result<&mut UserRecord, SimError> {
        let appid = &self.app.appid;
        self.users
            .get_mut(openid)
            .ok_or_else(|| SimError::unknown_user(appid, openid))
    }
}

impl Inner {
    pub(crate) fn app(&self, appid: &str) -> Result<&AppState, SimError> {
        self.apps
            .get(appid)
            .ok_or_else(|| SimError::unknown_app(appid))
    }

    pub(crate) fn app_mut(&mut self, appid: &str) -> Result<&mut AppState, SimError> {
        self.apps
            .get_mut(appid)
            .ok_or_else(|| SimError::unknown_app(appid))
    }

    /// Clears users, codes, tokens and tickets; apps stay.
    pub(crate) fn reset(&mut self) {
        for app in self.apps.values_mut() {
            app.reset();
        }
        self.app_tokens.clear();
        self.user_tokens.clear();
        self.tickets.clear();
    }
}

/// Checks an appid/secret pair the way WeChat's credential-taking APIs do: 41002, 40013,
/// 41004, then `wrong_secret` (40125 on most APIs, 40001 on `/cgi-bin/token`).
///
/// A free function over the app map (not a method of `Inner`) so callers can hold the app and
/// the token maps at the same time.
pub(crate) fn authenticate<'a>(
    apps: &'a mut Apps,
    appid: Option<&str>,
    secret: Option<&str>,
    wrong_secret: WxErr,
) -> Result<&'a mut AppState, WxErr> {
    let appid = appid.ok_or(WxErr::APPID_MISSING)?;
    let app = apps.get_mut(appid).ok_or(WxErr::INVALID_APPID)?;
    let secret = secret.ok_or(WxErr::SECRET_MISSING)?;
    if app.app.secret != secret {
        return Err(wrong_secret);
    }
    Ok(app)
}

/// The app an access token belongs to, after the token checks (41001, 40001, 42001).
pub(crate) fn authorize<'a>(
    apps: &'a mut Apps,
    tokens: &AppTokens,
    access_token: Option<&str>,
    now: SimTime,
) -> Result<&'a mut AppState, WxErr> {
    let appid = tokens.check(access_token, now)?;
    apps.get_mut(appid).ok_or(WxErr::INVALID_CREDENTIAL)
}

/// 48001 unless the app is of the kind the API is reserved for.
pub(crate) fn require_kind(app: &AppState, kind: SimAppKind) -> Result<(), WxErr> {
    if app.app.kind == kind {
        Ok(())
    } else {
        Err(WxErr::API_UNAUTHORIZED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn daily_counter_resets_at_beijing_midnight() {
        // 2023-11-14 15:59:59 UTC is 23:59:59 in Beijing.
        let before_midnight = SimTime::from_millis(1_699_977_599_000);
        let mut counter = DailyCounter::default();
        assert!(counter.admit(before_midnight, 1));
        assert!(!counter.admit(before_midnight, 1));
        assert!(counter.admit(before_midnight.plus(Duration::from_secs(1)), 1));
    }
}
