//! Single-use codes with a time to live: `wx.login` codes, phone codes, OAuth codes.
//!
//! A used code stays known until it expires, so a second use answers "already used" (40163)
//! rather than "invalid". Once expired, used or not, a code is indistinguishable from an unknown
//! one (40029), which is what lets the store forget expired entries.

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::SimTime;

/// WeChat's lifetime for all three kinds of code.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeError {
    /// Unknown, expired, or issued for another app.
    Invalid,
    /// Known and still valid, but already redeemed.
    Used,
}

#[derive(Debug)]
pub(crate) struct CodeEntry<G> {
    pub(crate) grant: G,
    expires_at: SimTime,
    used: bool,
}

impl<G> CodeEntry<G> {
    pub(crate) fn is_used(&self) -> bool {
        self.used
    }

    pub(crate) fn mark_used(&mut self) {
        self.used = true;
    }
}

#[derive(Debug)]
pub(crate) struct CodeStore<G> {
    entries: HashMap<String, CodeEntry<G>>,
    next_sweep: SimTime,
}

impl<G> Default for CodeStore<G> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            next_sweep: SimTime::from_millis(0),
        }
    }
}

impl<G> CodeStore<G> {
    /// Stores a fresh code made by `make` (retried on the astronomically unlikely collision).
    pub(crate) fn issue(&mut self, grant: G, now: SimTime, make: fn() -> String) -> String {
        self.sweep(now);
        let mut code = make();
        while self.entries.contains_key(&code) {
            code = make();
        }
        self.entries.insert(
            code.clone(),
            CodeEntry {
                grant,
                expires_at: now.plus(CODE_TTL),
                used: false,
            },
        );
        code
    }

    /// The entry of a code that is known and not expired; the caller decides whether "used"
    /// matters and when to mark it.
    pub(crate) fn find(
        &mut self,
        code: &str,
        now: SimTime,
    ) -> Result<&mut CodeEntry<G>, CodeError> {
        match self.entries.get_mut(code) {
            Some(entry) if entry.expires_at > now => Ok(entry),
            _ => Err(CodeError::Invalid),
        }
    }

    /// Finds a code, refuses it when used, and marks it used otherwise.
    pub(crate) fn redeem(&mut self, code: &str, now: SimTime) -> Result<&G, CodeError> {
        let entry = self.find(code, now)?;
        if entry.used {
            return Err(CodeError::Used);
        }
        entry.used = true;
        Ok(&entry.grant)
    }

    /// Drops expired entries, at most once per TTL so issuing stays O(1) amortised.
    fn sweep(&mut self, now: SimTime) {
        if now >= self.next_sweep {
            self.entries.retain(|_, entry| entry.expires_at > now);
            self.next_sweep = now.plus(CODE_TTL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SimTime {
        SimTime::from_millis(secs * 1000)
    }

    #[test]
    fn a_code_redeems_once_then_reports_used_then_expires_to_invalid() {
        let mut store = CodeStore::default();
        let code = store.issue("openid", t(1000), crate::ids::login_code);
        assert_eq!(store.redeem(&code, t(1001)), Ok(&"openid"));
        assert_eq!(store.redeem(&code, t(1002)).unwrap_err(), CodeError::Used);
        assert_eq!(
            store.redeem(&code, t(1300)).unwrap_err(),
            CodeError::Invalid
        );
    }

    #[test]
    fn an_unused_code_expires_after_five_minutes() {
        let mut store = CodeStore::default();
        let code = store.issue((), t(0), crate::ids::login_code);
        assert!(store.find(&code, t(299)).is_ok());
        assert_eq!(store.find(&code, t(300)).err(), Some(CodeError::Invalid));
    }

    #[test]
    fn expired_codes_are_swept_on_issue() {
        let mut store = CodeStore::default();
        store.issue((), t(0), crate::ids::login_code);
        store.issue((), t(1000), crate::ids::login_code);
        assert_eq!(store.entries.len(), 1);
    }
}
