//! The `dht/1` service: the sans-io [`Dht`] core put on real transport streams.
//!
//! One task (the *driver*, [`driver`]) owns the core and is the only thing that
//! touches it, so the core needs no lock and stays the deterministic state
//! machine the simulator runs. Everything else talks to that task through one
//! bounded inbox:
//!
//! - [`DhtHandle`] (cheap to clone) sends commands — start a query, add a
//!   peer, read the table — each with a one-shot reply and a bounded wait;
//! - per-request tasks ([`streams`]) open one stream per outbound request
//!   through the [`ConnPool`], write one frame, read one frame, and post the
//!   decoded response (or the failure) back;
//! - the inbound side ([`streams`]) takes the streams the node's `Router`
//!   hands to [`Inbound`]'s sender, applies the per-peer rate limit
//!   ([`rate`]) and the bound on concurrent inbound streams, reads one request,
//!   posts it to the driver with a one-shot for the answer, writes it, and
//!   closes the stream.
//!
//! Why one request per stream (docs/PROTOCOL.md §2.1): yamux streams are
//! cheap, a stream then needs no request multiplexing of its own, a slow or
//! lost answer holds up nothing else, and "a response on the stream of its
//! request" makes an unasked-for response easy to recognise.
//!
//! Peers that send malformed frames or responses where requests belong are
//! reported to the core (which drops them from the routing table) and, through
//! the core's `PeerMisbehaved` action, to the node's [`PeerPolicy`].

pub mod driver;
pub mod frame;
pub mod persist;
pub mod rate;
pub mod streams;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_transport::{Connection, NodeId, Stream};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::message::MAX_ADDRS_PER_PEER;
use super::{Config, Dht, DhtError, Key, PeerInfo, QueryResult, SignedRecord, Time};
use crate::net::{ConnPool, PeerPolicy};
use driver::{Command, Input, Op};

/// The protocol name `dht/1` streams carry in their header.
pub const PROTOCOL: &str = "dht/1";

/// Settings of the `dht/1` service (`[dht]` in `config.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhtConfig {
    /// Time a peer has to answer one request (dial, stream, response), ms.
    pub request_timeout_ms: u64,
    /// Longest a caller of the handle waits for an operation, ms.
    pub operation_timeout_ms: u64,
    /// Inbound `dht/1` streams served at once; more are dropped.
    pub max_inbound_streams: usize,
    /// Outbound requests in flight at once; more count as failed at once.
    pub max_outbound_requests: usize,
    /// Inbound requests per second one peer may sustain.
    pub inbound_rate_per_sec: u32,
    /// Inbound requests one peer may send in a burst.
    pub inbound_burst: u32,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            request_timeout_ms: 10_000,
            operation_timeout_ms: 60_000,
            max_inbound_streams: 64,
            max_outbound_requests: 256,
            inbound_rate_per_sec: 50,
            inbound_burst: 100,
        }
    }
}

/// Why a DHT operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The service task has stopped (node shutting down).
    #[error("the DHT service has stopped")]
    Closed,
    /// The operation did not finish within the operation timeout.
    #[error("the DHT operation did not finish within {0:?}")]
    TimedOut(Duration),
    /// The core refused to start it.
    #[error(transparent)]
    Dht(#[from] DhtError),
    /// The core answered with the result of another kind of query (a bug).
    #[error("internal error: unexpected query result")]
    Internal,
}

/// One routing-table entry, for `GET /v1/dht` and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    /// Bucket index (255 = most distant half of the id space).
    pub bucket: usize,
    /// The peer.
    pub node: NodeId,
    /// Its listen addresses, as last announced.
    pub addrs: Vec<SocketAddr>,
    /// When it entered the table.
    pub first_seen: Time,
    /// When it was last heard from.
    pub last_seen: Time,
    /// Consecutive requests it failed to answer.
    pub failures: u8,
}

/// Counters and gauges of the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhtStats {
    /// Peers in the routing table.
    pub table_size: usize,
    /// Requests the core awaits answers to.
    pub pending_requests: usize,
    /// Queries running.
    pub running_queries: usize,
    /// Provider keys and records held for others.
    pub stored_provider_keys: usize,
    /// Records held.
    pub stored_records: usize,
    /// Keys this node provides itself (announces, republishes, and names
    /// itself for when asked).
    pub providing_keys: usize,
    /// Outbound request streams open now.
    pub outbound_active: usize,
    /// Inbound request streams being served now.
    pub inbound_active: usize,
    /// Inbound requests waiting for the core's answer.
    pub replies_waiting: usize,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests that could not be delivered or were not answered.
    pub requests_failed: u64,
    /// Inbound requests answered.
    pub requests_served: u64,
    /// Inbound streams dropped by the per-peer rate limit.
    pub refused_rate: u64,
    /// Inbound streams dropped because too many were being served.
    pub refused_busy: u64,
    /// Inbound streams dropped because the peer is banned.
    pub refused_banned: u64,
    /// Malformed frames or messages received.
    pub malformed: u64,
    /// Misbehaviours reported to the peer policy.
    pub misbehaviours: u64,
    /// Provider-record batches written to the DHT file.
    pub batches_written: u64,
    /// Keys whose records changed and are not yet on disk, plus batches
    /// queued or being written (0: everything held is on disk).
    pub persist_pending: usize,
}

/// Counters updated outside the driver task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests_sent: AtomicU64,
    pub(crate) requests_failed: AtomicU64,
    pub(crate) requests_served: AtomicU64,
    pub(crate) refused_rate: AtomicU64,
    pub(crate) refused_busy: AtomicU64,
    pub(crate) refused_banned: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) misbehaviours: AtomicU64,
    pub(crate) batches_written: AtomicU64,
    /// Batches handed to the writer and not yet written.
    pub(crate) batches_in_flight: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the driver and the stream tasks share.
pub(crate) struct Shared {
    pub(crate) pool: ConnPool,
    pub(crate) policy: Arc<dyn PeerPolicy>,
    pub(crate) inbox: mpsc::Sender<Input>,
    pub(crate) cfg: DhtConfig,
    pub(crate) counters: Counters,
    pub(crate) inbound_slots: Arc<Semaphore>,
    pub(crate) outbound_slots: Arc<Semaphore>,
    pub(crate) cancel: CancellationToken,
}

impl Shared {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.request_timeout_ms.max(1))
    }
}

/// Streams the transport router hands to the service. Make it before the
/// node's `Router` (which needs [`Inbound::sender`]) and pass it to [`spawn`].
pub struct Inbound {
    tx: mpsc::Sender<(Connection, Stream)>,
    rx: mpsc::Receiver<(Connection, Stream)>,
}

impl Inbound {
    /// A bounded queue for `dht/1` streams (the router drops streams beyond it).
    pub fn new(cfg: &DhtConfig) -> Inbound {
        let (tx, rx) = mpsc::channel(cfg.max_inbound_streams.max(1));
        Inbound { tx, rx }
    }

    /// The sender to register with `Router::route(PROTOCOL, …)`.
    pub fn sender(&self) -> mpsc::Sender<(Connection, Stream)> {
        self.tx.clone()
    }
}

/// Inbox capacity of the driver task.
const INBOX: usize = 256;

/// The wall clock as the core's [`Time`].
pub(crate) fn now() -> Time {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Time(ms)
}

/// The core's key of a transport NodeId (the same 32 bytes).
pub fn key_of(node: &NodeId) -> Key {
    Key(*node.as_bytes())
}

/// The transport NodeId of a core key.
pub fn node_of(key: &Key) -> NodeId {
    NodeId::from_bytes(key.0)
}

/// Starts the service: the driver task that owns a core keyed by the pool's
/// NodeId, and the task serving `inbound` streams. `core.listen_addrs`, if
/// empty, becomes the endpoint's bound address. Everything stops when
/// `cancel` fires.
pub fn spawn(
    pool: ConnPool,
    policy: Arc<dyn PeerPolicy>,
    inbound: Inbound,
    core: Config,
    cfg: DhtConfig,
    cancel: CancellationToken,
) -> DhtHandle {
    spawn_inner(pool, policy, inbound, core, cfg, None, cancel)
}

/// [`spawn`], with the provider records held for others and the routing
/// table's contacts kept in the redb file at `file` ([`persist`]): loaded
/// before the first input is handled, written in batches as records arrive
/// and once more on shutdown ([`DhtHandle::stopped`] says when that is done).
pub fn spawn_persistent(
    pool: ConnPool,
    policy: Arc<dyn PeerPolicy>,
    inbound: Inbound,
    core: Config,
    cfg: DhtConfig,
    file: PathBuf,
    cancel: CancellationToken,
) -> DhtHandle {
    spawn_inner(pool, policy, inbound, core, cfg, Some(file), cancel)
}

fn spawn_inner(
    pool: ConnPool,
    policy: Arc<dyn PeerPolicy>,
    inbound: Inbound,
    mut core: Config,
    cfg: DhtConfig,
    file: Option<PathBuf>,
    cancel: CancellationToken,
) -> DhtHandle {
    if core.listen_addrs.is_empty() {
        core.listen_addrs = vec![pool.endpoint().local_addr()];
    }
    core.listen_addrs.truncate(MAX_ADDRS_PER_PEER);
    core.request_timeout_ms = cfg.request_timeout_ms.max(1);
    let local = pool.local_id();
    let (tx, rx) = mpsc::channel(INBOX);
    let shared = Arc::new(Shared {
        pool,
        policy,
        inbox: tx.clone(),
        inbound_slots: Arc::new(Semaphore::new(cfg.max_inbound_streams.max(1))),
        outbound_slots: Arc::new(Semaphore::new(cfg.max_outbound_requests.max(1))),
        cfg: cfg.clone(),
        counters: Counters::default(),
        cancel: cancel.clone(),
    });
    let dht = Dht::new(key_of(&local), core);
    let (done_tx, done_rx) = watch::channel(false);
    tokio::spawn(driver::run(dht, rx, shared.clone(), file, done_tx));
    tokio::spawn(streams::accept_loop(inbound.rx, shared));
    DhtHandle {
        tx,
        local,
        op_timeout: Duration::from_millis(cfg.operation_timeout_ms.max(1)),
        stopped: done_rx,
    }
}

/// What the node and other services call. Cheap to clone; every call waits
/// at most the operation timeout.
#[derive(Clone, Debug)]
pub struct DhtHandle {
    tx: mpsc::Sender<Input>,
    local: NodeId,
    op_timeout: Duration,
    /// Becomes true once the driver has stopped and its last write is done.
    stopped: watch::Receiver<bool>,
}

impl DhtHandle {
    /// This node's id.
    pub fn local_id(&self) -> NodeId {
        self.local
    }

    /// Waits until the service has stopped (after its cancellation token
    /// fired) and, with a file, written its last batch.
    pub async fn stopped(&self) {
        let mut rx = self.stopped.clone();
        let _ = rx.wait_for(|done| *done).await;
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ServiceError> {
        let (tx, rx) = oneshot::channel();
        let cmd = make(tx);
        let fut = async {
            self.tx
                .send(Input::Command(cmd))
                .await
                .map_err(|_| ServiceError::Closed)?;
            rx.await.map_err(|_| ServiceError::Closed)
        };
        tokio::time::timeout(self.op_timeout, fut)
            .await
            .map_err(|_| ServiceError::TimedOut(self.op_timeout))?
    }

    async fn query(&self, op: Op) -> Result<QueryResult, ServiceError> {
        Ok(self.ask(|reply| Command::Start { op, reply }).await??)
    }

    /// Adds a peer known out of band (ticket, peer book, bootstrap list).
    pub async fn add_peer(&self, node: NodeId, addrs: Vec<SocketAddr>) -> Result<(), ServiceError> {
        let peer = peer_info(node, addrs);
        self.ask(|reply| Command::AddPeer { peer, reply }).await
    }

    /// Joins the network through the peers added: a lookup of the own id.
    /// Returns the closest peers found.
    pub async fn bootstrap(&self) -> Result<Vec<PeerInfo>, ServiceError> {
        match self.query(Op::Bootstrap).await? {
            QueryResult::FindNode { closest } => Ok(closest),
            _ => Err(ServiceError::Internal),
        }
    }

    /// Whether `node` answers a PING at `addrs` (or over a live connection).
    pub async fn ping(&self, node: NodeId, addrs: Vec<SocketAddr>) -> Result<bool, ServiceError> {
        match self.query(Op::Ping(peer_info(node, addrs))).await? {
            QueryResult::Ping { alive } => Ok(alive),
            _ => Err(ServiceError::Internal),
        }
    }

    /// The k closest peers to `target` that answered, closest first.
    pub async fn find_node(&self, target: Key) -> Result<Vec<PeerInfo>, ServiceError> {
        match self.query(Op::FindNode(target)).await? {
            QueryResult::FindNode { closest } => Ok(closest),
            _ => Err(ServiceError::Internal),
        }
    }

    /// Announces this node as a provider of `key` (and keeps re-announcing it
    /// before expiry). Returns how many peers stored the announcement.
    pub async fn provide(&self, key: Key) -> Result<usize, ServiceError> {
        match self.query(Op::Provide(key)).await? {
            QueryResult::AddProvider { stored } => Ok(stored),
            _ => Err(ServiceError::Internal),
        }
    }

    /// Stops re-announcing `key` (records held elsewhere then expire).
    pub async fn stop_providing(&self, key: Key) -> Result<(), ServiceError> {
        self.ask(|reply| Command::StopProviding { key, reply })
            .await
    }

    /// Providers of `key` found in the network (and held locally).
    pub async fn get_providers(&self, key: Key) -> Result<Vec<PeerInfo>, ServiceError> {
        match self.query(Op::GetProviders(key)).await? {
            QueryResult::GetProviders { providers } => Ok(providers),
            _ => Err(ServiceError::Internal),
        }
    }

    /// Stores a signed record locally and on the k closest peers (and keeps
    /// re-putting it until it expires). Returns how many peers stored it.
    pub async fn put_record(&self, record: SignedRecord) -> Result<usize, ServiceError> {
        match self.query(Op::PutRecord(Box::new(record))).await? {
            QueryResult::PutRecord { stored } => Ok(stored),
            _ => Err(ServiceError::Internal),
        }
    }

    /// The valid record with the highest sequence number found under `key`.
    pub async fn get_record(&self, key: Key) -> Result<Option<SignedRecord>, ServiceError> {
        match self.query(Op::GetRecord(key)).await? {
            QueryResult::GetRecord { record } => Ok(record),
            _ => Err(ServiceError::Internal),
        }
    }

    /// The routing table, by bucket.
    pub async fn table(&self) -> Result<Vec<TableEntry>, ServiceError> {
        self.ask(|reply| Command::Table { reply }).await
    }

    /// Counters and gauges.
    pub async fn stats(&self) -> Result<DhtStats, ServiceError> {
        self.ask(|reply| Command::Stats { reply }).await
    }
}

fn peer_info(node: NodeId, mut addrs: Vec<SocketAddr>) -> PeerInfo {
    addrs.truncate(MAX_ADDRS_PER_PEER);
    PeerInfo {
        id: key_of(&node),
        addrs,
    }
}
