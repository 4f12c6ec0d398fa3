//! Who waits for which scan-login to move on: the event streams of this instance, woken when
//! a login changes here (at once) or on another instance (when [`Wxauth::sync_qr_login_watchers`]
//! next looks at the store's change feed).
//!
//! A waiter is a one-shot channel: waking a login wakes each of its waiters once, and each
//! stream registers again after it has read the new state. Waiters that gave up (their stream
//! closed, or timed out for a keep-alive) are dropped when their login is next watched or woken,
//! and by the sync.
//!
//! [`Wxauth::sync_qr_login_watchers`]: crate::Wxauth::sync_qr_login_watchers

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use futures::channel::oneshot;
use wxauth_domain::Timestamp;

#[derive(Default)]
pub(crate) struct Watchers {
    waiting: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    /// Up to where the change feed was read.
    synced_until: Mutex<Option<Timestamp>>,
    /// The latest change of each login the feed woke for, so that the overlap between two
    /// looks at the feed wakes nobody twice.
    woken_for: Mutex<HashMap<String, Timestamp>>,
}

/// Resolves when the watched login changed (or the service is shutting down).
pub struct LoginChanged(oneshot::Receiver<()>);

impl std::future::Future for LoginChanged {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Watchers {
    pub(crate) fn watch(&self, key: &str) -> LoginChanged {
        let (tx, rx) = oneshot::channel();
        let mut waiting = lock(&self.waiting);
        let list = waiting.entry(key.to_owned()).or_default();
        list.retain(|w| !w.is_canceled());
        list.push(tx);
        LoginChanged(rx)
    }

    pub(crate) fn wake(&self, key: &str) {
        let woken = lock(&self.waiting).remove(key);
        for waiter in woken.into_iter().flatten() {
            let _ = waiter.send(());
        }
    }

    /// Drops the waiters that gave up; whether anyone still waits.
    pub(crate) fn sweep(&self) -> bool {
        let mut waiting = lock(&self.waiting);
        waiting.retain(|_, list| {
            list.retain(|w| !w.is_canceled());
            !list.is_empty()
        });
        !waiting.is_empty()
    }

    pub(crate) fn is_watched(&self, key: &str) -> bool {
        lock(&self.waiting).contains_key(key)
    }

    /// Wakes a watched login for a change the feed reported, unless it was woken for this
    /// change (or a later one) already.
    pub(crate) fn wake_if_newer(&self, key: &str, changed_at: Timestamp) {
        if !self.is_watched(key) {
            return;
        }
        let mut woken_for = lock(&self.woken_for);
        if woken_for.get(key).is_some_and(|seen| *seen >= changed_at) {
            return;
        }
        woken_for.insert(key.to_owned(), changed_at);
        drop(woken_for);
        self.wake(key);
    }

    pub(crate) fn forget_changes_before(&self, before: Timestamp) {
        lock(&self.woken_for).retain(|_, at| *at >= before);
    }

    pub(crate) fn synced_until(&self) -> Option<Timestamp> {
        *lock(&self.synced_until)
    }

    pub(crate) fn set_synced_until(&self, at: Timestamp) {
        *lock(&self.synced_until) = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn waking_a_login_wakes_its_waiters_once_and_no_others() {
        let watchers = Watchers::default();
        let mut a1 = watchers.watch("a");
        let mut a2 = watchers.watch("a");
        let mut b = watchers.watch("b");
        watchers.wake("a");
        assert_eq!((&mut a1).now_or_never(), Some(()));
        assert_eq!((&mut a2).now_or_never(), Some(()));
        assert_eq!((&mut b).now_or_never(), None);
        assert!(!watchers.is_watched("a"));
        assert!(watchers.is_watched("b"));
    }

    #[test]
    fn waiters_that_gave_up_are_swept() {
        let watchers = Watchers::default();
        drop(watchers.watch("a"));
        assert!(!watchers.sweep());
        let _kept = watchers.watch("b");
        assert!(watchers.sweep());
    }
}
