//! Web sign-in by scanning a Mini Program code. Each login has two random keys, stored hashed:
//! the login id the desktop holds (it fetches the tokens) and the scene the code carries (its
//! scanner learns only that). The code image lives in a table of its own so that status polls
//! never read it; `updated_at` is indexed because instances watch it to wake their event
//! streams when another instance moved a login on.
//!
//! Mini Program apps also learn how to draw the code: the page it opens, the build, and
//! whether WeChat checks the page. SQLite alters one column per statement, hence three.

use sea_orm_migration::prelude::*;

use crate::columns::{
    boolean, bytes, id, reference, string, string_null, timestamp, timestamp_null,
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000006_mini_program_qr_logins"
    }
}

#[derive(DeriveIden)]
enum Apps {
    Table,
    Id,
    QrPage,
    QrEnvVersion,
    QrCheckPath,
}

#[derive(DeriveIden)]
enum MpQrLogins {
    Table,
    Id,
    LoginHash,
    SceneHash,
    AppId,
    Status,
    Openid,
    Unionid,
    ConfirmHash,
    DesktopIp,
    DesktopAgent,
    ScannerIp,
    ScannedAt,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum MpQrLoginImages {
    Table,
    LoginHash,
    MediaType,
    Bytes,
}

fn index(name: &str, col: MpQrLogins) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(MpQrLogins::Table)
        .col(col)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut env_version = string(Apps::QrEnvVersion, 16);
        env_version.default("release");
        let mut check_path = boolean(Apps::QrCheckPath);
        check_path.default(true);
        for column in [string_null(Apps::QrPage, 128), env_version, check_path] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Apps::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MpQrLogins::Table)
                    .col(id(db, MpQrLogins::Id))
                    .col(string(MpQrLogins::LoginHash, 64).unique_key())
                    .col(string(MpQrLogins::SceneHash, 64).unique_key())
                    .col(reference(MpQrLogins::AppId))
                    .col(string(MpQrLogins::Status, 16))
                    .col(string_null(MpQrLogins::Openid, 128))
                    .col(string_null(MpQrLogins::Unionid, 128))
                    .col(string_null(MpQrLogins::ConfirmHash, 64))
                    .col(string_null(MpQrLogins::DesktopIp, 45))
                    .col(string_null(MpQrLogins::DesktopAgent, 512))
                    .col(string_null(MpQrLogins::ScannerIp, 45))
                    .col(timestamp_null(db, MpQrLogins::ScannedAt))
                    .col(timestamp(db, MpQrLogins::CreatedAt))
                    .col(timestamp(db, MpQrLogins::UpdatedAt))
                    .col(timestamp(db, MpQrLogins::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mp_qr_logins_app")
                            .from(MpQrLogins::Table, MpQrLogins::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_mp_qr_logins_updated", MpQrLogins::UpdatedAt))
            .await?;
        manager
            .create_index(index("ix_mp_qr_logins_expires", MpQrLogins::ExpiresAt))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MpQrLoginImages::Table)
                    .col(
                        string(MpQrLoginImages::LoginHash, 64)
                            .primary_key()
                            .to_owned(),
                    )
                    .col(string(MpQrLoginImages::MediaType, 32))
                    .col(bytes(db, MpQrLoginImages::Bytes))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mp_qr_login_images_login")
                            .from(MpQrLoginImages::Table, MpQrLoginImages::LoginHash)
                            .to(MpQrLogins::Table, MpQrLogins::LoginHash)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MpQrLoginImages::Table.into_iden(),
            MpQrLogins::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [Apps::QrCheckPath, Apps::QrEnvVersion, Apps::QrPage] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Apps::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
