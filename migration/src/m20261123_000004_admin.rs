//! Admin API keys.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000004_admin"
    }
}

#[derive(DeriveIden)]
enum AdminKeys {
    Table,
    Id,
    KeyId,
    Name,
    SecretHash,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(AdminKeys::Table)
                    .col(id(db, AdminKeys::Id))
                    .col(string(AdminKeys::KeyId, 16).unique_key())
                    .col(string(AdminKeys::Name, 128))
                    .col(string(AdminKeys::SecretHash, 64))
                    .col(timestamp(db, AdminKeys::CreatedAt))
                    .col(timestamp_null(db, AdminKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminKeys::Table).to_owned())
            .await
    }
}
