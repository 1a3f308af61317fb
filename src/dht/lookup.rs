//! The iterative lookup: which peer to ask next, and when a lookup is done.
//!
//! A lookup is a pure iterator over candidate peers, stepped by the core:
//! [`Lookup::next_step`] names a peer to contact (or says to wait, or that the
//! lookup is over), and [`Lookup::on_success`] / [`Lookup::on_failure`]
//! report what came of it. It never reads a clock or sends anything; the
//! core owns timeouts and I/O (the shape of rust-libp2p's `ClosestPeersIter`).
//!
//! To tolerate peers that lie, candidates are split over `d` *disjoint paths*
//! (S/Kademlia): every peer belongs to the path that first learned of it, and
//! peers it reports are only followed by that same path. A liar can then
//! poison the path it sits on, but not the others, and the final result is
//! the closest peers that answered on any path. With `d = 1` this is plain
//! Kademlia. A path is finished when its `k` closest live candidates have all
//! answered; a request budget bounds the work a lookup can be made to do.

use std::collections::{BTreeMap, HashMap};

use super::key::{Distance, Key};
use super::message::PeerInfo;

/// What the lookup wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send a request to this peer.
    Contact(PeerInfo),
    /// Nothing to send until a response or failure arrives.
    Waiting,
    /// The lookup is over.
    Finished,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotContacted,
    Waiting,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    peer: PeerInfo,
    state: State,
    path: usize,
    /// Round trips from the local node: seeds are at depth 1.
    depth: u32,
    /// The responder that first reported it (`None` for seeds).
    source: Option<Key>,
    /// How many responders reported it.
    vouched: u8,
    /// Requests sent to it.
    attempts: u8,
}

#[derive(Clone, Debug, Default)]
struct Path {
    by_distance: BTreeMap<Distance, Key>,
    /// Never-contacted candidates per reporting responder (`None`: seeds).
    open_by_source: BTreeMap<Option<Key>, usize>,
    in_flight: usize,
    finished: bool,
}

/// Counters of one lookup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Requests sent.
    pub requests: u32,
    /// Successful responses.
    pub responses: u32,
    /// Requests that failed (timeout, refusal, bad response).
    pub failures: u32,
    /// Round trips on the path that reached the closest answering peer.
    pub hops: u32,
}

/// One iterative lookup towards `target`.
#[derive(Clone, Debug)]
pub struct Lookup {
    target: Key,
    k: usize,
    alpha: usize,
    max_candidates: usize,
    max_requests: u32,
    paths: Vec<Path>,
    candidates: HashMap<Key, Candidate>,
    next_path: usize,
    stats: LookupStats,
    stopped: bool,
}

impl Lookup {
    /// A lookup for `target` seeded with `seeds` (the closest peers of the
    /// local table), with `k` results, `alpha` requests in flight per path,
    /// `paths` disjoint paths and a budget of `max_requests` requests.
    pub fn new(
        target: Key,
        seeds: Vec<PeerInfo>,
        k: usize,
        alpha: usize,
        paths: usize,
        max_requests: u32,
    ) -> Self {
        let paths_n = paths.max(1);
        let mut l = Lookup {
            target,
            k: k.max(1),
            alpha: alpha.max(1),
            max_candidates: k.max(1) * 3,
            max_requests,
            paths: vec![Path::default(); paths_n],
            candidates: HashMap::new(),
            next_path: 0,
            stats: LookupStats::default(),
            stopped: false,
        };
        let mut seeds = seeds;
        seeds.sort_by_key(|p| p.id.distance(&target));
        for (i, p) in seeds.into_iter().enumerate() {
            l.insert(p, i % paths_n, 1, None);
        }
        l
    }

    /// The key looked up.
    pub fn target(&self) -> &Key {
        &self.target
    }

    fn insert(&mut self, peer: PeerInfo, path: usize, depth: u32, source: Option<Key>) {
        if let Some(c) = self.candidates.get_mut(&peer.id) {
            if c.source != source {
                c.vouched = c.vouched.saturating_add(1);
                c.depth = c.depth.min(depth);
                // Vouched for again after one failed attempt: worth a retry
                // (the first request or its answer may have been lost).
                if c.state == State::Failed && c.attempts < 2 {
                    c.state = State::NotContacted;
                    let (path, src) = (c.path, c.source);
                    if let Some(p) = self.paths.get_mut(path) {
                        *p.open_by_source.entry(src).or_insert(0) += 1;
                    }
                }
            }
            return;
        }
        let d = peer.id.distance(&self.target);
        let Some(p) = self.paths.get(path) else {
            return;
        };
        if p.finished {
            return;
        }
        // Keep the candidate list bounded. When it is full, the responder
        // (or the seed set) with the most never-contacted candidates gives up
        // its farthest one, so that a liar flooding the list with fabricated
        // ids close to the target cannot push out what honest peers reported.
        if p.by_distance.len() >= self.max_candidates {
            let newcomer_count = p.open_by_source.get(&source).copied().unwrap_or(0) + 1;
            let heaviest = p
                .open_by_source
                .iter()
                .filter(|(s, _)| **s != source)
                .max_by_key(|(_, n)| **n)
                .map(|(s, n)| (*s, *n));
            let victim_source = match heaviest {
                Some((s, n)) if n > newcomer_count => s,
                _ => source,
            };
            let victim = p.by_distance.iter().rev().find(|(_, k)| {
                self.candidates
                    .get(*k)
                    .is_some_and(|c| c.state == State::NotContacted && c.source == victim_source)
            });
            match victim {
                Some((vd, vk)) if victim_source != source || *vd > d => {
                    let (vd, vk) = (*vd, *vk);
                    if let Some(p) = self.paths.get_mut(path) {
                        p.by_distance.remove(&vd);
                        dec(&mut p.open_by_source, victim_source);
                    }
                    self.candidates.remove(&vk);
                }
                _ => return,
            }
        }
        if let Some(p) = self.paths.get_mut(path) {
            p.by_distance.insert(d, peer.id);
            *p.open_by_source.entry(source).or_insert(0) += 1;
        }
        self.candidates.insert(
            peer.id,
            Candidate {
                peer,
                state: State::NotContacted,
                path,
                depth,
                source,
                vouched: 1,
                attempts: 0,
            },
        );
    }

    /// The next step. Call repeatedly until it returns `Waiting` or `Finished`.
    pub fn next_step(&mut self) -> Next {
        if self.stopped {
            return Next::Finished;
        }
        let n = self.paths.len();
        let mut any_waiting = false;
        for step in 0..n {
            let pi = (self.next_path + step) % n;
            match self.next_on_path(pi) {
                Next::Contact(p) => {
                    self.next_path = (pi + 1) % n;
                    return Next::Contact(p);
                }
                Next::Waiting => any_waiting = true,
                Next::Finished => {}
            }
        }
        if any_waiting {
            Next::Waiting
        } else {
            self.stopped = true;
            Next::Finished
        }
    }

    fn next_on_path(&mut self, pi: usize) -> Next {
        let Some(path) = self.paths.get(pi) else {
            return Next::Finished;
        };
        if path.finished {
            return Next::Finished;
        }
        let over_budget = self.stats.requests >= self.max_requests;
        // Walk candidates closest first. The path is done when its k closest
        // live candidates have all answered; one still awaited holds it open
        // (unlike a bare count of answers, which can end a lookup while the
        // closest peer of all is still replying).
        let mut succeeded = 0usize;
        let mut awaited = false;
        let mut contact = None;
        let mut finished = false;
        for key in path.by_distance.values() {
            let Some(c) = self.candidates.get(key) else {
                continue;
            };
            match c.state {
                State::Succeeded => {
                    succeeded += 1;
                    if succeeded >= self.k {
                        finished = !awaited;
                        break;
                    }
                }
                State::NotContacted => {
                    if path.in_flight < self.alpha && !over_budget {
                        contact = Some(*key);
                    }
                    break;
                }
                State::Waiting => awaited = true,
                State::Failed => {}
            }
        }
        let in_flight = path.in_flight;
        if finished || (contact.is_none() && in_flight == 0) {
            if let Some(p) = self.paths.get_mut(pi) {
                p.finished = true;
            }
            return Next::Finished;
        }
        match contact {
            Some(key) => {
                let Some(c) = self.candidates.get_mut(&key) else {
                    return Next::Waiting;
                };
                c.state = State::Waiting;
                c.attempts = c.attempts.saturating_add(1);
                let peer = c.peer.clone();
                let src = c.source;
                if let Some(p) = self.paths.get_mut(pi) {
                    p.in_flight += 1;
                    dec(&mut p.open_by_source, src);
                }
                self.stats.requests += 1;
                Next::Contact(peer)
            }
            None => Next::Waiting,
        }
    }

    /// `peer` answered, reporting `closer` peers. Returns false (and changes
    /// nothing) if `peer` was not awaited by this lookup.
    pub fn on_success(&mut self, peer: &Key, closer: Vec<PeerInfo>) -> bool {
        let Some(c) = self.candidates.get_mut(peer) else {
            return false;
        };
        if c.state != State::Waiting {
            return false;
        }
        c.state = State::Succeeded;
        let (path, depth) = (c.path, c.depth);
        self.stats.responses += 1;
        if let Some(p) = self.paths.get_mut(path) {
            p.in_flight = p.in_flight.saturating_sub(1);
        }
        for p in closer.into_iter().take(self.k) {
            self.insert(p, path, depth.saturating_add(1), Some(*peer));
        }
        true
    }

    /// The request to `peer` failed. Returns false if `peer` was not awaited.
    pub fn on_failure(&mut self, peer: &Key) -> bool {
        let Some(c) = self.candidates.get_mut(peer) else {
            return false;
        };
        if c.state != State::Waiting {
            return false;
        }
        // A peer that several responders vouch for gets a second chance: a
        // lost message should not cost a lookup its target, while a
        // fabricated id (reported by one liar) is not worth a retry.
        let retry = c.vouched >= 2 && c.attempts < 2;
        c.state = if retry {
            State::NotContacted
        } else {
            State::Failed
        };
        self.stats.failures += 1;
        let (path, src) = (c.path, c.source);
        if let Some(p) = self.paths.get_mut(path) {
            p.in_flight = p.in_flight.saturating_sub(1);
            if retry {
                *p.open_by_source.entry(src).or_insert(0) += 1;
            }
        }
        true
    }

    /// Ends the lookup early (e.g. enough providers found).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether the lookup is over.
    pub fn is_finished(&self) -> bool {
        self.stopped
    }

    /// Whether a request to `peer` is outstanding for this lookup.
    pub fn is_waiting_for(&self, peer: &Key) -> bool {
        self.candidates
            .get(peer)
            .is_some_and(|c| c.state == State::Waiting)
    }

    /// The up to `k` closest peers that answered, over all paths, closest first.
    pub fn closest(&self) -> Vec<PeerInfo> {
        let mut v: Vec<&Candidate> = self
            .candidates
            .values()
            .filter(|c| c.state == State::Succeeded)
            .collect();
        v.sort_by_key(|c| c.peer.id.distance(&self.target));
        v.into_iter().take(self.k).map(|c| c.peer.clone()).collect()
    }

    /// Counters so far; `hops` is the depth of the closest answering peer.
    pub fn stats(&self) -> LookupStats {
        let hops = self
            .candidates
            .values()
            .filter(|c| c.state == State::Succeeded)
            .min_by_key(|c| c.peer.id.distance(&self.target))
            .map_or(0, |c| c.depth);
        LookupStats { hops, ..self.stats }
    }
}

fn dec(m: &mut BTreeMap<Option<Key>, usize>, source: Option<Key>) {
    if let Some(n) = m.get_mut(&source) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            m.remove(&source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> Key {
        Key::hash(&i.to_be_bytes())
    }

    /// A toy network in which every node knows every other node and answers
    /// with the k closest to the target; `liars` answer with themselves only
    /// and `dead` never answer.
    fn run(
        n: u32,
        paths: usize,
        liars: &[u32],
        dead: &[u32],
        target: Key,
    ) -> (Vec<PeerInfo>, LookupStats) {
        let all: Vec<Key> = (0..n).map(key).collect();
        let closest_to = |t: &Key, from: Key| {
            let mut v: Vec<Key> = all.iter().copied().filter(|k| *k != from).collect();
            v.sort_by_key(|k| k.distance(t));
            v.truncate(20);
            v.into_iter().map(PeerInfo::bare).collect::<Vec<_>>()
        };
        // Seeds: 20 arbitrary peers (the first 20 ids).
        let seeds = all.iter().take(20).copied().map(PeerInfo::bare).collect();
        let mut l = Lookup::new(target, seeds, 20, 3, paths, 1000);
        let mut inflight: Vec<Key> = Vec::new();
        loop {
            loop {
                match l.next_step() {
                    Next::Contact(p) => inflight.push(p.id),
                    Next::Waiting => break,
                    Next::Finished => return (l.closest(), l.stats()),
                }
            }
            let Some(p) = inflight.pop() else {
                panic!("waiting with nothing in flight");
            };
            let Some(idx) = all.iter().position(|k| *k == p) else {
                // A fabricated id: nobody answers.
                assert!(l.on_failure(&p));
                continue;
            };
            let idx = idx as u32;
            if dead.contains(&idx) {
                assert!(l.on_failure(&p));
            } else if liars.contains(&idx) {
                // Fabricated ids very close to the target, which never answer.
                let fakes = (0..20u8)
                    .map(|j| {
                        let mut f = target.0;
                        f[31] ^= j + 1;
                        PeerInfo::bare(Key(f))
                    })
                    .collect();
                assert!(l.on_success(&p, fakes));
            } else {
                assert!(l.on_success(&p, closest_to(&target, p)));
            }
        }
    }

    #[test]
    fn lookup_finds_the_k_closest_in_an_honest_network() {
        let target = key(500_000);
        let (res, stats) = run(1000, 1, &[], &[], target);
        let mut want: Vec<Key> = (0..1000).map(key).collect();
        want.sort_by_key(|k| k.distance(&target));
        want.truncate(20);
        assert_eq!(res.into_iter().map(|p| p.id).collect::<Vec<_>>(), want);
        assert!(stats.requests >= 20 && stats.requests < 80, "{stats:?}");
    }

    #[test]
    fn lookup_routes_around_dead_peers() {
        let target = key(7);
        let dead: Vec<u32> = (100..400).collect();
        let (res, stats) = run(1000, 1, &[], &dead, target);
        assert_eq!(res.first().map(|p| p.id), Some(target));
        assert!(stats.failures > 0);
    }

    #[test]
    fn disjoint_paths_still_find_the_target_with_liars() {
        let target = key(7);
        let liars: Vec<u32> = (0..1000).filter(|i| i % 10 == 3).collect();
        let (res, _) = run(1000, 3, &liars, &[], target);
        assert_eq!(res.first().map(|p| p.id), Some(target));
    }

    #[test]
    fn unexpected_outcomes_are_ignored() {
        let mut l = Lookup::new(key(1), vec![PeerInfo::bare(key(2))], 20, 3, 1, 10);
        assert!(!l.on_success(&key(2), vec![]));
        assert!(!l.on_failure(&key(3)));
        assert_eq!(l.next_step(), Next::Contact(PeerInfo::bare(key(2))));
        assert!(l.on_success(&key(2), vec![]));
        assert!(!l.on_success(&key(2), vec![]));
        assert_eq!(l.next_step(), Next::Finished);
    }

    #[test]
    fn request_budget_bounds_a_lookup() {
        let seeds = (0..100).map(|i| PeerInfo::bare(key(i))).collect();
        let mut l = Lookup::new(key(1000), seeds, 20, 3, 1, 5);
        let mut sent = 0;
        loop {
            match l.next_step() {
                Next::Contact(p) => {
                    sent += 1;
                    l.on_failure(&p.id);
                }
                Next::Waiting => unreachable!(),
                Next::Finished => break,
            }
        }
        assert_eq!(sent, 5);
    }
}
