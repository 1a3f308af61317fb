//! The endpoint: a TCP listener, outgoing dials, connection limits and the
//! penalty box for peers that break rules.
//!
//! Every accepted socket gets its own task, so a slow or hostile peer can
//! only spend its own handshake timeout; admission (ban list, total and
//! per-IP counts) is decided before any byte is read. Limits are held in a
//! slot that is released exactly once, when the connection's driver ends.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::TransportConfig;
use crate::connection::{Connection, establish};
use crate::control::Role;
use crate::error::ConnectionError;
use crate::handshake::{self, HandshakeError};
use crate::identity::{Identity, NodeId};
use crate::stats::ConnectionStats;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[derive(Debug, Default)]
struct Offender {
    count: u32,
    first: Option<Instant>,
    banned_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct Limits {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
    offenders: HashMap<IpAddr, Offender>,
}

/// Most offenders remembered at once; the oldest entries go first.
const MAX_OFFENDERS: usize = 65_536;

struct Inner {
    identity: Identity,
    config: TransportConfig,
    local_addr: SocketAddr,
    limits: Mutex<Limits>,
    conns: Mutex<HashMap<u64, Connection>>,
    next_id: AtomicU64,
    cancel: CancellationToken,
    incoming: tokio::sync::Mutex<mpsc::Receiver<Connection>>,
}

impl Inner {
    fn limits(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves a connection slot for `ip`, or says why not.
    fn admit(&self, ip: IpAddr, inbound: bool) -> Result<(), &'static str> {
        let t = now();
        let mut l = self.limits();
        if inbound
            && let Some(o) = l.offenders.get(&ip)
            && o.banned_until.is_some_and(|u| u > t)
        {
            return Err("banned for repeated rule breaking");
        }
        if l.total >= self.config.max_connections {
            return Err("connection limit reached");
        }
        let per = l.per_ip.get(&ip).copied().unwrap_or(0);
        if inbound && per >= self.config.max_connections_per_ip {
            return Err("per-address connection limit reached");
        }
        l.total += 1;
        *l.per_ip.entry(ip).or_insert(0) += 1;
        Ok(())
    }

    fn release(&self, ip: IpAddr) {
        let mut l = self.limits();
        l.total = l.total.saturating_sub(1);
        if let Some(c) = l.per_ip.get_mut(&ip) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                l.per_ip.remove(&ip);
            }
        }
    }

    /// Counts a rule break; bans the address after too many.
    fn strike(&self, ip: IpAddr, reason: &str) {
        let t = now();
        let window = Duration::from_millis(self.config.offense_window_ms);
        let mut l = self.limits();
        if l.offenders.len() >= MAX_OFFENDERS && !l.offenders.contains_key(&ip) {
            let expired: Vec<IpAddr> = l
                .offenders
                .iter()
                .filter(|(_, o)| o.banned_until.is_none_or(|u| u <= t))
                .map(|(k, _)| *k)
                .take(1024)
                .collect();
            for k in expired {
                l.offenders.remove(&k);
            }
            if l.offenders.len() >= MAX_OFFENDERS {
                return;
            }
        }
        let o = l.offenders.entry(ip).or_default();
        if o.first
            .is_none_or(|f| t.saturating_duration_since(f) > window)
        {
            o.first = Some(t);
            o.count = 0;
        }
        o.count += 1;
        tracing::warn!(%ip, reason, offenses = o.count, "peer broke a rule");
        if o.count >= self.config.offenses_before_ban {
            o.banned_until = Some(t + Duration::from_millis(self.config.ban_cooldown_ms));
            tracing::warn!(%ip, cooldown_ms = self.config.ban_cooldown_ms, "refusing address for a cooldown");
        }
    }
}

/// A bound transport endpoint.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("node_id", &self.inner.identity.node_id())
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

fn handshake_is_violation(e: &HandshakeError) -> Option<&'static str> {
    match e {
        HandshakeError::Noise(_) => Some("noise handshake failed"),
        HandshakeError::Payload(_) => Some("bad identity payload"),
        HandshakeError::FrameLength(_) => Some("bad handshake frame length"),
        HandshakeError::Message1Payload => Some("payload in handshake message 1"),
        HandshakeError::NoRemoteStatic => Some("no static key"),
        _ => None,
    }
}

impl Endpoint {
    /// Binds a TCP listener and starts accepting.
    pub async fn bind(
        identity: Identity,
        config: TransportConfig,
        addr: SocketAddr,
    ) -> Result<Endpoint, ConnectionError> {
        let config = config.normalized();
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(config.accept_queue as usize);
        let inner = Arc::new(Inner {
            identity,
            config,
            local_addr,
            limits: Mutex::new(Limits::default()),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            cancel: CancellationToken::new(),
            incoming: tokio::sync::Mutex::new(rx),
        });
        tokio::spawn(accept_loop(
            Arc::downgrade(&inner),
            listener,
            tx,
            inner.cancel.clone(),
        ));
        tracing::info!(node_id = %inner.identity.node_id(), %local_addr, "transport endpoint listening");
        Ok(Endpoint { inner })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// This endpoint's NodeId.
    pub fn node_id(&self) -> NodeId {
        self.inner.identity.node_id()
    }

    /// Dials `addr` and fails unless the peer proves `node_id`.
    pub async fn connect(
        &self,
        node_id: NodeId,
        addr: SocketAddr,
    ) -> Result<Connection, ConnectionError> {
        if self.inner.cancel.is_cancelled() {
            return Err(ConnectionError::EndpointClosed);
        }
        self.inner
            .admit(addr.ip(), false)
            .map_err(ConnectionError::Refused)?;
        let inner = &self.inner;
        let handshake = tokio::time::timeout(inner.config.handshake_timeout(), async {
            let mut tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let hs = handshake::initiate(&mut tcp, &inner.identity, node_id).await?;
            Ok::<_, ConnectionError>((tcp, hs))
        })
        .await
        .map_err(|_| ConnectionError::Timeout)
        .and_then(|r| r);
        let (tcp, hs) = match handshake {
            Ok(x) => x,
            Err(e) => {
                inner.release(addr.ip());
                tracing::debug!(%addr, error = %e, "dial failed");
                return Err(e);
            }
        };
        // From here on the slot is released by `on_close` when the driver ends.
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let on_close = closer(Arc::downgrade(inner), addr.ip(), id);
        let conn = establish(tcp, hs, Role::Dialler, addr, inner.config.clone(), on_close).await?;
        register(inner, id, &conn);
        Ok(conn)
    }

    /// The next inbound connection; `None` once the endpoint is closed.
    pub async fn accept(&self) -> Option<Connection> {
        let mut rx = self.inner.incoming.lock().await;
        tokio::select! {
            c = rx.recv() => c,
            _ = self.inner.cancel.cancelled() => None,
        }
    }

    /// Statistics of every open connection.
    pub fn connections(&self) -> Vec<ConnectionStats> {
        let conns: Vec<Connection> = self
            .inner
            .conns
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        conns
            .iter()
            .filter(|c| !c.is_closed())
            .map(Connection::stats)
            .collect()
    }

    /// Handles of every open connection.
    pub fn connection_handles(&self) -> Vec<Connection> {
        self.inner
            .conns
            .lock()
            .map(|m| m.values().filter(|c| !c.is_closed()).cloned().collect())
            .unwrap_or_default()
    }

    /// Stops accepting and closes every connection.
    pub async fn close(&self) {
        self.inner.cancel.cancel();
        let conns: Vec<Connection> = self
            .inner
            .conns
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for c in &conns {
            c.close();
        }
        for c in &conns {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.closed()).await;
        }
    }

    /// Whether `ip` is currently refused.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        let t = now();
        self.inner
            .limits()
            .offenders
            .get(&ip)
            .is_some_and(|o| o.banned_until.is_some_and(|u| u > t))
    }
}

fn register(inner: &Arc<Inner>, id: u64, conn: &Connection) {
    if let Ok(mut m) = inner.conns.lock() {
        m.insert(id, conn.clone());
    }
}

fn closer(inner: Weak<Inner>, ip: IpAddr, id: u64) -> crate::connection::OnClose {
    Box::new(move |violation| {
        if let Some(inner) = inner.upgrade() {
            if let Ok(mut m) = inner.conns.lock() {
                m.remove(&id);
            }
            inner.release(ip);
            if let Some(v) = violation {
                inner.strike(ip, v);
            }
        }
    })
}

async fn accept_loop(
    inner: Weak<Inner>,
    listener: TcpListener,
    tx: mpsc::Sender<Connection>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (tcp, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(inner) = inner.upgrade() else { return };
        if let Err(reason) = inner.admit(addr.ip(), true) {
            tracing::debug!(%addr, reason, "refused connection");
            drop(tcp);
            continue;
        }
        let tx = tx.clone();
        tokio::spawn(serve_inbound(inner, tcp, addr, tx));
    }
}

async fn serve_inbound(
    inner: Arc<Inner>,
    mut tcp: TcpStream,
    addr: SocketAddr,
    tx: mpsc::Sender<Connection>,
) {
    let _ = tcp.set_nodelay(true);
    let hs = tokio::select! {
        _ = inner.cancel.cancelled() => {
            inner.release(addr.ip());
            return;
        }
        r = tokio::time::timeout(inner.config.handshake_timeout(), handshake::respond(&mut tcp, &inner.identity)) => r,
    };
    let hs = match hs {
        Ok(Ok(hs)) => hs,
        Ok(Err(e)) => {
            inner.release(addr.ip());
            tracing::info!(%addr, error = %e, "inbound handshake failed");
            if let Some(v) = handshake_is_violation(&e) {
                inner.strike(addr.ip(), v);
            }
            return;
        }
        Err(_) => {
            inner.release(addr.ip());
            tracing::info!(%addr, "inbound handshake timed out");
            inner.strike(addr.ip(), "handshake timeout");
            return;
        }
    };
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let on_close = closer(Arc::downgrade(&inner), addr.ip(), id);
    let remote = hs.remote;
    match establish(
        tcp,
        hs,
        Role::Listener,
        addr,
        inner.config.clone(),
        on_close,
    )
    .await
    {
        Ok(conn) => {
            register(&inner, id, &conn);
            if tx.try_send(conn.clone()).is_err() {
                tracing::warn!(%addr, "accept queue full; closing connection");
                conn.close();
            }
        }
        Err(e) => {
            tracing::debug!(%addr, peer = %remote, error = %e, "inbound connection ended before its control stream")
        }
    }
}
