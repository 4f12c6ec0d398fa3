//! App-level access tokens (`/cgi-bin/token` and `/cgi-bin/stable_token`) and their checks.
//!
//! A token has two ends: its natural expiry (after which WeChat answers 42001) and an optional
//! revocation time (replaced or invalidated: 40001). Plain tokens get revoked five minutes after
//! their successor is issued; forced stable refreshes revoke at once.

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::SimTime;
use crate::wx_error::WxErr;

pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(7200);
/// How long a plain token keeps working after the next one was fetched.
pub(crate) const PLAIN_OVERLAP: Duration = Duration::from_secs(300);
/// Tokens that ended this long ago are forgotten (and then answer 40001 like any unknown token).
const RETENTION: Duration = Duration::from_secs(86_400);

#[derive(Debug)]
struct TokenEntry {
    appid: String,
    expires_at: SimTime,
    revoked_at: Option<SimTime>,
}

impl TokenEntry {
    fn is_live(&self, now: SimTime) -> bool {
        self.expires_at > now && self.revoked_at.is_none_or(|at| at > now)
    }

    fn ended_at(&self) -> SimTime {
        self.revoked_at
            .map_or(self.expires_at, |at| at.min(self.expires_at))
    }
}

#[derive(Debug, Default)]
pub(crate) struct AppTokens {
    entries: HashMap<String, TokenEntry>,
    next_sweep: Option<SimTime>,
}

impl AppTokens {
    pub(crate) fn issue(&mut self, appid: &str, now: SimTime) -> String {
        self.sweep(now);
        let mut token = crate::ids::access_token();
        while self.entries.contains_key(&token) {
            token = crate::ids::access_token();
        }
        self.entries.insert(
            token.clone(),
            TokenEntry {
                appid: appid.to_owned(),
                expires_at: now.plus(TOKEN_TTL),
                revoked_at: None,
            },
        );
        token
    }

    /// The appid a token belongs to, or the errcode WeChat gives for it.
    pub(crate) fn check(&self, token: Option<&str>, now: SimTime) -> Result<&str, WxErr> {
        let token = token.ok_or(WxErr::ACCESS_TOKEN_MISSING)?;
        let entry = self.entries.get(token).ok_or(WxErr::INVALID_CREDENTIAL)?;
        if entry.expires_at <= now {
            return Err(WxErr::ACCESS_TOKEN_EXPIRED);
        }
        if entry.revoked_at.is_some_and(|at| at <= now) {
            return Err(WxErr::INVALID_CREDENTIAL);
        }
        Ok(&entry.appid)
    }

    /// Seconds left for a live token, `None` when it no longer works.
    pub(crate) fn remaining(&self, token: &str, now: SimTime) -> Option<u64> {
        let entry = self.entries.get(token).filter(|e| e.is_live(now))?;
        Some(now.until(entry.expires_at).as_secs())
    }

    /// Makes a token stop working at `at` (or earlier, if it already would).
    pub(crate) fn revoke(&mut self, token: &str, at: SimTime) {
        if let Some(entry) = self.entries.get_mut(token) {
            entry.revoked_at = Some(entry.revoked_at.map_or(at, |old| old.min(at)));
        }
    }

    /// Revokes every live token of an app now (control API: "invalidate").
    pub(crate) fn revoke_all_of(&mut self, appid: &str, now: SimTime) {
        for entry in self.entries.values_mut() {
            if entry.appid == appid && entry.is_live(now) {
                entry.revoked_at = Some(now);
            }
        }
    }

    /// Ends every live token of an app by expiry now (control API: "expire").
    pub(crate) fn expire_all_of(&mut self, appid: &str, now: SimTime) {
        for entry in self.entries.values_mut() {
            if entry.appid == appid && entry.is_live(now) {
                entry.expires_at = now;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    fn sweep(&mut self, now: SimTime) {
        if self.next_sweep.is_some_and(|at| now < at) {
            return;
        }
        self.entries
            .retain(|_, entry| entry.ended_at().plus(RETENTION) > now);
        self.next_sweep = Some(now.plus(Duration::from_secs(3600)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SimTime {
        SimTime::from_millis(secs * 1000)
    }

    #[test]
    fn check_distinguishes_missing_unknown_expired_and_revoked() {
        let mut tokens = AppTokens::default();
        let token = tokens.issue("wx1", t(0));
        assert_eq!(tokens.check(Some(&token), t(10)), Ok("wx1"));
        assert_eq!(tokens.check(None, t(10)), Err(WxErr::ACCESS_TOKEN_MISSING));
        assert_eq!(
            tokens.check(Some("nope"), t(10)),
            Err(WxErr::INVALID_CREDENTIAL)
        );
        assert_eq!(
            tokens.check(Some(&token), t(7200)),
            Err(WxErr::ACCESS_TOKEN_EXPIRED)
        );
        tokens.revoke(&token, t(20));
        assert_eq!(tokens.check(Some(&token), t(19)), Ok("wx1"));
        assert_eq!(
            tokens.check(Some(&token), t(20)),
            Err(WxErr::INVALID_CREDENTIAL)
        );
    }

    #[test]
    fn remaining_counts_down_and_stops_at_revocation() {
        let mut tokens = AppTokens::default();
        let token = tokens.issue("wx1", t(0));
        assert_eq!(tokens.remaining(&token, t(0)), Some(7200));
        assert_eq!(tokens.remaining(&token, t(100)), Some(7100));
        tokens.revoke(&token, t(200));
        assert_eq!(tokens.remaining(&token, t(200)), None);
    }
}
