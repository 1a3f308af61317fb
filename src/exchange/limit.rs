//! Bandwidth limits as token buckets, without a clock of their own.
//!
//! Every transfer asks [`Limiter::reserve`] with the time *now* (the caller
//! reads the clock) how long it must wait before its bytes may go; the
//! bucket lets its level go negative, so a block larger than the burst still
//! passes and the debt is paid by later senders waiting. Four buckets apply
//! to each transfer (global and per peer, for its direction); the wait is
//! the longest. Because time is an argument, the tests drive a virtual
//! clock and nothing here sleeps.

use std::collections::HashMap;
use std::time::Duration;

use cairn_transport::NodeId;
use serde::{Deserialize, Serialize};

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// Rates in bytes per second; 0 = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub up: u64,
    pub down: u64,
    pub peer_up: u64,
    pub peer_down: u64,
}

impl From<&crate::config::ExchangeLimitsConfig> for Limits {
    fn from(c: &crate::config::ExchangeLimitsConfig) -> Limits {
        Limits {
            up: c.up,
            down: c.down,
            peer_up: c.peer_up,
            peer_down: c.peer_down,
        }
    }
}

/// One token bucket. `rate` bytes per second refill it up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    /// Level in bytes; negative while in debt.
    level: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket at time `now`. `rate` 0 means unlimited.
    pub fn new(rate: u64, now: Duration) -> TokenBucket {
        let burst = Self::burst_for(rate);
        TokenBucket {
            rate,
            burst,
            level: burst as f64,
            last: now,
        }
    }

    /// A tenth of a second of traffic, and at least one 1 MiB block.
    fn burst_for(rate: u64) -> u64 {
        (rate / 10).max(1 << 20)
    }

    fn refill(&mut self, now: Duration) {
        let dt = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.level = (self.level + dt * self.rate as f64).min(self.burst as f64);
    }

    /// Change the rate, keeping the current level (capped to the new burst).
    pub fn set_rate(&mut self, rate: u64, now: Duration) {
        self.refill(now);
        self.rate = rate;
        self.burst = Self::burst_for(rate);
        self.level = self.level.min(self.burst as f64);
    }

    /// Take `n` bytes at `now`; returns how long the caller must wait before
    /// sending them (zero when the bucket had them).
    pub fn take(&mut self, now: Duration, n: u64) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        self.refill(now);
        self.level -= n as f64;
        if self.level >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.level / self.rate as f64)
        }
    }
}

/// All buckets of a node: global and per peer, up and down.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    up: TokenBucket,
    down: TokenBucket,
    peers: HashMap<NodeId, (TokenBucket, TokenBucket)>,
}

/// Per-peer buckets kept at most; the least recently created are dropped
/// beyond it (a dropped peer starts again with a full bucket).
const MAX_PEER_BUCKETS: usize = 4096;

impl Limiter {
    pub fn new(limits: Limits, now: Duration) -> Limiter {
        Limiter {
            limits,
            up: TokenBucket::new(limits.up, now),
            down: TokenBucket::new(limits.down, now),
            peers: HashMap::new(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Change every rate at runtime.
    pub fn set_limits(&mut self, limits: Limits, now: Duration) {
        self.limits = limits;
        self.up.set_rate(limits.up, now);
        self.down.set_rate(limits.down, now);
        for (u, d) in self.peers.values_mut() {
            u.set_rate(limits.peer_up, now);
            d.set_rate(limits.peer_down, now);
        }
    }

    /// Account `n` bytes to or from `peer` at `now`; returns the wait.
    pub fn reserve(&mut self, now: Duration, peer: NodeId, dir: Direction, n: u64) -> Duration {
        if self.peers.len() >= MAX_PEER_BUCKETS && !self.peers.contains_key(&peer) {
            self.peers.clear();
        }
        let l = self.limits;
        let (pu, pd) = self.peers.entry(peer).or_insert_with(|| {
            (
                TokenBucket::new(l.peer_up, now),
                TokenBucket::new(l.peer_down, now),
            )
        });
        let (g, p) = match dir {
            Direction::Up => (&mut self.up, pu),
            Direction::Down => (&mut self.down, pd),
        };
        g.take(now, n).max(p.take(now, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn peer(n: u8) -> NodeId {
        cairn_transport::Identity::from_secret_bytes([n; 32], [n; 32]).node_id()
    }

    #[test]
    fn unlimited_bucket_never_waits() {
        let mut b = TokenBucket::new(0, Duration::ZERO);
        assert_eq!(b.take(Duration::ZERO, u64::MAX / 2), Duration::ZERO);
    }

    #[test]
    fn sustained_rate_matches_the_limit_on_a_virtual_clock() {
        // 10 MB/s; send 1 MiB blocks back to back, each after the previous
        // wait: 100 MiB must take 100 MiB / rate minus the initial burst.
        let rate = 10 * MB;
        let mut b = TokenBucket::new(rate, Duration::ZERO);
        let mut now = Duration::ZERO;
        for _ in 0..100 {
            now += b.take(now, MB);
        }
        let expected = (100 * MB - b.burst) as f64 / rate as f64;
        assert!((now.as_secs_f64() - expected).abs() < 1e-6, "{now:?}");
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let mut b = TokenBucket::new(10 * MB, Duration::ZERO);
        assert_eq!(b.take(Duration::ZERO, 2 * MB), secs(0.1));
        // A long idle period refills to the burst (1 MiB here), not more.
        assert_eq!(b.take(secs(100.0), MB), Duration::ZERO);
        assert_eq!(b.take(secs(100.0), MB), secs(0.1));
    }

    #[test]
    fn per_peer_limit_binds_each_peer_separately() {
        let limits = Limits {
            peer_down: 2 * MB,
            ..Limits::default()
        };
        let mut l = Limiter::new(limits, Duration::ZERO);
        let t = Duration::ZERO;
        assert_eq!(l.reserve(t, peer(1), Direction::Down, MB), Duration::ZERO);
        assert_eq!(l.reserve(t, peer(1), Direction::Down, MB), secs(0.5));
        // Another peer has its own bucket; uploads are unlimited.
        assert_eq!(l.reserve(t, peer(2), Direction::Down, MB), Duration::ZERO);
        assert_eq!(
            l.reserve(t, peer(1), Direction::Up, 50 * MB),
            Duration::ZERO
        );
    }

    #[test]
    fn global_limit_binds_all_peers_together() {
        let mut l = Limiter::new(
            Limits {
                up: 4 * MB,
                ..Limits::default()
            },
            Duration::ZERO,
        );
        let t = Duration::ZERO;
        assert_eq!(l.reserve(t, peer(1), Direction::Up, MB), Duration::ZERO);
        assert_eq!(l.reserve(t, peer(2), Direction::Up, MB), secs(0.25));
    }

    #[test]
    fn limits_change_at_runtime() {
        let mut l = Limiter::new(
            Limits {
                down: MB,
                ..Limits::default()
            },
            Duration::ZERO,
        );
        let t = Duration::ZERO;
        l.reserve(t, peer(1), Direction::Down, MB);
        assert_eq!(l.reserve(t, peer(1), Direction::Down, MB), secs(1.0));
        // Lifting the limit lets the next transfer through at once.
        l.set_limits(Limits::default(), secs(1.0));
        assert_eq!(
            l.reserve(secs(1.0), peer(1), Direction::Down, 100 * MB),
            Duration::ZERO
        );
        assert_eq!(l.limits(), Limits::default());
    }
}
