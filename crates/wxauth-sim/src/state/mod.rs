//! [`SimState`]: the shared handle to the simulated world, used by the HTTP handlers and, with
//! the same typed methods, by tests in-process.
//!
//! Locking rule: one `std::sync::Mutex` around the world, held only for map work, never across
//! an `.await` (event delivery copies what it needs out first). Call counters, faults and the
//! clock sit outside the lock because every request touches them.

mod accounts;
mod codes;
mod events;
mod session;
mod tokens;
mod wxacode;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::clock::{SimClock, SimTime};
use crate::config::SimConfig;
use crate::error::SimError;
use crate::faults::{Endpoint, Fault, FaultBoard};
use crate::stats::{CallCounters, SimStats};
use crate::store::Inner;

pub use crate::store::oauth::OAuthConsent;
pub use wxacode::WxaCodeScan;

/// A poisoned lock only means another request panicked mid-update; the maps stay usable and a
/// simulator is better off answering than cascading the panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// WeChat waits this long for a push to be answered.
const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Cheap to clone: all clones share one simulated world.
#[derive(Debug, Clone)]
pub struct SimState {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    world: Mutex<Inner>,
    clock: SimClock,
    faults: FaultBoard,
    calls: CallCounters,
    /// For event pushes. Idle connections are not pooled: the client is used from the test's
    /// runtime and from the server's worker runtimes, and a pooled connection must not outlive
    /// the runtime that opened it.
    http: reqwest::Client,
    event_timeout_ms: AtomicU64,
    rate_limits: AtomicBool,
}

impl SimState {
    /// A world with the configured apps (validated) and no users.
    pub(crate) fn new(config: &SimConfig) -> Result<Self, SimError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|err| SimError::invalid(format!("cannot build the push client: {err}")))?;
        let state = Self {
            shared: Arc::new(Shared {
                world: Mutex::new(Inner::default()),
                clock: SimClock::default(),
                faults: FaultBoard::default(),
                calls: CallCounters::default(),
                http,
                event_timeout_ms: AtomicU64::new(millis(DEFAULT_EVENT_TIMEOUT)),
                rate_limits: AtomicBool::new(config.rate_limits),
            }),
        };
        for app in &config.apps {
            state.add_app(app.clone())?;
        }
        Ok(state)
    }

    /// Runs `f` on the world under the lock, with the current simulated time.
    pub(crate) fn with_world<R>(&self, f: impl FnOnce(&mut Inner, SimTime) -> R) -> R {
        let now = self.shared.clock.now();
        let mut world = lock(&self.shared.world);
        f(&mut world, now)
    }

    pub(crate) fn sim_now(&self) -> SimTime {
        self.shared.clock.now()
    }

    /// Counts a call and takes the fault armed for it, if any.
    pub(crate) fn enter(&self, endpoint: Endpoint) -> Option<Fault> {
        self.shared.calls.bump(endpoint);
        self.shared.faults.take(endpoint)
    }

    /// Counts a call that is answered before any fault could apply (wrong HTTP method).
    pub(crate) fn count_call(&self, endpoint: Endpoint) {
        self.shared.calls.bump(endpoint);
    }

    pub(crate) fn rate_limits_on(&self) -> bool {
        self.shared.rate_limits.load(Ordering::Relaxed)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    /// The simulator's current time (real time plus every `advance_clock`).
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now().to_system_time()
    }

    /// Moves the simulator's clock forward: codes, tokens and tickets expire as if `by` passed.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Turns WeChat's frequency limits and daily quotas on or off at run time.
    pub fn set_rate_limits(&self, on: bool) {
        self.shared.rate_limits.store(on, Ordering::Relaxed);
    }

    /// How long a push waits for the receiver before retrying (WeChat: 5 s). Tests shorten it.
    pub fn set_event_timeout(&self, timeout: Duration) {
        self.shared
            .event_timeout_ms
            .store(millis(timeout).max(1), Ordering::Relaxed);
    }

    pub(crate) fn event_timeout(&self) -> Duration {
        Duration::from_millis(self.shared.event_timeout_ms.load(Ordering::Relaxed))
    }

    /// Arms a fault for the next `fault.count` calls of its endpoint(s).
    pub fn inject_fault(&self, fault: Fault) -> Result<(), SimError> {
        fault.validate()?;
        self.shared.faults.arm(fault);
        Ok(())
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Call counts per endpoint and token fetches per app.
    pub fn stats(&self) -> SimStats {
        let calls = self.shared.calls.snapshot();
        let token_fetches = self.with_world(|world, _| {
            world
                .apps
                .iter()
                .filter(|(_, app)| app.fetches != Default::default())
                .map(|(appid, app)| (appid.clone(), app.fetches))
                .collect()
        });
        SimStats {
            calls,
            token_fetches,
        }
    }

    /// Clears users, codes, tokens, tickets, consents, faults and stats, and puts the clock back
    /// to real time. Apps stay.
    pub fn reset(&self) {
        self.with_world(|world, _| world.reset());
        self.shared.faults.clear();
        self.shared.calls.reset();
        self.shared.clock.reset();
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
