//! The binary's `--config` file: apps and pre-created users, as JSON.
//!
//! ```json
//! {
//!   "apps": [{"appid": "wx1", "secret": "s1", "kind": "mini_program",
//!             "pages": ["pages/index/index", "pages/login/index"]}],
//!   "users": [{"appid": "wx1", "openid": "oUSER", "phone": "+8613800138000"}]
//! }
//! ```
//!
//! A Mini Program's `pages` (its published pages, checked by `getwxacodeunlimit`) default to
//! `pages/index/index` and `pages/login/index`.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::config::SimApp;
use crate::state::SimState;
use crate::store::users::NewUser;

/// The contents of a `--config` file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFile {
    #[serde(default)]
    pub apps: Vec<SimApp>,
    #[serde(default)]
    pub users: Vec<NewUser>,
}

impl SimFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid config", path.display()))
    }

    /// Creates the file's users (its apps go into `SimConfig::apps` so they exist at start).
    pub fn create_users(&self, state: &SimState) -> anyhow::Result<()> {
        for user in &self.users {
            state.create_user(user.clone()).with_context(|| {
                format!("cannot create user {:?} in {}", user.openid, user.appid)
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mini_program_pages_are_read_or_defaulted() {
        let file: SimFile = serde_json::from_str(
            r#"{"apps": [
                {"appid": "wx1", "secret": "s1", "kind": "mini_program", "pages": ["pages/scan/index"]},
                {"appid": "wx2", "secret": "s2", "kind": "mini_program"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(file.apps[0].pages, ["pages/scan/index"]);
        assert_eq!(
            file.apps[1].pages,
            ["pages/index/index", "pages/login/index"]
        );
    }
}
