//! Users and the WeChat identities that sign them in.

use serde::{Deserialize, Serialize};

use crate::{AvatarUrl, Nickname, PhoneNumber, PublicUserId, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    /// Blocked users can neither sign in nor refresh their session.
    Blocked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "blocked" => Some(Self::Blocked),
            _ => None,
        }
    }
}

/// A wxauth account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub public_id: PublicUserId,
    pub nickname: Option<Nickname>,
    pub avatar_url: Option<AvatarUrl>,
    pub phone: Option<PhoneNumber>,
    pub status: UserStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    pub fn is_blocked(&self) -> bool {
        self.status == UserStatus::Blocked
    }
}
