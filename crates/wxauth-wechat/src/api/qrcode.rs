//! Parametric QR codes for Official Accounts (verified service accounts only).
//!
//! Limits are checked before calling: a request WeChat would refuse costs a round trip and, for
//! permanent codes, counts against a small per-account quota.

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::api::token_text;
use crate::client::AppClient;
use crate::config::join;
use crate::error::WechatError;
use crate::transport::Call;

/// Shortest lifetime of a temporary code.
pub const MIN_TEMPORARY_EXPIRE_SECONDS: u32 = 60;
/// Longest lifetime of a temporary code: 30 days.
pub const MAX_TEMPORARY_EXPIRE_SECONDS: u32 = 2_592_000;
/// Highest numeric scene of a permanent code.
pub const MAX_PERMANENT_SCENE_ID: u32 = 100_000;
/// Longest string scene, in characters.
pub const MAX_SCENE_STR_CHARS: usize = 64;

/// What a scan reports back in the event's `EventKey`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QrScene {
    /// `scene_id`: any non-zero value for temporary codes, 1..=100,000 for permanent ones.
    Id(u32),
    /// `scene_str`: 1 to 64 characters.
    Str(String),
}

/// A QR code to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrCodeRequest {
    /// Expires after `expire_seconds` (60..=2,592,000).
    Temporary { scene: QrScene, expire_seconds: u32 },
    /// Never expires; limited in number per account.
    Permanent { scene: QrScene },
}

/// A QR code request outside WeChat's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrCodeError {
    #[error("expire_seconds must be within 60..=2592000, got {0}")]
    ExpireSeconds(u32),
    #[error("a temporary scene_id must not be 0")]
    TemporarySceneIdZero,
    #[error("a permanent scene_id must be within 1..=100000, got {0}")]
    PermanentSceneId(u32),
    #[error("scene_str must be 1 to 64 characters, got {0}")]
    SceneStrLength(usize),
}

impl QrCodeRequest {
    /// Checks WeChat's documented limits.
    pub fn validate(&self) -> Result<(), QrCodeError> {
        match self {
            Self::Temporary {
                scene,
                expire_seconds,
            } => {
                if !(MIN_TEMPORARY_EXPIRE_SECONDS..=MAX_TEMPORARY_EXPIRE_SECONDS)
                    .contains(expire_seconds)
                {
                    return Err(QrCodeError::ExpireSeconds(*expire_seconds));
                }
                match scene {
                    QrScene::Id(0) => Err(QrCodeError::TemporarySceneIdZero),
                    QrScene::Id(_) => Ok(()),
                    QrScene::Str(s) => validate_scene_str(s),
                }
            }
            Self::Permanent { scene } => match scene {
                QrScene::Id(id) if !(1..=MAX_PERMANENT_SCENE_ID).contains(id) => {
                    Err(QrCodeError::PermanentSceneId(*id))
                }
                QrScene::Id(_) => Ok(()),
                QrScene::Str(s) => validate_scene_str(s),
            },
        }
    }

    /// The request body WeChat documents.
    fn body(&self) -> serde_json::Value {
        let scene = |scene: &QrScene| match scene {
            QrScene::Id(id) => json!({ "scene": { "scene_id": id } }),
            QrScene::Str(s) => json!({ "scene": { "scene_str": s } }),
        };
        match self {
            Self::Temporary {
                scene: s,
                expire_seconds,
            } => {
                let action_name = match s {
                    QrScene::Id(_) => "QR_SCENE",
                    QrScene::Str(_) => "QR_STR_SCENE",
                };
                json!({
                    "expire_seconds": expire_seconds,
                    "action_name": action_name,
                    "action_info": scene(s),
                })
            }
            Self::Permanent { scene: s } => {
                let action_name = match s {
                    QrScene::Id(_) => "QR_LIMIT_SCENE",
                    QrScene::Str(_) => "QR_LIMIT_STR_SCENE",
                };
                json!({ "action_name": action_name, "action_info": scene(s) })
            }
        }
    }
}

fn validate_scene_str(s: &str) -> Result<(), QrCodeError> {
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_SCENE_STR_CHARS {
        return Err(QrCodeError::SceneStrLength(chars));
    }
    Ok(())
}

/// A created QR code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QrTicket {
    /// Exchange it for the image with [`AppClient::qr_code_image_url`].
    pub ticket: String,
    /// Absent for permanent codes.
    #[serde(default)]
    pub expire_seconds: Option<u32>,
    /// The content encoded in the QR code, for drawing it yourself.
    pub url: String,
}

impl AppClient {
    /// Creates a parametric QR code after checking the request against WeChat's limits.
    pub async fn create_qr_code(
        &self,
        access_token: &SecretString,
        request: &QrCodeRequest,
    ) -> Result<QrTicket, WechatError> {
        request.validate()?;
        let call = Call::post_json(
            "/cgi-bin/qrcode/create",
            vec![("access_token", token_text(access_token)?)],
            &request.body(),
        )?;
        self.call_json(&call).await
    }

    /// `{mp_base}/cgi-bin/showqrcode?ticket=..`: where the image of a created code is served.
    /// The ticket is URL-encoded (tickets are base64 and carry `+`, `/`, `=`).
    pub fn qr_code_image_url(&self, ticket: &str) -> String {
        let mut url = join(&self.endpoints.mp_base, "/cgi-bin/showqrcode");
        url.query_pairs_mut().append_pair("ticket", ticket);
        url.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary(scene: QrScene, expire_seconds: u32) -> QrCodeRequest {
        QrCodeRequest::Temporary {
            scene,
            expire_seconds,
        }
    }

    fn permanent(scene: QrScene) -> QrCodeRequest {
        QrCodeRequest::Permanent { scene }
    }

    #[test]
    fn limits_are_checked() {
        let id = QrScene::Id;
        assert!(temporary(id(1), 60).validate().is_ok());
        assert!(temporary(id(u32::MAX), 2_592_000).validate().is_ok());
        assert_eq!(
            temporary(id(1), 59).validate(),
            Err(QrCodeError::ExpireSeconds(59))
        );
        assert_eq!(
            temporary(id(1), 2_592_001).validate(),
            Err(QrCodeError::ExpireSeconds(2_592_001))
        );
        assert_eq!(
            temporary(id(0), 600).validate(),
            Err(QrCodeError::TemporarySceneIdZero)
        );
        assert!(permanent(id(1)).validate().is_ok());
        assert!(permanent(id(100_000)).validate().is_ok());
        assert_eq!(
            permanent(id(0)).validate(),
            Err(QrCodeError::PermanentSceneId(0))
        );
        assert_eq!(
            permanent(id(100_001)).validate(),
            Err(QrCodeError::PermanentSceneId(100_001))
        );
        let s = |n: usize| QrScene::Str("场".repeat(n));
        assert!(permanent(s(64)).validate().is_ok());
        assert_eq!(
            permanent(s(65)).validate(),
            Err(QrCodeError::SceneStrLength(65))
        );
        assert_eq!(
            temporary(s(0), 60).validate(),
            Err(QrCodeError::SceneStrLength(0))
        );
    }

    #[test]
    fn bodies_name_the_documented_actions() {
        assert_eq!(
            temporary(QrScene::Id(123), 604_800).body(),
            json!({"expire_seconds": 604800, "action_name": "QR_SCENE",
                   "action_info": {"scene": {"scene_id": 123}}})
        );
        assert_eq!(
            temporary(QrScene::Str("login_1".into()), 60).body(),
            json!({"expire_seconds": 60, "action_name": "QR_STR_SCENE",
                   "action_info": {"scene": {"scene_str": "login_1"}}})
        );
        assert_eq!(
            permanent(QrScene::Id(7)).body(),
            json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 7}}})
        );
        assert_eq!(
            permanent(QrScene::Str("x".into())).body(),
            json!({"action_name": "QR_LIMIT_STR_SCENE",
                   "action_info": {"scene": {"scene_str": "x"}}})
        );
    }
}
