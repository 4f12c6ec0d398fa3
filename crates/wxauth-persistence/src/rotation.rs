//! Master-key rotation: re-encrypts every stored secret under the active key.
//!
//! Run with the new key active and the old one listed as previous; afterwards the old key can
//! be removed from the configuration.

use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::cipher::{CipherError, Purpose, SecretCipher};
use crate::database::Database;
use crate::entities::{apps, bind_codes, wechat_access_tokens, wechat_identities};

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Cipher(#[from] CipherError),
}

/// How many values were re-encrypted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub app_secrets: u64,
    pub session_keys: u64,
    pub access_tokens: u64,
}

fn rewrap(
    cipher: &SecretCipher,
    purpose: Purpose,
    stored: &str,
) -> Result<Option<String>, CipherError> {
    if !cipher.needs_rotation(stored) {
        return Ok(None);
    }
    let plain = cipher.decrypt(purpose, stored)?;
    Ok(Some(cipher.encrypt(purpose, &plain)))
}

fn rewrap_opt(
    cipher: &SecretCipher,
    purpose: Purpose,
    stored: &Option<String>,
) -> Result<Option<Option<String>>, CipherError> {
    match stored {
        Some(s) => Ok(rewrap(cipher, purpose, s)?.map(Some)),
        None => Ok(None),
    }
}

/// Re-encrypts every secret not yet under the active key, in one transaction.
pub async fn reencrypt_all(db: &Database, cipher: &SecretCipher) -> Result<Rotated, RotationError> {
    let tx = db.write.begin().await?;
    let mut rotated = Rotated::default();

    for app in apps::Entity::find().all(&tx).await? {
        let secret = rewrap(cipher, Purpose::AppSecret, &app.secret_enc)?;
        let token = rewrap_opt(cipher, Purpose::EventToken, &app.event_token_enc)?;
        let aes = rewrap_opt(cipher, Purpose::EncodingAesKey, &app.encoding_aes_key_enc)?;
        if secret.is_none() && token.is_none() && aes.is_none() {
            continue;
        }
        let mut row = apps::ActiveModel {
            id: Set(app.id),
            ..Default::default()
        };
        if let Some(v) = secret {
            row.secret_enc = Set(v);
        }
        if let Some(v) = token {
            row.event_token_enc = Set(v);
        }
        if let Some(v) = aes {
            row.encoding_aes_key_enc = Set(v);
        }
        apps::Entity::update(row).exec(&tx).await?;
        rotated.app_secrets += 1;
    }

    for identity in wechat_identities::Entity::find().all(&tx).await? {
        if let Some(v) = rewrap_opt(cipher, Purpose::SessionKey, &identity.session_key_enc)? {
            let row = wechat_identities::ActiveModel {
                id: Set(identity.id),
                session_key_enc: Set(v),
                ..Default::default()
            };
            wechat_identities::Entity::update(row).exec(&tx).await?;
            rotated.session_keys += 1;
        }
    }

    for code in bind_codes::Entity::find().all(&tx).await? {
        if let Some(v) = rewrap_opt(cipher, Purpose::SessionKey, &code.session_key_enc)? {
            let row = bind_codes::ActiveModel {
                id: Set(code.id),
                session_key_enc: Set(v),
                ..Default::default()
            };
            bind_codes::Entity::update(row).exec(&tx).await?;
            rotated.session_keys += 1;
        }
    }

    for token in wechat_access_tokens::Entity::find().all(&tx).await? {
        if let Some(v) = rewrap(cipher, Purpose::AccessToken, &token.token_enc)? {
            let row = wechat_access_tokens::ActiveModel {
                id: Set(token.id),
                token_enc: Set(v),
                ..Default::default()
            };
            wechat_access_tokens::Entity::update(row).exec(&tx).await?;
            rotated.access_tokens += 1;
        }
    }

    tx.commit().await?;
    Ok(rotated)
}
