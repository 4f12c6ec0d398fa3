//! What happens on the user's phone (scanning, following, unfollowing) and the pushes WeChat
//! sends to the account's server as a result.

use super::SimState;
use crate::clock::SimTime;
use crate::error::SimError;
use crate::events::{
    self, Delivery, EventKind, EventMessage, EventReport, PushEvent, Receiver, UrlCheckReport,
};
use crate::store::AppState;
use crate::store::tickets::Scene;

/// Bound on `duplicate`, so one control call cannot keep the simulator busy for minutes.
const MAX_DUPLICATES: u32 = 100;

impl SimState {
    /// The user scans a parametric QR code: a user not yet following gets `subscribe` with
    /// `EventKey = "qrscene_" + scene` and becomes a follower; a follower gets `SCAN` with the
    /// bare scene. The event is pushed to the app's `event_url` (when it has one).
    /// A scan of the QR code whose content is `url`, as a phone reads it off a page that drew
    /// the code itself rather than showing WeChat's image of the ticket.
    pub async fn scan_url(&self, url: &str, openid: &str) -> Result<EventReport, SimError> {
        let ticket = self.with_world(|world, _| {
            world
                .tickets
                .by_url(url)
                .map(str::to_owned)
                .ok_or_else(|| SimError::NotFound("no QR code has this content".to_owned()))
        })?;
        self.scan(&ticket, openid).await
    }

    pub async fn scan(&self, ticket: &str, openid: &str) -> Result<EventReport, SimError> {
        let (message, receiver, now) = self.with_world(|world, now| {
            let qr = world
                .tickets
                .get(ticket)
                .cloned()
                .ok_or_else(|| SimError::NotFound("unknown ticket".to_owned()))?;
            if qr.is_expired(now) {
                return Err(SimError::invalid("ticket expired"));
            }
            let app = world.app_mut(&qr.appid)?;
            let to = app.app.original_id();
            let receiver = receiver_of(app);
            let user = &mut app.user_mut(openid)?.user;
            let (event, event_key) = if user.subscribed {
                (EventKind::Scan, qr.scene.key())
            } else {
                user.follow(now, "ADD_SCENE_QR_CODE", Some(&qr.scene));
                (EventKind::Subscribe, format!("qrscene_{}", qr.scene.key()))
            };
            let message = EventMessage {
                to,
                from: openid.to_owned(),
                create_time: now.unix_secs(),
                event,
                event_key: Some(event_key),
                ticket: Some(ticket.to_owned()),
            };
            Ok((message, receiver, now))
        })?;
        Ok(self.send(message, receiver.as_ref(), 0, now).await)
    }

    /// Pushes an arbitrary follow event, updating the user's follow state to match.
    pub async fn push_event(&self, push: PushEvent) -> Result<EventReport, SimError> {
        if push.duplicate > MAX_DUPLICATES {
            return Err(SimError::invalid(format!(
                "duplicate must be at most {MAX_DUPLICATES}"
            )));
        }
        let (message, receiver, now) = self.with_world(|world, now| {
            let app = world.app_mut(&push.appid)?;
            let to = app.app.original_id();
            let receiver = receiver_of(app);
            let user = &mut app.user_mut(&push.openid)?.user;
            match push.event {
                EventKind::Subscribe => {
                    match push
                        .event_key
                        .as_deref()
                        .and_then(|k| k.strip_prefix("qrscene_"))
                    {
                        Some(scene) => {
                            user.follow(now, "ADD_SCENE_QR_CODE", Some(&scene_of(scene)));
                        }
                        None => user.follow(now, "ADD_SCENE_SEARCH", None),
                    }
                }
                EventKind::Unsubscribe => user.unfollow(),
                EventKind::Scan => {}
            }
            let message = EventMessage {
                to,
                from: push.openid.clone(),
                create_time: now.unix_secs(),
                event: push.event,
                event_key: push.event_key.clone(),
                ticket: push.ticket.clone(),
            };
            Ok::<_, SimError>((message, receiver, now))
        })?;
        Ok(self
            .send(message, receiver.as_ref(), push.duplicate, now)
            .await)
    }

    /// WeChat's server-configuration check against the app's `event_url`.
    pub async fn verify_event_url(&self, appid: &str) -> Result<UrlCheckReport, SimError> {
        let (receiver, now) = self.with_world(|world, now| {
            let app = world.app(appid)?;
            let receiver = receiver_of(app)
                .ok_or_else(|| SimError::invalid(format!("app {appid} has no event_url")))?;
            Ok::<_, SimError>((receiver, now))
        })?;
        Ok(events::verify_url(
            self.http(),
            &receiver,
            now.unix_secs(),
            self.event_timeout(),
        )
        .await)
    }

    /// Delivers the message once plus `duplicate` identical extra times.
    async fn send(
        &self,
        message: EventMessage,
        receiver: Option<&Receiver>,
        duplicate: u32,
        now: SimTime,
    ) -> EventReport {
        let mut deliveries = Vec::with_capacity(duplicate as usize + 1);
        for _ in 0..=duplicate {
            let delivery = match receiver {
                Some(receiver) => {
                    events::deliver(
                        self.http(),
                        receiver,
                        &message,
                        now.unix_secs(),
                        self.event_timeout(),
                    )
                    .await
                }
                // No server configured: WeChat has nowhere to push; the state change still happened.
                None => Delivery::default(),
            };
            deliveries.push(delivery);
        }
        let delivery = if deliveries.is_empty() {
            Delivery::default()
        } else {
            deliveries.remove(0)
        };
        EventReport {
            event: message.event.as_str().to_owned(),
            create_time: message.create_time,
            delivery,
            duplicates: deliveries,
        }
    }
}

fn receiver_of(app: &AppState) -> Option<Receiver> {
    Some(Receiver {
        url: app.app.event_url.clone()?,
        token: app.app.event_token.clone().unwrap_or_default(),
        mode: app.app.event_mode,
        aes_key: app.aes_key,
        appid: app.app.appid.clone(),
    })
}

/// A scene from an `EventKey`: numeric keys are `scene_id`s, anything else a `scene_str`.
fn scene_of(key: &str) -> Scene {
    key.parse::<u32>()
        .ok()
        .filter(|id| *id > 0)
        .map_or_else(|| Scene::Str(key.to_owned()), Scene::Id)
}
