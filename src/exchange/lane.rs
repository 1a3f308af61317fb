//! Fetch lanes: one long-lived `blocks/1` stream per peer, carrying
//! pipelined want-lists.
//!
//! Opening a stream per block request costs a stream open and its own key
//! set-up, and a request that waits for its answer before the next is sent
//! leaves the peer idle for a round trip per block. A lane keeps one stream
//! per peer open and lets up to `depth` wants be outstanding on it: requests
//! that arrive together leave as one `want` frame, the peer answers them in
//! order, and the next wants are already on their way while blocks arrive.
//! The wire is unchanged (`blocks/1` always allowed several ids in flight).
//!
//! A lane is a task owning the stream and its sans-io [`Session`], so every
//! block is still hashed against its id before a requester sees it; a
//! requester talks to it through a bounded queue and gets its answer on a
//! oneshot. What the lane itself decides:
//! - a peer that makes no progress for `timeout` while wants are outstanding
//!   is stalled: one minor offence, its connection closed (a retry dials
//!   afresh), every outstanding want failed with [`LaneFail::Timeout`];
//! - a broken stream or protocol fails every outstanding want, and the lane
//!   ends (the next request opens a new one);
//! - a lane with nothing to do for `idle` closes, so idle peers do not hold
//!   a serving slot on the other side;
//! - a requester that gives up (its fetch was cancelled) only drops its
//!   oneshot: the block that still arrives is dropped, the lane goes on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_transport::{NodeId, Stream};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::session::{Event, Session, SessionError};
use super::wire::{PROTOCOL, WantMode};
use crate::net::{ConnPool, PeerPolicy, PoolError, Severity};
use crate::store::BlockId;

/// Wants outstanding on one lane by default.
pub const DEFAULT_DEPTH: usize = 16;
/// How long an unused lane stays open.
pub const IDLE: Duration = Duration::from_secs(30);
/// Requests that may wait for a lane to take them.
const QUEUE: usize = 64;
/// Largest read from the stream at once.
const READ_BUF: usize = 256 * 1024;

/// What one want gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The block, verified against its id.
    Got(Vec<u8>),
    /// The peer does not have it.
    DontHave,
    /// The peer sent bytes that do not hash to the id.
    Tampered,
}

/// Why a lane could not answer a want.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LaneFail {
    #[error("no address known for the peer")]
    NoAddress,
    #[error("cannot open a stream: {0}")]
    Open(String),
    #[error("the peer made no progress in time")]
    Timeout,
    #[error("stream: {0}")]
    Io(String),
    #[error("protocol: {0}")]
    Protocol(SessionError),
    #[error("the peer reported an error: {0}")]
    Peer(String),
    /// The lane ended before the want was sent; a new lane may serve it.
    #[error("the lane closed before the request was sent")]
    Gone,
}

type Reply = oneshot::Sender<Result<Answer, LaneFail>>;

struct Request {
    id: BlockId,
    reply: Reply,
}

/// Settings of the lanes.
#[derive(Debug, Clone, Copy)]
pub struct LaneConfig {
    /// Wants outstanding per peer.
    pub depth: usize,
    /// No progress for this long with wants outstanding: the peer stalled.
    pub timeout: Duration,
    /// Unused this long: the lane closes.
    pub idle: Duration,
}

struct Entry {
    generation: u64,
    tx: mpsc::Sender<Request>,
}

/// The lanes of one node, by peer. Cheap to clone.
#[derive(Clone)]
pub struct Lanes {
    inner: Arc<Inner>,
}

struct Inner {
    pool: ConnPool,
    policy: Arc<dyn PeerPolicy>,
    cfg: LaneConfig,
    cancel: CancellationToken,
    lanes: Mutex<HashMap<NodeId, Entry>>,
    generation: AtomicU64,
}

impl Lanes {
    pub fn new(
        pool: ConnPool,
        policy: Arc<dyn PeerPolicy>,
        cfg: LaneConfig,
        cancel: CancellationToken,
    ) -> Lanes {
        Lanes {
            inner: Arc::new(Inner {
                pool,
                policy,
                cfg: LaneConfig {
                    depth: cfg.depth.clamp(1, super::session::MAX_OUTSTANDING),
                    ..cfg
                },
                cancel,
                lanes: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// Lanes open now.
    pub fn open(&self) -> usize {
        self.inner.lanes.lock().len()
    }

    /// Ask `peer` for `id` on its lane (opened on `addrs` when there is
    /// none). Cancel-safe: dropping the future only drops the answer.
    pub async fn want(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        id: BlockId,
    ) -> Result<Answer, LaneFail> {
        // A lane that ends between our lookup and our request answers
        // `Gone`: one more try on a fresh lane.
        for _ in 0..2 {
            let tx = self.sender(peer, addrs);
            let (reply, answer) = oneshot::channel();
            if tx.send(Request { id, reply }).await.is_err() {
                self.forget(peer, &tx);
                continue;
            }
            match answer.await {
                Ok(Err(LaneFail::Gone)) | Err(_) => {
                    self.forget(peer, &tx);
                    continue;
                }
                Ok(r) => return r,
            }
        }
        Err(LaneFail::Gone)
    }

    /// Drop the map's entry for `peer` if it is still `tx`'s lane.
    fn forget(&self, peer: NodeId, tx: &mpsc::Sender<Request>) {
        let mut lanes = self.inner.lanes.lock();
        if lanes.get(&peer).is_some_and(|e| e.tx.same_channel(tx)) {
            lanes.remove(&peer);
        }
    }

    /// The queue of `peer`'s lane, starting the lane if there is none.
    fn sender(&self, peer: NodeId, addrs: &[SocketAddr]) -> mpsc::Sender<Request> {
        let mut lanes = self.inner.lanes.lock();
        if let Some(e) = lanes.get(&peer)
            && !e.tx.is_closed()
        {
            return e.tx.clone();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        lanes.insert(
            peer,
            Entry {
                generation,
                tx: tx.clone(),
            },
        );
        let lanes = self.clone();
        let addrs = addrs.to_vec();
        tokio::spawn(async move {
            lanes.run(peer, addrs, rx).await;
            let mut map = lanes.inner.lanes.lock();
            if map.get(&peer).is_some_and(|e| e.generation == generation) {
                map.remove(&peer);
            }
        });
        tx
    }

    async fn run(&self, peer: NodeId, addrs: Vec<SocketAddr>, mut rx: mpsc::Receiver<Request>) {
        let inner = &self.inner;
        let opened = tokio::select! {
            _ = inner.cancel.cancelled() => None,
            r = tokio::time::timeout(
                inner.cfg.timeout,
                inner.pool.open_stream(peer, &addrs, PROTOCOL),
            ) => Some(r),
        };
        let stream = match opened {
            Some(Ok(Ok((_, s)))) => s,
            other => {
                let fail = match other {
                    Some(Ok(Err(PoolError::NoAddress(_)))) => LaneFail::NoAddress,
                    Some(Ok(Err(e))) => LaneFail::Open(e.to_string()),
                    Some(Err(_)) => LaneFail::Timeout,
                    _ => LaneFail::Gone,
                };
                debug!(%peer, error = %fail, "cannot open a fetch lane");
                // Whoever queued before the failure gets it; later comers
                // find the queue closed and start afresh.
                rx.close();
                while let Ok(r) = rx.try_recv() {
                    let _ = r.reply.send(Err(fail.clone()));
                }
                return;
            }
        };
        let mut lane = Lane {
            stream,
            session: Session::new(),
            waiting: HashMap::new(),
        };
        let end = lane.pump(inner, peer, &mut rx).await;
        if end == LaneFail::Timeout {
            debug!(%peer, "fetch lane stalled; closing the connection");
            inner
                .policy
                .offence(&peer, Severity::Minor, "block request timed out");
            inner.pool.disconnect(&peer);
        } else {
            debug!(%peer, reason = %end, "fetch lane closed");
        }
        for (_, replies) in lane.waiting.drain() {
            for r in replies {
                let _ = r.send(Err(end.clone()));
            }
        }
        rx.close();
        while let Ok(r) = rx.try_recv() {
            let _ = r.reply.send(Err(LaneFail::Gone));
        }
        let _ = lane.stream.shutdown().await;
    }
}

/// One open lane's state.
struct Lane {
    stream: Stream,
    session: Session,
    /// Wants sent and not yet answered, with who waits for each.
    waiting: HashMap<BlockId, Vec<Reply>>,
}

impl Lane {
    /// Move requests and answers until the lane must end; returns why
    /// (what the outstanding wants are failed with).
    async fn pump(
        &mut self,
        inner: &Inner,
        peer: NodeId,
        rx: &mut mpsc::Receiver<Request>,
    ) -> LaneFail {
        let cfg = inner.cfg;
        let mut progress = Instant::now();
        let mut queue_open = true;
        loop {
            let room = self.waiting.len() < cfg.depth;
            let busy = !self.waiting.is_empty();
            if !queue_open && !busy {
                return LaneFail::Gone;
            }
            let deadline = progress + if busy { cfg.timeout } else { cfg.idle };
            tokio::select! {
                _ = inner.cancel.cancelled() => return LaneFail::Gone,
                _ = tokio::time::sleep_until(deadline) => {
                    return if busy { LaneFail::Timeout } else { LaneFail::Gone };
                }
                r = rx.recv(), if room && queue_open => match r {
                    None => queue_open = false,
                    Some(first) => {
                        if !busy {
                            // The stall clock starts with the first want.
                            progress = Instant::now();
                        }
                        if let Err(e) = self.send_wants(first, rx, cfg.depth).await {
                            return e;
                        }
                    }
                },
                n = self.stream.read(self.session.read_buf(READ_BUF)) => match n {
                    Ok(0) => return LaneFail::Io("the peer closed the stream".into()),
                    Err(e) => return LaneFail::Io(e.to_string()),
                    Ok(n) => {
                        progress = Instant::now();
                        match self.session.received(n) {
                            Ok(events) => {
                                for ev in events {
                                    if let Some(end) = self.on_event(peer, ev) {
                                        return end;
                                    }
                                }
                            }
                            Err(e) => return LaneFail::Protocol(e),
                        }
                    }
                },
            }
        }
    }

    /// Send `first` and whatever else is queued (up to the depth) as one
    /// want frame; a want for a block already outstanding only joins it.
    async fn send_wants(
        &mut self,
        first: Request,
        rx: &mut mpsc::Receiver<Request>,
        depth: usize,
    ) -> Result<(), LaneFail> {
        let mut ids = Vec::new();
        let mut next = Some(first);
        while let Some(r) = next.take() {
            if r.reply.is_closed() {
                // Its requester gave up before the want left.
            } else if let Some(w) = self.waiting.get_mut(&r.id) {
                w.push(r.reply);
            } else {
                ids.push(r.id);
                self.waiting.insert(r.id, vec![r.reply]);
            }
            if self.waiting.len() < depth {
                next = rx.try_recv().ok();
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let frame = self
            .session
            .want(WantMode::Block, &ids)
            .map_err(LaneFail::Protocol)?;
        let io = |e: std::io::Error| LaneFail::Io(e.to_string());
        self.stream.write_all(&frame).await.map_err(io)?;
        self.stream.flush().await.map_err(io)
    }

    /// Hand an answer to its requesters; `Some` ends the lane.
    fn on_event(&mut self, peer: NodeId, ev: Event) -> Option<LaneFail> {
        let (id, answer) = match ev {
            Event::Block { id, bytes } => (id, Answer::Got(bytes)),
            Event::Tampered { id } => (id, Answer::Tampered),
            Event::DontHave { id } => (id, Answer::DontHave),
            Event::PeerError { message, .. } => return Some(LaneFail::Peer(message)),
            // This side asks nothing else on a lane, and serves nothing on
            // it either: a want or put here is the peer's mistake, ignored
            // as the one-shot fetch always did.
            other => {
                debug!(%peer, event = ?std::mem::discriminant(&other), "ignored on a fetch lane");
                return None;
            }
        };
        if let Some(mut replies) = self.waiting.remove(&id)
            && let Some(last) = replies.pop()
        {
            for r in replies {
                let _ = r.send(Ok(answer.clone()));
            }
            let _ = last.send(Ok(answer));
        }
        None
    }
}
