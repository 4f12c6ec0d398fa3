//! Periodic clean-up: expired refresh tokens and event-dedupe keys, idle rate-limit entries.

use std::time::Duration;

use actix_web::web;
use wxauth_core::ports::Store;
use wxauth_http::HttpState;
use wxauth_persistence::SqlStore;

const RATE_LIMIT_SWEEP: Duration = Duration::from_secs(60);
const PURGE_EVERY: u32 = 60; // sweeps, i.e. hourly

/// Refresh tokens are kept a week past their expiry so a late reuse is still recognised.
const REFRESH_TOKEN_GRACE: time::Duration = time::Duration::days(7);
/// WeChat retries a push within seconds; a day of dedupe keys is plenty.
const EVENT_KEY_TTL: time::Duration = time::Duration::days(1);

pub async fn run(state: web::Data<HttpState>, store: SqlStore) {
    let mut ticks = 0u32;
    // The first sweep waits a full period: nothing is stale at start-up.
    let start = tokio::time::Instant::now() + RATE_LIMIT_SWEEP;
    let mut interval = tokio::time::interval_at(start, RATE_LIMIT_SWEEP);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.limits.housekeeping();
        ticks = ticks.wrapping_add(1);
        if ticks % PURGE_EVERY == 1
            && let Err(e) = purge(&store).await
        {
            tracing::warn!(error = %e, "housekeeping purge failed; will retry");
        }
    }
}

async fn purge(store: &SqlStore) -> Result<(), wxauth_core::CoreError> {
    let now = time::OffsetDateTime::now_utc();
    let mut tx = store.begin().await?;
    let result = async {
        let tokens = tx.purge_refresh_tokens(now - REFRESH_TOKEN_GRACE).await?;
        let events = tx.purge_events(now - EVENT_KEY_TTL).await?;
        Ok((tokens, events))
    }
    .await;
    let (tokens, events) = wxauth_core::ports::finish(tx, result).await?;
    tracing::info!(tokens, events, "housekeeping purged expired rows");
    Ok(())
}
