//! Accounts and fake users.

use super::SimState;
use crate::config::SimApp;
use crate::error::SimError;
use crate::store::AppState;
use crate::store::users::{NewUser, SimUser, UserRecord};

impl SimState {
    /// Adds an account, or reconfigures an existing one (its users, codes and tokens stay).
    pub fn add_app(&self, app: SimApp) -> Result<(), SimError> {
        let aes_key = app.validate()?;
        self.with_world(|world, _| match world.apps.get_mut(&app.appid) {
            Some(existing) => {
                existing.app = app;
                existing.aes_key = aes_key;
            }
            None => {
                world
                    .apps
                    .insert(app.appid.clone(), AppState::new(app, aes_key));
            }
        });
        Ok(())
    }

    /// Every account, sorted by appid.
    pub fn apps(&self) -> Vec<SimApp> {
        let mut apps: Vec<SimApp> =
            self.with_world(|world, _| world.apps.values().map(|a| a.app.clone()).collect());
        apps.sort_by(|a, b| a.appid.cmp(&b.appid));
        apps
    }

    /// Creates a fake user in `user.appid`.
    pub fn create_user(&self, user: NewUser) -> Result<SimUser, SimError> {
        self.with_world(|world, now| {
            let app = world.app_mut(&user.appid)?;
            let user = user.into_user(now)?;
            if app.users.contains_key(&user.openid) {
                return Err(SimError::Conflict(format!(
                    "openid {} exists in app {}",
                    user.openid, user.appid
                )));
            }
            app.users
                .insert(user.openid.clone(), UserRecord::new(user.clone(), now));
            Ok(user)
        })
    }

    /// The users of one app, sorted by openid.
    pub fn users(&self, appid: &str) -> Result<Vec<SimUser>, SimError> {
        let mut users = self.with_world(|world, _| {
            let app = world.app(appid)?;
            Ok::<_, SimError>(
                app.users
                    .values()
                    .map(|r| r.user.clone())
                    .collect::<Vec<_>>(),
            )
        })?;
        users.sort_by(|a, b| a.openid.cmp(&b.openid));
        Ok(users)
    }

    /// One user as it is now (follow state included).
    pub fn user(&self, appid: &str, openid: &str) -> Result<SimUser, SimError> {
        self.with_world(|world, _| Ok(world.app(appid)?.user(openid)?.user.clone()))
    }
}
