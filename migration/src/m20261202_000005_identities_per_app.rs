//! An account may hold several WeChat identities of one app: a person with two WeChat
//! accounts, or one who moved to a new WeChat account with the same phone number. The unique
//! key on (user, app) goes; (app, openid) stays unique, so an openid still belongs to one
//! account.
//!
//! The replacement index is created before the unique one is dropped: MySQL needs an index
//! that starts with `user_id` for the foreign key to `users` at every moment. Going down
//! fails while any account holds two identities of one app: the database refuses the unique
//! index, and nothing is changed.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000005_identities_per_app"
    }
}

#[derive(DeriveIden)]
enum WechatIdentities {
    Table,
    UserId,
    AppId,
}

const UNIQUE: &str = "ux_wechat_identities_user_app";
const PLAIN: &str = "ix_wechat_identities_user_app";

fn index(name: &str) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(WechatIdentities::Table)
        .col(WechatIdentities::UserId)
        .col(WechatIdentities::AppId)
        .to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table(WechatIdentities::Table)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index(PLAIN)).await?;
        manager.drop_index(drop(UNIQUE)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(UNIQUE).unique().to_owned())
            .await?;
        manager.drop_index(drop(PLAIN)).await
    }
}
