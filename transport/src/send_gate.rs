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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

/// Sealed bytes queued in yamux above which new frames wait.
pub const SEND_QUEUE_LIMIT: usize = 1024 * 1024;

/// Room reserved for a waiter that is let through (a full default frame).
const FRAME_ESTIMATE: usize = 64 * 1024;

/// One stream's place in the gate's queue.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    granted: AtomicBool,
    waiting: AtomicBool,
    dropped: AtomicBool,
    waker: AtomicWaker,
}

#[derive(Debug, Default)]
struct Waiters {
    queue: VecDeque<Arc<Ticket>>,
    /// Room promised to waiters that were let through but have not yet
    /// handed their frame to yamux.
    reserved: usize,
}

/// See the module doc.
#[derive(Debug)]
pub(crate) struct SendGate {
    limit: usize,
    queued: AtomicUsize,
    closed: AtomicBool,
    waiters: Mutex<Waiters>,
}

impl SendGate {
    pub fn new(limit: usize) -> SendGate {
        SendGate {
            limit,
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a grant made to `t`, returning its reserved room.
    fn take_grant(&self, t: &Ticket) -> bool {
        if t.granted.swap(false, Ordering::AcqRel) {
            let mut w = self.lock();
            w.reserved = w.reserved.saturating_sub(FRAME_ESTIMATE);
            return true;
        }
        false
    }

    /// Ready when the stream holding `t` may hand a new frame to yamux:
    /// there is room and nobody queued before it. Otherwise it joins the
    /// queue and is woken when its turn comes.
    pub fn poll_admit(&self, t: &Arc<Ticket>, cx: &mut Context<'_>) -> Poll<()> {
        if self.closed.load(Ordering::Acquire) || self.take_grant(t) {
            return Poll::Ready(());
        }
        t.waker.register(cx.waker());
        if !t.waiting.load(Ordering::Acquire) {
            let mut w = self.lock();
            if w.queue.is_empty()
                && self.queued.load(Ordering::Acquire) + w.reserved < self.limit
            {
                return Poll::Ready(());
            }
            t.waiting.store(true, Ordering::Release);
            w.queue.push_back(t.clone());
        }
        // Room may have freed up before we queued: hand it out now.
        self.grant();
        if self.closed.load(Ordering::Acquire) || self.take_grant(t) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Lets waiters through, in order, while there is room.
    fn grant(&self) {
        let mut woken = Vec::new();
        {
            let mut w = self.lock();
            while self.queued.load(Ordering::Acquire) + w.reserved < self.limit {
                let Some(t) = w.queue.pop_front() else { break };
                t.waiting.store(false, Ordering::Release);
                if t.dropped.load(Ordering::Acquire) {
                    continue;
                }
                w.reserved += FRAME_ESTIMATE;
                t.granted.store(true, Ordering::Release);
                woken.push(t);
            }
        }
        for t in woken {
            t.waker.wake();
        }
    }

    /// yamux accepted `n` sealed bytes from a stream.
    pub fn queued(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    /// yamux wrote `n` bytes to the socket: frees room for waiters.
    pub fn sent(&self, n: usize) {
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(n))
            });
        if !self.lock().queue.is_empty() {
            self.grant();
        }
    }

    /// The stream holding `t` is gone: its place and any room granted to it
    /// go to the next waiters.
    pub fn leave(&self, t: &Ticket) {
        t.dropped.store(true, Ordering::Release);
        if self.take_grant(t) {
            self.grant();
        }
    }

    /// Opens the gate for good and wakes every waiter (the connection is
    /// closing; their writes will fail in yamux).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let woken: Vec<Arc<Ticket>> = self.lock().queue.drain(..).collect();
        for t in woken {
            t.waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::task::{Wake, Waker};

    struct Count(AtomicU32);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Waiter {
        count: Arc<Count>,
        waker: Waker,
        ticket: Arc<Ticket>,
    }

    impl Waiter {
        fn new() -> Waiter {
            let count = Arc::new(Count(AtomicU32::new(0)));
            Waiter {
                waker: Waker::from(count.clone()),
                count,
                ticket: Arc::new(Ticket::default()),
            }
        }
        fn admit(&self, g: &SendGate) -> bool {
            g.poll_admit(&self.ticket, &mut Context::from_waker(&self.waker))
                .is_ready()
        }
        fn woken(&self) -> u32 {
            self.count.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn admits_below_the_limit_and_holds_above_it() {
        let g = SendGate::new(100);
        let a = Waiter::new();
        assert!(a.admit(&g));
        g.queued(100);
        assert!(!a.admit(&g));
    }

    #[test]
    fn waiters_are_let_through_in_arrival_order_as_room_frees() {
        let g = SendGate::new(2 * FRAME_ESTIMATE);
        g.queued(4 * FRAME_ESTIMATE);
        let (a, b, c) = (Waiter::new(), Waiter::new(), Waiter::new());
        for w in [&a, &b, &c] {
            assert!(!w.admit(&g));
        }
        // Still above the limit: nobody is woken.
        g.sent(FRAME_ESTIMATE);
        assert_eq!(a.woken(), 0);
        // One frame of room: the first waiter only.
        g.sent(2 * FRAME_ESTIMATE);
        assert_eq!((a.woken(), b.woken()), (1, 0));
        // A newcomer does not overtake the queue, even with room left.
        g.sent(FRAME_ESTIMATE);
        assert_eq!((b.woken(), c.woken()), (1, 0));
        let d = Waiter::new();
        assert!(!d.admit(&g));
        assert!(a.admit(&g));
        g.queued(FRAME_ESTIMATE);
        g.sent(10 * FRAME_ESTIMATE);
        assert_eq!((c.woken(), d.woken()), (1, 0));
        assert!(b.admit(&g) && c.admit(&g));
        g.sent(0);
        assert_eq!(d.woken(), 1);
        assert!(d.admit(&g));
    }

    #[test]
    fn a_stream_that_keeps_writing_goes_to_the_back_of_the_queue() {
        let g = SendGate::new(FRAME_ESTIMATE);
        g.queued(FRAME_ESTIMATE);
        let (a, b) = (Waiter::new(), Waiter::new());
        assert!(!a.admit(&g));
        assert!(!b.admit(&g));
        g.sent(FRAME_ESTIMATE);
        assert!(a.admit(&g));
        g.queued(FRAME_ESTIMATE);
        // a wants to write again: b was first.
        assert!(!a.admit(&g));
        g.sent(FRAME_ESTIMATE);
        assert_eq!(b.woken(), 1);
        assert!(b.admit(&g));
    }

    #[test]
    fn traffic_beyond_the_queued_bytes_does_not_build_up_credit() {
        let g = SendGate::new(100);
        g.sent(1_000_000);
        g.queued(100);
        assert!(!Waiter::new().admit(&g));
    }

    #[test]
    fn a_stream_that_leaves_passes_its_turn_on() {
        let g = SendGate::new(FRAME_ESTIMATE);
        g.queued(FRAME_ESTIMATE);
        let (a, b) = (Waiter::new(), Waiter::new());
        assert!(!a.admit(&g));
        assert!(!b.admit(&g));
        g.sent(FRAME_ESTIMATE);
        assert_eq!((a.woken(), b.woken()), (1, 0));
        g.leave(&a.ticket);
        assert_eq!(b.woken(), 1);
        assert!(b.admit(&g));
    }

    #[test]
    fn a_task_polled_twice_is_queued_once_and_close_opens_the_gate() {
        let g = SendGate::new(10);
        g.queued(10);
        let a = Waiter::new();
        assert!(!a.admit(&g));
        assert!(!a.admit(&g));
        assert_eq!(g.lock().queue.len(), 1);
        g.close();
        assert_eq!(a.woken(), 1);
        assert!(a.admit(&g));
    }
}
