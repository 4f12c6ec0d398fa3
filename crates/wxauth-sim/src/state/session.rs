//! The client side of a Mini Program login, for tests: the session key WeChat gave the client,
//! and the data the client would receive encrypted or signed with it.

use serde_json::{Value, json};

use super::SimState;
use crate::crypto::user_data;
use crate::error::SimError;

impl SimState {
    /// The user's current session key (issued by the last successful `jscode2session`).
    pub fn session_key(&self, appid: &str, openid: &str) -> Result<String, SimError> {
        self.with_world(|world, _| {
            world
                .app(appid)?
                .user(openid)?
                .session_key
                .clone()
                .ok_or_else(|| {
                    SimError::invalid(format!(
                        "user {openid} has no session_key yet: log in with jscode2session first"
                    ))
                })
        })
    }

    /// `(encryptedData, iv)` as `wx.getUserProfile`-style APIs hand them to the client: the JSON
    /// object `data` plus a `watermark {appid, timestamp}` (an explicit `watermark` in `data` is
    /// kept, so tests can forge one), AES-128-CBC under the current session key, random iv.
    pub fn encrypt_user_data(
        &self,
        appid: &str,
        openid: &str,
        data: Value,
    ) -> Result<(String, String), SimError> {
        let Value::Object(mut object) = data else {
            return Err(SimError::invalid("data must be a JSON object"));
        };
        let session_key = self.session_key(appid, openid)?;
        if !object.contains_key("watermark") {
            let watermark = json!({ "appid": appid, "timestamp": self.sim_now().unix_secs() });
            object.insert("watermark".to_owned(), watermark);
        }
        let plaintext = serde_json::to_vec(&Value::Object(object))
            .map_err(|err| SimError::invalid(format!("data: {err}")))?;
        let iv = crate::ids::random16();
        let encrypted = user_data::encrypt_user_data(&session_key, iv, &plaintext)
            .map_err(|err| SimError::invalid(err.to_string()))?;
        Ok((encrypted, base64_encode(&iv)))
    }

    /// `hex(sha1(rawData + session_key))`: the `signature` that accompanies `rawData`.
    pub fn sign_raw_data(
        &self,
        appid: &str,
        openid: &str,
        raw_data: &str,
    ) -> Result<String, SimError> {
        let session_key = self.session_key(appid, openid)?;
        Ok(user_data::raw_data_signature(raw_data, &session_key))
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
