//! The exchange service: one task owning the shared state, streams served
//! by short tasks, and a cheap handle for the rest of the node.
//!
//! The owner task holds what every transfer touches (the token buckets,
//! per-peer byte counts, transfers in flight) and answers commands from a
//! bounded inbox, so no lock is shared between transfers; it also takes
//! `blocks/1` streams from the Router's inbox and spawns one task per stream
//! (capped by a semaphore; over the cap the peer is told `busy`). Stream
//! tasks speak through a sans-io [`Session`]; the store is only touched on
//! blocking threads. Fetching tries the candidates given, then the
//! providers, moving on after a `dont-have`, a failure, or a tampered block
//! (which is reported to the policy as a proven offence).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_transport::{Connection, NodeId, Stream};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::filter::HostFilter;
use super::lane::{Answer, LaneConfig, LaneFail, Lanes};
use super::limit::{Direction, Limiter, Limits};
use super::providers::{Candidates, Providers};
use super::session::{Event, Session, SessionError};
use super::wire::{ErrorCode, MAX_BLOCK, Message, PROTOCOL, RefusalCode, WantMode, WireError};
use crate::net::{ConnPool, PeerPolicy, PoolError, Right, Severity};
use crate::store::manifest::ChunkRef;
use crate::store::{BlockId, Class, Store, StoreError};

/// Depth of the owner task's command inbox.
const COMMAND_DEPTH: usize = 1024;
/// Depth of the Router's `blocks/1` inbox.
pub const STREAM_INBOX: usize = 256;
/// Largest read from a stream at once.
const READ_CHUNK: usize = 1 << 20;

/// A stream the Router hands over, with its connection.
pub type Inbound = (Connection, Stream);

/// Settings of the exchange.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// Bandwidth limits at start (changeable with `set_limits`).
    pub limits: Limits,
    /// Largest block this node accepts to host (host filter).
    pub max_block: usize,
    /// Inbound streams served at once.
    pub max_inbound: usize,
    /// How long one request to one peer may take before the next is tried.
    pub request_timeout: Duration,
    /// Whether the owner keeps a copy of the shards it places on peers.
    pub keep_local: bool,
    /// Block wants outstanding at once on one peer's fetch lane.
    pub fetch_depth: usize,
    /// Where the ids of blocks this node agreed to host go, so the node can
    /// announce itself as their provider (dropped when the channel is full:
    /// the node re-announces every hosted block at start).
    pub hosted: Option<mpsc::Sender<BlockId>>,
    /// What this node refuses to keep of public (plaintext) shares.
    pub public_filter: HostFilter,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            limits: Limits::default(),
            max_block: MAX_BLOCK,
            max_inbound: 256,
            request_timeout: Duration::from_secs(30),
            keep_local: false,
            fetch_depth: super::lane::DEFAULT_DEPTH,
            hosted: None,
            public_filter: HostFilter::default(),
        }
    }
}

/// Why an exchange operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    #[error("no reachable peer supplied block {0}")]
    NotFound(BlockId),
    #[error("{peer} refused to store block {id}: {code} ({reason})")]
    Refused {
        peer: NodeId,
        id: BlockId,
        code: RefusalCode,
        reason: String,
    },
    #[error("block of {0} bytes is larger than a block may be")]
    TooLarge(usize),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("{peer} broke the protocol: {source}")]
    Protocol { peer: NodeId, source: SessionError },
    #[error("{peer} reported an error: {message}")]
    Peer { peer: NodeId, message: String },
    #[error("{0} did not answer in time")]
    Timeout(NodeId),
    #[error("the exchange has stopped")]
    Closed,
}

/// Bytes moved with one peer.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PeerTraffic {
    pub peer: String,
    pub up: u64,
    pub down: u64,
}

/// What `stats()` reports.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct ExchangeStats {
    pub peers: Vec<PeerTraffic>,
    pub up: u64,
    pub down: u64,
    pub in_flight: u64,
    pub limits: Limits,
}

enum Command {
    Reserve {
        peer: NodeId,
        dir: Direction,
        bytes: u64,
        reply: oneshot::Sender<Duration>,
    },
    SetLimits(Limits),
    Stats(oneshot::Sender<ExchangeStats>),
    Begin,
    End,
}

/// The state only the owner task touches.
struct Owner {
    started: Instant,
    limiter: Limiter,
    traffic: HashMap<NodeId, (u64, u64)>,
    in_flight: u64,
}

impl Owner {
    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Reserve {
                peer,
                dir,
                bytes,
                reply,
            } => {
                let now = self.started.elapsed();
                let wait = self.limiter.reserve(now, peer, dir, bytes);
                let t = self.traffic.entry(peer).or_default();
                match dir {
                    Direction::Up => t.0 += bytes,
                    Direction::Down => t.1 += bytes,
                }
                let _ = reply.send(wait);
            }
            Command::SetLimits(l) => {
                let now = self.started.elapsed();
                self.limiter.set_limits(l, now);
            }
            Command::Stats(reply) => {
                let mut peers: Vec<PeerTraffic> = self
                    .traffic
                    .iter()
                    .map(|(p, (u, d))| PeerTraffic {
                        peer: p.to_string(),
                        up: *u,
                        down: *d,
                    })
                    .collect();
                peers.sort_by(|a, b| a.peer.cmp(&b.peer));
                let _ = reply.send(ExchangeStats {
                    up: peers.iter().map(|p| p.up).sum(),
                    down: peers.iter().map(|p| p.down).sum(),
                    peers,
                    in_flight: self.in_flight,
                    limits: self.limiter.limits(),
                });
            }
            Command::Begin => self.in_flight += 1,
            Command::End => self.in_flight = self.in_flight.saturating_sub(1),
        }
    }
}

struct Shared {
    pool: ConnPool,
    store: Store,
    policy: Arc<dyn PeerPolicy>,
    providers: Arc<dyn Providers>,
    cfg: ExchangeConfig,
    cancel: CancellationToken,
    lanes: Lanes,
}

/// The exchange, as the rest of the node sees it. Cheap to clone.
#[derive(Clone)]
pub struct ExchangeHandle {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ExchangeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeHandle").finish_non_exhaustive()
    }
}

/// The Router's inbox for `blocks/1`: route [`PROTOCOL`] to the sender and
/// give the receiver to [`spawn`].
pub fn inbox() -> (mpsc::Sender<Inbound>, mpsc::Receiver<Inbound>) {
    mpsc::channel(STREAM_INBOX)
}

/// Start the exchange: serve `streams` (from the Router) until `cancel`.
pub fn spawn(
    pool: ConnPool,
    store: Store,
    policy: Arc<dyn PeerPolicy>,
    providers: Arc<dyn Providers>,
    cfg: ExchangeConfig,
    mut streams: mpsc::Receiver<(Connection, Stream)>,
    cancel: CancellationToken,
) -> ExchangeHandle {
    let (tx, mut rx) = mpsc::channel(COMMAND_DEPTH);
    let started = Instant::now();
    let mut owner = Owner {
        started,
        limiter: Limiter::new(cfg.limits, Duration::ZERO),
        traffic: HashMap::new(),
        in_flight: 0,
    };
    let gate = Arc::new(Semaphore::new(cfg.max_inbound.max(1)));
    let handle = ExchangeHandle {
        tx,
        shared: Arc::new(Shared {
            lanes: Lanes::new(
                pool.clone(),
                policy.clone(),
                LaneConfig {
                    depth: cfg.fetch_depth,
                    timeout: cfg.request_timeout,
                    idle: super::lane::IDLE,
                },
                cancel.clone(),
            ),
            pool,
            store,
            policy,
            providers,
            cfg,
            cancel: cancel.clone(),
        }),
    };
    // The owner task runs until `cancel`; streams are served with clones of
    // the handle.
    let server = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                cmd = rx.recv() => match cmd {
                    Some(c) => owner.handle(c),
                    None => break,
                },
                s = streams.recv() => match s {
                    Some((conn, stream)) => {
                        let h = server.clone();
                        match gate.clone().try_acquire_owned() {
                            Ok(permit) => {
                                tokio::spawn(async move {
                                    h.serve(conn, stream).await;
                                    drop(permit);
                                });
                            }
                            Err(_) => {
                                tokio::spawn(async move { refuse_busy(stream).await });
                            }
                        }
                    }
                    None => {
                        // The router is gone: keep answering commands.
                        while let Some(c) = tokio::select! {
                            _ = cancel.cancelled() => None,
                            c = rx.recv() => c,
                        } {
                            owner.handle(c);
                        }
                        break;
                    }
                },
            }
        }
    });
    handle
}

async fn refuse_busy(mut stream: Stream) {
    let m = Message::Error {
        code: ErrorCode::Busy,
        message: "too many streams".into(),
    };
    let _ = stream.write_all(&m.encode()).await;
    let _ = stream.shutdown().await;
}

/// Write one message: its head, then the block it carries straight from
/// where it lies, without first joining them in a buffer of ours (the
/// stream gathers both into its frames; the caller flushes).
async fn write_message(stream: &mut Stream, m: &Message) -> std::io::Result<()> {
    let (head, body) = m.encode_parts();
    stream.write_all(&head).await?;
    if !body.is_empty() {
        stream.write_all(body).await?;
    }
    Ok(())
}

/// Read until the session yields events (or the stream ends).
async fn recv(
    stream: &mut Stream,
    session: &mut Session,
) -> Result<Option<Vec<Event>>, ExchangeErrorKind> {
    loop {
        let need = session
            .need()
            .map_err(ExchangeErrorKind::Session)?
            .clamp(1, READ_CHUNK);
        let n = stream
            .read(session.read_buf(need))
            .await
            .map_err(ExchangeErrorKind::Io)?;
        if n == 0 {
            return Ok(None);
        }
        let ev = session.received(n).map_err(ExchangeErrorKind::Session)?;
        if !ev.is_empty() {
            return Ok(Some(ev));
        }
    }
}

enum ExchangeErrorKind {
    Session(SessionError),
    Io(std::io::Error),
}

impl ExchangeErrorKind {
    fn with_peer(self, peer: NodeId) -> ExchangeError {
        match self {
            ExchangeErrorKind::Session(source) => ExchangeError::Protocol { peer, source },
            ExchangeErrorKind::Io(e) => ExchangeError::Io(e),
        }
    }
}

/// What one attempt at one peer gave.
enum Attempt {
    Got(Vec<u8>),
    /// The peer does not have it (or may not give it).
    No,
    /// The peer sent a block that does not match the id.
    Tampered,
}

impl ExchangeHandle {
    async fn command(&self, c: Command) -> Result<(), ExchangeError> {
        self.tx.send(c).await.map_err(|_| ExchangeError::Closed)
    }

    /// Account `bytes` with `peer` and wait as long as the limits say.
    async fn throttle(&self, peer: NodeId, dir: Direction, bytes: u64) {
        let (reply, wait) = oneshot::channel();
        if self
            .command(Command::Reserve {
                peer,
                dir,
                bytes,
                reply,
            })
            .await
            .is_err()
        {
            return;
        }
        if let Ok(d) = wait.await
            && !d.is_zero()
        {
            tokio::time::sleep(d).await;
        }
    }

    /// Change the bandwidth limits now.
    pub async fn set_limits(&self, limits: Limits) -> Result<(), ExchangeError> {
        self.command(Command::SetLimits(limits)).await
    }

    /// Bytes up and down per peer, transfers in flight, the limits.
    pub async fn stats(&self) -> Result<ExchangeStats, ExchangeError> {
        let (reply, rx) = oneshot::channel();
        self.command(Command::Stats(reply)).await?;
        rx.await.map_err(|_| ExchangeError::Closed)
    }

    /// The store this exchange serves from.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The pool it talks through.
    pub fn pool(&self) -> &ConnPool {
        &self.shared.pool
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ExchangeConfig {
        &self.shared.cfg
    }

    /// The policy it asks.
    pub fn policy(&self) -> &Arc<dyn PeerPolicy> {
        &self.shared.policy
    }

    // ---- serving ----

    async fn serve(&self, conn: Connection, mut stream: Stream) {
        let peer = conn.remote_node_id();
        let _ = self.command(Command::Begin).await;
        let res = self.serve_inner(peer, &mut stream).await;
        let _ = self.command(Command::End).await;
        if let Err(e) = res {
            debug!(%peer, error = %e, "blocks/1 stream ended");
        }
        let _ = stream.shutdown().await;
    }

    async fn serve_inner(&self, peer: NodeId, stream: &mut Stream) -> Result<(), ExchangeError> {
        let mut session = Session::new();
        loop {
            let events = tokio::select! {
                _ = self.shared.cancel.cancelled() => return Ok(()),
                r = recv(stream, &mut session) => r,
            };
            let events = match events {
                Ok(Some(ev)) => ev,
                Ok(None) => return Ok(()),
                Err(ExchangeErrorKind::Session(e)) => {
                    // A message type this node does not know may be a newer
                    // node's (as `PutPublic` once was): refused, not punished.
                    let severity = match e {
                        SessionError::Wire(WireError::UnknownType(_)) => Severity::Minor,
                        _ => Severity::Proven,
                    };
                    self.shared
                        .policy
                        .offence(&peer, severity, "malformed blocks/1 message");
                    let m = Message::Error {
                        code: ErrorCode::Protocol,
                        message: e.to_string(),
                    };
                    let _ = stream.write_all(&m.encode()).await;
                    return Err(ExchangeError::Protocol { peer, source: e });
                }
                Err(ExchangeErrorKind::Io(e)) => return Err(e.into()),
            };
            for ev in events {
                match ev {
                    Event::Wanted { mode, ids } => {
                        if !self.shared.policy.allows(&peer, Right::Fetch) {
                            let m = Message::Error {
                                code: ErrorCode::NotAllowed,
                                message: "no fetch right on this node".into(),
                            };
                            stream.write_all(&m.encode()).await?;
                            return Ok(());
                        }
                        self.answer_wants(peer, mode, ids, stream).await?;
                    }
                    Event::Put { id, bytes } => {
                        let m = self.accept_put(peer, id, bytes).await;
                        stream.write_all(&m.encode()).await?;
                        stream.flush().await?;
                    }
                    Event::PutPublic {
                        id,
                        leading,
                        name,
                        bytes,
                    } => {
                        let m = self
                            .accept_public_put(peer, id, &name, leading, bytes)
                            .await;
                        stream.write_all(&m.encode()).await?;
                        stream.flush().await?;
                    }
                    Event::BadPut { id } => {
                        self.shared.policy.offence(
                            &peer,
                            Severity::Proven,
                            "put bytes that do not match their id",
                        );
                        let m = Message::PutRefused {
                            id,
                            code: RefusalCode::WrongId,
                            reason: "the bytes do not hash to the id".into(),
                        };
                        stream.write_all(&m.encode()).await?;
                        stream.flush().await?;
                    }
                    Event::PeerError { message, .. } => {
                        return Err(ExchangeError::Peer { peer, message });
                    }
                    // Answers to requests this side never made cannot get
                    // here: the session refuses them.
                    _ => {}
                }
            }
        }
    }

    /// Answer a want-list in order, each block sent as soon as it is read;
    /// the next block is read from the store while this one is written, so
    /// a pipelining peer keeps both the disk and the stream busy.
    async fn answer_wants(
        &self,
        peer: NodeId,
        mode: WantMode,
        ids: Vec<BlockId>,
        stream: &mut Stream,
    ) -> Result<(), ExchangeError> {
        let mut ids = ids.into_iter();
        let mut next = ids.next().map(|id| (id, self.look_up(mode, id)));
        while let Some((id, lookup)) = next.take() {
            let got = lookup
                .await
                .unwrap_or_else(|e| Err(StoreError::Db(e.to_string())));
            next = ids.next().map(|id| (id, self.look_up(mode, id)));
            let m = self.answer_want(peer, mode, id, got).await;
            write_message(stream, &m).await?;
            stream.flush().await?;
        }
        Ok(())
    }

    /// Read (or, for `have`, locate) a wanted block on a blocking thread.
    fn look_up(
        &self,
        mode: WantMode,
        id: BlockId,
    ) -> tokio::task::JoinHandle<Result<Option<Vec<u8>>, StoreError>> {
        let store = self.shared.store.clone();
        match mode {
            WantMode::Have => tokio::task::spawn_blocking(move || {
                store.location(&id).map(|l| l.map(|_| Vec::new()))
            }),
            WantMode::Block => tokio::task::spawn_blocking(move || {
                // Only a cache block counts its reads, which takes a write
                // transaction (a commit); any other block is a plain read.
                let read = match store.location(&id)? {
                    None => return Ok(None),
                    Some(l) if l.class == Class::Cache => store.get_block(&id),
                    Some(_) => store.read_block(&id),
                };
                match read {
                    Ok(b) => Ok(Some(b)),
                    Err(StoreError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                }
            }),
        }
    }

    async fn answer_want(
        &self,
        peer: NodeId,
        mode: WantMode,
        id: BlockId,
        got: Result<Option<Vec<u8>>, StoreError>,
    ) -> Message {
        match got {
            Ok(Some(bytes)) => match mode {
                WantMode::Have => Message::Have { id },
                WantMode::Block => {
                    self.throttle(peer, Direction::Up, bytes.len() as u64).await;
                    Message::Block { id, bytes }
                }
            },
            Ok(None) => Message::DontHave { id },
            Err(e) => {
                warn!(block = %id, error = %e, "cannot serve block");
                Message::DontHave { id }
            }
        }
    }

    /// A put of a public share's block: the type filter first (the rights
    /// check comes before it, so a peer without the right learns only that).
    async fn accept_public_put(
        &self,
        peer: NodeId,
        id: BlockId,
        name: &str,
        leading: bool,
        bytes: Vec<u8>,
    ) -> Message {
        if self.shared.policy.allows(&peer, Right::Store)
            && let Err(refusal) = self
                .shared
                .cfg
                .public_filter
                .check(name, leading.then_some(bytes.as_slice()))
        {
            debug!(%peer, block = %id, %refusal, "public block refused by the host filter");
            return Message::PutRefused {
                id,
                code: RefusalCode::TypeRefused,
                reason: refusal.to_string(),
            };
        }
        self.accept_put(peer, id, bytes).await
    }

    async fn accept_put(&self, peer: NodeId, id: BlockId, bytes: Vec<u8>) -> Message {
        let refuse = |code: RefusalCode, reason: String| Message::PutRefused { id, code, reason };
        if !self.shared.policy.allows(&peer, Right::Store) {
            return refuse(
                RefusalCode::NotAllowed,
                "this node does not store blocks for you".into(),
            );
        }
        if bytes.len() > self.shared.cfg.max_block {
            return refuse(
                RefusalCode::TooLarge,
                format!(
                    "block of {} bytes; this node hosts blocks of at most {}",
                    bytes.len(),
                    self.shared.cfg.max_block
                ),
            );
        }
        self.throttle(peer, Direction::Down, bytes.len() as u64)
            .await;
        let store = self.shared.store.clone();
        let len = bytes.len() as u64;
        let res = tokio::task::spawn_blocking(move || {
            let quota = store.config().quota_hosted;
            if quota != 0 && store.location(&id)?.is_none() {
                let used = store.used(Class::Hosted)?;
                if used + len > quota {
                    return Err(StoreError::Quota {
                        class: Class::Hosted,
                        used,
                        needed: len,
                        quota,
                    });
                }
            }
            store.put_block(Class::Hosted, &bytes)
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::Db(e.to_string())));
        match res {
            Ok(_) => {
                if let Some(tx) = &self.shared.cfg.hosted {
                    let _ = tx.try_send(id);
                }
                Message::PutAck { id }
            }
            Err(StoreError::Quota { used, quota, .. }) => refuse(
                RefusalCode::NoSpace,
                format!(
                    "this node lends {quota} bytes and {used} are in use; {len} more do not fit"
                ),
            ),
            Err(StoreError::NoSpace(e)) => refuse(RefusalCode::NoSpace, e),
            Err(e) => refuse(RefusalCode::Failed, e.to_string()),
        }
    }

    // ---- fetching ----

    /// One request for `id` to `peer`, on its fetch lane.
    async fn fetch_from(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        id: BlockId,
    ) -> Result<Attempt, ExchangeError> {
        match self.shared.lanes.want(peer, addrs, id).await {
            Ok(Answer::Got(bytes)) => {
                self.throttle(peer, Direction::Down, bytes.len() as u64)
                    .await;
                Ok(Attempt::Got(bytes))
            }
            Ok(Answer::Tampered) => Ok(Attempt::Tampered),
            Ok(Answer::DontHave) => Ok(Attempt::No),
            Err(LaneFail::NoAddress) => Err(PoolError::NoAddress(peer).into()),
            Err(LaneFail::Timeout) => Err(ExchangeError::Timeout(peer)),
            Err(LaneFail::Protocol(source)) => Err(ExchangeError::Protocol { peer, source }),
            Err(LaneFail::Peer(message)) => Err(ExchangeError::Peer { peer, message }),
            Err(e) => Err(ExchangeError::Io(std::io::Error::other(e.to_string()))),
        }
    }

    /// Fetch lanes open now (one per peer being fetched from).
    pub fn open_lanes(&self) -> usize {
        self.shared.lanes.open()
    }

    /// Try each candidate in turn (then the providers) until one supplies
    /// `id` with the right bytes; `skip` peers are not asked.
    async fn fetch_skipping(
        &self,
        id: BlockId,
        candidates: Candidates,
        skip: &HashSet<NodeId>,
    ) -> Result<(NodeId, Vec<u8>), ExchangeError> {
        let _ = self.command(Command::Begin).await;
        let res = self.fetch_loop(id, candidates, skip).await;
        let _ = self.command(Command::End).await;
        res
    }

    async fn fetch_loop(
        &self,
        id: BlockId,
        candidates: Candidates,
        skip: &HashSet<NodeId>,
    ) -> Result<(NodeId, Vec<u8>), ExchangeError> {
        let local = self.shared.pool.local_id();
        let mut tried: HashSet<NodeId> = skip.clone();
        tried.insert(local);
        let mut asked_providers = false;
        let mut queue: std::collections::VecDeque<(NodeId, Vec<SocketAddr>)> = candidates.into();
        loop {
            let Some((peer, addrs)) = queue.pop_front() else {
                if asked_providers {
                    return Err(ExchangeError::NotFound(id));
                }
                asked_providers = true;
                queue.extend(self.shared.providers.providers(id).await);
                continue;
            };
            if !tried.insert(peer) || self.shared.policy.is_banned(&peer) {
                continue;
            }
            let addrs = if addrs.is_empty() && self.shared.pool.get(&peer).is_none() {
                let found = self.shared.providers.addresses(peer).await;
                if found.is_empty() {
                    debug!(%peer, block = %id, "no address known for a holder");
                }
                found
            } else {
                addrs
            };
            // The lane closes a stalled peer itself (one offence for all
            // the wants it had outstanding); this bound only guards a
            // request that waits behind a throttled or slow queue.
            let attempt = tokio::time::timeout(
                self.shared.cfg.request_timeout * 4,
                self.fetch_from(peer, &addrs, id),
            )
            .await;
            match attempt {
                Ok(Ok(Attempt::Got(b))) => return Ok((peer, b)),
                Ok(Ok(Attempt::Tampered)) => {
                    warn!(%peer, block = %id, "peer sent a block that does not match its id");
                    self.shared.policy.offence(
                        &peer,
                        Severity::Proven,
                        "sent a block that does not match its id",
                    );
                }
                Ok(Ok(Attempt::No)) => debug!(%peer, block = %id, "peer does not have the block"),
                Ok(Err(ExchangeError::Pool(PoolError::NoAddress(_)))) => {
                    // Not reached at all: a provider may name its address.
                    tried.remove(&peer);
                }
                Ok(Err(ExchangeError::Timeout(_))) => {
                    debug!(%peer, block = %id, "peer stalled; its lane was closed");
                }
                Ok(Err(e)) => debug!(%peer, block = %id, error = %e, "fetch failed"),
                Err(_) => {
                    debug!(%peer, block = %id, "fetch timed out");
                    // A connection that let a request stall this long is
                    // not trusted with the next one: it is closed, so a
                    // retry dials afresh.
                    self.shared.pool.disconnect(&peer);
                    self.shared
                        .policy
                        .offence(&peer, Severity::Minor, "block request timed out");
                }
            }
        }
    }

    /// A block from the first of `candidates` (then the providers) that
    /// supplies it, verified against its id.
    pub async fn fetch(
        &self,
        id: BlockId,
        candidates: Candidates,
    ) -> Result<Vec<u8>, ExchangeError> {
        self.fetch_skipping(id, candidates, &HashSet::new())
            .await
            .map(|(_, b)| b)
    }

    /// Fetch `need` of `chunk`'s shards not marked `present`, at once, each
    /// from a different peer (its recorded holders first, then providers);
    /// a shard that cannot be had is replaced by the next one (parity
    /// shards come last). Returns (shard index, verified bytes).
    pub async fn fetch_shards(
        &self,
        chunk: &ChunkRef,
        present: &[bool],
        need: usize,
    ) -> Vec<(usize, Vec<u8>)> {
        let local = *self.shared.pool.local_id().as_bytes();
        let mut order = (0..chunk.shards.len())
            .filter(|&i| !present.get(i).copied().unwrap_or(false))
            .collect::<Vec<_>>()
            .into_iter();
        let mut got = Vec::new();
        let mut failed: Vec<usize> = Vec::new();
        let mut retries = 0;
        let mut retried: HashSet<usize> = HashSet::new();
        let mut running = FuturesUnordered::new();
        // Peers busy with another shard of this chunk are asked last.
        let mut busy: HashSet<NodeId> = HashSet::new();
        let start = |i: usize, busy: &mut HashSet<NodeId>| {
            let shard = &chunk.shards[i];
            let mut holders: Vec<(NodeId, Vec<SocketAddr>)> = shard
                .holders
                .iter()
                .filter(|h| **h != local)
                .map(|h| (NodeId::from_bytes(*h), Vec::new()))
                .collect();
            holders.sort_by_key(|(p, _)| busy.contains(p));
            if let Some((p, _)) = holders.first() {
                busy.insert(*p);
            }
            let id = shard.id;
            let this = self.clone();
            async move { (i, this.fetch(id, holders).await) }
        };
        for _ in 0..need {
            match order.next() {
                Some(i) => running.push(start(i, &mut busy)),
                None => break,
            }
        }
        while let Some((i, res)) = running.next().await {
            match res {
                Ok(b) => got.push((i, b)),
                Err(e) => {
                    debug!(shard = i, error = %e, "shard unavailable; trying another");
                    if !retried.contains(&i) {
                        failed.push(i);
                    }
                    match order.next() {
                        Some(j) => running.push(start(j, &mut busy)),
                        // Every shard was tried and still too few arrived:
                        // ask once more for the ones that failed (a timeout
                        // or a dropped stream is often transient), never
                        // more than once each.
                        None if retries < failed.len() && got.len() + running.len() < need => {
                            let j = failed[retries];
                            retries += 1;
                            retried.insert(j);
                            running.push(start(j, &mut busy));
                        }
                        None => {}
                    }
                }
            }
            if got.len() >= need {
                break;
            }
        }
        got
    }

    /// Ask `peer` to store `bytes` (as `hosted`); returns the block id.
    pub async fn put(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        bytes: &[u8],
    ) -> Result<BlockId, ExchangeError> {
        self.put_bounded(peer, addrs, bytes, None).await
    }

    /// Ask `peer` to store `bytes`, a block of the public share `name`
    /// (`leading`: the bytes begin the file), with a `PutPublic` so the
    /// host's type filter can refuse it ([`RefusalCode::TypeRefused`]).
    pub async fn put_public(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        bytes: &[u8],
        name: &str,
        leading: bool,
    ) -> Result<BlockId, ExchangeError> {
        self.put_bounded(peer, addrs, bytes, Some((name, leading)))
            .await
    }

    /// A put (`public`: the share's name and whether the bytes begin the
    /// file) within the size limit and the request timeout, counted as a
    /// transfer in progress.
    async fn put_bounded(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        bytes: &[u8],
        public: Option<(&str, bool)>,
    ) -> Result<BlockId, ExchangeError> {
        if bytes.len() > MAX_BLOCK {
            return Err(ExchangeError::TooLarge(bytes.len()));
        }
        let _ = self.command(Command::Begin).await;
        let res = tokio::time::timeout(
            self.shared.cfg.request_timeout,
            self.put_inner(peer, addrs, bytes, public),
        )
        .await
        .unwrap_or(Err(ExchangeError::Timeout(peer)));
        let _ = self.command(Command::End).await;
        res
    }

    async fn put_inner(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        bytes: &[u8],
        public: Option<(&str, bool)>,
    ) -> Result<BlockId, ExchangeError> {
        let (_, mut stream) = self.shared.pool.open_stream(peer, addrs, PROTOCOL).await?;
        let mut session = Session::new();
        let framed = match public {
            Some((name, leading)) => session.put_public(bytes, name, leading),
            None => session.put(bytes),
        };
        let (id, f) = framed.map_err(|source| ExchangeError::Protocol { peer, source })?;
        self.throttle(peer, Direction::Up, bytes.len() as u64).await;
        stream.write_all(&f).await?;
        stream.flush().await?;
        let events = recv(&mut stream, &mut session)
            .await
            .map_err(|e| e.with_peer(peer))?;
        let _ = stream.shutdown().await;
        for ev in events.unwrap_or_default() {
            match ev {
                Event::PutAck { .. } => return Ok(id),
                Event::PutRefused { code, reason, .. } => {
                    return Err(ExchangeError::Refused {
                        peer,
                        id,
                        code,
                        reason,
                    });
                }
                Event::PeerError { message, .. } => {
                    return Err(ExchangeError::Peer { peer, message });
                }
                _ => {}
            }
        }
        Err(ExchangeError::Peer {
            peer,
            message: "stream closed without an answer".into(),
        })
    }
}
