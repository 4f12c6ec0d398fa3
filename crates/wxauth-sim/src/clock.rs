//! The simulator's own clock: real time plus an offset that only moves forward.
//!
//! Every expiry (codes, tokens, tickets, rate windows) is checked against this clock, so tests
//! expire things with `advance_clock` instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point on the simulator clock, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SimTime(u64);

impl SimTime {
    pub(crate) fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    pub(crate) fn unix_secs(self) -> u64 {
        self.0 / 1000
    }

    pub(crate) fn plus(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(millis_of(duration)))
    }

    /// Time left until `later`, zero when it has passed.
    pub(crate) fn until(self, later: SimTime) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }

    pub(crate) fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct SimClock {
    offset_ms: AtomicU64,
}

impl SimClock {
    pub(crate) fn now(&self) -> SimTime {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(millis_of)
            .unwrap_or(0);
        SimTime(real.saturating_add(self.offset_ms.load(Ordering::Relaxed)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(millis_of(by), Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_by_at_least_the_offset() {
        let clock = SimClock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now().unix_secs() >= before.unix_secs() + 3600);
    }

    #[test]
    fn until_is_zero_once_passed() {
        let t = SimTime::from_millis(10_000);
        assert_eq!(t.until(SimTime::from_millis(5_000)), Duration::ZERO);
        assert_eq!(
            t.until(t.plus(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }
}
