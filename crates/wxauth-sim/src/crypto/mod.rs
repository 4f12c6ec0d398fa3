//! The cryptography WeChat uses around logins and event pushes, exposed so tests (and receivers
//! written in tests) can check the simulator against the protocol document's test vectors.

pub mod event;
pub mod user_data;

/// Why a crypto operation failed (bad base64, wrong key length, corrupt ciphertext).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CryptoError(pub(crate) String);

impl CryptoError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
