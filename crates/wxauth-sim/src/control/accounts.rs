//! `/__sim/apps` and `/__sim/users`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::config::{EventMode, SimApp, SimAppKind};
use crate::error::SimError;
use crate::state::SimState;
use crate::store::users::NewUser;

/// An app as listed: secrets (app secret, push token, AES key) are never echoed.
#[derive(Serialize)]
struct AppView {
    appid: String,
    kind: SimAppKind,
    original_id: String,
    event_url: Option<String>,
    event_mode: EventMode,
    /// Published pages, for Mini Programs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<Vec<String>>,
}

impl From<&SimApp> for AppView {
    fn from(app: &SimApp) -> Self {
        Self {
            appid: app.appid.clone(),
            kind: app.kind,
            original_id: app.original_id(),
            event_url: app.event_url.clone(),
            event_mode: app.event_mode,
            pages: (app.kind == SimAppKind::MiniProgram).then(|| app.pages.clone()),
        }
    }
}

pub(super) async fn add_app(
    state: web::Data<SimState>,
    app: web::Json<SimApp>,
) -> Result<HttpResponse, SimError> {
    let app = app.into_inner();
    state.add_app(app.clone())?;
    Ok(HttpResponse::Ok().json(AppView::from(&app)))
}

pub(super) async fn list_apps(state: web::Data<SimState>) -> HttpResponse {
    let apps: Vec<AppView> = state.apps().iter().map(AppView::from).collect();
    HttpResponse::Ok().json(apps)
}

pub(super) async fn create_user(
    state: web::Data<SimState>,
    user: web::Json<NewUser>,
) -> Result<HttpResponse, SimError> {
    let user = state.create_user(user.into_inner())?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
pub(super) struct AppQuery {
    appid: String,
}

pub(super) async fn list_users(
    state: web::Data<SimState>,
    query: web::Query<AppQuery>,
) -> Result<HttpResponse, SimError> {
    Ok(HttpResponse::Ok().json(state.users(&query.appid)?))
}
