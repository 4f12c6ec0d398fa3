//! Parametric QR tickets: what each ticket encodes, for which app, until when.

use std::collections::HashMap;
use std::time::Duration;

use crate::clock::SimTime;

/// What a parametric QR code encodes: a numeric `scene_id` or a `scene_str`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scene {
    Id(u32),
    Str(String),
}

impl Scene {
    /// The scene as it appears in `EventKey`.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Str(text) => text.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct QrTicket {
    pub(crate) appid: String,
    pub(crate) scene: Scene,
    /// `None` for permanent codes.
    pub(crate) expires_at: Option<SimTime>,
    /// The content encoded in the QR image.
    pub(crate) url: String,
}

impl QrTicket {
    pub(crate) fn is_expired(&self, now: SimTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Tickets {
    entries: HashMap<String, QrTicket>,
    next_sweep: Option<SimTime>,
}

/// Expired tickets are kept a day so scanning one reports "expired" rather than "unknown".
const RETENTION: Duration = Duration::from_secs(86_400);

impl Tickets {
    pub(crate) fn insert(&mut self, ticket: QrTicket, now: SimTime) -> String {
        self.sweep(now);
        let mut id = crate::ids::qr_ticket();
        while self.entries.contains_key(&id) {
            id = crate::ids::qr_ticket();
        }
        self.entries.insert(id.clone(), ticket);
        id
    }

    pub(crate) fn get(&self, ticket: &str) -> Option<&QrTicket> {
        self.entries.get(ticket)
    }

    /// The ticket of the QR code whose content is `url` (what a phone's camera reads).
    pub(crate) fn by_url(&self, url: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, t)| t.url == url)
            .map(|(id, _)| id.as_str())
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    fn sweep(&mut self, now: SimTime) {
        if self.next_sweep.is_some_and(|at| now < at) {
            return;
        }
        self.entries
            .retain(|_, ticket| ticket.expires_at.is_none_or(|at| at.plus(RETENTION) > now));
        self.next_sweep = Some(now.plus(Duration::from_secs(3600)));
    }
}
