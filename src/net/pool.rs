//! One place that owns the node's connections to peers.
//!
//! Every service (the DHT, the block exchange, peer management) needs "a
//! connection to peer X" without caring whether X dialled us or we dialled X,
//! and without two services racing to open two connections to the same peer.
//! The pool keeps the live connections by NodeId, dials on demand (one dial per
//! peer at a time, trying each known address in turn), adopts inbound
//! connections from the accept loops, and serves every connection's incoming
//! streams through the node's [`Router`], so a stream the peer opens reaches
//! its handler whichever side dialled.
//!
//! An admission check (set by peer management) refuses banned peers both ways;
//! connect / disconnect events go out on a broadcast channel for whoever keeps
//! a view of the network (peer book, dashboard snapshot).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_transport::{Connection, ConnectionError, Endpoint, NodeId, Router, Stream, StreamError};
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

/// Decides whether a peer may be connected to (e.g. not banned).
pub type Admission = Arc<dyn Fn(&NodeId) -> bool + Send + Sync>;

/// How many pool events a slow subscriber may fall behind before it lags.
const EVENT_CAPACITY: usize = 256;

/// Something that happened to a peer's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    /// A connection to `peer` became live (`inbound`: the peer dialled us).
    Connected {
        peer: NodeId,
        addr: SocketAddr,
        inbound: bool,
    },
    /// The last live connection to `peer` closed.
    Disconnected { peer: NodeId },
}

/// Why the pool could not reach a peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    #[error("peer {0} is not admitted (banned)")]
    Refused(NodeId),
    #[error("no address known for peer {0}")]
    NoAddress(NodeId),
    #[error("cannot reach peer {peer}: {last}")]
    Unreachable { peer: NodeId, last: ConnectionError },
    #[error("cannot open a stream to {peer}: {source}")]
    Stream { peer: NodeId, source: StreamError },
    #[error("the node is shutting down")]
    Closed,
}

/// The node's connections, by peer. Cheap to clone.
#[derive(Clone)]
pub struct ConnPool {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    router: Router,
    cancel: CancellationToken,
    admission: Mutex<Option<Admission>>,
    /// Live connections per peer, each with the pool's serial number for it
    /// (two may briefly coexist when both sides dial at once).
    conns: Mutex<HashMap<NodeId, Vec<(u64, Connection)>>>,
    /// One dial per peer at a time: later callers wait and reuse its result.
    dials: Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<()>>>>,
    serial: AtomicU64,
    events: broadcast::Sender<PoolEvent>,
}

impl std::fmt::Debug for ConnPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnPool")
            .field("local", &self.inner.endpoint.node_id())
            .field("peers", &self.inner.conns.lock().len())
            .finish_non_exhaustive()
    }
}

impl ConnPool {
    /// A pool that dials through `endpoint` and serves every connection's
    /// streams with `router`, until `cancel` fires.
    pub fn new(endpoint: Endpoint, router: Router, cancel: CancellationToken) -> ConnPool {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        ConnPool {
            inner: Arc::new(Inner {
                endpoint,
                router,
                cancel,
                admission: Mutex::new(None),
                conns: Mutex::new(HashMap::new()),
                dials: Mutex::new(HashMap::new()),
                serial: AtomicU64::new(0),
                events,
            }),
        }
    }

    /// The endpoint the pool dials through.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// This node's id.
    pub fn local_id(&self) -> NodeId {
        self.inner.endpoint.node_id()
    }

    /// Install the check that decides which peers may connect (both ways).
    /// Peers already connected that fail it are disconnected.
    pub fn set_admission(&self, admission: Admission) {
        let refused: Vec<NodeId> = self
            .inner
            .conns
            .lock()
            .keys()
            .filter(|p| !admission(p))
            .copied()
            .collect();
        *self.inner.admission.lock() = Some(admission);
        for p in refused {
            self.disconnect(&p);
        }
    }

    fn admitted(&self, peer: &NodeId) -> bool {
        match &*self.inner.admission.lock() {
            Some(f) => f(peer),
            None => true,
        }
    }

    /// Follow connects and disconnects.
    pub fn subscribe(&self) -> broadcast::Receiver<PoolEvent> {
        self.inner.events.subscribe()
    }

    /// A live connection to `peer`, if there is one.
    pub fn get(&self, peer: &NodeId) -> Option<Connection> {
        // Closed entries are removed (with their event) by the task that
        // served them, not here.
        let conns = self.inner.conns.lock();
        conns
            .get(peer)?
            .iter()
            .find(|(_, c)| !c.is_closed())
            .map(|(_, c)| c.clone())
    }

    /// Every live connection, one per peer.
    pub fn connections(&self) -> Vec<Connection> {
        let conns = self.inner.conns.lock();
        conns
            .values()
            .filter_map(|l| {
                l.iter()
                    .find(|(_, c)| !c.is_closed())
                    .map(|(_, c)| c.clone())
            })
            .collect()
    }

    /// Peers with a live connection.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        self.connections()
            .iter()
            .map(Connection::remote_node_id)
            .collect()
    }

    /// The live connection to `peer`, dialling `addrs` in order if there is
    /// none. Concurrent callers for the same peer share one dial.
    pub async fn connect(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
    ) -> Result<Connection, PoolError> {
        if self.inner.cancel.is_cancelled() {
            return Err(PoolError::Closed);
        }
        if !self.admitted(&peer) {
            return Err(PoolError::Refused(peer));
        }
        if let Some(c) = self.get(&peer) {
            return Ok(c);
        }
        let gate = self
            .inner
            .dials
            .lock()
            .entry(peer)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
            .clone();
        let _turn = gate.lock().await;
        // Whoever held the turn before may have connected already.
        let result = match self.get(&peer) {
            Some(c) => Ok(c),
            None => self.dial(peer, addrs).await,
        };
        drop(_turn);
        {
            let mut dials = self.inner.dials.lock();
            if Arc::strong_count(&gate) <= 2 {
                dials.remove(&peer);
            }
        }
        result
    }

    async fn dial(&self, peer: NodeId, addrs: &[SocketAddr]) -> Result<Connection, PoolError> {
        let mut last = None;
        for addr in addrs {
            match self.inner.endpoint.connect(peer, *addr).await {
                Ok(conn) => {
                    self.insert(conn.clone(), false);
                    return Ok(conn);
                }
                Err(e) => {
                    debug!(%peer, %addr, error = %e, "dial failed");
                    last = Some(e);
                }
            }
        }
        match last {
            Some(last) => Err(PoolError::Unreachable { peer, last }),
            None => Err(PoolError::NoAddress(peer)),
        }
    }

    /// Open a `protocol` stream to `peer`, dialling if needed. A connection
    /// found closed while opening is replaced by one fresh dial.
    pub async fn open_stream(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        protocol: &str,
    ) -> Result<(Connection, Stream), PoolError> {
        let conn = self.connect(peer, addrs).await?;
        match conn.open_stream(protocol).await {
            Ok(s) => Ok((conn, s)),
            Err(StreamError::ConnectionClosed) => {
                let conn = self.connect(peer, addrs).await?;
                let s = conn
                    .open_stream(protocol)
                    .await
                    .map_err(|source| PoolError::Stream { peer, source })?;
                Ok((conn, s))
            }
            Err(source) => Err(PoolError::Stream { peer, source }),
        }
    }

    /// Take an inbound connection (from an accept loop) into the pool. A
    /// peer that is not admitted is closed at once.
    pub fn adopt(&self, conn: Connection) {
        if !self.admitted(&conn.remote_node_id()) {
            info!(peer = %conn.remote_node_id(), "refused connection from a banned peer");
            conn.close();
            return;
        }
        self.insert(conn, true);
    }

    /// Close every connection to `peer` (their serving tasks then drop them
    /// from the pool and announce the disconnect).
    pub fn disconnect(&self, peer: &NodeId) {
        let list: Vec<Connection> = self
            .inner
            .conns
            .lock()
            .get(peer)
            .map(|l| l.iter().map(|(_, c)| c.clone()).collect())
            .unwrap_or_default();
        for c in list {
            c.close();
        }
    }

    /// Accept `endpoint`'s inbound connections into the pool until the pool's
    /// cancellation token fires or the endpoint closes.
    pub async fn accept_from(&self, endpoint: Endpoint) {
        loop {
            tokio::select! {
                _ = self.inner.cancel.cancelled() => break,
                conn = endpoint.accept() => match conn {
                    Some(conn) => self.adopt(conn),
                    None => break,
                },
            }
        }
    }

    fn insert(&self, conn: Connection, inbound: bool) {
        let peer = conn.remote_node_id();
        let addr = conn.remote_addr();
        let serial = self.inner.serial.fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut conns = self.inner.conns.lock();
            let list = conns.entry(peer).or_default();
            let first = list.iter().all(|(_, c)| c.is_closed());
            list.push((serial, conn.clone()));
            first
        };
        info!(%peer, %addr, inbound, "peer connected");
        if first {
            let _ = self.inner.events.send(PoolEvent::Connected {
                peer,
                addr,
                inbound,
            });
        }
        let pool = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = pool.inner.cancel.cancelled() => conn.close(),
                _ = pool.inner.router.serve(conn.clone()) => {}
            }
            conn.closed().await;
            pool.forget(peer, serial);
        });
    }

    fn forget(&self, peer: NodeId, serial: u64) {
        let gone = {
            let mut conns = self.inner.conns.lock();
            match conns.get_mut(&peer) {
                Some(list) => {
                    list.retain(|(s, _)| *s != serial);
                    if list.iter().all(|(_, c)| c.is_closed()) {
                        conns.remove(&peer);
                        true
                    } else {
                        false
                    }
                }
                None => false,
            }
        };
        if gone {
            info!(%peer, "peer disconnected");
            let _ = self.inner.events.send(PoolEvent::Disconnected { peer });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_transport::{Identity, TransportConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;

    async fn endpoint() -> Endpoint {
        Endpoint::bind(
            Identity::generate(),
            TransportConfig::default(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap()
    }

    /// A pool whose router echoes `echo/1` streams back.
    async fn echo_pool(cancel: &CancellationToken) -> ConnPool {
        let (tx, mut rx) = mpsc::channel::<(Connection, Stream)>(16);
        tokio::spawn(async move {
            while let Some((_, mut s)) = rx.recv().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 5];
                    if s.read_exact(&mut buf).await.is_ok() {
                        let _ = s.write_all(&buf).await;
                        let _ = s.flush().await;
                    }
                });
            }
        });
        let ep = endpoint().await;
        let pool = ConnPool::new(
            ep.clone(),
            Router::new().route("echo/1", tx),
            cancel.clone(),
        );
        let p = pool.clone();
        tokio::spawn(async move { p.accept_from(ep).await });
        pool
    }

    async fn echo(pool: &ConnPool, peer: NodeId, addr: SocketAddr) -> [u8; 5] {
        let (_, mut s) = pool.open_stream(peer, &[addr], "echo/1").await.unwrap();
        s.write_all(b"hello").await.unwrap();
        s.flush().await.unwrap();
        let mut out = [0u8; 5];
        s.read_exact(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn streams_flow_both_ways_over_one_connection() {
        let cancel = CancellationToken::new();
        let a = echo_pool(&cancel).await;
        let b = echo_pool(&cancel).await;
        let (a_id, a_addr) = (a.local_id(), a.endpoint().local_addr());
        let (b_id, b_addr) = (b.local_id(), b.endpoint().local_addr());
        let mut b_events = b.subscribe();

        assert_eq!(&echo(&a, b_id, b_addr).await, b"hello");
        // b reuses the connection a dialled: no second connection appears.
        let ev = b_events.recv().await.unwrap();
        assert!(matches!(ev, PoolEvent::Connected { peer, inbound: true, .. } if peer == a_id));
        assert_eq!(&echo(&b, a_id, a_addr).await, b"hello");
        assert_eq!(a.connections().len(), 1);
        assert_eq!(b.connections().len(), 1);
        cancel.cancel();
    }

    #[tokio::test]
    async fn concurrent_connects_share_one_dial() {
        let cancel = CancellationToken::new();
        let a = echo_pool(&cancel).await;
        let b = echo_pool(&cancel).await;
        let (b_id, b_addr) = (b.local_id(), b.endpoint().local_addr());
        let mut joins = Vec::new();
        for _ in 0..8 {
            let a = a.clone();
            joins.push(tokio::spawn(
                async move { a.connect(b_id, &[b_addr]).await },
            ));
        }
        for j in joins {
            j.await.unwrap().unwrap();
        }
        assert_eq!(a.endpoint().connection_handles().len(), 1);
        cancel.cancel();
    }

    #[tokio::test]
    async fn refused_peer_is_not_dialled_and_is_disconnected() {
        let cancel = CancellationToken::new();
        let a = echo_pool(&cancel).await;
        let b = echo_pool(&cancel).await;
        let (b_id, b_addr) = (b.local_id(), b.endpoint().local_addr());
        let mut events = a.subscribe();
        a.connect(b_id, &[b_addr]).await.unwrap();
        assert!(matches!(
            events.recv().await.unwrap(),
            PoolEvent::Connected { .. }
        ));
        a.set_admission(Arc::new(move |p| *p != b_id));
        assert_eq!(
            events.recv().await.unwrap(),
            PoolEvent::Disconnected { peer: b_id }
        );
        assert!(matches!(
            a.connect(b_id, &[b_addr]).await,
            Err(PoolError::Refused(_))
        ));
        cancel.cancel();
    }

    #[tokio::test]
    async fn unreachable_peer_reports_the_last_error() {
        let cancel = CancellationToken::new();
        let a = echo_pool(&cancel).await;
        let stranger = Identity::generate().node_id();
        // A bound-then-dropped port: nothing listens there.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        match a.connect(stranger, &[dead]).await {
            Err(PoolError::Unreachable { peer, .. }) => assert_eq!(peer, stranger),
            other => panic!("expected Unreachable, got {other:?}"),
        }
        assert!(matches!(
            a.connect(stranger, &[]).await,
            Err(PoolError::NoAddress(_))
        ));
        cancel.cancel();
    }
}
