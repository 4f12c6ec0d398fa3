//! Periodic clean-up: expired tokens, codes and dedupe keys, old audit entries, idle rate-limit
//! entries.

use std::time::Duration;

use std::sync::Arc;

use wxauth_core::Wxauth;
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

/// How often an instance looks at the store for scan-logins other instances moved on, to wake
/// its own event streams: the most a stream lags behind a confirmation made elsewhere.
const QR_LOGIN_SYNC: Duration = Duration::from_millis(500);

/// Wakes this instance's scan-login streams on changes made by other instances.
pub async fn sync_qr_login_watchers(wxauth: Arc<Wxauth>) {
    let mut interval = tokio::time::interval(QR_LOGIN_SYNC);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(e) = wxauth.sync_qr_login_watchers().await {
            tracing::debug!(error = %e, "scan-login change feed unavailable; will retry");
        }
    }
}

pub async fn run(
    limits: Arc<LocalLimits>,
    store: SqlStore,
    wxauth: Arc<Wxauth>,
    audit_retention_days: u32,
) {
    let mut ticks = 0u32;
    // The first sweep waits a full period: nothing is stale at start-up.
    let start = tokio::time::Instant::now() + RATE_LIMIT_SWEEP;
    let mut interval = tokio::time::interval_at(start, RATE_LIMIT_SWEEP);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        limits.housekeeping();
        // Every sweep: expired scan-logins are audited as such, so soon after they expire.
        match wxauth.expire_mp_qr_logins().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(expired = n, "expired scan-logins removed"),
            Err(e) => tracing::warn!(error = %e, "expiring scan-logins failed; will retry"),
        }
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
