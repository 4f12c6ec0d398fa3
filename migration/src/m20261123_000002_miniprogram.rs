//! Bind codes and the shared cache of WeChat access tokens.

use sea_orm_migration::prelude::*;

use crate::columns::*;
use crate::m20261123_000001_accounts::Apps;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_miniprogram"
    }
}

#[derive(DeriveIden)]
enum BindCodes {
    Table,
    Id,
    CodeHash,
    AppId,
    Openid,
    Unionid,
    SessionKeyEnc,
    Phone,
    PhoneCountryCode,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum WechatAccessTokens {
    Table,
    Id,
    AppId,
    TokenEnc,
    ExpiresAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(BindCodes::Table)
                    .col(id(db, BindCodes::Id))
                    .col(string(BindCodes::CodeHash, 64).unique_key())
                    .col(reference(BindCodes::AppId))
                    .col(string(BindCodes::Openid, 128))
                    .col(string_null(BindCodes::Unionid, 128))
                    .col(text_null(BindCodes::SessionKeyEnc))
                    .col(string_null(BindCodes::Phone, 20))
                    .col(string_null(BindCodes::PhoneCountryCode, 4))
                    .col(timestamp(db, BindCodes::CreatedAt))
                    .col(timestamp(db, BindCodes::ExpiresAt))
                    .col(timestamp_null(db, BindCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_bind_codes_app")
                            .from(BindCodes::Table, BindCodes::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_bind_codes_expires_at")
                    .table(BindCodes::Table)
                    .col(BindCodes::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatAccessTokens::Table)
                    .col(id(db, WechatAccessTokens::Id))
                    .col(reference(WechatAccessTokens::AppId).unique_key())
                    .col(text(WechatAccessTokens::TokenEnc))
                    .col(timestamp(db, WechatAccessTokens::ExpiresAt))
                    .col(timestamp(db, WechatAccessTokens::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_wechat_access_tokens_app")
                            .from(WechatAccessTokens::Table, WechatAccessTokens::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WechatAccessTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BindCodes::Table).to_owned())
            .await?;
        Ok(())
    }
}
