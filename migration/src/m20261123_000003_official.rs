//! Web OAuth state, Official Account followers, event dedupe and scan-to-login.

use sea_orm_migration::prelude::*;

use crate::columns::*;
use crate::m20261123_000001_accounts::Apps;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_official"
    }
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    Id,
    StateHash,
    AppId,
    RedirectUri,
    Callback,
    Scope,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OfficialFollowers {
    Table,
    Id,
    AppId,
    Openid,
    Subscribed,
    SubscribedAt,
    UnsubscribedAt,
    Scene,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WechatEvents {
    Table,
    Id,
    AppId,
    DedupeKey,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum QrLogins {
    Table,
    Id,
    LoginId,
    AppId,
    Scene,
    Ticket,
    Status,
    Openid,
    CreatedAt,
    ExpiresAt,
}

fn app_fk(
    name: &str,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Apps::Table, Apps::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .col(id(db, OauthStates::Id))
                    .col(string(OauthStates::StateHash, 64).unique_key())
                    .col(reference(OauthStates::AppId))
                    .col(text(OauthStates::RedirectUri))
                    .col(text(OauthStates::Callback))
                    .col(string(OauthStates::Scope, 32))
                    .col(timestamp(db, OauthStates::CreatedAt))
                    .col(timestamp(db, OauthStates::ExpiresAt))
                    .col(timestamp_null(db, OauthStates::UsedAt))
                    .foreign_key(&mut app_fk(
                        "fk_oauth_states_app",
                        OauthStates::Table,
                        OauthStates::AppId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OfficialFollowers::Table)
                    .col(id(db, OfficialFollowers::Id))
                    .col(reference(OfficialFollowers::AppId))
                    .col(string(OfficialFollowers::Openid, 128))
                    .col(boolean(OfficialFollowers::Subscribed))
                    .col(timestamp_null(db, OfficialFollowers::SubscribedAt))
                    .col(timestamp_null(db, OfficialFollowers::UnsubscribedAt))
                    .col(string_null(OfficialFollowers::Scene, 128))
                    .col(timestamp(db, OfficialFollowers::UpdatedAt))
                    .foreign_key(&mut app_fk(
                        "fk_official_followers_app",
                        OfficialFollowers::Table,
                        OfficialFollowers::AppId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_official_followers_app_openid")
                    .table(OfficialFollowers::Table)
                    .col(OfficialFollowers::AppId)
                    .col(OfficialFollowers::Openid)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WechatEvents::Table)
                    .col(id(db, WechatEvents::Id))
                    .col(reference(WechatEvents::AppId))
                    .col(string(WechatEvents::DedupeKey, 192))
                    .col(timestamp(db, WechatEvents::ReceivedAt))
                    .foreign_key(&mut app_fk(
                        "fk_wechat_events_app",
                        WechatEvents::Table,
                        WechatEvents::AppId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_wechat_events_app_key")
                    .table(WechatEvents::Table)
                    .col(WechatEvents::AppId)
                    .col(WechatEvents::DedupeKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_wechat_events_received_at")
                    .table(WechatEvents::Table)
                    .col(WechatEvents::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(QrLogins::Table)
                    .col(id(db, QrLogins::Id))
                    .col(string(QrLogins::LoginId, 64).unique_key())
                    .col(reference(QrLogins::AppId))
                    .col(string(QrLogins::Scene, 128))
                    .col(string(QrLogins::Ticket, 255))
                    .col(string(QrLogins::Status, 16))
                    .col(string_null(QrLogins::Openid, 128))
                    .col(timestamp(db, QrLogins::CreatedAt))
                    .col(timestamp(db, QrLogins::ExpiresAt))
                    .foreign_key(&mut app_fk(
                        "fk_qr_logins_app",
                        QrLogins::Table,
                        QrLogins::AppId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_qr_logins_app_scene")
                    .table(QrLogins::Table)
                    .col(QrLogins::AppId)
                    .col(QrLogins::Scene)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            QrLogins::Table.into_iden(),
            WechatEvents::Table.into_iden(),
            OfficialFollowers::Table.into_iden(),
            OauthStates::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
