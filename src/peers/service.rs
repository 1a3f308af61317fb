//! The peer service: the running half of peer management.
//!
//! It joins the peer book to the connection pool: it answers `pair/1`
//! streams, joins tickets, dials bootstrap and known peers at start, follows
//! the pool's connect / disconnect events into the book, and redials lost
//! peers on the [`RedialSchedule`]. One task owns the schedule and the clock;
//! the API reaches the service through the cheap [`PeerService`] handle.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_transport::{Connection, NodeId, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::book::{BookError, PeerBook, PeerRecord, Source, unix_ms};
use super::pair::{self, Verdict};
use super::redial::{Backoff, RedialSchedule};
use crate::net::{ConnPool, PeerPolicy, PoolError, PoolEvent};
use crate::ticket::Ticket;

/// Time a `pair/1` exchange may take, either side.
const PAIR_TIMEOUT: Duration = Duration::from_secs(10);
/// `pair/1` streams served at once; more are dropped.
const PAIR_CONCURRENCY: usize = 16;
/// `pair/1` streams served at once for one peer, so a peer that opens many
/// and sends nothing cannot hold every slot.
const PAIR_PER_PEER: usize = 2;
/// Redials in flight at once.
const MAX_DIALS: usize = 16;
/// Queue of "redial this peer now" requests.
const NUDGE_QUEUE: usize = 64;

/// Why a join or a pairing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    #[error("that ticket is this node's own")]
    OwnTicket,
    #[error("peer {0} is banned (lift it with `cairn peers allow`)")]
    Banned(NodeId),
    #[error(transparent)]
    Unreachable(PoolError),
    #[error("the pairing secret was refused (already used, expired or unknown)")]
    PairingRefused,
    #[error("pairing with {peer} failed: {reason}")]
    Pairing { peer: NodeId, reason: String },
    #[error(transparent)]
    Book(#[from] BookError),
}

/// A handle to the running peer service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PeerService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    book: PeerBook,
    pool: ConnPool,
    ticket: Ticket,
    pairing_ttl: Duration,
    nudge: mpsc::Sender<NodeId>,
}

/// What [`PeerService::start`] needs besides the book and the pool.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// This node's ticket (without secret).
    pub ticket: Ticket,
    /// Tickets from config `bootstrap`.
    pub bootstrap: Vec<Ticket>,
    pub backoff: Backoff,
    pub pairing_ttl: Duration,
}

impl PeerService {
    /// Start the service's tasks on `tasks`: the `pair/1` handler fed by
    /// `pair_inbox` (the router's route for [`pair::PROTOCOL`]) and the
    /// redial loop. Installs the book as the pool's admission check and
    /// disconnects peers as they are banned.
    pub fn start(
        book: PeerBook,
        pool: ConnPool,
        opts: ServiceOptions,
        pair_inbox: mpsc::Receiver<(Connection, Stream)>,
        tasks: &mut JoinSet<()>,
        cancel: CancellationToken,
    ) -> PeerService {
        let admit = book.clone();
        pool.set_admission(Arc::new(move |p| !admit.is_banned(p)));
        let on_ban_pool = pool.clone();
        book.on_ban(move |p| on_ban_pool.disconnect(p));

        let (nudge, nudges) = mpsc::channel(NUDGE_QUEUE);
        let svc = PeerService {
            inner: Arc::new(Inner {
                book: book.clone(),
                pool: pool.clone(),
                ticket: opts.ticket.clone(),
                pairing_ttl: opts.pairing_ttl,
                nudge,
            }),
        };
        // Bootstrap peers join the book (the handshake proves their id on
        // every dial), then everyone known is dialled like after a restart.
        let local = pool.local_id();
        for t in &opts.bootstrap {
            let id = NodeId::from_bytes(t.node_id);
            if id == local {
                continue;
            }
            if let Err(e) = book.remember(id, Source::Bootstrap, &t.addrs) {
                warn!(peer = %id, error = %e, "cannot remember a bootstrap peer");
            }
        }
        tasks.spawn(serve_pair(book.clone(), pair_inbox, cancel.clone()));
        tasks.spawn(redial_loop(
            book,
            pool.clone(),
            opts.backoff,
            pool.subscribe(),
            nudges,
            cancel,
        ));
        svc
    }

    pub fn book(&self) -> &PeerBook {
        &self.inner.book
    }

    pub fn pool(&self) -> &ConnPool {
        &self.inner.pool
    }

    /// A ticket for this node; with `pairing`, carrying a fresh one-time
    /// secret (stored hashed, valid for the configured time).
    pub fn invite(&self, pairing: bool) -> Result<Ticket, BookError> {
        let mut t = self.inner.ticket.clone();
        if pairing {
            let mut secret = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
            let expires = unix_ms(std::time::SystemTime::now() + self.inner.pairing_ttl);
            self.inner.book.add_pairing(&secret, expires)?;
            t.secret = Some(secret);
        }
        Ok(t)
    }

    /// Connect to a ticket's node (the handshake checks its NodeId), remember
    /// it durably, and with a secret pair it as an own device.
    pub async fn join(&self, ticket: &Ticket) -> Result<PeerRecord, JoinError> {
        let peer = NodeId::from_bytes(ticket.node_id);
        if peer == self.inner.pool.local_id() {
            return Err(JoinError::OwnTicket);
        }
        if self.inner.book.is_banned(&peer) {
            return Err(JoinError::Banned(peer));
        }
        let (conn, mut rec) = self.meet(peer, &ticket.addrs, Source::Join).await?;
        if let Some(secret) = ticket.secret {
            match pair_with(&conn, &secret).await {
                Ok(Verdict::Paired) => {
                    let book = self.inner.book.clone();
                    rec = blocking(move || book.mark_own_device(peer, Source::Join)).await?;
                    info!(%peer, "paired as an own device");
                }
                Ok(Verdict::Refused) => return Err(JoinError::PairingRefused),
                Err(reason) => return Err(JoinError::Pairing { peer, reason }),
            }
        }
        Ok(rec)
    }

    /// Connect to `peer` at `addrs` and remember it (durably) as met through
    /// `source`: the common part of a join and of a LAN discovery.
    pub async fn meet(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        source: Source,
    ) -> Result<(cairn_transport::Connection, PeerRecord), JoinError> {
        let conn = self
            .inner
            .pool
            .connect(peer, addrs)
            .await
            .map_err(JoinError::Unreachable)?;
        let book = self.inner.book.clone();
        let addrs = addrs.to_vec();
        let remote = conn.remote_addr();
        let rec = blocking(move || {
            book.remember(peer, source, &addrs)?;
            // Only an address we dialled counts as a success.
            let dialled = addrs.contains(&remote).then_some(remote);
            book.connected(peer, dialled)
        })
        .await?
        .ok_or(BookError::UnknownPeer(peer))?;
        Ok((conn, rec))
    }

    /// Ban a known peer: persisted, then disconnected.
    pub async fn ban(&self, peer: NodeId, reason: String) -> Result<PeerRecord, BookError> {
        let book = self.inner.book.clone();
        blocking(move || book.ban(peer, &reason)).await
    }

    /// Lift a ban; the peer is dialled again if it has addresses.
    pub async fn allow(&self, peer: NodeId) -> Result<PeerRecord, BookError> {
        let book = self.inner.book.clone();
        let rec = blocking(move || book.allow(peer)).await?;
        let _ = self.inner.nudge.try_send(peer);
        Ok(rec)
    }

    /// Change a known peer's rights.
    pub async fn set_permissions(
        &self,
        peer: NodeId,
        change: super::book::PermissionChange,
    ) -> Result<PeerRecord, BookError> {
        let book = self.inner.book.clone();
        blocking(move || book.set_permissions(peer, change)).await
    }
}

/// Run a blocking peer-book write off the async threads.
async fn blocking<T: Send + 'static, E: From<BookError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(E::from(BookError::from(redb::Error::Io(
            std::io::Error::other(format!("peer book task failed: {e}")),
        )))),
    }
}

/// The joiner's side of `pair/1`.
async fn pair_with(conn: &Connection, secret: &[u8; 32]) -> Result<Verdict, String> {
    let exchange = async {
        let mut s = conn
            .open_stream(pair::PROTOCOL)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(&pair::encode_request(secret))
            .await
            .map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut resp = [0u8; pair::RESPONSE_LEN];
        s.read_exact(&mut resp).await.map_err(|e| e.to_string())?;
        pair::decode_response(&resp).map_err(|e| e.to_string())
    };
    match tokio::time::timeout(PAIR_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err("no answer in time".into()),
    }
}

/// The inviter's side of `pair/1`: a bounded number at once, each bounded in
/// time and size.
async fn serve_pair(
    book: PeerBook,
    mut inbox: mpsc::Receiver<(Connection, Stream)>,
    cancel: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(PAIR_CONCURRENCY));
    let mut per_peer: HashMap<NodeId, usize> = HashMap::new();
    let mut running: JoinSet<NodeId> = JoinSet::new();
    loop {
        let (conn, stream) = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(peer) = done
                    && let Some(n) = per_peer.get_mut(&peer)
                {
                    *n -= 1;
                    if *n == 0 {
                        per_peer.remove(&peer);
                    }
                }
                continue;
            }
            next = inbox.recv() => match next {
                Some(x) => x,
                None => break,
            },
        };
        let peer = conn.remote_node_id();
        let mine = per_peer.entry(peer).or_insert(0);
        if *mine >= PAIR_PER_PEER {
            debug!(%peer, "too many pair/1 streams from one peer; stream dropped");
            continue;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "pair/1 busy; stream dropped");
            continue;
        };
        *mine += 1;
        let book = book.clone();
        running.spawn(async move {
            match tokio::time::timeout(PAIR_TIMEOUT, answer_pair(&book, peer, stream)).await {
                Ok(Ok(v)) => info!(%peer, ?v, "pairing request answered"),
                Ok(Err(e)) => debug!(%peer, error = %e, "pair/1 stream failed"),
                Err(_) => debug!(%peer, "pair/1 stream timed out"),
            }
            drop(permit);
            peer
        });
    }
    running.shutdown().await;
}

async fn answer_pair(book: &PeerBook, peer: NodeId, mut s: Stream) -> Result<Verdict, String> {
    let mut req = [0u8; pair::REQUEST_LEN];
    s.read_exact(&mut req).await.map_err(|e| e.to_string())?;
    let verdict = match pair::decode_request(&req) {
        Ok(secret) => {
            let b = book.clone();
            let ok = blocking(move || {
                if b.take_pairing(&secret)? {
                    b.mark_own_device(peer, Source::Inbound)?;
                    Ok::<_, BookError>(true)
                } else {
                    Ok(false)
                }
            })
            .await
            .map_err(|e| e.to_string())?;
            if ok {
                Verdict::Paired
            } else {
                Verdict::Refused
            }
        }
        Err(e) => {
            book.offence(
                &peer,
                crate::net::Severity::Proven,
                "malformed pair/1 request",
            );
            return Err(e.to_string());
        }
    };
    s.write_all(&pair::encode_response(verdict))
        .await
        .map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())?;
    Ok(verdict)
}

/// Follow the pool into the book and keep known peers connected.
async fn redial_loop(
    book: PeerBook,
    pool: ConnPool,
    backoff: Backoff,
    mut events: broadcast::Receiver<PoolEvent>,
    mut nudges: mpsc::Receiver<NodeId>,
    cancel: CancellationToken,
) {
    let local = pool.local_id();
    let mut schedule = RedialSchedule::new(backoff);
    let dialable = |r: &PeerRecord| r.banned.is_none() && !r.addrs.is_empty() && r.node_id != local;
    let now = Instant::now();
    for r in book.all() {
        if dialable(&r) {
            schedule.want(r.node_id, now);
        }
    }
    let mut dials: JoinSet<(NodeId, bool)> = JoinSet::new();
    loop {
        // Start what is due (bounded), then wait for the next thing.
        if dials.len() < MAX_DIALS {
            for peer in schedule.due(Instant::now(), MAX_DIALS - dials.len()) {
                let addrs: Vec<SocketAddr> = match book.get(&peer) {
                    Some(r) if dialable(&r) => r.addrs.iter().map(|a| a.addr).collect(),
                    _ => {
                        schedule.forget(&peer);
                        continue;
                    }
                };
                if pool.get(&peer).is_some() {
                    schedule.connected(peer, Instant::now());
                    continue;
                }
                let pool = pool.clone();
                dials.spawn(async move {
                    let ok = match pool.connect(peer, &addrs).await {
                        Ok(_) => true,
                        Err(e) => {
                            debug!(%peer, error = %e, "redial failed");
                            false
                        }
                    };
                    (peer, ok)
                });
            }
        }
        let wake = schedule.next_wake();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = sleep, if dials.len() < MAX_DIALS => {}
            Some(done) = dials.join_next(), if !dials.is_empty() => {
                if let Ok((peer, ok)) = done {
                    if ok {
                        schedule.connected(peer, Instant::now())
                    } else {
                        schedule.failed(peer, Instant::now())
                    }
                }
            }
            Some(peer) = nudges.recv() => {
                if book.get(&peer).is_some_and(|r| dialable(&r)) && pool.get(&peer).is_none() {
                    schedule.forget(&peer);
                    schedule.want(peer, Instant::now());
                }
            }
            ev = events.recv() => match ev {
                Ok(PoolEvent::Connected { peer, addr, inbound }) => {
                    schedule.connected(peer, Instant::now());
                    let b = book.clone();
                    let dialled = (!inbound).then_some(addr);
                    let res = blocking(move || b.connected(peer, dialled)).await;
                    if let Err(e) = res {
                        warn!(%peer, error = %e, "cannot record a connection");
                    }
                }
                Ok(PoolEvent::Disconnected { peer }) => {
                    let b = book.clone();
                    if let Err(e) = blocking(move || b.disconnected(peer)).await {
                        warn!(%peer, error = %e, "cannot record a disconnection");
                    }
                    if book.get(&peer).is_some_and(|r| dialable(&r)) {
                        schedule.disconnected(peer, Instant::now());
                    } else {
                        schedule.forget(&peer);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events: every known, unconnected peer is wanted.
                    let now = Instant::now();
                    for r in book.all() {
                        if dialable(&r) && pool.get(&r.node_id).is_none() {
                            schedule.want(r.node_id, now);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    dials.shutdown().await;
}
