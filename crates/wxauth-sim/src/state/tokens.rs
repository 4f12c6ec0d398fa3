//! Control over app access tokens, to drive clients through 40001 and 42001.

use super::SimState;
use crate::error::SimError;

impl SimState {
    /// Every token of the app that still works stops working now with 40001 ("invalid or not
    /// latest"), as when another instance force-refreshed.
    pub fn invalidate_access_tokens(&self, appid: &str) -> Result<(), SimError> {
        self.with_world(|world, now| {
            world.app(appid)?;
            world.app_tokens.revoke_all_of(appid, now);
            Ok(())
        })
    }

    /// Every token of the app that still works expires now: calls answer 42001.
    pub fn expire_access_tokens(&self, appid: &str) -> Result<(), SimError> {
        self.with_world(|world, now| {
            world.app(appid)?;
            world.app_tokens.expire_all_of(appid, now);
            Ok(())
        })
    }
}
