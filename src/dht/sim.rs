//! A discrete-event simulator that runs thousands of DHT cores in one process.
//!
//! The same [`Dht`] state machine the node runs is driven here by a virtual
//! clock and an event queue instead of sockets: a message becomes an event
//! delivered after a simulated latency (or lost), and each node's timers
//! become wake-up events at [`Dht::next_deadline`]. Everything random (ids,
//! latencies, losses, churn, who looks up what) comes from one ChaCha RNG
//! seeded by [`SimConfig::seed`], so a run is reproducible bit for bit.
//!
//! A run has three phases: nodes join one by one, each bootstrapping through
//! a random earlier node; the network settles; then, during the measured
//! phase, nodes are replaced (churn) at an even rate while honest nodes run
//! lookups of random live nodes, stable nodes announce provider records and
//! publish signed records, and random nodes look those up at fixed intervals.
//! Malicious nodes answer every lookup request with fabricated ids close to
//! the target and with other malicious nodes, black-hole stores, and never
//! return providers or records.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::net::SocketAddr;

use ed25519_dalek::SigningKey;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Time;
use super::key::Key;
use super::message::{MAX_PEERS_PER_RESPONSE, Message, PeerInfo, Request, Response, StoreStatus};
use super::node::{Action, Config, Dht, QueryId, QueryResult};
use super::record::SignedRecord;

/// Parameters of a simulation run. Times are virtual milliseconds.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// RNG seed: equal seeds give equal runs.
    pub seed: u64,
    /// Nodes in the network at any time.
    pub nodes: usize,
    /// Share of `nodes` replaced (one leaves, a fresh one joins) during the
    /// measured phase.
    pub churn: f64,
    /// Share of nodes that lie.
    pub malicious: f64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// One-way latency range.
    pub latency_ms: (u64, u64),
    /// Gap between two joins in the join phase.
    pub join_interval_ms: u64,
    /// Quiet time between the join phase and the measured phase.
    pub settle_ms: u64,
    /// Length of the measured phase.
    pub duration_ms: u64,
    /// Lookups measured (FIND_NODE of a random live honest node).
    pub lookups: usize,
    /// Keys announced by stable providers.
    pub provider_keys: usize,
    /// Signed records published (and updated) by stable publishers.
    pub records: usize,
    /// Interval between availability checks of every provider key and record.
    pub check_interval_ms: u64,
    /// The DHT configuration of every node.
    pub dht: Config,
}

impl SimConfig {
    /// The scenario at `nodes` nodes: 20% churn over an hour, 1%
    /// loss, 10–150 ms latency; provider TTL 30 min republished every 20 min.
    pub fn churn_scenario(nodes: usize, seed: u64) -> Self {
        SimConfig {
            seed,
            nodes,
            churn: 0.2,
            malicious: 0.0,
            loss: 0.01,
            latency_ms: (10, 150),
            join_interval_ms: 20,
            settle_ms: 5 * 60 * 1000,
            duration_ms: 60 * 60 * 1000,
            lookups: 2000,
            provider_keys: 50,
            records: 20,
            check_interval_ms: 2 * 60 * 1000,
            dht: sim_dht_config(),
        }
    }

    /// As [`Self::churn_scenario`], with a share of nodes malicious.
    pub fn malicious_scenario(nodes: usize, malicious: f64, seed: u64) -> Self {
        SimConfig {
            malicious,
            ..Self::churn_scenario(nodes, seed)
        }
    }
}

/// The node configuration used by the simulator: the defaults (bucket refresh
/// hourly), with a 1 s request timeout (simulated latency is at most 150 ms)
/// and provider and record timers scaled so that several republish cycles
/// happen within the simulated hour.
pub fn sim_dht_config() -> Config {
    Config {
        request_timeout_ms: 1_000,
        provider_ttl_secs: 30 * 60,
        provider_republish_ms: 20 * 60 * 1000,
        record_republish_ms: 20 * 60 * 1000,
        ..Config::default()
    }
}

/// Figures of one availability check round.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct AvailabilitySample {
    /// Virtual time of the round, ms since the start of the measured phase.
    pub at_ms: u64,
    /// Provider lookups that found the provider.
    pub providers_found: u32,
    /// Provider lookups run.
    pub providers_checked: u32,
    /// Record lookups that returned the latest sequence.
    pub records_found: u32,
    /// Record lookups run.
    pub records_checked: u32,
}

/// What a run measured.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SimReport {
    /// Nodes at any time.
    pub nodes: usize,
    /// Nodes replaced during the measured phase.
    pub replaced: usize,
    /// Malicious nodes among the initial ones.
    pub malicious: usize,
    /// Measured lookups that finished.
    pub lookups: usize,
    /// Of which found the target.
    pub lookup_successes: usize,
    /// Lookups by hop count of the target (index = hops).
    pub hop_histogram: Vec<usize>,
    /// Requests sent per lookup, one entry per lookup.
    pub requests_per_lookup: Vec<u32>,
    /// Responses received per lookup, one entry per lookup.
    pub responses_per_lookup: Vec<u32>,
    /// Availability check rounds.
    pub availability: Vec<AvailabilitySample>,
    /// Messages delivered in the whole run.
    pub messages_delivered: u64,
    /// Messages lost (by loss, or sent to a departed node).
    pub messages_dropped: u64,
    /// Peers dropped by nodes for misbehaviour.
    pub misbehaviour_drops: u64,
    /// Events processed.
    pub events: u64,
    /// Requests delivered by type: PING, FIND_NODE, GET_PROVIDERS,
    /// ADD_PROVIDER, GET_RECORD, PUT_RECORD.
    pub requests_by_type: [u64; 6],
    /// Lookups started by nodes (joins, refreshes, republishing and measured ones).
    pub lookups_started: u64,
}

impl SimReport {
    /// Share of lookups that found their target.
    pub fn success_rate(&self) -> f64 {
        ratio(self.lookup_successes as u64, self.lookups as u64)
    }

    /// Median hop count of successful lookups.
    pub fn median_hops(&self) -> u32 {
        let total: usize = self.hop_histogram.iter().sum();
        let mut acc = 0;
        for (h, n) in self.hop_histogram.iter().enumerate() {
            acc += n;
            if acc * 2 >= total && total > 0 {
                return h as u32;
            }
        }
        0
    }

    /// Median requests per lookup.
    pub fn median_requests(&self) -> u32 {
        median(&self.requests_per_lookup)
    }

    /// Mean requests per lookup.
    pub fn mean_requests(&self) -> f64 {
        mean(&self.requests_per_lookup)
    }

    /// Mean messages (requests + responses) per lookup.
    pub fn mean_messages(&self) -> f64 {
        mean(&self.requests_per_lookup) + mean(&self.responses_per_lookup)
    }

    /// Share of provider checks that found the provider.
    pub fn provider_availability(&self) -> f64 {
        let (f, c) = self.availability.iter().fold((0u64, 0u64), |(f, c), s| {
            (
                f + u64::from(s.providers_found),
                c + u64::from(s.providers_checked),
            )
        });
        ratio(f, c)
    }

    /// Share of record checks that returned the latest sequence.
    pub fn record_availability(&self) -> f64 {
        let (f, c) = self.availability.iter().fold((0u64, 0u64), |(f, c), s| {
            (
                f + u64::from(s.records_found),
                c + u64::from(s.records_checked),
            )
        });
        ratio(f, c)
    }

    /// Lowest provider availability of any check round.
    pub fn worst_provider_round(&self) -> f64 {
        self.availability
            .iter()
            .filter(|s| s.providers_checked > 0)
            .map(|s| ratio(u64::from(s.providers_found), u64::from(s.providers_checked)))
            .fold(1.0, f64::min)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn median(v: &[u32]) -> u32 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.get(s.len() / 2).copied().unwrap_or(0)
}

fn mean(v: &[u32]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| figure | value |")?;
        writeln!(f, "| --- | --- |")?;
        writeln!(
            f,
            "| nodes (replaced, malicious) | {} ({}, {}) |",
            self.nodes, self.replaced, self.malicious
        )?;
        writeln!(
            f,
            "| lookup success | {:.2}% ({}/{}) |",
            100.0 * self.success_rate(),
            self.lookup_successes,
            self.lookups
        )?;
        writeln!(f, "| median hops | {} |", self.median_hops())?;
        let hist: Vec<String> = self
            .hop_histogram
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(h, n)| format!("{h}:{n}"))
            .collect();
        writeln!(f, "| hop distribution | {} |", hist.join(" "))?;
        writeln!(
            f,
            "| requests per lookup (median / mean) | {} / {:.1} |",
            self.median_requests(),
            self.mean_requests()
        )?;
        writeln!(
            f,
            "| messages per lookup (requests + responses, mean) | {:.1} |",
            self.mean_messages()
        )?;
        writeln!(
            f,
            "| provider records found | {:.2}% (worst round {:.2}%) |",
            100.0 * self.provider_availability(),
            100.0 * self.worst_provider_round()
        )?;
        writeln!(
            f,
            "| latest signed record found | {:.2}% |",
            100.0 * self.record_availability()
        )?;
        writeln!(
            f,
            "| messages delivered / dropped | {} / {} |",
            self.messages_delivered, self.messages_dropped
        )?;
        writeln!(
            f,
            "| peers dropped for misbehaviour | {} |",
            self.misbehaviour_drops
        )?;
        writeln!(f, "| events | {} |", self.events)?;
        let [ping, find, getp, addp, getr, putr] = self.requests_by_type;
        writeln!(
            f,
            "| requests delivered by type | PING {ping}, FIND_NODE {find}, GET_PROVIDERS {getp}, ADD_PROVIDER {addp}, GET_RECORD {getr}, PUT_RECORD {putr} |"
        )?;
        let series: Vec<String> = self
            .availability
            .iter()
            .map(|s| {
                format!(
                    "{}m:{}/{}",
                    s.at_ms / 60_000,
                    s.providers_found,
                    s.providers_checked
                )
            })
            .collect();
        writeln!(
            f,
            "| provider availability over time | {} |",
            series.join(" ")
        )
    }
}

#[derive(Debug)]
enum Ev {
    Deliver {
        to: usize,
        from: Key,
        msg: Box<Message>,
    },
    Wake {
        node: usize,
    },
    Join {
        node: usize,
        via: Option<usize>,
    },
    Churn,
    Lookup,
    Check {
        round: usize,
    },
    Publish {
        record: usize,
    },
}

/// An event in the queue, ordered by time, then by scheduling order.
struct Scheduled {
    at: Time,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct SimNode {
    key: Key,
    dht: Option<Dht>,
    malicious: bool,
    stable: bool,
    wake_at: Option<Time>,
}

#[derive(Clone, Copy)]
enum Tracked {
    Lookup { target: Key },
    Provider { round: usize, provider: Key },
    Record { round: usize, seq: u64 },
}

struct Publisher {
    node: usize,
    signer: SigningKey,
    name: Vec<u8>,
    seq: u64,
}

fn pick(rng: &mut ChaCha8Rng, v: &[usize]) -> Option<usize> {
    if v.is_empty() {
        None
    } else {
        v.get(rng.gen_range(0..v.len())).copied()
    }
}

struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    now: Time,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    nodes: Vec<SimNode>,
    index: HashMap<Key, usize>,
    live: Vec<usize>,
    honest_live: Vec<usize>,
    malicious_live: Vec<usize>,
    tracked: HashMap<(usize, QueryId), Tracked>,
    provider_keys: Vec<(usize, Key)>,
    publishers: Vec<Publisher>,
    measure_start: Time,
    report: SimReport,
}

/// The virtual epoch of every run (2026-01-01), so that record expiries are
/// plausible wall-clock times.
const EPOCH: Time = Time::from_secs(1_767_225_600);

/// Runs a simulation and returns its figures.
pub fn run(cfg: SimConfig) -> SimReport {
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        now: EPOCH,
        seq: 0,
        queue: BinaryHeap::new(),
        nodes: Vec::new(),
        index: HashMap::new(),
        live: Vec::new(),
        honest_live: Vec::new(),
        malicious_live: Vec::new(),
        tracked: HashMap::new(),
        provider_keys: Vec::new(),
        publishers: Vec::new(),
        measure_start: EPOCH,
        report: SimReport {
            nodes: cfg.nodes,
            ..SimReport::default()
        },
        cfg,
    };
    sim.run();
    sim.report
}

impl Sim {
    fn schedule(&mut self, at: Time, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            ev,
        }));
    }

    fn run(&mut self) {
        let n = self.cfg.nodes;
        let n_malicious = ((n as f64) * self.cfg.malicious).round() as usize;
        self.report.malicious = n_malicious;
        // Malicious nodes are spread over the join order.
        let mut order: Vec<bool> = (0..n).map(|i| i < n_malicious).collect();
        order.shuffle(&mut self.rng);
        for (i, malicious) in order.into_iter().enumerate() {
            let node = self.new_node(malicious);
            let at = EPOCH.plus_ms(i as u64 * self.cfg.join_interval_ms);
            self.schedule(at, Ev::Join { node, via: None });
        }
        let join_end = EPOCH.plus_ms(n as u64 * self.cfg.join_interval_ms);
        self.measure_start = join_end.plus_ms(self.cfg.settle_ms);
        let start = self.measure_start;
        let dur = self.cfg.duration_ms.max(1);
        let replacements = ((n as f64) * self.cfg.churn).round() as u64;
        for i in 0..replacements {
            self.schedule(start.plus_ms((i * dur) / replacements.max(1)), Ev::Churn);
        }
        for _ in 0..self.cfg.lookups {
            let at = start.plus_ms(self.rng.gen_range(0..dur));
            self.schedule(at, Ev::Lookup);
        }
        // Providers and publishers announce at the start; checks begin one
        // interval later and run until the end.
        self.schedule(start, Ev::Publish { record: usize::MAX });
        let interval = self.cfg.check_interval_ms.max(1);
        let rounds = dur / interval;
        for r in 1..=rounds {
            self.schedule(start.plus_ms(r * interval), Ev::Check { round: r as usize });
        }
        let end = start.plus_ms(dur + 30_000);
        while let Some(Reverse(Scheduled { at, ev, .. })) = self.queue.pop() {
            if at > end {
                break;
            }
            self.now = at;
            self.report.events += 1;
            self.handle(ev);
        }
    }

    fn new_node(&mut self, malicious: bool) -> usize {
        let mut id = [0u8; 32];
        self.rng.fill(&mut id);
        let key = Key(id);
        let idx = self.nodes.len();
        let mut dht_cfg = self.cfg.dht.clone();
        dht_cfg.listen_addrs = vec![sim_addr(idx)];
        self.nodes.push(SimNode {
            key,
            dht: Some(Dht::new(key, dht_cfg)),
            malicious,
            stable: false,
            wake_at: None,
        });
        self.index.insert(key, idx);
        idx
    }

    fn peer_info(&self, idx: usize) -> PeerInfo {
        PeerInfo {
            id: self.nodes.get(idx).map_or(Key([0; 32]), |n| n.key),
            addrs: vec![sim_addr(idx)],
        }
    }

    fn handle(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Join { node, via } => {
                let via = match via {
                    Some(v) => Some(v),
                    // Bootstrap peers come from tickets, i.e. from people
                    // one trusts: a random honest live node.
                    None => pick(&mut self.rng, &self.honest_live),
                };
                let boot = via.map(|v| self.peer_info(v));
                if let Some(dht) = self.nodes.get_mut(node).and_then(|n| n.dht.as_mut()) {
                    if let Some(b) = boot {
                        dht.add_peer(b, now);
                    }
                    let _ = dht.bootstrap(now);
                }
                self.live.push(node);
                if self.nodes.get(node).is_some_and(|n| n.malicious) {
                    self.malicious_live.push(node);
                } else {
                    self.honest_live.push(node);
                }
                self.drain(node);
            }
            Ev::Deliver { to, from, msg } => self.deliver(to, from, *msg),
            Ev::Wake { node } => {
                let Some(n) = self.nodes.get_mut(node) else {
                    return;
                };
                if n.wake_at != Some(now) {
                    return;
                }
                n.wake_at = None;
                if let Some(dht) = n.dht.as_mut() {
                    dht.tick(now);
                }
                self.drain(node);
            }
            Ev::Churn => {
                // A random non-stable live node leaves; a fresh one joins.
                let candidates: Vec<usize> = self
                    .live
                    .iter()
                    .copied()
                    .filter(|i| self.nodes.get(*i).is_some_and(|n| !n.stable))
                    .collect();
                let Some(gone) = pick(&mut self.rng, &candidates) else {
                    return;
                };
                let was_malicious = self.nodes.get(gone).is_some_and(|n| n.malicious);
                if let Some(n) = self.nodes.get_mut(gone) {
                    n.dht = None;
                    n.wake_at = None;
                }
                self.live.retain(|i| *i != gone);
                self.honest_live.retain(|i| *i != gone);
                self.malicious_live.retain(|i| *i != gone);
                self.report.replaced += 1;
                let fresh = self.new_node(was_malicious);
                self.handle(Ev::Join {
                    node: fresh,
                    via: None,
                });
            }
            Ev::Lookup => {
                let (Some(src), Some(dst)) = (
                    pick(&mut self.rng, &self.honest_live),
                    pick(&mut self.rng, &self.honest_live),
                ) else {
                    return;
                };
                if src == dst {
                    return;
                }
                let target = self.nodes.get(dst).map_or(Key([0; 32]), |n| n.key);
                if let Some(dht) = self.nodes.get_mut(src).and_then(|n| n.dht.as_mut())
                    && let Ok(q) = dht.find_node(target, now)
                {
                    self.tracked.insert((src, q), Tracked::Lookup { target });
                }
                self.drain(src);
            }
            Ev::Publish { record } => self.publish(record),
            Ev::Check { round } => self.check(round),
        }
    }

    fn publish(&mut self, record: usize) {
        let now = self.now;
        if record == usize::MAX {
            // First announcement: pick stable honest providers and publishers.
            let honest = self.honest_live.clone();
            for _ in 0..self.cfg.provider_keys {
                let Some(p) = pick(&mut self.rng, &honest) else {
                    break;
                };
                let mut k = [0u8; 32];
                self.rng.fill(&mut k);
                let key = Key(k);
                if let Some(n) = self.nodes.get_mut(p) {
                    n.stable = true;
                    if let Some(dht) = n.dht.as_mut() {
                        let _ = dht.start_providing(key, now);
                    }
                }
                self.provider_keys.push((p, key));
                self.drain(p);
            }
            for i in 0..self.cfg.records {
                let Some(p) = pick(&mut self.rng, &honest) else {
                    break;
                };
                let mut seed = [0u8; 32];
                self.rng.fill(&mut seed);
                if let Some(n) = self.nodes.get_mut(p) {
                    n.stable = true;
                }
                self.publishers.push(Publisher {
                    node: p,
                    signer: SigningKey::from_bytes(&seed),
                    name: format!("volume-{i}").into_bytes(),
                    seq: 0,
                });
                self.publish(i);
            }
            return;
        }
        // Publish the next version of record `record`, and schedule the one after.
        let Some(p) = self.publishers.get_mut(record) else {
            return;
        };
        p.seq += 1;
        let expires = now.as_secs() + 2 * 3600;
        let value = p.seq.to_be_bytes();
        let Ok(r) = SignedRecord::sign(&p.signer, &p.name, &value, p.seq, expires) else {
            return;
        };
        let node = p.node;
        if let Some(dht) = self.nodes.get_mut(node).and_then(|n| n.dht.as_mut()) {
            let _ = dht.put_record(r, now);
        }
        self.drain(node);
        let next = now.plus_ms(self.cfg.duration_ms / 3);
        self.schedule(next, Ev::Publish { record });
    }

    fn check(&mut self, round: usize) {
        let now = self.now;
        let honest = self.honest_live.clone();
        let at_ms = now.0.saturating_sub(self.measure_start.0);
        while self.report.availability.len() < round {
            self.report.availability.push(AvailabilitySample::default());
        }
        if let Some(s) = self.report.availability.get_mut(round - 1) {
            s.at_ms = at_ms;
        }
        let keys = self.provider_keys.clone();
        for (provider, key) in keys {
            let Some(src) = pick(&mut self.rng, &honest) else {
                return;
            };
            let provider_key = self.nodes.get(provider).map_or(Key([0; 32]), |n| n.key);
            if let Some(dht) = self.nodes.get_mut(src).and_then(|n| n.dht.as_mut())
                && let Ok(q) = dht.get_providers(key, now)
            {
                self.tracked.insert(
                    (src, q),
                    Tracked::Provider {
                        round,
                        provider: provider_key,
                    },
                );
            }
            self.drain(src);
        }
        for i in 0..self.publishers.len() {
            let Some(src) = pick(&mut self.rng, &honest) else {
                return;
            };
            let Some(p) = self.publishers.get(i) else {
                continue;
            };
            let key = super::record::record_key(&p.signer.verifying_key().to_bytes(), &p.name);
            let seq = p.seq;
            if let Some(dht) = self.nodes.get_mut(src).and_then(|n| n.dht.as_mut())
                && let Ok(q) = dht.get_record(key, now)
            {
                self.tracked
                    .insert((src, q), Tracked::Record { round, seq });
            }
            self.drain(src);
        }
    }

    fn deliver(&mut self, to: usize, from: Key, msg: Message) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(to) else {
            return;
        };
        let Some(dht) = node.dht.as_mut() else {
            self.report.messages_dropped += 1;
            return;
        };
        self.report.messages_delivered += 1;
        if let Message::Request { body, .. } = &msg {
            let t = match body {
                Request::Ping => 0,
                Request::FindNode { .. } => 1,
                Request::GetProviders { .. } => 2,
                Request::AddProvider { .. } => 3,
                Request::GetRecord { .. } => 4,
                Request::PutRecord { .. } => 5,
            };
            if let Some(c) = self.report.requests_by_type.get_mut(t) {
                *c += 1;
            }
        }
        if node.malicious
            && let Message::Request { id, body, .. } = &msg
        {
            let reply = self.lie(body);
            let id = *id;
            self.send(to, from, Message::Response { id, body: reply });
            return;
        }
        dht.handle_message(from, msg, now);
        self.drain(to);
    }

    /// A malicious node's answer: fabricated ids right next to the target,
    /// padded with fellow malicious nodes; no providers, no records; stores
    /// acknowledged and dropped.
    fn lie(&mut self, req: &Request) -> Response {
        let target = match req {
            Request::Ping => return Response::Pong,
            Request::AddProvider { .. } => {
                return Response::AddProviderAck {
                    status: StoreStatus::Stored,
                };
            }
            Request::PutRecord { .. } => {
                return Response::PutRecordAck {
                    status: StoreStatus::Stored,
                };
            }
            Request::FindNode { target } => *target,
            Request::GetProviders { key } | Request::GetRecord { key } => *key,
        };
        let mut closer = Vec::with_capacity(MAX_PEERS_PER_RESPONSE);
        for _ in 0..MAX_PEERS_PER_RESPONSE / 2 {
            let mut f = target.0;
            let noise: u64 = self.rng.gen_range(1..u64::MAX);
            for (b, n) in f.iter_mut().skip(24).zip(noise.to_be_bytes()) {
                *b ^= n;
            }
            closer.push(PeerInfo {
                id: Key(f),
                addrs: vec![sim_addr(usize::MAX)],
            });
        }
        for _ in 0..MAX_PEERS_PER_RESPONSE / 2 {
            if let Some(m) = pick(&mut self.rng, &self.malicious_live) {
                closer.push(self.peer_info(m));
            }
        }
        match req {
            Request::GetProviders { .. } => Response::Providers {
                providers: Vec::new(),
                closer,
            },
            Request::GetRecord { .. } => Response::Record {
                record: None,
                closer,
            },
            _ => Response::Nodes { closer },
        }
    }

    fn send(&mut self, from_idx: usize, to: Key, msg: Message) {
        let from = self.nodes.get(from_idx).map_or(Key([0; 32]), |n| n.key);
        let Some(&to_idx) = self.index.get(&to) else {
            self.report.messages_dropped += 1;
            return;
        };
        if self.rng.gen_bool(self.cfg.loss.clamp(0.0, 1.0)) {
            self.report.messages_dropped += 1;
            return;
        }
        let (lo, hi) = self.cfg.latency_ms;
        let lat = if hi > lo {
            self.rng.gen_range(lo..=hi)
        } else {
            lo
        };
        let at = self.now.plus_ms(lat);
        self.schedule(
            at,
            Ev::Deliver {
                to: to_idx,
                from,
                msg: Box::new(msg),
            },
        );
    }

    /// Carries out what node `idx` asked for, then re-arms its wake-up.
    fn drain(&mut self, idx: usize) {
        while let Some(action) = self
            .nodes
            .get_mut(idx)
            .and_then(|n| n.dht.as_mut())
            .and_then(|d| d.poll_action())
        {
            match action {
                Action::Send { to, message, .. } => self.send(idx, to.id, message),
                Action::QueryFinished { id, result, stats } => {
                    let Some(t) = self.tracked.remove(&(idx, id)) else {
                        continue;
                    };
                    self.record_result(t, result, stats);
                }
                Action::PeerMisbehaved { .. } => self.report.misbehaviour_drops += 1,
                Action::RequestTimedOut { .. } => {}
            }
        }
        let now = self.now;
        let Some(n) = self.nodes.get_mut(idx) else {
            return;
        };
        let Some(deadline) = n.dht.as_ref().and_then(|d| d.next_deadline()) else {
            return;
        };
        let deadline = deadline.max(now);
        if n.wake_at.is_none_or(|w| deadline < w) {
            n.wake_at = Some(deadline);
            self.schedule(deadline, Ev::Wake { node: idx });
        }
    }

    fn record_result(&mut self, t: Tracked, result: QueryResult, stats: super::node::QueryStats) {
        match (t, result) {
            (Tracked::Lookup { target }, QueryResult::FindNode { closest }) => {
                self.report.lookups += 1;
                self.report.requests_per_lookup.push(stats.lookup.requests);
                self.report
                    .responses_per_lookup
                    .push(stats.lookup.responses);
                if closest.iter().any(|p| p.id == target) {
                    self.report.lookup_successes += 1;
                    let h = stats.lookup.hops as usize;
                    if self.report.hop_histogram.len() <= h {
                        self.report.hop_histogram.resize(h + 1, 0);
                    }
                    if let Some(c) = self.report.hop_histogram.get_mut(h) {
                        *c += 1;
                    }
                }
            }
            (Tracked::Provider { round, provider }, QueryResult::GetProviders { providers }) => {
                if let Some(s) = self.report.availability.get_mut(round - 1) {
                    s.providers_checked += 1;
                    if providers.iter().any(|p| p.id == provider) {
                        s.providers_found += 1;
                    }
                }
            }
            (Tracked::Record { round, seq }, QueryResult::GetRecord { record }) => {
                if let Some(s) = self.report.availability.get_mut(round - 1) {
                    s.records_checked += 1;
                    if record.is_some_and(|r| r.seq >= seq) {
                        s.records_found += 1;
                    }
                }
            }
            _ => {}
        }
    }
}

fn sim_addr(idx: usize) -> SocketAddr {
    let i = idx as u32;
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 4000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 300 nodes, 20% of them replaced over 30 minutes: small enough for the
    /// unoptimised test profile, large enough for lookups of 2–4 hops.
    fn small(seed: u64) -> SimConfig {
        SimConfig {
            lookups: 200,
            provider_keys: 10,
            records: 4,
            duration_ms: 30 * 60 * 1000,
            settle_ms: 60 * 1000,
            ..SimConfig::churn_scenario(300, seed)
        }
    }

    #[test]
    fn simulation_is_deterministic_for_a_seed() {
        let cfg = SimConfig {
            lookups: 50,
            provider_keys: 5,
            records: 2,
            duration_ms: 10 * 60 * 1000,
            ..SimConfig::churn_scenario(150, 7)
        };
        let a = run(cfg.clone());
        let b = run(cfg);
        assert_eq!(a.to_string(), b.to_string());
        assert!(a.lookups > 0);
    }

    #[test]
    fn small_network_with_churn_meets_the_goals() {
        let r = run(small(1));
        eprintln!("{r}");
        assert!(r.lookups >= 190, "{r}");
        assert!(r.success_rate() >= 0.99, "{r}");
        assert!(r.median_hops() <= 4, "{r}");
        assert!(r.mean_requests() <= 60.0, "{r}");
        assert!(r.provider_availability() >= 0.99, "{r}");
        assert!(r.record_availability() >= 0.99, "{r}");
        assert_eq!(r.replaced, 60, "{r}");
    }

    #[test]
    fn small_network_with_malicious_nodes_still_finds_targets() {
        let r = run(SimConfig {
            malicious: 0.1,
            ..small(2)
        });
        eprintln!("{r}");
        assert_eq!(r.malicious, 30);
        assert!(r.success_rate() >= 0.95, "{r}");
    }
}
