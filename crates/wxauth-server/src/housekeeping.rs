//! Periodic clean-up: expired tokens, codes and dedupe keys, old audit entries, idle rate-limit
//! entries.

use std::time::Duration;

use std::sync::Arc;

use wxauth_limits::LocalLimits;
use wxauth_persistence::{Retention, SqlStore};

const RATE_LIMIT_SWEEP: Duration = Duration::from_secs(60);
const PURGE_EVERY: u32 = 60; // sweeps, i.e. hourly

/// Refresh tokens are kept a week past their expiry so a late reuse is still recognised.
const REFRESH_TOKEN_GRACE: time::Duration = time::Duration::days(7);
/// WeChat retries a push within seconds; a day of dedupe keys is plenty.
const EVENT_KEY_TTL: time::Duration = time::Duration::days(1);
/// Expired bind codes, OAuth states and QR logins stay a day, for support questions.
const ONE_TIME_CODE_GRACE: time::Duration = time::Duration::days(1);

pub async fn run(limits: Arc<LocalLimits>, store: SqlStore, audit_retention_days: u32) {
    let mut ticks = 0u32;
    // The first sweep waits a full period: nothing is stale at start-up.
    let start = tokio::time::Instant::now() + RATE_LIMIT_SWEEP;
    let mut interval = tokio::time::interval_at(start, RATE_LIMIT_SWEEP);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        limits.housekeeping();
        ticks = ticks.wrapping_add(1);
        if ticks % PURGE_EVERY == 1
            && let Err(e) = purge(&store, audit_retention_days).await
        {
            tracing::warn!(error = %e, "housekeeping purge failed; will retry");
        }
    }
}

async fn purge(store: &SqlStore, audit_retention_days: u32) -> Result<(), wxauth_core::RepoError> {
    let now = time::OffsetDateTime::now_utc();
    let purged = store
        .purge(Retention {
            refresh_tokens: now - REFRESH_TOKEN_GRACE,
            one_time_codes: now - ONE_TIME_CODE_GRACE,
            events: now - EVENT_KEY_TTL,
            audit: (audit_retention_days > 0)
                .then(|| now - time::Duration::days(i64::from(audit_retention_days))),
        })
        .await?;
    tracing::info!(?purged, "housekeeping purged expired rows");
    Ok(())
}
