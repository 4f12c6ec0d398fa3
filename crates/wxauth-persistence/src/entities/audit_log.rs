use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: TimeDateTime,
    pub kind: String,
    pub success: bool,
    pub reason: Option<String>,
    pub app_key: Option<String>,
    pub user_public_id: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
