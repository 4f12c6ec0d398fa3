//! The OpenID provider: its clients (relying parties), authorizations (a request in flight,
//! then the code it was given), browser sessions (single sign-on), consents and grants.
//!
//! Every secret-bearing key (a request handle, a code, a session cookie) is stored as its
//! SHA-256, at most 64 characters: short enough for MySQL's index length limit. A client's
//! redirect URIs are a JSON array of strings in a `text` column, as an app's allow-list is.

use sea_orm_migration::prelude::*;

use crate::columns::*;
use crate::m20261123_000001_accounts::Users;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000007_oidc"
    }
}

#[derive(DeriveIden)]
enum OidcClients {
    Table,
    Id,
    ClientId,
    Name,
    Kind,
    SecretHash,
    RedirectUris,
    PostLogoutRedirectUris,
    Scopes,
    OfficialApp,
    WebsiteApp,
    MiniProgramApp,
    FirstParty,
    IdTokenAlg,
    AccessTokenTtl,
    RefreshTokenTtl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OidcAuthorizations {
    Table,
    Id,
    RequestHash,
    ClientPk,
    RedirectUri,
    Scope,
    State,
    Nonce,
    CodeChallenge,
    ForceConsent,
    UiLocales,
    Method,
    QrLoginId,
    MpLoginId,
    CreatedAt,
    ExpiresAt,
    UserId,
    AuthTime,
    SessionHash,
    CodeHash,
    CodeExpiresAt,
    RedeemedAt,
    Family,
}

#[derive(DeriveIden)]
enum OidcBrowserSessions {
    Table,
    Id,
    SessionHash,
    UserId,
    Method,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum OidcConsents {
    Table,
    Id,
    UserId,
    ClientPk,
    Scope,
    GrantedAt,
}

#[derive(DeriveIden)]
enum OidcGrants {
    Table,
    Id,
    Family,
    ClientPk,
    UserId,
    Scope,
    Method,
    AuthTime,
    CreatedAt,
    RevokedAt,
}

fn big_integer(name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().not_null();
    col
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(OidcClients::Table)
                    .col(id(db, OidcClients::Id))
                    .col(string(OidcClients::ClientId, 64).unique_key())
                    .col(string(OidcClients::Name, 128))
                    .col(string(OidcClients::Kind, 16))
                    .col(string_null(OidcClients::SecretHash, 128))
                    .col(text(OidcClients::RedirectUris))
                    .col(text(OidcClients::PostLogoutRedirectUris))
                    .col(string(OidcClients::Scopes, 128))
                    .col(string_null(OidcClients::OfficialApp, 64))
                    .col(string_null(OidcClients::WebsiteApp, 64))
                    .col(string_null(OidcClients::MiniProgramApp, 64))
                    .col(boolean(OidcClients::FirstParty))
                    .col(string_null(OidcClients::IdTokenAlg, 16))
                    .col(big_integer(OidcClients::AccessTokenTtl))
                    .col(big_integer(OidcClients::RefreshTokenTtl))
                    .col(timestamp(db, OidcClients::CreatedAt))
                    .col(timestamp(db, OidcClients::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OidcAuthorizations::Table)
                    .col(id(db, OidcAuthorizations::Id))
                    .col(string(OidcAuthorizations::RequestHash, 64).unique_key())
                    .col(reference(OidcAuthorizations::ClientPk))
                    .col(text(OidcAuthorizations::RedirectUri))
                    .col(string(OidcAuthorizations::Scope, 128))
                    .col(text_null(OidcAuthorizations::State))
                    .col(text_null(OidcAuthorizations::Nonce))
                    .col(string_null(OidcAuthorizations::CodeChallenge, 128))
                    .col(boolean(OidcAuthorizations::ForceConsent))
                    .col(string_null(OidcAuthorizations::UiLocales, 64))
                    .col(string_null(OidcAuthorizations::Method, 32))
                    .col(string_null(OidcAuthorizations::QrLoginId, 64))
                    .col(string_null(OidcAuthorizations::MpLoginId, 64))
                    .col(timestamp(db, OidcAuthorizations::CreatedAt))
                    .col(timestamp(db, OidcAuthorizations::ExpiresAt))
                    .col(reference_null(OidcAuthorizations::UserId))
                    .col(timestamp_null(db, OidcAuthorizations::AuthTime))
                    .col(string_null(OidcAuthorizations::SessionHash, 64))
                    // NULLs do not collide: only codes given out are unique.
                    .col(string_null(OidcAuthorizations::CodeHash, 64).unique_key())
                    .col(timestamp_null(db, OidcAuthorizations::CodeExpiresAt))
                    .col(timestamp_null(db, OidcAuthorizations::RedeemedAt))
                    .col(string_null(OidcAuthorizations::Family, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_authorizations_client")
                            .from(OidcAuthorizations::Table, OidcAuthorizations::ClientPk)
                            .to(OidcClients::Table, OidcClients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_authorizations_user")
                            .from(OidcAuthorizations::Table, OidcAuthorizations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oidc_authorizations_expires_at")
                    .table(OidcAuthorizations::Table)
                    .col(OidcAuthorizations::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OidcBrowserSessions::Table)
                    .col(id(db, OidcBrowserSessions::Id))
                    .col(string(OidcBrowserSessions::SessionHash, 64).unique_key())
                    .col(reference(OidcBrowserSessions::UserId))
                    .col(string(OidcBrowserSessions::Method, 32))
                    .col(timestamp(db, OidcBrowserSessions::AuthTime))
                    .col(timestamp(db, OidcBrowserSessions::CreatedAt))
                    .col(timestamp(db, OidcBrowserSessions::ExpiresAt))
                    .col(timestamp_null(db, OidcBrowserSessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_browser_sessions_user")
                            .from(OidcBrowserSessions::Table, OidcBrowserSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oidc_browser_sessions_expires_at")
                    .table(OidcBrowserSessions::Table)
                    .col(OidcBrowserSessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OidcConsents::Table)
                    .col(id(db, OidcConsents::Id))
                    .col(reference(OidcConsents::UserId))
                    .col(reference(OidcConsents::ClientPk))
                    .col(string(OidcConsents::Scope, 128))
                    .col(timestamp(db, OidcConsents::GrantedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_consents_user")
                            .from(OidcConsents::Table, OidcConsents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_consents_client")
                            .from(OidcConsents::Table, OidcConsents::ClientPk)
                            .to(OidcClients::Table, OidcClients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One consent per user and client: a new one replaces it (an upsert on this key).
        manager
            .create_index(
                Index::create()
                    .name("ux_oidc_consents_user_client")
                    .table(OidcConsents::Table)
                    .col(OidcConsents::UserId)
                    .col(OidcConsents::ClientPk)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OidcGrants::Table)
                    .col(id(db, OidcGrants::Id))
                    .col(string(OidcGrants::Family, 64).unique_key())
                    .col(reference(OidcGrants::ClientPk))
                    .col(reference(OidcGrants::UserId))
                    .col(string(OidcGrants::Scope, 128))
                    .col(string(OidcGrants::Method, 32))
                    .col(timestamp(db, OidcGrants::AuthTime))
                    .col(timestamp(db, OidcGrants::CreatedAt))
                    .col(timestamp_null(db, OidcGrants::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_grants_client")
                            .from(OidcGrants::Table, OidcGrants::ClientPk)
                            .to(OidcClients::Table, OidcClients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_grants_user")
                            .from(OidcGrants::Table, OidcGrants::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Starts with `user_id`: MySQL uses it for the foreign key to `users` too.
        manager
            .create_index(
                Index::create()
                    .name("ix_oidc_grants_user_client")
                    .table(OidcGrants::Table)
                    .col(OidcGrants::UserId)
                    .col(OidcGrants::ClientPk)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OidcGrants::Table.into_iden(),
            OidcConsents::Table.into_iden(),
            OidcBrowserSessions::Table.into_iden(),
            OidcAuthorizations::Table.into_iden(),
            OidcClients::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
