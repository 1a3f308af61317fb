//! A connection-wide bound on sealed stream bytes queued inside yamux, with
//! first-come-first-served admission.
//!
//! yamux lets every stream queue its whole send credit (256 KiB, the yamux
//! minimum) before the connection sends any of it, so 1,000 busy streams park
//! 256 MiB of sealed frames in yamux's channels: far beyond the CPU caches,
//! every byte then goes to DRAM and back, and the allocator maps fresh pages
//! for frames it cannot reuse. This gate admits a stream's next frame only
//! while fewer than `limit` bytes are queued between the streams and the
//! Noise layer, which releases bytes as it consumes them. Waiting streams are
//! admitted in arrival order (room is reserved for the oldest waiter before
//! it is woken), so no stream can be overtaken.
//!
//! The count is approximate by design: the Noise layer also releases yamux
//! headers and control frames it never acquired (saturating at zero), which
//! only loosens the bound. It can never stall: a stream is always admitted
//! when nothing is queued, and a stream that is dropped returns what it
//! acquired but did not hand over.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// Bytes queued between the streams and the Noise layer before streams wait:
/// 32 default frames, well inside the last-level cache.
pub const SEND_QUEUE_LIMIT: u64 = 2 * 1024 * 1024;

struct State {
    queued: u64,
    /// Streams waiting for room, oldest first: (stream id, bytes, waker).
    waiters: VecDeque<(u32, u64, Waker)>,
    /// Streams whose bytes were already counted for them when room appeared,
    /// and that have not polled since: (stream id, bytes).
    granted: Vec<(u32, u64)>,
}

impl State {
    /// Grants the oldest waiters that fit (the oldest always fits when
    /// nothing is queued) and returns their wakers.
    fn grant(&mut self, limit: u64) -> Vec<Waker> {
        let mut wake = Vec::new();
        while let Some(&(id, n, _)) = self.waiters.front() {
            if self.queued != 0 && self.queued.saturating_add(n) > limit {
                break;
            }
            if let Some((_, _, w)) = self.waiters.pop_front() {
                self.queued = self.queued.saturating_add(n);
                self.granted.push((id, n));
                wake.push(w);
            }
        }
        wake
    }
}

/// The gate; one per connection.
pub(crate) struct SendQueue {
    limit: u64,
    state: Mutex<State>,
}

impl std::fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("SendQueue")
            .field("limit", &self.limit)
            .field("queued", &s.queued)
            .field("waiters", &s.waiters.len())
            .finish()
    }
}

impl SendQueue {
    pub fn new(limit: u64) -> SendQueue {
        SendQueue {
            limit,
            state: Mutex::new(State {
                queued: 0,
                waiters: VecDeque::new(),
                granted: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits `n` bytes of stream `id` now, or puts it in line to be woken
    /// once they are admitted for it.
    pub fn poll_acquire(&self, cx: &mut Context<'_>, id: u32, n: u64) -> Poll<()> {
        let mut s = self.lock();
        if let Some(i) = s.granted.iter().position(|&(g, _)| g == id) {
            s.granted.swap_remove(i);
            return Poll::Ready(());
        }
        if let Some((_, bytes, waker)) = s.waiters.iter_mut().find(|(w, _, _)| *w == id) {
            *bytes = n;
            waker.clone_from(cx.waker());
            return Poll::Pending;
        }
        if s.waiters.is_empty() && (s.queued == 0 || s.queued.saturating_add(n) <= self.limit) {
            s.queued = s.queued.saturating_add(n);
            return Poll::Ready(());
        }
        s.waiters.push_back((id, n, cx.waker().clone()));
        Poll::Pending
    }

    /// Returns `n` bytes (consumed by the Noise layer, or never handed over)
    /// and wakes the oldest waiters that now fit.
    pub fn release(&self, n: u64) {
        let wake = {
            let mut s = self.lock();
            if s.queued == 0 && s.waiters.is_empty() {
                return;
            }
            s.queued = s.queued.saturating_sub(n);
            s.grant(self.limit)
        };
        for w in wake {
            w.wake();
        }
    }

    /// Removes stream `id` from the line and returns any grant it did not
    /// take (the stream is going away).
    pub fn forget(&self, id: u32) {
        let wake = {
            let mut s = self.lock();
            s.waiters.retain(|(w, _, _)| *w != id);
            if let Some(i) = s.granted.iter().position(|&(g, _)| g == id) {
                let (_, n) = s.granted.swap_remove(i);
                s.queued = s.queued.saturating_sub(n);
            }
            s.grant(self.limit)
        };
        for w in wake {
            w.wake();
        }
    }

    #[cfg(test)]
    fn queued(&self) -> u64 {
        self.lock().queued
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn stream_waits_when_full_and_is_woken_by_release() {
        let q = SendQueue::new(100);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_acquire(&mut cx, 1, 80).is_ready());
        let (count, w2) = waker();
        let mut cx2 = Context::from_waker(&w2);
        assert!(q.poll_acquire(&mut cx2, 2, 80).is_pending());
        q.release(80);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(q.poll_acquire(&mut cx2, 2, 80).is_ready());
        assert_eq!(q.queued(), 80);
    }

    #[test]
    fn empty_queue_always_admits_even_an_oversized_frame() {
        let q = SendQueue::new(10);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_acquire(&mut cx, 1, 1000).is_ready());
    }

    #[test]
    fn newcomer_queues_behind_an_earlier_waiter() {
        let q = SendQueue::new(100);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_acquire(&mut cx, 1, 90).is_ready());
        assert!(q.poll_acquire(&mut cx, 2, 50).is_pending());
        q.release(60); // queued 30: room for stream 2, granted and woken
        // Stream 3 polls before stream 2 wakes up and must not overtake it.
        assert!(q.poll_acquire(&mut cx, 3, 50).is_pending());
        assert!(q.poll_acquire(&mut cx, 2, 50).is_ready());
        assert_eq!(q.queued(), 80);
    }

    #[test]
    fn over_release_saturates_at_zero() {
        let q = SendQueue::new(100);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_acquire(&mut cx, 1, 50).is_ready());
        q.release(500);
        assert_eq!(q.queued(), 0);
    }

    #[test]
    fn forgetting_a_waiter_wakes_the_next_one() {
        let q = SendQueue::new(100);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_acquire(&mut cx, 1, 100).is_ready());
        assert!(q.poll_acquire(&mut cx, 2, 50).is_pending());
        let (count, w3) = waker();
        let mut cx3 = Context::from_waker(&w3);
        assert!(q.poll_acquire(&mut cx3, 3, 50).is_pending());
        q.forget(2);
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "still full");
        q.release(60);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "stream 3 is next");
    }

    #[test]
    fn dropped_stream_returns_an_untaken_grant() {
        let q = SendQueue::new(100);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_acquire(&mut cx, 1, 100).is_ready());
        assert!(q.poll_acquire(&mut cx, 2, 50).is_pending());
        q.release(100); // stream 2 granted 50
        assert_eq!(q.queued(), 50);
        q.forget(2);
        assert_eq!(q.queued(), 0);
    }
}
