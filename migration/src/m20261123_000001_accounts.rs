//! Apps, users, their WeChat identities, sessions (refresh tokens) and the audit log.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_accounts"
    }
}

#[derive(DeriveIden)]
pub enum Apps {
    Table,
    Id,
    Key,
    Kind,
    Name,
    Appid,
    SecretEnc,
    Registration,
    RedirectAllowList,
    EventTokenEnc,
    EncodingAesKeyEnc,
    ApiBaseUrl,
    OpenBaseUrl,
    MpBaseUrl,
    Enabled,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    PublicId,
    Nickname,
    AvatarUrl,
    Phone,
    PhoneCountryCode,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WechatIdentities {
    Table,
    Id,
    UserId,
    AppId,
    Openid,
    Unionid,
    SessionKeyEnc,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    Family,
    UserId,
    AppId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Kind,
    Success,
    Reason,
    AppKey,
    UserPublicId,
    Actor,
    Ip,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Apps::Table)
                    .col(id(db, Apps::Id))
                    .col(string(Apps::Key, 64).unique_key())
                    .col(string(Apps::Kind, 32))
                    .col(string(Apps::Name, 128))
                    .col(string(Apps::Appid, 64))
                    .col(text(Apps::SecretEnc))
                    .col(string(Apps::Registration, 16))
                    .col(text(Apps::RedirectAllowList))
                    .col(text_null(Apps::EventTokenEnc))
                    .col(text_null(Apps::EncodingAesKeyEnc))
                    .col(string_null(Apps::ApiBaseUrl, 512))
                    .col(string_null(Apps::OpenBaseUrl, 512))
                    .col(string_null(Apps::MpBaseUrl, 512))
                    .col(boolean(Apps::Enabled))
                    .col(string(Apps::Source, 16))
                    .col(timestamp(db, Apps::CreatedAt))
                    .col(timestamp(db, Apps::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(db, Users::Id))
                    .col(string(Users::PublicId, 36).unique_key())
                    .col(string_null(Users::Nickname, 255))
                    .col(string_null(Users::AvatarUrl, 512))
                    // E.164, at most 16 characters with the '+'. NULLs do not collide.
                    .col(string_null(Users::Phone, 20).unique_key())
                    .col(string_null(Users::PhoneCountryCode, 4))
                    .col(string(Users::Status, 16))
                    .col(timestamp(db, Users::CreatedAt))
                    .col(timestamp(db, Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatIdentities::Table)
                    .col(id(db, WechatIdentities::Id))
                    .col(reference(WechatIdentities::UserId))
                    .col(reference(WechatIdentities::AppId))
                    .col(string(WechatIdentities::Openid, 128))
                    .col(string_null(WechatIdentities::Unionid, 128))
                    .col(text_null(WechatIdentities::SessionKeyEnc))
                    .col(timestamp(db, WechatIdentities::CreatedAt))
                    .col(timestamp(db, WechatIdentities::UpdatedAt))
                    .col(timestamp_null(db, WechatIdentities::LastLoginAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_wechat_identities_user")
                            .from(WechatIdentities::Table, WechatIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_wechat_identities_app")
                            .from(WechatIdentities::Table, WechatIdentities::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // The key that makes concurrent first logins of one openid create one account.
        manager
            .create_index(
                Index::create()
                    .name("ux_wechat_identities_app_openid")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::AppId)
                    .col(WechatIdentities::Openid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_wechat_identities_user_app")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::UserId)
                    .col(WechatIdentities::AppId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_identities_unionid")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::Unionid)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_identities_openid")
                    .table(WechatIdentities::Table)
                    .col(WechatIdentities::Openid)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(id(db, RefreshTokens::Id))
                    .col(string(RefreshTokens::TokenHash, 64).unique_key())
                    .col(string(RefreshTokens::Family, 32))
                    .col(reference(RefreshTokens::UserId))
                    .col(reference_null(RefreshTokens::AppId))
                    .col(timestamp(db, RefreshTokens::CreatedAt))
                    .col(timestamp(db, RefreshTokens::ExpiresAt))
                    .col(timestamp_null(db, RefreshTokens::UsedAt))
                    .col(timestamp_null(db, RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_user")
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_app")
                            .from(RefreshTokens::Table, RefreshTokens::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_refresh_tokens_family", RefreshTokens::Family),
            ("ix_refresh_tokens_user", RefreshTokens::UserId),
            ("ix_refresh_tokens_expires_at", RefreshTokens::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(id(db, AuditLog::Id))
                    .col(timestamp(db, AuditLog::At))
                    .col(string(AuditLog::Kind, 64))
                    .col(boolean(AuditLog::Success))
                    .col(string_null(AuditLog::Reason, 128))
                    .col(string_null(AuditLog::AppKey, 64))
                    .col(string_null(AuditLog::UserPublicId, 36))
                    .col(string_null(AuditLog::Actor, 64))
                    .col(string_null(AuditLog::Ip, 64))
                    .col(string_null(AuditLog::RequestId, 64))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audit_log_at", AuditLog::At),
            ("ix_audit_log_kind", AuditLog::Kind),
            ("ix_audit_log_user", AuditLog::UserPublicId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditLog::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            WechatIdentities::Table.into_iden(),
            Users::Table.into_iden(),
            Apps::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
