//! Call statistics: per-endpoint call counts and per-app token fetches.
//!
//! Call counts are atomics outside the state lock: they are bumped on every request, including
//! faulted ones, and must not add contention to the hot path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::faults::Endpoint;

#[derive(Debug, Default)]
pub(crate) struct CallCounters {
    counts: [AtomicU64; Endpoint::ALL.len()],
}

impl CallCounters {
    pub(crate) fn bump(&self, endpoint: Endpoint) {
        if let Some(counter) = self.counts.get(endpoint.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        Endpoint::ALL
            .into_iter()
            .zip(&self.counts)
            .map(|(endpoint, count)| (endpoint.name().to_owned(), count.load(Ordering::Relaxed)))
            .collect()
    }

    pub(crate) fn reset(&self) {
        for count in &self.counts {
            count.store(0, Ordering::Relaxed);
        }
    }
}

/// Successful access-token fetches of one app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenFetches {
    /// `POST /cgi-bin/stable_token` calls answered with a token (forced or not).
    pub stable: u64,
    /// `GET /cgi-bin/token` calls answered with a token.
    pub plain: u64,
    /// The subset of `stable` made with `force_refresh: true`.
    pub forced: u64,
}

/// What `GET /__sim/stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Every endpoint with its call count (calls answered with an error included).
    pub calls: BTreeMap<String, u64>,
    /// Per appid; apps that never fetched a token are left out.
    pub token_fetches: BTreeMap<String, TokenFetches>,
}

impl SimStats {
    /// Calls of one endpoint.
    pub fn calls_of(&self, endpoint: Endpoint) -> u64 {
        self.calls.get(endpoint.name()).copied().unwrap_or(0)
    }

    /// Token fetches of one app (all zero when it never fetched one).
    pub fn token_fetches_of(&self, appid: &str) -> TokenFetches {
        self.token_fetches.get(appid).copied().unwrap_or_default()
    }
}
