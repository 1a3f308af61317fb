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
    /// A connection that lived at least this long resets the backoff; one
    /// that dropped sooner (e.g. the peer closes us at once) counts as a
    /// failure, so a peer that refuses us is not redialled in a hot loop.
    pub stable: Duration,
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
enum Entry {
    /// To be dialled at `due` (unless a dial is under way).
    Waiting {
        failures: u32,
        due: Instant,
        in_flight: bool,
    },
    /// Connected since `since`, after `failures` failures.
    Connected { failures: u32, since: Instant },
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

    /// Dial `peer` as soon as possible (start-up, or a ban was lifted). A
    /// peer already known to the schedule keeps its state.
    pub fn want(&mut self, peer: NodeId, now: Instant) {
        self.entries.entry(peer).or_insert(Entry::Waiting {
            failures: 0,
            due: now,
            in_flight: false,
        });
    }

    /// Stop dialling `peer` (banned or forgotten).
    pub fn forget(&mut self, peer: &NodeId) {
        self.entries.remove(peer);
    }

    /// A connection to `peer` is up.
    pub fn connected(&mut self, peer: NodeId, now: Instant) {
        let failures = match self.entries.get(&peer) {
            Some(Entry::Waiting { failures, .. }) => *failures,
            Some(Entry::Connected { .. }) => return,
            None => 0,
        };
        self.entries.insert(
            peer,
            Entry::Connected {
                failures,
                since: now,
            },
        );
    }

    /// The connection to `peer` is gone: dial again, at once if it had been
    /// stable, else after the next backoff step.
    pub fn disconnected(&mut self, peer: NodeId, now: Instant) {
        let entry = match self.entries.get(&peer) {
            Some(Entry::Connected { failures, since })
                if now.saturating_duration_since(*since) < self.backoff.stable =>
            {
                let failures = failures.saturating_add(1);
                Entry::Waiting {
                    failures,
                    due: now + self.backoff.delay(failures),
                    in_flight: false,
                }
            }
            Some(Entry::Waiting { .. }) => return,
            _ => Entry::Waiting {
                failures: 0,
                due: now,
                in_flight: false,
            },
        };
        self.entries.insert(peer, entry);
    }

    /// At most `limit` peers due at `now`; each is marked in flight until
    /// [`failed`](Self::failed), [`connected`](Self::connected) or
    /// [`forget`](Self::forget).
    pub fn due(&mut self, now: Instant, limit: usize) -> Vec<NodeId> {
        let mut out = Vec::new();
        for (peer, e) in &mut self.entries {
            if out.len() >= limit {
                break;
            }
            if let Entry::Waiting { due, in_flight, .. } = e
                && !*in_flight
                && *due <= now
            {
                *in_flight = true;
                out.push(*peer);
            }
        }
        out
    }

    /// A dial of `peer` failed at `now`: try again after the backoff.
    pub fn failed(&mut self, peer: NodeId, now: Instant) {
        let failures = match self.entries.get(&peer) {
            Some(Entry::Waiting { failures, .. }) => failures.saturating_add(1),
            // Connected meanwhile (e.g. the peer dialled us): nothing to do.
            Some(Entry::Connected { .. }) => return,
            None => 1,
        };
        self.entries.insert(
            peer,
            Entry::Waiting {
                failures,
                due: now + self.backoff.delay(failures),
                in_flight: false,
            },
        );
    }

    /// When the next peer falls due (`None`: nothing waits, or all in flight).
    pub fn next_wake(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| match e {
                Entry::Waiting {
                    due,
                    in_flight: false,
                    ..
                } => Some(*due),
                _ => None,
            })
            .min()
    }

    /// Peers the schedule follows (waiting, being dialled or connected).
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
        stable: Duration::from_secs(10),
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
            assert!(
                s.due(wake - Duration::from_millis(1), usize::MAX)
                    .is_empty()
            );
            assert_eq!(s.due(wake, usize::MAX), vec![p]);
            now = wake;
        }
    }

    #[test]
    fn a_stable_connection_resets_the_backoff_and_a_short_one_does_not() {
        let t0 = Instant::now();
        let mut s = RedialSchedule::new(B);
        let p = Identity::generate().node_id();
        s.want(p, t0);
        s.due(t0, usize::MAX);
        s.failed(p, t0);
        s.failed(p, t0);
        s.connected(p, t0);
        assert_eq!(s.next_wake(), None, "nothing to dial while connected");
        // Dropped after 1 s: a third failure, 4 s wait.
        let t1 = t0 + Duration::from_secs(1);
        s.disconnected(p, t1);
        assert_eq!(s.next_wake().unwrap() - t1, Duration::from_secs(4));
        // A peer that closes us at once, over and over, is never hot-looped.
        let mut now = t1;
        for expect in [4, 8, 16, 32, 60, 60] {
            let wake = s.next_wake().unwrap();
            assert_eq!(wake - now, Duration::from_secs(expect));
            assert_eq!(s.due(wake, usize::MAX), vec![p]);
            s.connected(p, wake);
            s.disconnected(p, wake);
            now = wake;
        }
        // Lived longer than `stable`: dialled again at once, from scratch.
        let t2 = now + Duration::from_secs(100);
        s.due(t2, usize::MAX);
        s.connected(p, t2);
        let t3 = t2 + Duration::from_secs(30);
        s.disconnected(p, t3);
        assert_eq!(s.next_wake(), Some(t3));
        s.due(t3, usize::MAX);
        s.failed(p, t3);
        assert_eq!(s.next_wake().unwrap() - t3, Duration::from_secs(1));
        s.forget(&p);
        assert!(s.is_empty());
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
