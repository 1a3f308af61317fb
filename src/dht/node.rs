//! The DHT core: one node's routing table, stores, requests and queries.
//!
//! Everything that touches the outside world is an [`Action`] for the driver
//! to carry out, and everything the outside world does is a method call with
//! `now`. Every request the core sends is remembered under its id together
//! with the peer it went to and the response type it expects; a response is
//! accepted only if all three match. Anything else — a response nobody asked
//! for, from the wrong peer, of the wrong type, or carrying a forged record —
//! drops the sender from the routing table and is reported as
//! [`Action::PeerMisbehaved`], so the driver can also cut the connection.
//! A response that arrives just after its request timed out is ignored
//! quietly (slowness is not malice): a bounded ring remembers recent expiries.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use tracing::debug;

use super::key::Key;
use super::lookup::{Lookup, LookupStats, Next};
use super::message::{
    MAX_PEERS_PER_RESPONSE, Message, PeerInfo, Request, RequestId, Response, StoreStatus,
};
use super::provider::{ProviderLimits, ProviderStore};
use super::record::{RecordError, RecordLimits, RecordStore, SignedRecord};
use super::routing::{Insert, RoutingTable};
use super::{ALPHA, K, Time};

/// Tunables of a node. Defaults follow the Kademlia paper and libp2p where
/// they exist; times are in milliseconds unless named otherwise.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bucket size and result count.
    pub k: usize,
    /// Requests in flight per lookup path.
    pub alpha: usize,
    /// Disjoint lookup paths (1 = plain Kademlia).
    pub disjoint_paths: usize,
    /// How long to wait for a response.
    pub request_timeout_ms: u64,
    /// Consecutive unanswered requests before a peer leaves the table.
    pub max_failures: u8,
    /// A full bucket whose oldest entry was heard from this recently turns
    /// newcomers away without pinging it.
    pub liveness_fresh_ms: u64,
    /// A bucket with no lookup for this long gets a refresh lookup.
    pub refresh_interval_ms: u64,
    /// TTL asked for when announcing a provider record.
    pub provider_ttl_secs: u32,
    /// How often this node re-announces what it provides (< TTL).
    pub provider_republish_ms: u64,
    /// How often this node re-puts the records it published.
    pub record_republish_ms: u64,
    /// A GET_PROVIDERS lookup stops once this many providers are known.
    pub providers_wanted: usize,
    /// Limits of the provider store.
    pub provider_limits: ProviderLimits,
    /// Limits of the record store.
    pub record_limits: RecordLimits,
    /// Requests this node keeps outstanding at once.
    pub max_pending_requests: usize,
    /// Queries running at once.
    pub max_queries: usize,
    /// Requests one lookup may send.
    pub max_lookup_requests: u32,
    /// Addresses this node listens on (sent with every request).
    pub listen_addrs: Vec<SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            k: K,
            alpha: ALPHA,
            disjoint_paths: 1,
            request_timeout_ms: 10_000,
            max_failures: 2,
            liveness_fresh_ms: 15 * 60 * 1000,
            refresh_interval_ms: 3600 * 1000,
            provider_ttl_secs: 24 * 3600,
            provider_republish_ms: 12 * 3600 * 1000,
            record_republish_ms: 12 * 3600 * 1000,
            providers_wanted: 20,
            provider_limits: ProviderLimits::default(),
            record_limits: RecordLimits::default(),
            max_pending_requests: 1024,
            max_queries: 256,
            max_lookup_requests: 200,
            listen_addrs: Vec::new(),
        }
    }
}

/// Identifies a query started on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// Why a peer was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// A response to no request of ours.
    Unsolicited,
    /// A response to a request sent to another peer.
    WrongPeer,
    /// A response of a type other than the request's.
    WrongResponseType,
    /// A record that fails verification or does not match the key asked for.
    ForgedRecord,
    /// Bytes that do not decode.
    Malformed,
}

/// What the driver must do.
#[derive(Clone, Debug)]
pub enum Action {
    /// Send `message` to `to` (a request on a new stream, or a response on
    /// the stream of the request with id `request_id`).
    Send {
        /// Recipient.
        to: PeerInfo,
        /// Id of the request (sent or answered).
        request_id: RequestId,
        /// The message.
        message: Message,
    },
    /// A query started by the user is over.
    QueryFinished {
        /// The query.
        id: QueryId,
        /// What it found.
        result: QueryResult,
        /// What it cost.
        stats: QueryStats,
    },
    /// A request got no response in time; the driver may drop its stream.
    RequestTimedOut {
        /// Who was asked.
        peer: Key,
        /// The request.
        request_id: RequestId,
    },
    /// A peer broke the protocol and was dropped from the table.
    PeerMisbehaved {
        /// The peer.
        peer: Key,
        /// What it did.
        reason: Misbehaviour,
    },
}

/// Outcome of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryResult {
    /// Closest peers to a key that answered.
    FindNode {
        /// Closest first.
        closest: Vec<PeerInfo>,
    },
    /// Whether the peer answered.
    Ping {
        /// It answered.
        alive: bool,
    },
    /// Providers found.
    GetProviders {
        /// Providers (deduplicated).
        providers: Vec<PeerInfo>,
    },
    /// Provider announcement done.
    AddProvider {
        /// Peers that stored it.
        stored: usize,
    },
    /// Record stored.
    PutRecord {
        /// Peers that stored it.
        stored: usize,
    },
    /// Highest valid record found.
    GetRecord {
        /// The record, if any peer held a valid one.
        record: Option<SignedRecord>,
    },
}

/// Cost of a query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Lookup counters.
    pub lookup: LookupStats,
    /// Store requests sent after the lookup (ADD_PROVIDER / PUT_RECORD).
    pub store_requests: u32,
    /// When it started.
    pub started: Time,
    /// When it finished.
    pub finished: Time,
}

/// Why a query could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhtError {
    /// Too many queries are running.
    #[error("too many queries running")]
    TooManyQueries,
    /// The record is invalid.
    #[error("invalid record: {0}")]
    Record(#[from] RecordError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Pong,
    Nodes,
    Providers,
    AddProviderAck,
    Record,
    PutRecordAck,
}

#[derive(Clone, Debug)]
enum Purpose {
    Query(QueryId),
    Store(QueryId),
    Liveness { bucket: usize },
}

#[derive(Clone, Debug)]
struct Outstanding {
    to: PeerInfo,
    expect: Expect,
    deadline: Time,
    purpose: Purpose,
}

#[derive(Clone, Debug)]
enum Kind {
    FindNode,
    Ping,
    GetProviders { found: Vec<PeerInfo> },
    GetRecord { best: Option<SignedRecord> },
    AddProvider,
    PutRecord { record: SignedRecord },
}

#[derive(Clone, Debug)]
enum Phase {
    Lookup,
    Storing { outstanding: usize, stored: usize },
}

#[derive(Clone, Debug)]
struct Query {
    kind: Kind,
    lookup: Lookup,
    phase: Phase,
    internal: bool,
    started: Time,
    store_requests: u32,
}

const EXPIRED_RING: usize = 512;
const HOUSEKEEPING_MS: u64 = 60_000;
/// First delay before a bootstrap that found fewer than k peers is retried;
/// doubles on every retry, up to the refresh interval.
const BOOTSTRAP_RETRY_MS: u64 = 10_000;

/// One node's DHT state machine.
#[derive(Debug)]
pub struct Dht {
    local: Key,
    cfg: Config,
    table: RoutingTable,
    providers: ProviderStore,
    records: RecordStore,
    pending: BTreeMap<RequestId, Outstanding>,
    expired: VecDeque<(RequestId, Key)>,
    queries: BTreeMap<QueryId, Query>,
    next_query: u64,
    next_request: u64,
    actions: VecDeque<Action>,
    providing: BTreeMap<Key, Time>,
    publishing: BTreeMap<Key, (SignedRecord, Time)>,
    next_housekeeping: Time,
    bootstrapped: bool,
    bootstrap_query: Option<QueryId>,
    bootstrap_retry: Option<(Time, u64)>,
    bootstrap_backoff: u64,
}

impl Dht {
    /// A node with id `local`.
    pub fn new(local: Key, cfg: Config) -> Self {
        Dht {
            local,
            table: RoutingTable::new(local, cfg.k),
            providers: ProviderStore::new(cfg.provider_limits),
            records: RecordStore::new(cfg.record_limits),
            cfg,
            pending: BTreeMap::new(),
            expired: VecDeque::with_capacity(EXPIRED_RING),
            queries: BTreeMap::new(),
            next_query: 0,
            next_request: 0,
            actions: VecDeque::new(),
            providing: BTreeMap::new(),
            publishing: BTreeMap::new(),
            next_housekeeping: Time(0),
            bootstrapped: false,
            bootstrap_query: None,
            bootstrap_retry: None,
            bootstrap_backoff: BOOTSTRAP_RETRY_MS,
        }
    }

    /// This node's id.
    pub fn local_key(&self) -> Key {
        self.local
    }

    /// The routing table.
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Next action for the driver. Drain after every call into the core.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Requests currently awaiting a response.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Queries currently running.
    pub fn running_queries(&self) -> usize {
        self.queries.len()
    }

    /// Number of provider keys and records held for others.
    pub fn stored(&self) -> (usize, usize) {
        (self.providers.num_keys(), self.records.len())
    }

    /// Keys this node provides itself (announces and republishes).
    pub fn providing(&self) -> usize {
        self.providing.len()
    }

    /// The providers held for others under `key`, with their absolute
    /// expiries (for the driver to persist; the core does no I/O).
    pub fn provider_entries(&self, key: &Key) -> Vec<(PeerInfo, Time)> {
        self.providers.entries(key)
    }

    /// Puts back a provider record the driver read from disk; expired ones
    /// are dropped and the store's limits hold.
    pub fn restore_provider(
        &mut self,
        key: Key,
        peer: PeerInfo,
        expires: Time,
        now: Time,
    ) -> Result<(), super::provider::ProviderError> {
        self.providers.restore(key, peer, expires, now)
    }

    /// Adds a peer known out of band (a ticket, a configured bootstrap peer).
    pub fn add_peer(&mut self, peer: PeerInfo, now: Time) {
        self.seen(peer, now);
    }

    /// Joins the network: a lookup of the local id, through the peers added.
    /// Buckets count as refreshed from now on.
    pub fn bootstrap(&mut self, now: Time) -> Result<QueryId, DhtError> {
        self.bootstrapped = true;
        for b in 0..super::routing::NUM_BUCKETS {
            self.table.mark_refreshed(b, now);
        }
        let id = self.start(Kind::FindNode, self.local, false, now)?;
        self.bootstrap_query = Some(id);
        Ok(id)
    }

    /// Looks up the `k` closest peers to `target`.
    pub fn find_node(&mut self, target: Key, now: Time) -> Result<QueryId, DhtError> {
        self.start(Kind::FindNode, target, false, now)
    }

    /// Checks whether `peer` answers.
    pub fn ping(&mut self, peer: PeerInfo, now: Time) -> Result<QueryId, DhtError> {
        if self.queries.len() >= self.cfg.max_queries {
            return Err(DhtError::TooManyQueries);
        }
        let id = self.new_query_id();
        let lookup = Lookup::new(peer.id, vec![peer], 1, 1, 1, 1);
        self.queries.insert(
            id,
            Query {
                kind: Kind::Ping,
                lookup,
                phase: Phase::Lookup,
                internal: false,
                started: now,
                store_requests: 0,
            },
        );
        self.step(id, now);
        Ok(id)
    }

    /// Finds providers of `key`.
    pub fn get_providers(&mut self, key: Key, now: Time) -> Result<QueryId, DhtError> {
        let found = self
            .providers
            .get(&key, now, self.cfg.providers_wanted.max(1));
        self.start(Kind::GetProviders { found }, key, false, now)
    }

    /// Announces this node as a provider of `key`, and keeps re-announcing
    /// it before the TTL runs out until [`Self::stop_providing`].
    pub fn start_providing(&mut self, key: Key, now: Time) -> Result<QueryId, DhtError> {
        let id = self.start(Kind::AddProvider, key, false, now)?;
        self.providing
            .insert(key, now.plus_ms(self.cfg.provider_republish_ms));
        Ok(id)
    }

    /// Stops re-announcing `key` (the records held elsewhere expire).
    pub fn stop_providing(&mut self, key: &Key) {
        self.providing.remove(key);
    }

    /// Stores `record` locally and on the `k` closest peers to its key, and
    /// re-puts it periodically until it expires or a newer one is published.
    pub fn put_record(&mut self, record: SignedRecord, now: Time) -> Result<QueryId, DhtError> {
        self.records.put(record.clone(), now)?;
        let key = record.key();
        let id = self.start(
            Kind::PutRecord {
                record: record.clone(),
            },
            key,
            false,
            now,
        )?;
        self.publishing
            .insert(key, (record, now.plus_ms(self.cfg.record_republish_ms)));
        Ok(id)
    }

    /// Finds the highest valid record under `key`.
    pub fn get_record(&mut self, key: Key, now: Time) -> Result<QueryId, DhtError> {
        let best = self.records.get(&key, now).cloned();
        self.start(Kind::GetRecord { best }, key, false, now)
    }

    /// The driver could not decode bytes from `from`: the peer is dropped.
    pub fn on_malformed(&mut self, from: &Key) {
        self.misbehaved(*from, Misbehaviour::Malformed);
    }

    /// `from` sent a response where only a request may come (on a stream it
    /// opened itself): the peer is dropped, as for any unasked-for response.
    pub fn on_unsolicited(&mut self, from: &Key) {
        self.misbehaved(*from, Misbehaviour::Unsolicited);
    }

    /// The driver could not deliver request `id` (dial failed, stream reset):
    /// it counts as unanswered at once.
    pub fn on_send_failed(&mut self, id: RequestId, now: Time) {
        if let Some(o) = self.pending.remove(&id) {
            self.fail(id, o, now);
        }
    }

    /// Earliest time at which [`Self::tick`] has work to do.
    pub fn next_deadline(&self) -> Option<Time> {
        let mut t = self.pending.values().map(|o| o.deadline).min();
        let mut consider = |x: Time| t = Some(t.map_or(x, |t| t.min(x)));
        if self.bootstrapped
            && let Some(r) = self.table.next_refresh(self.cfg.refresh_interval_ms)
        {
            consider(r);
        }
        if let Some(p) = self.providing.values().min() {
            consider(*p);
        }
        if let Some((at, _)) = self.bootstrap_retry {
            consider(at);
        }
        if let Some(p) = self.publishing.values().map(|(_, t)| *t).min() {
            consider(p);
        }
        if self.next_housekeeping.0 > 0 {
            consider(self.next_housekeeping);
        }
        t
    }

    /// Fires timeouts, bucket refreshes, republishing and store expiry due at `now`.
    pub fn tick(&mut self, now: Time) {
        let due: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(o) = self.pending.remove(&id) {
                self.actions.push_back(Action::RequestTimedOut {
                    peer: o.to.id,
                    request_id: id,
                });
                if self.expired.len() >= EXPIRED_RING {
                    self.expired.pop_front();
                }
                self.expired.push_back((id, o.to.id));
                self.fail(id, o, now);
            }
        }
        if self.bootstrapped
            && self
                .table
                .next_refresh(self.cfg.refresh_interval_ms)
                .is_some_and(|t| t <= now)
        {
            // Buckets that are not full hold (about) the peers closest to us,
            // which is what one lookup of our own id finds: a single self
            // lookup refreshes them all. Each full bucket needs a lookup of
            // a random key in its own range.
            let due = self
                .table
                .buckets_to_refresh(now, self.cfg.refresh_interval_ms);
            let (sparse, full): (Vec<usize>, Vec<usize>) = due
                .into_iter()
                .partition(|b| self.table.bucket_len(*b) < self.table.k());
            if !sparse.is_empty() {
                for b in &sparse {
                    self.table.mark_refreshed(*b, now);
                }
                let _ = self.start(Kind::FindNode, self.local, true, now);
            }
            for b in full {
                self.table.mark_refreshed(b, now);
                let mut entropy = self.local.0.to_vec();
                entropy.extend_from_slice(&(b as u64).to_be_bytes());
                entropy.extend_from_slice(&now.0.to_be_bytes());
                let target = self.local.random_in_bucket(b, &entropy);
                if self.start(Kind::FindNode, target, true, now).is_err() {
                    break;
                }
            }
        }
        if let Some((at, backoff)) = self.bootstrap_retry
            && at <= now
        {
            self.bootstrap_retry = None;
            if let Ok(id) = self.start(Kind::FindNode, self.local, true, now) {
                self.bootstrap_query = Some(id);
                self.bootstrap_backoff = backoff;
            }
        }
        let due: Vec<Key> = self
            .providing
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            self.providing
                .insert(key, now.plus_ms(self.cfg.provider_republish_ms));
            let _ = self.start(Kind::AddProvider, key, true, now);
        }
        let due: Vec<Key> = self
            .publishing
            .iter()
            .filter(|(_, (_, t))| *t <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some((record, _)) = self.publishing.remove(&key) else {
                continue;
            };
            if record.expires <= now.as_secs() {
                continue;
            }
            self.publishing.insert(
                key,
                (record.clone(), now.plus_ms(self.cfg.record_republish_ms)),
            );
            let _ = self.start(Kind::PutRecord { record }, key, true, now);
        }
        if now >= self.next_housekeeping {
            self.providers.expire(now);
            self.records.expire(now);
            self.next_housekeeping = now.plus_ms(HOUSEKEEPING_MS);
        }
        let ids: Vec<QueryId> = self.queries.keys().copied().collect();
        for id in ids {
            self.step(id, now);
        }
    }

    /// A message from `from` (authenticated by the transport) at `now`.
    pub fn handle_message(&mut self, from: Key, msg: Message, now: Time) {
        if from == self.local {
            return;
        }
        match msg {
            Message::Request {
                id,
                sender_addrs,
                body,
            } => {
                let peer = PeerInfo {
                    id: from,
                    addrs: sender_addrs,
                };
                self.seen(peer.clone(), now);
                let resp = self.answer(&peer, body, now);
                self.actions.push_back(Action::Send {
                    to: peer,
                    request_id: id,
                    message: Message::Response { id, body: resp },
                });
            }
            Message::Response { id, body } => self.on_response(from, id, body, now),
        }
    }

    fn answer(&mut self, peer: &PeerInfo, req: Request, now: Time) -> Response {
        let k = self.cfg.k.min(MAX_PEERS_PER_RESPONSE);
        match req {
            Request::Ping => Response::Pong,
            Request::FindNode { target } => Response::Nodes {
                closer: self.table.closest(&target, k, Some(&peer.id)),
            },
            Request::GetProviders { key } => Response::Providers {
                providers: self.providers_for(&key, now),
                closer: self.table.closest(&key, k, Some(&peer.id)),
            },
            Request::AddProvider { key, ttl_secs } => {
                let status = match self.providers.add(key, peer.clone(), ttl_secs, now) {
                    Ok(()) => StoreStatus::Stored,
                    Err(_) => StoreStatus::Full,
                };
                Response::AddProviderAck { status }
            }
            Request::GetRecord { key } => Response::Record {
                record: self.records.get(&key, now).cloned(),
                closer: self.table.closest(&key, k, Some(&peer.id)),
            },
            Request::PutRecord { record } => {
                let status = match self.records.put(record, now) {
                    Ok(()) => StoreStatus::Stored,
                    Err(RecordError::Stale) => StoreStatus::Stale,
                    Err(RecordError::PublisherFull | RecordError::StoreFull) => StoreStatus::Full,
                    Err(_) => StoreStatus::Invalid,
                };
                Response::PutRecordAck { status }
            }
        }
    }

    /// The providers of `key` this node can name: itself first when it
    /// provides the key (so a peer that met it after its announcements went
    /// out still finds it by asking it), then the records others stored here.
    fn providers_for(&self, key: &Key, now: Time) -> Vec<PeerInfo> {
        let mut out = Vec::new();
        if self.providing.contains_key(key) {
            out.push(PeerInfo {
                id: self.local,
                addrs: self.cfg.listen_addrs.clone(),
            });
        }
        for p in self.providers.get(key, now, MAX_PEERS_PER_RESPONSE) {
            if out.len() == MAX_PEERS_PER_RESPONSE {
                break;
            }
            if p.id != self.local {
                out.push(p);
            }
        }
        out
    }

    fn on_response(&mut self, from: Key, id: RequestId, body: Response, now: Time) {
        let Some(o) = self.pending.get(&id) else {
            if self.expired.iter().any(|(i, p)| *i == id && *p == from) {
                debug!(peer = ?from, id, "late response ignored");
            } else {
                self.misbehaved(from, Misbehaviour::Unsolicited);
            }
            return;
        };
        if o.to.id != from {
            self.misbehaved(from, Misbehaviour::WrongPeer);
            return;
        }
        let Some(o) = self.pending.remove(&id) else {
            return;
        };
        let matches = matches!(
            (o.expect, &body),
            (Expect::Pong, Response::Pong)
                | (Expect::Nodes, Response::Nodes { .. })
                | (Expect::Providers, Response::Providers { .. })
                | (Expect::AddProviderAck, Response::AddProviderAck { .. })
                | (Expect::Record, Response::Record { .. })
                | (Expect::PutRecordAck, Response::PutRecordAck { .. })
        );
        if !matches {
            self.misbehaved(from, Misbehaviour::WrongResponseType);
            self.fail(id, o, now);
            return;
        }
        match o.purpose {
            Purpose::Liveness { bucket } => {
                self.table.check_passed(bucket, &from, now);
            }
            Purpose::Store(qid) => {
                self.seen(o.to.clone(), now);
                if let Some(Query {
                    phase:
                        Phase::Storing {
                            outstanding,
                            stored,
                        },
                    ..
                }) = self.queries.get_mut(&qid)
                {
                    *outstanding = outstanding.saturating_sub(1);
                    if matches!(
                        body,
                        Response::AddProviderAck {
                            status: StoreStatus::Stored
                        } | Response::PutRecordAck {
                            status: StoreStatus::Stored
                        }
                    ) {
                        *stored += 1;
                    }
                }
                self.step(qid, now);
            }
            Purpose::Query(qid) => {
                if let Err(reason) = self.query_response(qid, &o.to, body, now) {
                    self.misbehaved(from, reason);
                    if let Some(q) = self.queries.get_mut(&qid) {
                        q.lookup.on_failure(&from);
                    }
                } else {
                    self.seen(o.to.clone(), now);
                }
                self.step(qid, now);
            }
        }
    }

    /// Feeds a checked response to its query. An `Err` names a misbehaviour.
    fn query_response(
        &mut self,
        qid: QueryId,
        from: &PeerInfo,
        body: Response,
        now: Time,
    ) -> Result<(), Misbehaviour> {
        let local = self.local;
        let Some(q) = self.queries.get_mut(&qid) else {
            return Ok(());
        };
        let clean = |v: Vec<PeerInfo>| -> Vec<PeerInfo> {
            v.into_iter()
                .filter(|p| p.id != local && p.id != from.id)
                .collect()
        };
        if matches!(q.phase, Phase::Storing { .. }) {
            // A lookup response that arrived after the lookup ended.
            return Ok(());
        }
        let target = *q.lookup.target();
        match (&mut q.kind, body) {
            (Kind::Ping, Response::Pong) => {
                q.lookup.on_success(&from.id, Vec::new());
            }
            (
                Kind::FindNode | Kind::AddProvider | Kind::PutRecord { .. },
                Response::Nodes { closer },
            ) => {
                q.lookup.on_success(&from.id, clean(closer));
            }
            (Kind::GetProviders { found }, Response::Providers { providers, closer }) => {
                for p in providers {
                    if found.len() < self.cfg.providers_wanted.max(1)
                        && !found.iter().any(|f| f.id == p.id)
                    {
                        found.push(p);
                    }
                }
                let enough = found.len() >= self.cfg.providers_wanted.max(1);
                q.lookup.on_success(&from.id, clean(closer));
                if enough {
                    q.lookup.stop();
                }
            }
            (Kind::GetRecord { best }, Response::Record { record, closer }) => {
                if let Some(r) = record {
                    if r.key() != target || r.validate(now).is_err() {
                        return Err(Misbehaviour::ForgedRecord);
                    }
                    if best.as_ref().is_none_or(|b| r.seq > b.seq) {
                        *best = Some(r);
                    }
                }
                q.lookup.on_success(&from.id, clean(closer));
            }
            _ => return Err(Misbehaviour::WrongResponseType),
        }
        Ok(())
    }

    fn start(
        &mut self,
        kind: Kind,
        target: Key,
        internal: bool,
        now: Time,
    ) -> Result<QueryId, DhtError> {
        if self.queries.len() >= self.cfg.max_queries {
            return Err(DhtError::TooManyQueries);
        }
        if let Some(b) = self.table.bucket_of(&target) {
            self.table.mark_refreshed(b, now);
        }
        let id = self.new_query_id();
        let seeds = self.table.closest(&target, self.cfg.k, None);
        let lookup = Lookup::new(
            target,
            seeds,
            self.cfg.k,
            self.cfg.alpha,
            self.cfg.disjoint_paths,
            self.cfg.max_lookup_requests,
        );
        self.queries.insert(
            id,
            Query {
                kind,
                lookup,
                phase: Phase::Lookup,
                internal,
                started: now,
                store_requests: 0,
            },
        );
        self.step(id, now);
        Ok(id)
    }

    fn new_query_id(&mut self) -> QueryId {
        self.next_query += 1;
        QueryId(self.next_query)
    }

    /// Advances query `qid` as far as it can go without new input.
    fn step(&mut self, qid: QueryId, now: Time) {
        loop {
            let Some(q) = self.queries.get_mut(&qid) else {
                return;
            };
            if let Phase::Storing { outstanding, .. } = q.phase {
                if outstanding == 0 {
                    self.finish(qid, now);
                }
                return;
            }
            if self.pending.len() >= self.cfg.max_pending_requests {
                return;
            }
            match q.lookup.next_step() {
                Next::Contact(peer) => {
                    let (req, expect) = match &q.kind {
                        Kind::Ping => (Request::Ping, Expect::Pong),
                        Kind::FindNode | Kind::AddProvider | Kind::PutRecord { .. } => (
                            Request::FindNode {
                                target: *q.lookup.target(),
                            },
                            Expect::Nodes,
                        ),
                        Kind::GetProviders { .. } => (
                            Request::GetProviders {
                                key: *q.lookup.target(),
                            },
                            Expect::Providers,
                        ),
                        Kind::GetRecord { .. } => (
                            Request::GetRecord {
                                key: *q.lookup.target(),
                            },
                            Expect::Record,
                        ),
                    };
                    self.send_request(peer, req, expect, Purpose::Query(qid), now);
                }
                Next::Waiting => return,
                Next::Finished => {
                    self.lookup_done(qid, now);
                    return;
                }
            }
        }
    }

    fn lookup_done(&mut self, qid: QueryId, now: Time) {
        let Some(q) = self.queries.get_mut(&qid) else {
            return;
        };
        let req = match &q.kind {
            Kind::AddProvider => Request::AddProvider {
                key: *q.lookup.target(),
                ttl_secs: self.cfg.provider_ttl_secs,
            },
            Kind::PutRecord { record } => Request::PutRecord {
                record: record.clone(),
            },
            _ => {
                self.finish(qid, now);
                return;
            }
        };
        let expect = match req {
            Request::AddProvider { .. } => Expect::AddProviderAck,
            _ => Expect::PutRecordAck,
        };
        let targets = q.lookup.closest();
        q.phase = Phase::Storing {
            outstanding: targets.len(),
            stored: 0,
        };
        q.store_requests = u32::try_from(targets.len()).unwrap_or(u32::MAX);
        if targets.is_empty() {
            self.finish(qid, now);
            return;
        }
        for peer in targets {
            self.send_request(peer, req.clone(), expect, Purpose::Store(qid), now);
        }
    }

    fn finish(&mut self, qid: QueryId, now: Time) {
        let Some(q) = self.queries.remove(&qid) else {
            return;
        };
        if self.bootstrap_query == Some(qid) {
            // A join that reached fewer than k peers (a lost message, a
            // bootstrap peer that left) leaves the node all but invisible:
            // try again, backing off.
            self.bootstrap_query = None;
            if q.lookup.closest().len() < self.cfg.k {
                let backoff = self.bootstrap_backoff;
                self.bootstrap_retry = Some((
                    now.plus_ms(backoff),
                    backoff.saturating_mul(2).min(self.cfg.refresh_interval_ms),
                ));
            } else {
                self.bootstrap_backoff = BOOTSTRAP_RETRY_MS;
            }
        }
        if q.internal {
            return;
        }
        let stats = QueryStats {
            lookup: q.lookup.stats(),
            store_requests: q.store_requests,
            started: q.started,
            finished: now,
        };
        let stored = match q.phase {
            Phase::Storing { stored, .. } => stored,
            Phase::Lookup => 0,
        };
        let result = match q.kind {
            Kind::FindNode => QueryResult::FindNode {
                closest: q.lookup.closest(),
            },
            Kind::Ping => QueryResult::Ping {
                alive: !q.lookup.closest().is_empty(),
            },
            Kind::GetProviders { found } => QueryResult::GetProviders { providers: found },
            Kind::GetRecord { best } => QueryResult::GetRecord { record: best },
            Kind::AddProvider => QueryResult::AddProvider { stored },
            Kind::PutRecord { .. } => QueryResult::PutRecord { stored },
        };
        self.actions.push_back(Action::QueryFinished {
            id: qid,
            result,
            stats,
        });
    }

    fn send_request(
        &mut self,
        to: PeerInfo,
        body: Request,
        expect: Expect,
        purpose: Purpose,
        now: Time,
    ) {
        self.next_request = self.next_request.wrapping_add(1);
        let id = self.next_request;
        self.pending.insert(
            id,
            Outstanding {
                to: to.clone(),
                expect,
                deadline: now.plus_ms(self.cfg.request_timeout_ms),
                purpose,
            },
        );
        self.actions.push_back(Action::Send {
            to,
            request_id: id,
            message: Message::Request {
                id,
                sender_addrs: self.cfg.listen_addrs.clone(),
                body,
            },
        });
    }

    /// Request `id` to `o.to` failed (timeout, undeliverable, bad answer).
    fn fail(&mut self, _id: RequestId, o: Outstanding, now: Time) {
        match o.purpose {
            Purpose::Liveness { bucket } => self.table.check_failed(bucket, &o.to.id, now),
            Purpose::Query(qid) => {
                self.table.on_failure(&o.to.id, self.cfg.max_failures, now);
                if let Some(q) = self.queries.get_mut(&qid) {
                    q.lookup.on_failure(&o.to.id);
                }
                self.step(qid, now);
            }
            Purpose::Store(qid) => {
                self.table.on_failure(&o.to.id, self.cfg.max_failures, now);
                if let Some(Query {
                    phase: Phase::Storing { outstanding, .. },
                    ..
                }) = self.queries.get_mut(&qid)
                {
                    *outstanding = outstanding.saturating_sub(1);
                }
                self.step(qid, now);
            }
        }
    }

    /// `peer` proved alive: offer it to the routing table, and start a
    /// liveness check of the oldest entry if its bucket is full.
    fn seen(&mut self, peer: PeerInfo, now: Time) {
        if let Insert::Pending { bucket, check } =
            self.table
                .on_seen_with(peer, now, self.cfg.liveness_fresh_ms)
        {
            let to = self
                .table
                .get(&check)
                .map(|e| e.peer.clone())
                .unwrap_or_else(|| PeerInfo::bare(check));
            if self.pending.len() < self.cfg.max_pending_requests {
                self.send_request(
                    to,
                    Request::Ping,
                    Expect::Pong,
                    Purpose::Liveness { bucket },
                    now,
                );
            } else {
                // Cannot check now: keep the old entry, forget the newcomer.
                self.table.check_passed(bucket, &check, now);
            }
        }
    }

    fn misbehaved(&mut self, peer: Key, reason: Misbehaviour) {
        debug!(
            ?peer,
            ?reason,
            "peer misbehaved; dropped from routing table"
        );
        self.table.remove(&peer);
        self.actions
            .push_back(Action::PeerMisbehaved { peer, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dht::record::record_key;
    use ed25519_dalek::SigningKey;
    use std::collections::HashMap;

    const T0: Time = Time::from_secs(1_800_000_000);

    fn key(i: u32) -> Key {
        Key::hash(&i.to_be_bytes())
    }

    /// A lossless in-memory network of cores with zero latency.
    struct Net {
        nodes: HashMap<Key, Dht>,
        finished: Vec<(Key, QueryId, QueryResult)>,
        misbehaved: Vec<(Key, Key, Misbehaviour)>,
        now: Time,
    }

    impl Net {
        fn new(n: u32) -> Self {
            let mut net = Net {
                nodes: HashMap::new(),
                finished: Vec::new(),
                misbehaved: Vec::new(),
                now: T0,
            };
            let first = key(0);
            for i in 0..n {
                let k = key(i);
                let mut d = Dht::new(k, Config::default());
                if i > 0 {
                    d.add_peer(PeerInfo::bare(first), net.now);
                    d.bootstrap(net.now).unwrap();
                }
                net.nodes.insert(k, d);
                net.pump();
            }
            net
        }

        fn pump(&mut self) {
            loop {
                let mut msgs = Vec::new();
                for (k, d) in self.nodes.iter_mut() {
                    while let Some(a) = d.poll_action() {
                        match a {
                            Action::Send { to, message, .. } => msgs.push((*k, to.id, message)),
                            Action::QueryFinished { id, result, .. } => {
                                self.finished.push((*k, id, result))
                            }
                            Action::PeerMisbehaved { peer, reason } => {
                                self.misbehaved.push((*k, peer, reason))
                            }
                            Action::RequestTimedOut { .. } => {}
                        }
                    }
                }
                if msgs.is_empty() {
                    return;
                }
                for (from, to, m) in msgs {
                    if let Some(d) = self.nodes.get_mut(&to) {
                        d.handle_message(from, m, self.now);
                    }
                }
            }
        }

        fn result(&self, node: Key, q: QueryId) -> Option<&QueryResult> {
            self.finished
                .iter()
                .find(|(k, id, _)| *k == node && *id == q)
                .map(|(_, _, r)| r)
        }

        fn node(&mut self, k: Key) -> &mut Dht {
            self.nodes.get_mut(&k).unwrap()
        }
    }

    #[test]
    fn every_operation_works_across_a_small_network() {
        let mut net = Net::new(60);
        let now = net.now;
        // FIND_NODE finds an existing node.
        let q = net.node(key(5)).find_node(key(40), now).unwrap();
        net.pump();
        match net.result(key(5), q) {
            Some(QueryResult::FindNode { closest }) => {
                assert_eq!(closest.first().map(|p| p.id), Some(key(40)))
            }
            other => panic!("{other:?}"),
        }
        // PING.
        let q = net.node(key(5)).ping(PeerInfo::bare(key(6)), now).unwrap();
        net.pump();
        assert_eq!(
            net.result(key(5), q),
            Some(&QueryResult::Ping { alive: true })
        );
        // ADD_PROVIDER then GET_PROVIDERS from another node.
        let block = Key::hash(b"block");
        let q = net.node(key(7)).start_providing(block, now).unwrap();
        net.pump();
        match net.result(key(7), q) {
            Some(QueryResult::AddProvider { stored }) => assert_eq!(*stored, 20),
            other => panic!("{other:?}"),
        }
        let q = net.node(key(30)).get_providers(block, now).unwrap();
        net.pump();
        match net.result(key(30), q) {
            Some(QueryResult::GetProviders { providers }) => {
                assert!(providers.iter().any(|p| p.id == key(7)))
            }
            other => panic!("{other:?}"),
        }
        // PUT / GET of a signed record; a newer version wins.
        let signer = SigningKey::from_bytes(&[3; 32]);
        let exp = now.as_secs() + 3600;
        let v1 = SignedRecord::sign(&signer, b"root", b"one", 1, exp).unwrap();
        let v2 = SignedRecord::sign(&signer, b"root", b"two", 2, exp).unwrap();
        let q = net.node(key(9)).put_record(v1.clone(), now).unwrap();
        net.pump();
        assert!(
            matches!(net.result(key(9), q), Some(QueryResult::PutRecord { stored }) if *stored >= 19)
        );
        let q = net.node(key(9)).put_record(v2.clone(), now).unwrap();
        net.pump();
        let q2 = net.node(key(50)).get_record(v1.key(), now).unwrap();
        net.pump();
        assert!(matches!(
            net.result(key(9), q),
            Some(QueryResult::PutRecord { .. })
        ));
        assert_eq!(
            net.result(key(50), q2),
            Some(&QueryResult::GetRecord { record: Some(v2) })
        );
        assert!(net.misbehaved.is_empty(), "{:?}", net.misbehaved);
    }

    #[test]
    fn a_provider_met_after_its_announcement_names_itself() {
        // A provides a key while it knows nobody: the announcement is
        // stored nowhere. B meets A afterwards and still finds A by asking it.
        let (a, b) = (key(0), key(1));
        let target = key(77);
        let cfg = Config {
            listen_addrs: vec!["127.0.0.1:7000".parse().unwrap()],
            ..Default::default()
        };
        let mut net = Net {
            nodes: HashMap::new(),
            finished: Vec::new(),
            misbehaved: Vec::new(),
            now: T0,
        };
        net.nodes.insert(a, Dht::new(a, cfg));
        let now = net.now;
        net.node(a).start_providing(target, now).unwrap();
        net.pump();
        assert_eq!(net.node(a).stored(), (0, 0), "nobody to store it on");
        net.nodes.insert(b, Dht::new(b, Config::default()));
        net.node(b).add_peer(PeerInfo::bare(a), now);
        let q = net.node(b).get_providers(target, now).unwrap();
        net.pump();
        match net.result(b, q) {
            Some(QueryResult::GetProviders { providers }) => {
                assert_eq!(providers.len(), 1, "{providers:?}");
                assert_eq!(providers[0].id, a);
                assert_eq!(providers[0].addrs, vec!["127.0.0.1:7000".parse().unwrap()]);
            }
            other => panic!("{other:?}"),
        }
        // Once A stops providing, it no longer names itself.
        net.node(a).stop_providing(&target);
        let q = net.node(b).get_providers(target, now).unwrap();
        net.pump();
        assert!(
            matches!(net.result(b, q), Some(QueryResult::GetProviders { providers }) if providers.is_empty())
        );
        assert!(net.misbehaved.is_empty(), "{:?}", net.misbehaved);
    }

    fn lone(now: Time) -> (Dht, Key) {
        let mut d = Dht::new(key(0), Config::default());
        let peer = key(1);
        d.add_peer(PeerInfo::bare(peer), now);
        while d.poll_action().is_some() {}
        (d, peer)
    }

    fn drain(d: &mut Dht) -> Vec<Action> {
        std::iter::from_fn(|| d.poll_action()).collect()
    }

    fn sent_request(actions: &[Action]) -> Option<(Key, RequestId)> {
        actions.iter().find_map(|a| match a {
            Action::Send {
                to,
                message: Message::Request { id, .. },
                ..
            } => Some((to.id, *id)),
            _ => None,
        })
    }

    #[test]
    fn unsolicited_response_drops_the_peer() {
        let (mut d, peer) = lone(T0);
        d.handle_message(
            peer,
            Message::Response {
                id: 77,
                body: Response::Pong,
            },
            T0,
        );
        let acts = drain(&mut d);
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::PeerMisbehaved { peer: p, reason: Misbehaviour::Unsolicited } if *p == peer
        )));
        assert!(!d.routing_table().contains(&peer));
    }

    #[test]
    fn response_from_a_peer_not_asked_is_refused() {
        let (mut d, peer) = lone(T0);
        let q = d.find_node(key(99), T0).unwrap();
        let (to, id) = sent_request(&drain(&mut d)).unwrap();
        assert_eq!(to, peer);
        let intruder = key(2);
        d.add_peer(PeerInfo::bare(intruder), T0);
        d.handle_message(
            intruder,
            Message::Response {
                id,
                body: Response::Nodes { closer: vec![] },
            },
            T0,
        );
        let acts = drain(&mut d);
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::PeerMisbehaved {
                reason: Misbehaviour::WrongPeer,
                ..
            }
        )));
        assert!(!d.routing_table().contains(&intruder));
        // The real peer's answer is still accepted.
        d.handle_message(
            peer,
            Message::Response {
                id,
                body: Response::Nodes { closer: vec![] },
            },
            T0,
        );
        let acts = drain(&mut d);
        assert!(
            acts.iter()
                .any(|a| matches!(a, Action::QueryFinished { id: f, .. } if *f == q))
        );
        assert!(d.routing_table().contains(&peer));
    }

    #[test]
    fn response_of_the_wrong_type_drops_the_peer() {
        let (mut d, peer) = lone(T0);
        d.find_node(key(99), T0).unwrap();
        let (_, id) = sent_request(&drain(&mut d)).unwrap();
        d.handle_message(
            peer,
            Message::Response {
                id,
                body: Response::Pong,
            },
            T0,
        );
        let acts = drain(&mut d);
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::PeerMisbehaved {
                reason: Misbehaviour::WrongResponseType,
                ..
            }
        )));
        assert!(!d.routing_table().contains(&peer));
    }

    #[test]
    fn forged_record_in_a_response_drops_the_peer_and_is_not_returned() {
        let (mut d, peer) = lone(T0);
        let signer = SigningKey::from_bytes(&[4; 32]);
        let mut forged = SignedRecord::sign(&signer, b"root", b"v", 5, T0.as_secs() + 60).unwrap();
        forged.value = b"evil".to_vec();
        let q = d.get_record(forged.key(), T0).unwrap();
        let (_, id) = sent_request(&drain(&mut d)).unwrap();
        d.handle_message(
            peer,
            Message::Response {
                id,
                body: Response::Record {
                    record: Some(forged),
                    closer: vec![],
                },
            },
            T0,
        );
        let acts = drain(&mut d);
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::PeerMisbehaved {
                reason: Misbehaviour::ForgedRecord,
                ..
            }
        )));
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::QueryFinished { id: f, result: QueryResult::GetRecord { record: None }, .. } if *f == q
        )));
        assert!(!d.routing_table().contains(&peer));
    }

    #[test]
    fn record_for_another_key_in_a_response_is_forged() {
        let (mut d, peer) = lone(T0);
        let signer = SigningKey::from_bytes(&[4; 32]);
        let other = SignedRecord::sign(&signer, b"other", b"v", 5, T0.as_secs() + 60).unwrap();
        let asked = record_key(&signer.verifying_key().to_bytes(), b"root");
        d.get_record(asked, T0).unwrap();
        let (_, id) = sent_request(&drain(&mut d)).unwrap();
        d.handle_message(
            peer,
            Message::Response {
                id,
                body: Response::Record {
                    record: Some(other),
                    closer: vec![],
                },
            },
            T0,
        );
        assert!(drain(&mut d).iter().any(|a| matches!(
            a,
            Action::PeerMisbehaved {
                reason: Misbehaviour::ForgedRecord,
                ..
            }
        )));
    }

    #[test]
    fn replayed_older_record_is_refused_by_put() {
        let mut d = Dht::new(key(0), Config::default());
        let signer = SigningKey::from_bytes(&[5; 32]);
        let exp = T0.as_secs() + 600;
        let v1 = SignedRecord::sign(&signer, b"n", b"1", 1, exp).unwrap();
        let v2 = SignedRecord::sign(&signer, b"n", b"2", 2, exp).unwrap();
        for (rid, rec, want) in [
            (1, v2.clone(), StoreStatus::Stored),
            (2, v1, StoreStatus::Stale),
        ] {
            d.handle_message(
                key(1),
                Message::Request {
                    id: rid,
                    sender_addrs: vec![],
                    body: Request::PutRecord { record: rec },
                },
                T0,
            );
            let acts = drain(&mut d);
            assert!(acts.iter().any(|a| matches!(
                a,
                Action::Send { message: Message::Response { body: Response::PutRecordAck { status }, .. }, .. } if *status == want
            )));
        }
        d.handle_message(
            key(1),
            Message::Request {
                id: 3,
                sender_addrs: vec![],
                body: Request::GetRecord { key: v2.key() },
            },
            T0,
        );
        assert!(drain(&mut d).iter().any(|a| matches!(
            a,
            Action::Send { message: Message::Response { body: Response::Record { record: Some(r), .. }, .. }, .. } if r.seq == 2
        )));
    }

    #[test]
    fn late_response_after_timeout_is_ignored_without_penalty() {
        let (mut d, peer) = lone(T0);
        d.find_node(key(99), T0).unwrap();
        let (_, id) = sent_request(&drain(&mut d)).unwrap();
        let later = T0.plus_ms(d.config().request_timeout_ms);
        assert_eq!(d.next_deadline(), Some(later));
        d.tick(later);
        let acts = drain(&mut d);
        assert!(
            acts.iter()
                .any(|a| matches!(a, Action::RequestTimedOut { .. }))
        );
        d.handle_message(
            peer,
            Message::Response {
                id,
                body: Response::Nodes { closer: vec![] },
            },
            later,
        );
        assert!(
            !drain(&mut d)
                .iter()
                .any(|a| matches!(a, Action::PeerMisbehaved { .. }))
        );
        // One failure is not enough to evict (max_failures = 2).
        assert!(d.routing_table().contains(&peer));
    }

    #[test]
    fn full_bucket_evicts_oldest_only_after_its_liveness_check_fails() {
        let mut d = Dht::new(key(0), Config::default());
        let local = key(0);
        let peers: Vec<Key> = (0..21u32)
            .map(|i| local.random_in_bucket(255, &i.to_be_bytes()))
            .collect();
        for p in &peers[..20] {
            d.add_peer(PeerInfo::bare(*p), T0);
        }
        // Only an oldest entry not heard from for a while gets checked.
        let t1 = T0.plus_ms(d.config().liveness_fresh_ms);
        assert!(drain(&mut d).is_empty());
        // The 21st peer sends a request: the oldest entry gets a PING.
        d.handle_message(
            peers[20],
            Message::Request {
                id: 1,
                sender_addrs: vec![],
                body: Request::Ping,
            },
            t1,
        );
        let acts = drain(&mut d);
        let (to, _) = sent_request(&acts).unwrap();
        assert_eq!(to, peers[0]);
        assert!(!d.routing_table().contains(&peers[20]));
        d.tick(t1.plus_ms(d.config().request_timeout_ms));
        assert!(!d.routing_table().contains(&peers[0]));
        assert!(d.routing_table().contains(&peers[20]));
    }

    #[test]
    fn oldest_peer_that_answers_its_liveness_check_is_kept() {
        let mut d = Dht::new(key(0), Config::default());
        let local = key(0);
        let peers: Vec<Key> = (0..21u32)
            .map(|i| local.random_in_bucket(255, &i.to_be_bytes()))
            .collect();
        for p in &peers[..20] {
            d.add_peer(PeerInfo::bare(*p), T0);
        }
        // Only an oldest entry not heard from for a while gets checked.
        let t1 = T0.plus_ms(d.config().liveness_fresh_ms);
        d.handle_message(
            peers[20],
            Message::Request {
                id: 1,
                sender_addrs: vec![],
                body: Request::Ping,
            },
            t1,
        );
        let (to, id) = sent_request(&drain(&mut d)).unwrap();
        d.handle_message(
            to,
            Message::Response {
                id,
                body: Response::Pong,
            },
            t1,
        );
        assert!(d.routing_table().contains(&peers[0]));
        assert!(!d.routing_table().contains(&peers[20]));
    }

    #[test]
    fn floods_of_peers_and_providers_stay_bounded() {
        let mut d = Dht::new(key(0), Config::default());
        let block = Key::hash(b"b");
        for i in 1..5000u32 {
            d.handle_message(
                key(i),
                Message::Request {
                    id: u64::from(i),
                    sender_addrs: vec![],
                    body: Request::AddProvider {
                        key: block,
                        ttl_secs: u32::MAX,
                    },
                },
                T0,
            );
            drain(&mut d);
        }
        // k per bucket, and at most one liveness check per bucket at a time.
        assert!(d.routing_table().len() <= 20 * 256);
        assert!(d.pending_requests() <= 256);
        d.handle_message(
            key(1),
            Message::Request {
                id: 0,
                sender_addrs: vec![],
                body: Request::GetProviders { key: block },
            },
            T0,
        );
        let provs = drain(&mut d).into_iter().find_map(|a| match a {
            Action::Send {
                message:
                    Message::Response {
                        body: Response::Providers { providers, .. },
                        ..
                    },
                ..
            } => Some(providers.len()),
            _ => None,
        });
        assert_eq!(provs, Some(20));
        assert_eq!(d.stored().0, 1);
    }

    #[test]
    fn malformed_bytes_drop_the_peer() {
        let (mut d, peer) = lone(T0);
        assert!(Message::decode(&[1, 2, 3]).is_err());
        d.on_malformed(&peer);
        assert!(!d.routing_table().contains(&peer));
        assert!(drain(&mut d).iter().any(|a| matches!(
            a,
            Action::PeerMisbehaved {
                reason: Misbehaviour::Malformed,
                ..
            }
        )));
    }

    #[test]
    fn providers_are_republished_before_they_expire() {
        let (mut d, _peer) = lone(T0);
        let block = Key::hash(b"b");
        d.start_providing(block, T0).unwrap();
        drain(&mut d);
        let republish = T0.plus_ms(d.config().provider_republish_ms);
        assert!(d.config().provider_republish_ms < u64::from(d.config().provider_ttl_secs) * 1000);
        // Let the first announcement time out, then reach the republish time.
        d.tick(T0.plus_ms(d.config().request_timeout_ms));
        drain(&mut d);
        d.tick(republish);
        let acts = drain(&mut d);
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::Send { message: Message::Request { body: Request::FindNode { target }, .. }, .. } if *target == block
        )));
    }
}
