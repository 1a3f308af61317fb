//! When to dial known peers again: a sans-io schedule with exponential
//! backoff.
//!
//! Why sans-io: the rules (first try at once, then wait `min`, doubling up to
//! `max`; reset on success; nothing for a connected or banned peer) are easy to
//! get subtly wrong and slow to test against real time. The schedule takes
//! `now` and events and says which peers are due and when to wake next; the
//! daemon's redial task owns the clock and the sockets, and tests drive it
//! with a virtual clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cairn_transport::NodeId;

/// Backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub min: Duration,
    /// Longest wait between two tries.
    pub max: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures (1 → `min`).
    pub fn delay(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(31);
        self.min
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    due: Instant,
    /// A dial is under way: not due again until it reports.
    in_flight: bool,
}

/// Which peers to dial, and when.
#[derive(Debug)]
pub struct RedialSchedule {
    backoff: Backoff,
    entries: HashMap<NodeId, Entry>,
}

impl RedialSchedule {
    pub fn new(backoff: Backoff) -> RedialSchedule {
        RedialSchedule {
            backoff,
            entries: HashMap::new(),
        }
    }

    /// Dial `peer` as soon as possible (start-up, or it just disconnected).
    /// A peer already waiting keeps its backoff.
    pub fn want(&mut self, peer: NodeId, now: Instant) {
        self.entries.entry(peer).or_insert(Entry {
            failures: 0,
            due: now,
            in_flight: false,
        });
    }

    /// Stop dialling `peer` (connected, banned or forgotten).
    pub fn forget(&mut self, peer: &NodeId) {
        self.entries.remove(peer);
    }

    /// At most `limit` peers due at `now`; each is marked in flight until
    /// [`failed`](Self::failed) or [`forget`](Self::forget).
    pub fn due(&mut self, now: Instant, limit: usize) -> Vec<NodeId> {
        let mut out = Vec::new();
        for (peer, e) in &mut self.entries {
            if out.len() >= limit {
                break;
            }
            if !e.in_flight && e.due <= now {
                e.in_flight = true;
                out.push(*peer);
            }
        }
        out
    }

    /// A dial of `peer` failed at `now`: try again after the backoff.
    pub fn failed(&mut self, peer: NodeId, now: Instant) {
        let e = self.entries.entry(peer).or_insert(Entry {
            failures: 0,
            due: now,
            in_flight: false,
        });
        e.failures = e.failures.saturating_add(1);
        e.in_flight = false;
        e.due = now + self.backoff.delay(e.failures);
    }

    /// When the next peer falls due (`None`: nothing waits, or all in flight).
    pub fn next_wake(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| !e.in_flight)
            .map(|e| e.due)
            .min()
    }

    /// Peers waiting or being dialled.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_transport::Identity;

    const B: Backoff = Backoff {
        min: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    #[test]
    fn delays_double_up_to_the_maximum() {
        let d: Vec<u64> = (1..=9).map(|f| B.delay(f).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(B.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_wanted_peer_is_due_at_once_then_backs_off_on_each_failure() {
        let t0 = Instant::now();
        let mut s = RedialSchedule::new(B);
        let p = Identity::generate().node_id();
        s.want(p, t0);
        assert_eq!(s.due(t0, usize::MAX), vec![p]);
        // In flight: not due again, and no wake-up for it.
        assert!(s.due(t0 + Duration::from_secs(100), usize::MAX).is_empty());
        assert_eq!(s.next_wake(), None);
        let mut now = t0;
        for expect in [1, 2, 4, 8] {
            s.failed(p, now);
            let wake = s.next_wake().unwrap();
            assert_eq!(wake - now, Duration::from_secs(expect));
            assert!(s.due(wake - Duration::from_millis(1), usize::MAX).is_empty());
            assert_eq!(s.due(wake, usize::MAX), vec![p]);
            now = wake;
        }
    }

    #[test]
    fn success_forgets_and_a_later_disconnect_starts_over() {
        let t0 = Instant::now();
        let mut s = RedialSchedule::new(B);
        let p = Identity::generate().node_id();
        s.want(p, t0);
        s.due(t0, usize::MAX);
        s.failed(p, t0);
        s.failed(p, t0);
        s.forget(&p);
        assert!(s.is_empty());
        let t1 = t0 + Duration::from_secs(500);
        s.want(p, t1);
        assert_eq!(s.due(t1, usize::MAX), vec![p]);
        s.failed(p, t1);
        assert_eq!(s.next_wake().unwrap() - t1, Duration::from_secs(1));
    }

    #[test]
    fn wanting_a_waiting_peer_keeps_its_backoff() {
        let t0 = Instant::now();
        let mut s = RedialSchedule::new(B);
        let p = Identity::generate().node_id();
        s.want(p, t0);
        s.due(t0, usize::MAX);
        s.failed(p, t0);
        s.failed(p, t0);
        s.want(p, t0);
        assert_eq!(s.next_wake().unwrap() - t0, Duration::from_secs(2));
    }

    #[test]
    fn many_peers_fall_due_in_order() {
        let t0 = Instant::now();
        let mut s = RedialSchedule::new(B);
        let a = Identity::generate().node_id();
        let b = Identity::generate().node_id();
        s.want(a, t0);
        s.want(b, t0);
        let mut first = s.due(t0, 1);
        assert_eq!(first.len(), 1, "the limit holds");
        first.extend(s.due(t0, usize::MAX));
        first.sort();
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(first, both);
        s.failed(a, t0);
        s.failed(b, t0);
        s.due(t0 + B.delay(1), usize::MAX);
        s.failed(a, t0 + B.delay(1));
        // b is due again at 1 s too and was taken; a now waits 2 s more.
        assert_eq!(s.len(), 2);
        assert_eq!(s.next_wake(), Some(t0 + B.delay(1) + B.delay(2)));
    }
}
