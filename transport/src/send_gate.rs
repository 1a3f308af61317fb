//! A connection-wide bound on sealed stream bytes waiting inside yamux.
//!
//! yamux lets every stream queue its whole send credit (256 KiB) in its own
//! channel; 1,000 busy streams therefore keep 256 MiB of frames queued on
//! the sending side, each frame written when the stream queued it and read
//! again only when yamux's round-robin reaches it, long after it left the
//! CPU caches (the 1,000-stream profile: the copies of those frames ran at a
//! fifth of the speed of the same copies with one stream). The gate admits a
//! new frame only while fewer than [`SEND_QUEUE_LIMIT`] bytes are queued
//! connection-wide, so a frame is taken by the socket soon after it was
//! written.
//!
//! Bytes are counted as queued when yamux accepts them from a stream and as
//! gone when yamux hands bytes to the Noise socket. The socket also sees
//! yamux headers and window updates, so the count is approximate and kept
//! at zero or above, never accumulating credit. A stream that yamux refuses
//! (no credit) adds nothing, so a stalled stream cannot hold the gate shut
//! for the others. Waiting streams are woken in arrival order, as many as
//! the freed room fits.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Sealed bytes queued in yamux above which new frames wait.
pub const SEND_QUEUE_LIMIT: usize = 1024 * 1024;

/// Room one admitted frame is assumed to take when deciding how many
/// waiters to wake (a full default frame).
const FRAME_ESTIMATE: usize = 64 * 1024;

/// See the module doc.
#[derive(Debug)]
pub(crate) struct SendGate {
    limit: usize,
    queued: AtomicUsize,
    closed: AtomicBool,
    waiters: Mutex<VecDeque<Waker>>,
}

impl SendGate {
    pub fn new(limit: usize) -> SendGate {
        SendGate {
            limit,
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            waiters: Mutex::new(VecDeque::new()),
        }
    }

    /// Ready when a new frame may be handed to yamux; otherwise the task is
    /// queued and woken when room frees up.
    pub fn poll_admit(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.queued.load(Ordering::Acquire) < self.limit || self.closed.load(Ordering::Acquire)
        {
            return Poll::Ready(());
        }
        if let Ok(mut w) = self.waiters.lock()
            && !w.iter().any(|x| x.will_wake(cx.waker()))
        {
            w.push_back(cx.waker().clone());
        }
        // The socket may have drained everything between the check and the
        // registration; look again so that no wake-up is lost.
        if self.queued.load(Ordering::Acquire) < self.limit || self.closed.load(Ordering::Acquire)
        {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// yamux accepted `n` sealed bytes from a stream.
    pub fn queued(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    /// yamux wrote `n` bytes to the socket: frees room and wakes as many
    /// waiters as it fits.
    pub fn sent(&self, n: usize) {
        let prev = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(n))
            })
            .unwrap_or(0);
        let now = prev.saturating_sub(n);
        if now >= self.limit {
            return;
        }
        let wake = (self.limit - now).div_ceil(FRAME_ESTIMATE);
        let woken: Vec<Waker> = match self.waiters.lock() {
            Ok(mut w) if !w.is_empty() => {
                let k = wake.min(w.len());
                w.drain(..k).collect()
            }
            _ => return,
        };
        for w in woken {
            w.wake();
        }
    }

    /// Opens the gate for good and wakes every waiter (the connection is
    /// closing; their writes will fail in yamux).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let woken: Vec<Waker> = match self.waiters.lock() {
            Ok(mut w) => w.drain(..).collect(),
            Err(_) => return,
        };
        for w in woken {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;
    use std::task::Wake;

    struct Count(AtomicU32);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicU32::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn admits_below_the_limit_and_holds_above_it() {
        let g = SendGate::new(100);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(g.poll_admit(&mut cx).is_ready());
        g.queued(100);
        assert!(g.poll_admit(&mut cx).is_pending());
    }

    #[test]
    fn sending_wakes_waiters_in_arrival_order_as_room_allows() {
        let g = SendGate::new(2 * FRAME_ESTIMATE);
        g.queued(4 * FRAME_ESTIMATE);
        let (a, wa) = waker();
        let (b, wb) = waker();
        let (c, wc) = waker();
        for w in [&wa, &wb, &wc] {
            assert!(g.poll_admit(&mut Context::from_waker(w)).is_pending());
        }
        // Still above the limit: nobody is woken.
        g.sent(FRAME_ESTIMATE);
        assert_eq!(a.0.load(Ordering::SeqCst), 0);
        // One frame of room: the first waiter only.
        g.sent(2 * FRAME_ESTIMATE);
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 0);
        // Everything gone: the rest.
        g.sent(10 * FRAME_ESTIMATE);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn traffic_beyond_the_queued_bytes_does_not_build_up_credit() {
        let g = SendGate::new(100);
        g.sent(1_000_000);
        g.queued(100);
        let (_, w) = waker();
        assert!(g.poll_admit(&mut Context::from_waker(&w)).is_pending());
    }

    #[test]
    fn a_task_polled_twice_is_queued_once_and_close_opens_the_gate() {
        let g = SendGate::new(10);
        g.queued(10);
        let (a, w) = waker();
        assert!(g.poll_admit(&mut Context::from_waker(&w)).is_pending());
        assert!(g.poll_admit(&mut Context::from_waker(&w)).is_pending());
        assert_eq!(g.waiters.lock().unwrap().len(), 1);
        g.close();
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert!(g.poll_admit(&mut Context::from_waker(&w)).is_ready());
    }
}
