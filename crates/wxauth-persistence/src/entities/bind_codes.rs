use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bind_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code_hash: String,
    pub app_id: i64,
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key_enc: Option<String>,
    pub phone: Option<String>,
    pub phone_country_code: Option<String>,
    pub created_at: TimeDateTime,
    pub expires_at: TimeDateTime,
    pub used_at: Option<TimeDateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
