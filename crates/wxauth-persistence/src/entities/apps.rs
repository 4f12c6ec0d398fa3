use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "apps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub key: String,
    pub kind: String,
    pub name: String,
    pub appid: String,
    pub secret_enc: String,
    pub registration: String,
    /// A JSON array of redirect rules.
    pub redirect_allow_list: String,
    pub event_token_enc: Option<String>,
    pub encoding_aes_key_enc: Option<String>,
    pub api_base_url: Option<String>,
    pub open_base_url: Option<String>,
    pub mp_base_url: Option<String>,
    /// The Mini Program scan-login code: page (home when null), build, path check.
    pub qr_page: Option<String>,
    pub qr_env_version: String,
    pub qr_check_path: bool,
    pub enabled: bool,
    pub source: String,
    pub created_at: TimeDateTime,
    pub updated_at: TimeDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
