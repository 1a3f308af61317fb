//! The routing table: 256 k-buckets ordered by XOR distance from the local key.
//!
//! Each bucket tracks when each entry was last seen. A full bucket does
//! not evict on arrival of a newcomer: the newcomer waits as the bucket's single
//! *pending* entry while the core pings the oldest entry, and only if that ping
//! fails does the newcomer replace it. Long-lived peers are therefore kept,
//! as the Kademlia paper prescribes (they are the likeliest to stay), and a
//! flood of fresh ids cannot flush a bucket. The table is pure data: the ping
//! itself, and its timeout, belong to the core (`node.rs`).

use super::Time;
use super::key::{Distance, KEY_LEN, Key};
use super::message::PeerInfo;

/// Number of buckets: one per bit of the key.
pub const NUM_BUCKETS: usize = KEY_LEN * 8;

/// A peer in the table.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The peer.
    pub peer: PeerInfo,
    /// When it was first inserted.
    pub first_seen: Time,
    /// When it was last heard from.
    pub last_seen: Time,
    /// Consecutive requests it failed to answer.
    pub failures: u8,
}

#[derive(Clone, Debug)]
struct Pending {
    peer: PeerInfo,
    since: Time,
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    /// In insertion order; the least recently seen entry is found by
    /// `last_seen` when needed (updating in place is cheaper than keeping
    /// the vector sorted on every message).
    entries: Vec<Entry>,
    pending: Option<Pending>,
    last_refresh: Option<Time>,
}

/// What happened to a peer offered to the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Insert {
    /// Newly inserted.
    Inserted,
    /// Already present; marked as seen now.
    Updated,
    /// The bucket is full: the peer waits as pending, and the core must check
    /// the liveness of `check` (the oldest entry of bucket `bucket`).
    Pending {
        /// Bucket index.
        bucket: usize,
        /// The entry to ping.
        check: Key,
    },
    /// The bucket is full and a liveness check is already under way.
    Full,
    /// The local key itself; never stored.
    Local,
}

/// The Kademlia routing table of one node.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    local: Key,
    k: usize,
    buckets: Vec<Bucket>,
    /// Index of the lowest non-empty bucket, kept up to date on every change
    /// (scanning 256 buckets on every deadline query is what it saves).
    lowest: Option<usize>,
}

impl RoutingTable {
    /// An empty table for `local` with bucket size `k`.
    pub fn new(local: Key, k: usize) -> Self {
        RoutingTable {
            local,
            k: k.max(1),
            buckets: vec![Bucket::default(); NUM_BUCKETS],
            lowest: None,
        }
    }

    /// The local key.
    pub fn local(&self) -> &Key {
        &self.local
    }

    /// The bucket a key falls into, `None` for the local key.
    pub fn bucket_of(&self, key: &Key) -> Option<usize> {
        self.local.distance(key).bucket_index()
    }

    /// Records that `peer` was heard from at `now` (an answered request, or a
    /// request it sent us). Moves it to the most-recently-seen end.
    pub fn on_seen(&mut self, peer: PeerInfo, now: Time) -> Insert {
        self.on_seen_with(peer, now, 0)
    }

    /// As [`Self::on_seen`], but a full bucket whose oldest entry was heard
    /// from within `fresh_ms` keeps it without a liveness check and turns the
    /// newcomer away (BEP 5's "good" nodes): a peer that answered a minute
    /// ago needs no ping, and a busy node does not ping on every newcomer.
    pub fn on_seen_with(&mut self, peer: PeerInfo, now: Time, fresh_ms: u64) -> Insert {
        let Some(b) = self.bucket_of(&peer.id) else {
            return Insert::Local;
        };
        let k = self.k;
        let Some(bucket) = self.buckets.get_mut(b) else {
            return Insert::Local;
        };
        if let Some(e) = bucket.entries.iter_mut().find(|e| e.peer.id == peer.id) {
            // Traffic with a bucket's peers keeps it fresh (Kademlia §2.3):
            // only quiet buckets need refresh lookups.
            bucket.last_refresh = Some(now);
            e.last_seen = now;
            e.failures = 0;
            if !peer.addrs.is_empty() && e.peer.addrs != peer.addrs {
                e.peer.addrs = peer.addrs;
            }
            return Insert::Updated;
        }
        if bucket.entries.len() < k {
            bucket.last_refresh = Some(now);
            bucket.entries.push(Entry {
                peer,
                first_seen: now,
                last_seen: now,
                failures: 0,
            });
            self.lowest = Some(self.lowest.map_or(b, |l| l.min(b)));
            return Insert::Inserted;
        }
        let Some(oldest) = bucket.entries.iter().min_by_key(|e| e.last_seen) else {
            return Insert::Full;
        };
        if now.0.saturating_sub(oldest.last_seen.0) < fresh_ms {
            return Insert::Full;
        }
        let oldest = oldest.peer.id;
        match &mut bucket.pending {
            Some(p) if p.peer.id == peer.id => {
                if !peer.addrs.is_empty() {
                    p.peer.addrs = peer.addrs;
                }
                Insert::Full
            }
            Some(_) => Insert::Full,
            None => {
                bucket.pending = Some(Pending { peer, since: now });
                Insert::Pending {
                    bucket: b,
                    check: oldest,
                }
            }
        }
    }

    /// The liveness check of `checked` in `bucket` succeeded: it stays (as
    /// most recently seen) and the pending newcomer is discarded.
    pub fn check_passed(&mut self, bucket: usize, checked: &Key, now: Time) {
        if let Some(bk) = self.buckets.get_mut(bucket) {
            bk.pending = None;
        }
        if let Some(e) = self.entry_mut(checked) {
            e.last_seen = now;
            e.failures = 0;
        }
    }

    /// The liveness check of `checked` failed: it is evicted and the pending
    /// newcomer takes its place.
    pub fn check_failed(&mut self, bucket: usize, checked: &Key, now: Time) {
        self.remove(checked);
        if let Some(bk) = self.buckets.get_mut(bucket)
            && let Some(p) = bk.pending.take()
            && bk.entries.len() < self.k
        {
            bk.entries.push(Entry {
                peer: p.peer,
                first_seen: p.since,
                last_seen: now,
                failures: 0,
            });
            self.lowest = Some(self.lowest.map_or(bucket, |l| l.min(bucket)));
        }
    }

    /// A request to `peer` went unanswered. After `max_failures` consecutive
    /// failures the peer is removed (and a pending newcomer takes its slot).
    /// Returns whether it was removed.
    pub fn on_failure(&mut self, peer: &Key, max_failures: u8, now: Time) -> bool {
        let Some(e) = self.entry_mut(peer) else {
            return false;
        };
        e.failures = e.failures.saturating_add(1);
        if e.failures >= max_failures {
            let b = self.bucket_of(peer).unwrap_or(0);
            self.check_failed(b, peer, now);
            true
        } else {
            false
        }
    }

    /// Removes `peer` (it misbehaved, or is known gone). Returns whether it was present.
    pub fn remove(&mut self, peer: &Key) -> bool {
        let Some(b) = self.bucket_of(peer) else {
            return false;
        };
        let Some(bk) = self.buckets.get_mut(b) else {
            return false;
        };
        if bk.pending.as_ref().is_some_and(|p| p.peer.id == *peer) {
            bk.pending = None;
        }
        match bk.entries.iter().position(|e| e.peer.id == *peer) {
            Some(pos) => {
                bk.entries.remove(pos);
                if bk.entries.is_empty() && self.lowest == Some(b) {
                    self.lowest = self
                        .buckets
                        .iter()
                        .enumerate()
                        .skip(b)
                        .find(|(_, x)| !x.entries.is_empty())
                        .map(|(i, _)| i);
                }
                true
            }
            None => false,
        }
    }

    fn entry_mut(&mut self, peer: &Key) -> Option<&mut Entry> {
        let b = self.bucket_of(peer)?;
        self.buckets
            .get_mut(b)?
            .entries
            .iter_mut()
            .find(|e| e.peer.id == *peer)
    }

    /// The entry for `peer`, if present.
    pub fn get(&self, peer: &Key) -> Option<&Entry> {
        let b = self.bucket_of(peer)?;
        self.buckets
            .get(b)?
            .entries
            .iter()
            .find(|e| e.peer.id == *peer)
    }

    /// Whether `peer` is in the table.
    pub fn contains(&self, peer: &Key) -> bool {
        self.get(peer).is_some()
    }

    /// Up to `n` peers closest to `target`, closest first, skipping `exclude`.
    ///
    /// Buckets are visited in order of distance to `target` (the order is
    /// exact between buckets, because XOR distance is decided by the highest
    /// differing bit), so only the few buckets needed are sorted.
    pub fn closest(&self, target: &Key, n: usize, exclude: Option<&Key>) -> Vec<PeerInfo> {
        let d = self.local.distance(target);
        let mut out: Vec<PeerInfo> = Vec::with_capacity(n);
        let mut scratch: Vec<(Distance, &Entry)> = Vec::new();
        let lowest = self.lowest.unwrap_or(NUM_BUCKETS);
        for b in bucket_order(&d).filter(|b| *b >= lowest) {
            if out.len() >= n {
                break;
            }
            let Some(bk) = self.buckets.get(b) else {
                continue;
            };
            if bk.entries.is_empty() {
                continue;
            }
            scratch.clear();
            scratch.extend(
                bk.entries
                    .iter()
                    .filter(|e| Some(&e.peer.id) != exclude)
                    .map(|e| (e.peer.id.distance(target), e)),
            );
            scratch.sort_unstable_by_key(|a| a.0);
            for (_, e) in scratch.iter().take(n - out.len()) {
                out.push(e.peer.clone());
            }
        }
        out
    }

    /// Number of peers in bucket `bucket`.
    pub fn bucket_len(&self, bucket: usize) -> usize {
        self.buckets.get(bucket).map_or(0, |b| b.entries.len())
    }

    /// Bucket size.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of peers in the table.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.entries.is_empty())
    }

    /// All entries, bucket by bucket.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.entries.iter())
    }

    /// Notes that a lookup for a key in `bucket` ran at `now`.
    pub fn mark_refreshed(&mut self, bucket: usize, now: Time) {
        if let Some(b) = self.buckets.get_mut(bucket) {
            b.last_refresh = Some(now);
        }
    }

    /// Buckets that need a refresh lookup at `now`: from the bucket of the
    /// closest neighbour outwards (nearer buckets are empty in any network
    /// smaller than 2^256), those with no lookup in the last `interval_ms`.
    pub fn buckets_to_refresh(&self, now: Time, interval_ms: u64) -> Vec<usize> {
        let Some(lowest) = self.lowest else {
            return Vec::new();
        };
        (lowest..NUM_BUCKETS)
            .filter(|i| {
                self.buckets.get(*i).is_some_and(|b| match b.last_refresh {
                    Some(t) => now.0.saturating_sub(t.0) >= interval_ms,
                    None => true,
                })
            })
            .collect()
    }

    /// Earliest time at which some bucket from the closest neighbour's
    /// outwards becomes due for a refresh.
    pub fn next_refresh(&self, interval_ms: u64) -> Option<Time> {
        let lowest = self.lowest?;
        self.buckets
            .iter()
            .skip(lowest)
            .map(|b| {
                b.last_refresh
                    .map_or(0, |t| t.0.saturating_add(interval_ms))
            })
            .min()
            .map(Time)
    }
}

/// Bucket indices in order of increasing distance to a target at distance
/// `d` from the local key.
fn bucket_order(d: &Distance) -> impl Iterator<Item = usize> + '_ {
    let bit = |i: usize| -> bool {
        let byte = KEY_LEN - 1 - i / 8;
        d.0.get(byte).is_some_and(|b| b & (1 << (i % 8)) != 0)
    };
    let top = d.bucket_index();
    let (own, below_set, below_unset, above) = match top {
        None => (None, 0..0, 0..0, 0..NUM_BUCKETS),
        Some(b) => (Some(b), 0..b, 0..b, b + 1..NUM_BUCKETS),
    };
    own.into_iter()
        .chain(below_set.rev().filter(move |i| bit(*i)))
        .chain(below_unset.filter(move |i| !bit(*i)))
        .chain(above)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Time {
        Time(ms)
    }

    fn in_bucket(local: &Key, bucket: usize, n: u32) -> PeerInfo {
        PeerInfo::bare(local.random_in_bucket(bucket, &n.to_be_bytes()))
    }

    #[test]
    fn closest_matches_a_full_sort() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 20);
        let mut all = Vec::new();
        for i in 0..2000u32 {
            let p = PeerInfo::bare(Key::hash(&i.to_be_bytes()));
            if rt.on_seen(p.clone(), t(0)) == Insert::Inserted {
                all.push(p.id);
            }
        }
        for j in 0..50u32 {
            let target = Key::hash(&(j + 10_000).to_be_bytes());
            let got: Vec<Key> = rt
                .closest(&target, 20, None)
                .into_iter()
                .map(|p| p.id)
                .collect();
            let mut want = all.clone();
            want.sort_by_key(|k| k.distance(&target));
            want.truncate(20);
            assert_eq!(got, want);
        }
        let got: Vec<Key> = rt
            .closest(&local, 5, None)
            .into_iter()
            .map(|p| p.id)
            .collect();
        let mut want = all.clone();
        want.sort_by_key(|k| k.distance(&local));
        want.truncate(5);
        assert_eq!(got, want);
    }

    #[test]
    fn full_bucket_keeps_old_peer_that_passes_liveness_check() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 2);
        let a = in_bucket(&local, 200, 1);
        let b = in_bucket(&local, 200, 2);
        let c = in_bucket(&local, 200, 3);
        let d = in_bucket(&local, 200, 4);
        assert_eq!(rt.on_seen(a.clone(), t(1)), Insert::Inserted);
        assert_eq!(rt.on_seen(b.clone(), t(2)), Insert::Inserted);
        assert_eq!(
            rt.on_seen(c.clone(), t(3)),
            Insert::Pending {
                bucket: 200,
                check: a.id
            }
        );
        // A second newcomer does not start another check.
        assert_eq!(rt.on_seen(d.clone(), t(4)), Insert::Full);
        rt.check_passed(200, &a.id, t(5));
        assert!(rt.contains(&a.id) && rt.contains(&b.id) && !rt.contains(&c.id));
        // a is now the most recently seen: b is the next to be checked.
        assert_eq!(
            rt.on_seen(d.clone(), t(6)),
            Insert::Pending {
                bucket: 200,
                check: b.id
            }
        );
    }

    #[test]
    fn full_bucket_replaces_oldest_only_after_failed_check() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 2);
        let a = in_bucket(&local, 10, 1);
        let b = in_bucket(&local, 10, 2);
        let c = in_bucket(&local, 10, 3);
        rt.on_seen(a.clone(), t(1));
        rt.on_seen(b.clone(), t(2));
        rt.on_seen(c.clone(), t(3));
        assert!(!rt.contains(&c.id));
        rt.check_failed(10, &a.id, t(4));
        assert!(!rt.contains(&a.id) && rt.contains(&b.id) && rt.contains(&c.id));
    }

    #[test]
    fn repeated_failures_remove_a_peer() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 20);
        let a = in_bucket(&local, 50, 1);
        rt.on_seen(a.clone(), t(1));
        assert!(!rt.on_failure(&a.id, 2, t(2)));
        assert!(rt.on_failure(&a.id, 2, t(3)));
        assert!(!rt.contains(&a.id));
    }

    #[test]
    fn full_bucket_with_a_recently_seen_oldest_needs_no_check() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 2);
        let a = in_bucket(&local, 100, 1);
        let b = in_bucket(&local, 100, 2);
        let c = in_bucket(&local, 100, 3);
        rt.on_seen(a.clone(), t(1000));
        rt.on_seen(b, t(1000));
        assert_eq!(rt.on_seen_with(c.clone(), t(1500), 1000), Insert::Full);
        assert_eq!(
            rt.on_seen_with(c, t(2000), 1000),
            Insert::Pending {
                bucket: 100,
                check: a.id
            }
        );
    }

    #[test]
    fn local_key_is_never_stored() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 20);
        assert_eq!(rt.on_seen(PeerInfo::bare(local), t(0)), Insert::Local);
        assert!(rt.is_empty());
    }

    #[test]
    fn refresh_is_due_for_buckets_without_recent_lookups() {
        let local = Key::hash(b"local");
        let mut rt = RoutingTable::new(local, 20);
        assert!(rt.buckets_to_refresh(t(0), 100).is_empty());
        rt.on_seen(in_bucket(&local, 250, 1), t(0));
        // Bucket 250 saw traffic; the empty buckets above it did not.
        let due = rt.buckets_to_refresh(t(0), 100);
        assert_eq!(due, (251..256).collect::<Vec<_>>());
        for b in due {
            rt.mark_refreshed(b, t(0));
        }
        assert!(rt.buckets_to_refresh(t(99), 100).is_empty());
        assert_eq!(rt.next_refresh(100), Some(t(100)));
        assert_eq!(rt.buckets_to_refresh(t(100), 100).len(), 6);
    }
}
