use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_clients")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub secret_hash: Option<String>,
    /// A JSON array of strings.
    pub redirect_uris: String,
    /// A JSON array of strings.
    pub post_logout_redirect_uris: String,
    /// Space-separated.
    pub scopes: String,
    /// App keys.
    pub official_app: Option<String>,
    pub website_app: Option<String>,
    pub mini_program_app: Option<String>,
    pub first_party: bool,
    pub id_token_alg: Option<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub created_at: TimeDateTime,
    pub updated_at: TimeDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
