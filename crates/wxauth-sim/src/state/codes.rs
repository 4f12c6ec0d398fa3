//! Codes a real client would obtain from the WeChat app, minted directly for tests.

use super::SimState;
use crate::config::SimAppKind;
use crate::error::SimError;
use crate::store::oauth::{OAuthConsent, OAuthGrant};

/// Upper bound of one `login_codes` batch (load tests mint many at once).
pub(crate) const MAX_LOGIN_CODES: usize = 100_000;

impl SimState {
    /// A `wx.login` code for a Mini Program user, valid 5 minutes, single-use.
    pub fn login_code(&self, appid: &str, openid: &str) -> Result<String, SimError> {
        let mut codes = self.login_codes(appid, openid, 1)?;
        codes
            .pop()
            .ok_or_else(|| SimError::invalid("no code minted"))
    }

    /// `count` login codes at once (1–100000), for load tests.
    pub fn login_codes(
        &self,
        appid: &str,
        openid: &str,
        count: usize,
    ) -> Result<Vec<String>, SimError> {
        if !(1..=MAX_LOGIN_CODES).contains(&count) {
            return Err(SimError::invalid(format!(
                "count must be 1-{MAX_LOGIN_CODES}"
            )));
        }
        self.with_world(|world, now| {
            let app = world.app_mut(appid)?;
            require_kind(app.app.kind, SimAppKind::MiniProgram, "login codes")?;
            app.user(openid)?;
            Ok((0..count)
                .map(|_| {
                    app.login_codes
                        .issue(openid.to_owned(), now, crate::ids::login_code)
                })
                .collect())
        })
    }

    /// A `getPhoneNumber` code for a Mini Program user who has a phone number.
    pub fn phone_code(&self, appid: &str, openid: &str) -> Result<String, SimError> {
        self.with_world(|world, now| {
            let app = world.app_mut(appid)?;
            require_kind(app.app.kind, SimAppKind::MiniProgram, "phone codes")?;
            if app.user(openid)?.user.phone.is_none() {
                return Err(SimError::invalid(format!("user {openid} has no phone")));
            }
            Ok(app
                .phone_codes
                .issue(openid.to_owned(), now, crate::ids::phone_code))
        })
    }

    /// An OAuth code as the authorize page would issue it after consent.
    pub fn oauth_code(&self, appid: &str, openid: &str, scope: &str) -> Result<String, SimError> {
        self.with_world(|world, now| {
            let app = world.app_mut(appid)?;
            if !app.app.kind.oauth_scopes().contains(&scope) {
                return Err(SimError::invalid(format!(
                    "scope {scope} is not available to a {} app",
                    app.app.kind.as_str()
                )));
            }
            app.user(openid)?;
            let grant = OAuthGrant {
                openid: openid.to_owned(),
                scope: scope.to_owned(),
            };
            Ok(app.oauth_codes.issue(grant, now, crate::ids::oauth_code))
        })
    }

    /// Decides what the authorize page does for `appid` from now on.
    pub fn set_consent(&self, appid: &str, consent: OAuthConsent) -> Result<(), SimError> {
        self.with_world(|world, _| {
            let app = world.app_mut(appid)?;
            if app.app.kind.oauth_scopes().is_empty() {
                return Err(SimError::invalid("Mini Programs have no web OAuth"));
            }
            if let OAuthConsent::Approve { openid } = &consent {
                app.user(openid)?;
            }
            app.consent = consent;
            Ok(())
        })
    }
}

fn require_kind(actual: SimAppKind, wanted: SimAppKind, what: &str) -> Result<(), SimError> {
    if actual == wanted {
        Ok(())
    } else {
        Err(SimError::invalid(format!(
            "{what} exist only for {} apps, not {}",
            wanted.as_str(),
            actual.as_str()
        )))
    }
}
