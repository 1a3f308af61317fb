//! A small per-thread pool of frame buffers: stream frames, and the Noise
//! layer's read and write buffers (see `noise_io`).
//!
//! A stream needs a frame-sized buffer only while a sealed frame waits for
//! yamux to take it, or while a received frame is being assembled and read
//! out; most of the time it needs none. Holding one buffer per stream and
//! direction (the earlier design) made 1,000 busy streams cycle through
//! 128 MiB of buffers, every one cold in cache when next touched, and made
//! each idle stream cost 128 KiB. Streams now borrow a buffer from this pool
//! for the life of one frame and give it back at once, so a worker thread
//! keeps reusing the same few buffers, hot in cache, whatever the number of
//! streams. A connection's Noise layer does the same with its larger
//! buffers, so an idle connection holds none.
//!
//! The pool is per thread (no lock; a task that moves to another worker just
//! returns its buffer to that worker's pool) and bounded: at most
//! [`MAX_POOLED`] buffers are kept, the rest are freed. Buffers are not
//! wiped between users: they only ever hold frames of this process, and
//! every reader of a buffer first overwrites the bytes it will use.

use std::cell::RefCell;

/// Buffers kept per thread.
pub const MAX_POOLED: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of exactly `len` bytes: the most recently returned one of that
/// size if the pool has one, else a new zeroed one.
pub fn take(len: usize) -> Box<[u8]> {
    POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        let i = p.iter().rposition(|b| b.len() == len)?;
        Some(p.swap_remove(i))
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| vec![0u8; len].into_boxed_slice())
}

/// Returns a buffer to this thread's pool (or frees it if the pool is full).
pub fn give(buf: Box<[u8]>) {
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < MAX_POOLED {
            p.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_for_the_same_size_only() {
        let a = take(1000);
        let pa = a.as_ptr();
        give(a);
        let other = take(999);
        assert_eq!(other.len(), 999);
        assert_ne!(other.as_ptr(), pa);
        let b = take(1000);
        assert_eq!(b.as_ptr(), pa);
        assert_eq!(b.len(), 1000);
    }

    #[test]
    fn the_pool_keeps_at_most_max_pooled_buffers() {
        let bufs: Vec<_> = (0..MAX_POOLED + 5).map(|_| take(77)).collect();
        for b in bufs {
            give(b);
        }
        let kept = POOL.with(|p| p.borrow().iter().filter(|b| b.len() == 77).count());
        assert!(kept <= MAX_POOLED);
    }
}
