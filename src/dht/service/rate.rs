//! Per-peer token buckets for inbound `dht/1` requests, sans-io.
//!
//! A peer that opens streams faster than its bucket refills has them dropped
//! before anything is read, so one peer cannot make the core answer
//! unboundedly many requests. The limiter takes `now` from the caller (no
//! clock inside, so tests drive it exactly), and its map is bounded: when it is
//! full, buckets that have refilled completely carry no information and are
//! forgotten; if none has, a new peer is refused until one does.

use std::collections::HashMap;

use crate::dht::{Key, Time};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Tokens held, in thousandths of a request (integers keep it exact).
    milli_tokens: u64,
    at: Time,
}

/// Token buckets by peer.
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens added per second.
    per_sec: u64,
    /// Bucket capacity (the burst a peer may send at once).
    burst: u64,
    max_peers: usize,
    buckets: HashMap<Key, Bucket>,
}

impl RateLimiter {
    /// `per_sec` requests per second sustained, `burst` at once, for at most
    /// `max_peers` peers tracked at a time.
    pub fn new(per_sec: u32, burst: u32, max_peers: usize) -> Self {
        RateLimiter {
            per_sec: u64::from(per_sec),
            burst: u64::from(burst.max(1)),
            max_peers: max_peers.max(1),
            buckets: HashMap::new(),
        }
    }

    fn capacity(&self) -> u64 {
        self.burst * 1000
    }

    fn refill(&self, b: &mut Bucket, now: Time) {
        let elapsed = now.0.saturating_sub(b.at.0);
        // per_sec tokens per 1000 ms = per_sec milli-tokens per ms.
        let add = elapsed.saturating_mul(self.per_sec);
        b.milli_tokens = b.milli_tokens.saturating_add(add).min(self.capacity());
        b.at = b.at.max(now);
    }

    /// Takes one token for `peer` at `now`; false if it has none left (or the
    /// map is full of peers still limited).
    pub fn allow(&mut self, peer: &Key, now: Time) -> bool {
        if !self.buckets.contains_key(peer) && self.buckets.len() >= self.max_peers {
            self.prune(now);
            if self.buckets.len() >= self.max_peers {
                return false;
            }
        }
        let cap = self.capacity();
        let mut b = self.buckets.get(peer).copied().unwrap_or(Bucket {
            milli_tokens: cap,
            at: now,
        });
        self.refill(&mut b, now);
        let ok = b.milli_tokens >= 1000;
        if ok {
            b.milli_tokens -= 1000;
        }
        self.buckets.insert(*peer, b);
        ok
    }

    /// Forgets buckets that have refilled completely by `now`.
    fn prune(&mut self, now: Time) {
        let cap = self.capacity();
        let per_sec = self.per_sec;
        self.buckets.retain(|_, b| {
            let add = now.0.saturating_sub(b.at.0).saturating_mul(per_sec);
            b.milli_tokens.saturating_add(add) < cap
        });
    }

    /// Peers currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key([b; 32])
    }

    #[test]
    fn burst_is_allowed_then_refused_until_refill() {
        let mut r = RateLimiter::new(10, 5, 16);
        let t = Time(1_000_000);
        for _ in 0..5 {
            assert!(r.allow(&key(1), t));
        }
        assert!(!r.allow(&key(1), t));
        // 10 per second: one token per 100 ms.
        assert!(!r.allow(&key(1), t.plus_ms(99)));
        assert!(r.allow(&key(1), t.plus_ms(199)));
        assert!(!r.allow(&key(1), t.plus_ms(199)));
    }

    #[test]
    fn peers_are_limited_independently() {
        let mut r = RateLimiter::new(1, 1, 16);
        let t = Time(5_000);
        assert!(r.allow(&key(1), t));
        assert!(!r.allow(&key(1), t));
        assert!(r.allow(&key(2), t));
    }

    #[test]
    fn map_stays_bounded_and_forgets_refilled_peers() {
        let mut r = RateLimiter::new(1, 1, 4);
        let t = Time(10_000);
        for b in 0..4 {
            assert!(r.allow(&key(b), t));
        }
        // Full of limited peers: a fifth is refused, and nothing grows.
        assert!(!r.allow(&key(9), t));
        assert_eq!(r.tracked(), 4);
        // After a second every bucket has refilled and can be forgotten.
        assert!(r.allow(&key(9), t.plus_ms(1000)));
        assert!(r.tracked() <= 4);
    }

    #[test]
    fn clock_going_backwards_grants_nothing() {
        let mut r = RateLimiter::new(1, 1, 4);
        assert!(r.allow(&key(1), Time(10_000)));
        assert!(!r.allow(&key(1), Time(5_000)));
        assert!(!r.allow(&key(1), Time(10_500)));
        assert!(r.allow(&key(1), Time(11_000)));
    }
}
