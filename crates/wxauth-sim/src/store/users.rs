//! Fake WeChat users. A user belongs to one app (openids are per app); the same person in two
//! apps is two records sharing a unionid, exactly as WeChat models it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::SimTime;
use crate::error::SimError;
use crate::phone::SimPhone;
use crate::store::tickets::Scene;

/// A fake user as the control API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub phone: Option<SimPhone>,
    pub nickname: String,
    pub headimgurl: String,
    /// 0 unknown, 1 male, 2 female.
    pub sex: u8,
    pub province: String,
    pub city: String,
    pub country: String,
    /// Follows the (Official Account) app.
    pub subscribed: bool,
    /// Unix seconds of the last follow.
    pub subscribe_time: Option<u64>,
    /// `ADD_SCENE_QR_CODE`, `ADD_SCENE_SEARCH`, …
    pub subscribe_scene: Option<String>,
    /// The numeric scene of the QR code that made the user follow (0 if none).
    pub qr_scene: u64,
    /// The string scene of the QR code that made the user follow (empty if none).
    pub qr_scene_str: String,
    /// A virtual user browsing a Moments snapshot page: `is_snapshotuser: 1` in OAuth.
    pub snapshot: bool,
    /// Login blocked with 40226.
    pub high_risk: bool,
}

/// What to create: everything but the appid is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub appid: String,
    /// Generated as `o` + 27 URL-safe characters when absent.
    #[serde(default)]
    pub openid: Option<String>,
    #[serde(default)]
    pub unionid: Option<String>,
    /// `+8613800138000`, `+1 4155550100`, or a bare mainland number.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub headimgurl: Option<String>,
    #[serde(default)]
    pub sex: Option<u8>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub subscribed: bool,
    #[serde(default)]
    pub snapshot: bool,
    #[serde(default)]
    pub high_risk: bool,
}

impl NewUser {
    pub fn new(appid: impl Into<String>) -> Self {
        Self {
            appid: appid.into(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn openid(mut self, openid: impl Into<String>) -> Self {
        self.openid = Some(openid.into());
        self
    }

    #[must_use]
    pub fn unionid(mut self, unionid: impl Into<String>) -> Self {
        self.unionid = Some(unionid.into());
        self
    }

    #[must_use]
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    #[must_use]
    pub fn nickname(mut self, nickname: impl Into<String>) -> Self {
        self.nickname = Some(nickname.into());
        self
    }

    #[must_use]
    pub fn subscribed(mut self) -> Self {
        self.subscribed = true;
        self
    }

    #[must_use]
    pub fn snapshot(mut self) -> Self {
        self.snapshot = true;
        self
    }

    #[must_use]
    pub fn high_risk(mut self) -> Self {
        self.high_risk = true;
        self
    }

    /// Validates and fills the defaults WeChat shows for privacy-protected profiles.
    pub(crate) fn into_user(self, now: SimTime) -> Result<SimUser, SimError> {
        let openid = match self.openid {
            Some(openid) => {
                check_id("openid", &openid)?;
                openid
            }
            None => crate::ids::openid(),
        };
        if let Some(unionid) = &self.unionid {
            check_id("unionid", unionid)?;
        }
        let phone = self
            .phone
            .as_deref()
            .map(SimPhone::parse)
            .transpose()
            .map_err(SimError::Invalid)?;
        let sex = self.sex.unwrap_or(0);
        if sex > 2 {
            return Err(SimError::invalid("sex must be 0, 1 or 2"));
        }
        let mut user = SimUser {
            appid: self.appid,
            openid,
            unionid: self.unionid,
            phone,
            nickname: self.nickname.unwrap_or_else(|| "微信用户".to_owned()),
            headimgurl: self.headimgurl.unwrap_or_else(crate::ids::avatar_url),
            sex,
            province: self.province.unwrap_or_default(),
            city: self.city.unwrap_or_default(),
            country: self.country.unwrap_or_default(),
            subscribed: false,
            subscribe_time: None,
            subscribe_scene: None,
            qr_scene: 0,
            qr_scene_str: String::new(),
            snapshot: self.snapshot,
            high_risk: self.high_risk,
        };
        if self.subscribed {
            user.follow(now, "ADD_SCENE_SEARCH", None);
        }
        Ok(user)
    }
}

fn check_id(field: &str, value: &str) -> Result<(), SimError> {
    if value.is_empty()
        || value.len() > 64
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(SimError::invalid(format!(
            "{field} must be 1-64 characters of [A-Za-z0-9_-]"
        )));
    }
    Ok(())
}

impl SimUser {
    /// Marks the user following, remembering how (for `/cgi-bin/user/info`).
    pub(crate) fn follow(&mut self, now: SimTime, scene_name: &str, qr: Option<&Scene>) {
        self.subscribed = true;
        self.subscribe_time = Some(now.unix_secs());
        self.subscribe_scene = Some(scene_name.to_owned());
        (self.qr_scene, self.qr_scene_str) = match qr {
            Some(Scene::Id(id)) => (u64::from(*id), String::new()),
            Some(Scene::Str(text)) => (0, text.clone()),
            None => (0, String::new()),
        };
    }

    pub(crate) fn unfollow(&mut self) {
        self.subscribed = false;
        self.subscribe_time = None;
        self.subscribe_scene = None;
        self.qr_scene = 0;
        self.qr_scene_str.clear();
    }
}

/// Per-user login rate window (fixed one-minute windows).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateWindow {
    started: SimTime,
    calls: u32,
}

/// WeChat's documented `jscode2session` limit.
pub(crate) const LOGINS_PER_MINUTE: u32 = 100;

impl RateWindow {
    /// Counts one call; false when the call is over the limit.
    pub(crate) fn admit(&mut self, now: SimTime) -> bool {
        if self.started.plus(Duration::from_secs(60)) <= now {
            self.started = now;
            self.calls = 0;
        }
        self.calls = self.calls.saturating_add(1);
        self.calls <= LOGINS_PER_MINUTE
    }
}

/// A user plus the server-side secrets that are not part of the public view.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) user: SimUser,
    /// Set by every successful login; `None` before the first.
    pub(crate) session_key: Option<String>,
    pub(crate) logins: RateWindow,
}

impl UserRecord {
    pub(crate) fn new(user: SimUser, now: SimTime) -> Self {
        Self {
            user,
            session_key: None,
            logins: RateWindow {
                started: now,
                calls: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_look_like_a_privacy_protected_wechat_profile() {
        let user = NewUser::new("wx1")
            .into_user(SimTime::from_millis(0))
            .unwrap();
        assert_eq!(user.nickname, "微信用户");
        assert_eq!(user.openid.len(), 28);
        assert!(!user.subscribed);
    }

    #[test]
    fn bad_fields_are_refused() {
        let now = SimTime::from_millis(0);
        assert!(
            NewUser::new("wx1")
                .openid("has space")
                .into_user(now)
                .is_err()
        );
        assert!(NewUser::new("wx1").phone("+86abc").into_user(now).is_err());
        let mut user = NewUser::new("wx1");
        user.sex = Some(3);
        assert!(user.into_user(now).is_err());
    }

    #[test]
    fn the_101st_login_in_a_minute_is_refused_and_the_next_minute_is_fresh() {
        let start = SimTime::from_millis(0);
        let mut window =
            UserRecord::new(NewUser::new("wx1").into_user(start).unwrap(), start).logins;
        for _ in 0..100 {
            assert!(window.admit(start));
        }
        assert!(!window.admit(start.plus(Duration::from_secs(59))));
        assert!(window.admit(start.plus(Duration::from_secs(60))));
    }
}
