//! The transfers in progress (adds, gets and cats running in the daemon),
//! for `GET /v1/transfers` and `POST /v1/transfers/{id}/cancel`.
//!
//! Each transfer is shared between the request that started it and the
//! blocking thread doing the work through atomics only: the worker bumps
//! `done` and polls `cancel`, the API reads and sets them, and nobody waits
//! on anybody. A transfer is listed exactly as long as its [`TransferGuard`]
//! lives; dropping the guard (the request finished, or its client went away)
//! also cancels the work, so an abandoned add does not run on unseen. The
//! registry holds at most as many entries as the store service runs
//! operations at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::api::store_types::{TransferKind, TransferView};

/// One transfer's live state.
#[derive(Debug)]
pub struct Transfer {
    pub id: u64,
    pub kind: TransferKind,
    pub name: String,
    done: AtomicU64,
    total: AtomicU64,
    cancel: AtomicBool,
    /// The same cancellation, for a worker waiting on a channel.
    token: CancellationToken,
    started: Instant,
}

impl Transfer {
    pub fn set_progress(&self, done: u64, total: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    pub fn add_done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.token.cancel();
    }

    /// Completes once the transfer is cancelled.
    pub fn cancelled_token(&self) -> &CancellationToken {
        &self.token
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The flag the store's cancellable operations poll.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    fn view(&self, now: Instant) -> TransferView {
        let done = self.done.load(Ordering::Relaxed);
        let secs = now.saturating_duration_since(self.started).as_secs_f64();
        TransferView {
            id: self.id,
            kind: self.kind,
            name: self.name.clone(),
            done,
            total: self.total.load(Ordering::Relaxed),
            bytes_per_sec: if secs > 0.0 { done as f64 / secs } else { 0.0 },
        }
    }
}

#[derive(Debug, Default)]
struct Registry {
    next: u64,
    live: BTreeMap<u64, Arc<Transfer>>,
    /// Set at shutdown: transfers started from then on begin cancelled.
    closed: bool,
}

/// The registry of running transfers (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Transfers {
    reg: Arc<Mutex<Registry>>,
}

impl Transfers {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a transfer; it is listed until the guard is dropped.
    pub fn start(&self, kind: TransferKind, name: String) -> TransferGuard {
        let mut reg = self.lock();
        reg.next += 1;
        let token = CancellationToken::new();
        if reg.closed {
            token.cancel();
        }
        let t = Arc::new(Transfer {
            id: reg.next,
            kind,
            name,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            cancel: AtomicBool::new(reg.closed),
            token,
            started: Instant::now(),
        });
        reg.live.insert(t.id, t.clone());
        TransferGuard {
            transfers: self.clone(),
            transfer: t,
        }
    }

    /// Every running transfer, oldest first.
    pub fn list(&self) -> Vec<TransferView> {
        let now = Instant::now();
        self.lock().live.values().map(|t| t.view(now)).collect()
    }

    /// Ask a transfer to stop; false if no such transfer runs.
    pub fn cancel(&self, id: u64) -> bool {
        match self.lock().live.get(&id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancel every running transfer and every one started from now on.
    pub fn cancel_all(&self) {
        let mut reg = self.lock();
        reg.closed = true;
        for t in reg.live.values() {
            t.cancel();
        }
    }
}

/// Keeps a transfer listed; cancels it and unlists it when dropped.
#[derive(Debug)]
pub struct TransferGuard {
    transfers: Transfers,
    transfer: Arc<Transfer>,
}

impl TransferGuard {
    /// The shared state, for the thread doing the work.
    pub fn transfer(&self) -> &Arc<Transfer> {
        &self.transfer
    }
}

impl Drop for TransferGuard {
    fn drop(&mut self) {
        self.transfer.cancel();
        self.transfers.lock().live.remove(&self.transfer.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_is_listed_while_its_guard_lives_and_cancelled_when_dropped() {
        let ts = Transfers::default();
        let g = ts.start(TransferKind::Add, "/x".into());
        g.transfer().set_progress(10, 100);
        let l = ts.list();
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].done, l[0].total, l[0].kind),
            (10, 100, TransferKind::Add)
        );
        let t = g.transfer().clone();
        assert!(!t.is_cancelled());
        drop(g);
        assert!(t.is_cancelled());
        assert!(ts.list().is_empty());
    }

    #[test]
    fn cancel_by_id_reaches_only_that_transfer() {
        let ts = Transfers::default();
        let a = ts.start(TransferKind::Add, "a".into());
        let b = ts.start(TransferKind::Cat, "b".into());
        assert!(ts.cancel(b.transfer().id));
        assert!(b.transfer().is_cancelled());
        assert!(!a.transfer().is_cancelled());
        assert!(!ts.cancel(999));
    }

    #[test]
    fn after_cancel_all_new_transfers_start_cancelled() {
        let ts = Transfers::default();
        let a = ts.start(TransferKind::Get, "a".into());
        ts.cancel_all();
        assert!(a.transfer().is_cancelled());
        let b = ts.start(TransferKind::Add, "b".into());
        assert!(b.transfer().is_cancelled());
    }
}
