//! The one error type of the client. Messages never contain secrets, query strings or bodies.

use crate::api::qrcode::QrCodeError;
use crate::crypto::CryptoError;
use crate::errcode;

/// Why a WeChat call (or a local check before one) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered with a non-zero errcode (always with HTTP 200).
    #[error("WeChat errcode {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    /// WeChat did not answer within the client's timeout.
    #[error("WeChat did not answer in time")]
    Timeout,
    /// The connection failed, or something other than WeChat answered (non-2xx status).
    #[error("transport error: {0}")]
    Transport(String),
    /// The body was not JSON, lacked a required field, or was not the expected image.
    #[error("unreadable WeChat response: {0}")]
    Decode(String),
    /// A request this client refuses to send (WeChat would refuse it, or it is unsafe).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A QR code request outside WeChat's limits, caught before calling.
    #[error("invalid QR code request: {0}")]
    InvalidQrCode(#[from] QrCodeError),
    /// Decryption or a signature check failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

impl WechatError {
    /// WeChat's errcode, for [`WechatError::Api`] only.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    /// errcode -1: WeChat is busy.
    pub fn is_busy(&self) -> bool {
        self.errcode() == Some(errcode::SYSTEM_BUSY)
    }

    /// The access token was refused (40001, 42001, 40014): refresh it and retry once.
    pub fn is_invalid_access_token(&self) -> bool {
        matches!(
            self.errcode(),
            Some(
                errcode::INVALID_CREDENTIAL
                    | errcode::ACCESS_TOKEN_EXPIRED
                    | errcode::INVALID_ACCESS_TOKEN
            )
        )
    }

    /// 40029: the code is unknown or expired.
    pub fn is_invalid_code(&self) -> bool {
        self.errcode() == Some(errcode::INVALID_CODE)
    }

    /// 40163: the code was already used. A client retrying after a network error meets this; it
    /// is the caller's problem, not a server fault.
    pub fn is_code_used(&self) -> bool {
        self.errcode() == Some(errcode::CODE_BEEN_USED)
    }

    /// 45011 (per-minute limit) or 45009 (daily quota).
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self.errcode(),
            Some(errcode::API_FREQ_OUT_OF_LIMIT | errcode::API_DAILY_QUOTA_REACHED)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> WechatError {
        WechatError::Api {
            errcode: code,
            errmsg: "x".into(),
        }
    }

    #[test]
    fn helpers_classify_errcodes() {
        assert!(api(-1).is_busy());
        for code in [40001, 42001, 40014] {
            assert!(api(code).is_invalid_access_token(), "{code}");
        }
        assert!(!api(40029).is_invalid_access_token());
        assert!(api(40029).is_invalid_code());
        assert!(api(40163).is_code_used());
        assert!(api(45011).is_rate_limited());
        assert!(api(45009).is_rate_limited());
        assert_eq!(WechatError::Timeout.errcode(), None);
        assert!(!WechatError::Timeout.is_busy());
    }
}
