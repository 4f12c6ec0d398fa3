use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_grants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub family: String,
    pub client_pk: i64,
    pub user_id: i64,
    /// Space-separated.
    pub scope: String,
    pub method: String,
    pub auth_time: TimeDateTime,
    pub created_at: TimeDateTime,
    pub revoked_at: Option<TimeDateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
