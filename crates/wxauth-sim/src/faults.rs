//! Injected misbehaviour: "the next n calls of this endpoint fail in this way".
//!
//! Checked on every API call, so the common case (nothing armed) is one atomic load and no lock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::error::SimError;
use crate::state::lock;

/// The simulated WeChat endpoints, for faults and call statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Jscode2session,
    StableToken,
    Token,
    Getuserphonenumber,
    Checksession,
    Resetusersessionkey,
    Oauth2AccessToken,
    Oauth2RefreshToken,
    /// `/sns/userinfo` (OAuth profile).
    Userinfo,
    SnsAuth,
    QrcodeCreate,
    Showqrcode,
    /// `/cgi-bin/user/info` (follow check).
    UserInfo,
    Getwxacodeunlimit,
}

impl Endpoint {
    pub const ALL: [Endpoint; 14] = [
        Self::Jscode2session,
        Self::StableToken,
        Self::Token,
        Self::Getuserphonenumber,
        Self::Checksession,
        Self::Resetusersessionkey,
        Self::Oauth2AccessToken,
        Self::Oauth2RefreshToken,
        Self::Userinfo,
        Self::SnsAuth,
        Self::QrcodeCreate,
        Self::Showqrcode,
        Self::UserInfo,
        Self::Getwxacodeunlimit,
    ];

    /// The name used by the control API (`"jscode2session"`, `"user_info"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Jscode2session => "jscode2session",
            Self::StableToken => "stable_token",
            Self::Token => "token",
            Self::Getuserphonenumber => "getuserphonenumber",
            Self::Checksession => "checksession",
            Self::Resetusersessionkey => "resetusersessionkey",
            Self::Oauth2AccessToken => "oauth2_access_token",
            Self::Oauth2RefreshToken => "oauth2_refresh_token",
            Self::Userinfo => "userinfo",
            Self::SnsAuth => "sns_auth",
            Self::QrcodeCreate => "qrcode_create",
            Self::Showqrcode => "showqrcode",
            Self::UserInfo => "user_info",
            Self::Getwxacodeunlimit => "getwxacodeunlimit",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|endpoint| endpoint.name() == name)
    }

    /// Position in [`Endpoint::ALL`], used to index the call counters.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Which calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    One(Endpoint),
    /// `"*"`: whichever endpoint is called next.
    Any,
}

impl FaultTarget {
    pub fn parse(name: &str) -> Option<Self> {
        if name == "*" {
            Some(Self::Any)
        } else {
            Endpoint::from_name(name).map(Self::One)
        }
    }

    fn matches(self, endpoint: Endpoint) -> bool {
        match self {
            Self::Any => true,
            Self::One(target) => target == endpoint,
        }
    }
}

/// How the next `count` calls misbehave. Effects combine: the delay comes first; then a
/// malformed body wins over an errcode, which wins over a bare HTTP status. A fault with only a
/// delay lets the call proceed normally afterwards (so a code is still consumed, like a real
/// request whose answer arrives after the client gave up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub target: FaultTarget,
    pub errcode: Option<i64>,
    pub delay: Option<Duration>,
    /// Answer with a body that is not JSON (a gateway's HTML error page).
    pub malformed: bool,
    /// HTTP status to answer with (default 200, like WeChat's errors).
    pub http_status: Option<u16>,
    pub count: u32,
}

impl Fault {
    /// A fault answering `errcode` to the next call of `endpoint`.
    pub fn errcode(endpoint: Endpoint, errcode: i64) -> Self {
        Self {
            target: FaultTarget::One(endpoint),
            errcode: Some(errcode),
            delay: None,
            malformed: false,
            http_status: None,
            count: 1,
        }
    }

    /// A fault delaying the next call of `endpoint`.
    pub fn delay(endpoint: Endpoint, delay: Duration) -> Self {
        Self {
            errcode: None,
            delay: Some(delay),
            ..Self::errcode(endpoint, 0)
        }
    }

    /// A fault answering a non-JSON body to the next call of `endpoint`.
    pub fn malformed(endpoint: Endpoint) -> Self {
        Self {
            errcode: None,
            malformed: true,
            ..Self::errcode(endpoint, 0)
        }
    }

    #[must_use]
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), SimError> {
        if self.count == 0 {
            return Err(SimError::invalid("count must be at least 1"));
        }
        if let Some(status) = self.http_status
            && !(100..=599).contains(&status)
        {
            return Err(SimError::invalid("http_status must be 100-599"));
        }
        if self.errcode.is_none()
            && self.delay.is_none()
            && !self.malformed
            && self.http_status.is_none()
        {
            return Err(SimError::invalid(
                "a fault needs errcode, delay_ms, malformed or http_status",
            ));
        }
        Ok(())
    }
}

/// The armed faults, consumed first-armed first.
#[derive(Debug, Default)]
pub(crate) struct FaultBoard {
    armed: Mutex<Vec<Fault>>,
    any_armed: AtomicBool,
}

impl FaultBoard {
    pub(crate) fn arm(&self, fault: Fault) {
        let mut armed = lock(&self.armed);
        armed.push(fault);
        self.any_armed.store(true, Ordering::Release);
    }

    pub(crate) fn clear(&self) {
        let mut armed = lock(&self.armed);
        armed.clear();
        self.any_armed.store(false, Ordering::Release);
    }

    /// Takes one use of the first fault armed for `endpoint`.
    pub(crate) fn take(&self, endpoint: Endpoint) -> Option<Fault> {
        if !self.any_armed.load(Ordering::Acquire) {
            return None;
        }
        let mut armed = lock(&self.armed);
        let position = armed.iter().position(|f| f.target.matches(endpoint))?;
        let fault = armed.get_mut(position)?;
        fault.count -= 1;
        let taken = fault.clone();
        if fault.count == 0 {
            armed.remove(position);
        }
        self.any_armed.store(!armed.is_empty(), Ordering::Release);
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::from_name(endpoint.name()), Some(endpoint));
            assert_eq!(Endpoint::ALL[endpoint.index()], endpoint);
        }
        assert_eq!(FaultTarget::parse("*"), Some(FaultTarget::Any));
        assert_eq!(FaultTarget::parse("nope"), None);
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let board = FaultBoard::default();
        board.arm(Fault::errcode(Endpoint::Token, -1).times(2));
        board.arm(Fault::errcode(Endpoint::Token, 45011));
        let codes: Vec<_> = (0..4)
            .map(|_| board.take(Endpoint::Token).and_then(|f| f.errcode))
            .collect();
        assert_eq!(codes, [Some(-1), Some(-1), Some(45011), None]);
    }

    #[test]
    fn a_fault_for_one_endpoint_leaves_others_alone() {
        let board = FaultBoard::default();
        board.arm(Fault::errcode(Endpoint::Token, -1));
        assert!(board.take(Endpoint::StableToken).is_none());
        assert!(board.take(Endpoint::Token).is_some());
    }
}
