use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "official_followers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub app_id: i64,
    pub openid: String,
    pub subscribed: bool,
    pub subscribed_at: Option<TimeDateTime>,
    pub unsubscribed_at: Option<TimeDateTime>,
    pub scene: Option<String>,
    pub updated_at: TimeDateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
