//! `GET /cgi-bin/user/info`: does this user follow the Official Account?

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::guard;
use super::query::Query;
use super::reply::{self, Flavor};
use crate::clock::SimTime;
use crate::config::SimAppKind;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::{Inner, authorize, require_kind};
use crate::wx_error::WxErr;

pub(crate) async fn handle(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::UserInfo, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result = state.with_world(|world, now| follow_info(world, &query, now));
    reply::json(Flavor::Json, result)
}

fn follow_info(world: &mut Inner, query: &Query<'_>, now: SimTime) -> Result<Value, WxErr> {
    let app = authorize(
        &mut world.apps,
        &world.app_tokens,
        query.get("access_token"),
        now,
    )?;
    require_kind(app, SimAppKind::OfficialAccount)?;
    let openid = query.get("openid").ok_or(WxErr::OPENID_MISSING)?;
    let user = &app.users.get(openid).ok_or(WxErr::INVALID_OPENID)?.user;
    let mut info = if user.subscribed {
        // Nickname and avatar are no longer returned here (WeChat dropped them in 2021).
        json!({
            "subscribe": 1,
            "openid": user.openid,
            "language": "zh_CN",
            "subscribe_time": user.subscribe_time.unwrap_or_default(),
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": user.subscribe_scene.as_deref().unwrap_or("ADD_SCENE_OTHERS"),
            "qr_scene": user.qr_scene,
            "qr_scene_str": user.qr_scene_str,
        })
    } else {
        json!({ "subscribe": 0, "openid": user.openid })
    };
    if let (Some(unionid), Some(object)) = (&user.unionid, info.as_object_mut()) {
        object.insert("unionid".to_owned(), Value::String(unionid.clone()));
    }
    Ok(info)
}
