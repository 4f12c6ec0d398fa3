use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mp_qr_logins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub login_hash: String,
    #[sea_orm(unique)]
    pub scene_hash: String,
    pub app_id: i64,
    pub status: String,
    pub openid: Option<String>,
    pub unionid: Option<String>,
    pub confirm_hash: Option<String>,
    pub desktop_ip: Option<String>,
    pub desktop_agent: Option<String>,
    pub scanner_ip: Option<String>,
    pub scanned_at: Option<TimeDateTime>,
    pub created_at: TimeDateTime,
    pub updated_at: TimeDateTime,
    pub expires_at: TimeDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
