use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_authorizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub request_hash: String,
    pub client_pk: i64,
    pub redirect_uri: String,
    /// Space-separated.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub force_consent: bool,
    pub ui_locales: Option<String>,
    pub method: Option<String>,
    pub qr_login_id: Option<String>,
    pub mp_login_id: Option<String>,
    pub created_at: TimeDateTime,
    pub expires_at: TimeDateTime,
    pub user_id: Option<i64>,
    pub auth_time: Option<TimeDateTime>,
    pub session_hash: Option<String>,
    #[sea_orm(unique)]
    pub code_hash: Option<String>,
    pub code_expires_at: Option<TimeDateTime>,
    pub redeemed_at: Option<TimeDateTime>,
    pub family: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
