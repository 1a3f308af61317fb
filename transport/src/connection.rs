//! One authenticated connection: the yamux driver task, the control task,
//! and the cheap handle (`Connection`) the node holds.
//!
//! The driver task alone owns the yamux session (yamux is poll-based and not
//! shareable); handles talk to it over bounded channels. The control task
//! owns the control stream and feeds the sans-io [`ControlState`]. A rule
//! broken anywhere is recorded once in `ConnShared` and cancels the
//! connection; the endpoint reads the reason when the driver ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::{STREAM_SLACK, TransportConfig};
use crate::control::{self, ControlMsg, ControlState, MAX_CONTROL_FRAME, Output, Role};
use crate::error::{ConnectionError, StreamError};
use crate::handshake::Handshaked;
use crate::identity::NodeId;
use crate::keys::Registry;
use crate::noise_io::NoiseSocket;
use crate::stats::{ConnShared, ConnectionStats, StreamShared};
use crate::stream::Stream;
use crate::stream_cipher;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

type OpenReply = oneshot::Sender<Result<yamux::Stream, yamux::ConnectionError>>;

/// State shared by the streams of one connection.
pub(crate) struct StreamCtx {
    pub registry: Registry,
    pub control_tx: mpsc::Sender<ControlMsg>,
    pub config: TransportConfig,
    pub shared: Arc<ConnShared>,
    pub cancel: CancellationToken,
    pub inbound_streams: AtomicU32,
    stats: Mutex<Vec<Weak<StreamShared>>>,
}

impl StreamCtx {
    pub fn violation(&self, reason: &'static str) {
        self.shared.set_violation(reason);
        self.cancel.cancel();
    }
    pub fn track(&self, s: &Arc<StreamShared>) {
        if let Ok(mut v) = self.stats.lock() {
            v.retain(|w| w.strong_count() > 0);
            v.push(Arc::downgrade(s));
        }
    }
}

struct Inner {
    remote: NodeId,
    addr: SocketAddr,
    outbound: bool,
    ctx: Arc<StreamCtx>,
    open_tx: mpsc::Sender<OpenReply>,
    incoming: tokio::sync::Mutex<mpsc::Receiver<(String, Stream)>>,
}

/// A handle to an authenticated connection; clones share it.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.inner.remote)
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The peer's proven NodeId.
    pub fn remote_node_id(&self) -> NodeId {
        self.inner.remote
    }
    /// The peer's socket address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.addr
    }
    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.ctx.cancel.is_cancelled()
    }
    /// Resolves when the connection is closed.
    pub async fn closed(&self) {
        self.inner.ctx.cancel.cancelled().await
    }

    /// Opens a data stream for `protocol` (e.g. `dht/1`).
    pub async fn open_stream(&self, protocol: &str) -> Result<Stream, StreamError> {
        let header =
            stream_cipher::encode_header(protocol).map_err(|_| StreamError::BadProtocol)?;
        let (tx, rx) = oneshot::channel();
        self.inner
            .open_tx
            .send(tx)
            .await
            .map_err(|_| StreamError::ConnectionClosed)?;
        let ys = rx
            .await
            .map_err(|_| StreamError::ConnectionClosed)?
            .map_err(|e| StreamError::Yamux(e.to_string()))?;
        let keys = self
            .inner
            .ctx
            .registry
            .claim(ys.id().val())
            .map_err(|_| StreamError::TooManyStreams)?;
        let mut s =
            Stream::new(ys, keys, self.inner.ctx.clone(), protocol.to_owned(), false).await?;
        futures::io::AsyncWriteExt::write_all(&mut s.io, &header).await?;
        Ok(s)
    }

    /// Waits for the peer's next data stream and its protocol name.
    pub async fn accept_stream(&self) -> Result<(String, Stream), StreamError> {
        let mut rx = self.inner.incoming.lock().await;
        tokio::select! {
            s = rx.recv() => s.ok_or(StreamError::ConnectionClosed),
            _ = self.inner.ctx.cancel.cancelled() => Err(StreamError::ConnectionClosed),
        }
    }

    /// Live statistics.
    pub fn stats(&self) -> ConnectionStats {
        let sh = &self.inner.ctx.shared;
        let streams = self
            .inner
            .ctx
            .stats
            .lock()
            .map(|v| {
                v.iter()
                    .filter_map(Weak::upgrade)
                    .map(|s| s.snapshot())
                    .collect()
            })
            .unwrap_or_default();
        let rtt = sh.rtt_us.load(Ordering::Relaxed);
        ConnectionStats {
            remote_node_id: self.inner.remote,
            remote_addr: self.inner.addr,
            outbound: self.inner.outbound,
            bytes_sent: sh.bytes_tx.load(Ordering::Relaxed),
            bytes_received: sh.bytes_rx.load(Ordering::Relaxed),
            noise_rekeys_sent: sh.noise_rekeys_tx.load(Ordering::Relaxed),
            noise_rekeys_received: sh.noise_rekeys_rx.load(Ordering::Relaxed),
            control_ratchets: sh.control_ratchets.load(Ordering::Relaxed),
            rtt: (rtt > 0).then(|| Duration::from_micros(rtt)),
            age: now().saturating_duration_since(sh.created),
            streams,
        }
    }

    /// Runs the dialler's handshake and connection over any byte pipe (an
    /// in-memory duplex in tests), without endpoint limits.
    pub async fn dial_over<T>(
        mut io: T,
        identity: &crate::Identity,
        expected: NodeId,
        config: TransportConfig,
        addr: SocketAddr,
    ) -> Result<Connection, ConnectionError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = config.normalized();
        let hs = tokio::time::timeout(
            config.handshake_timeout(),
            crate::handshake::initiate(&mut io, identity, expected),
        )
        .await
        .map_err(|_| ConnectionError::Timeout)??;
        establish(io, hs, Role::Dialler, addr, config, Box::new(|_| {})).await
    }

    /// Runs the listener's handshake and connection over any byte pipe,
    /// without endpoint limits.
    pub async fn accept_over<T>(
        mut io: T,
        identity: &crate::Identity,
        config: TransportConfig,
        addr: SocketAddr,
    ) -> Result<Connection, ConnectionError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = config.normalized();
        let hs = tokio::time::timeout(
            config.handshake_timeout(),
            crate::handshake::respond(&mut io, identity),
        )
        .await
        .map_err(|_| ConnectionError::Timeout)??;
        establish(io, hs, Role::Listener, addr, config, Box::new(|_| {})).await
    }

    /// Closes the connection (yamux GoAway, then TCP close).
    pub fn close(&self) {
        self.inner.ctx.cancel.cancel();
    }
}

fn yamux_config(c: &TransportConfig) -> yamux::Config {
    let mut y = yamux::Config::default();
    let max = c.max_streams_per_connection as usize + STREAM_SLACK as usize;
    // Every stream keeps its 256 KiB minimum; the growth on top is what
    // yamux's auto-tuning may hand to busy streams.
    let window = usize::try_from(c.yamux_max_connection_window)
        .unwrap_or(usize::MAX)
        .max(max * 256 * 1024)
        .saturating_add(usize::try_from(c.stream_window_growth).unwrap_or(usize::MAX));
    y.set_max_connection_receive_window(Some(window));
    y.set_max_num_streams(max);
    y.set_split_send_size(frame_split(c));
    y
}

fn frame_split(c: &TransportConfig) -> usize {
    // One stream frame per yamux data frame where possible.
    (c.max_frame_size as usize + stream_cipher::FRAME_HEAD + stream_cipher::TAG).max(16 * 1024)
}

/// Called once when a connection ends, with the rule the peer broke, if any.
pub(crate) type OnClose = Box<dyn FnOnce(Option<&'static str>) + Send>;

/// Runs yamux and the control stream over a finished handshake.
pub(crate) async fn establish<T>(
    io: T,
    hs: Handshaked,
    role: Role,
    addr: SocketAddr,
    config: TransportConfig,
    on_close: OnClose,
) -> Result<Connection, ConnectionError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::new(ConnShared::new(now()));
    let socket = NoiseSocket::new(io, hs.keys, shared.clone());
    let mode = if role == Role::Dialler {
        yamux::Mode::Client
    } else {
        yamux::Mode::Server
    };
    let yconn = yamux::Connection::new(socket, yamux_config(&config), mode);
    let cancel = CancellationToken::new();
    let max = config.max_streams_per_connection;
    let (control_tx, control_rx) = mpsc::channel(2 * max as usize + 64);
    let ctx = Arc::new(StreamCtx {
        registry: Registry::new(role == Role::Dialler, max),
        control_tx,
        config: config.clone(),
        shared: shared.clone(),
        cancel: cancel.clone(),
        inbound_streams: AtomicU32::new(0),
        stats: Mutex::new(Vec::new()),
    });
    let (open_tx, open_rx) = mpsc::channel(64);
    let (incoming_tx, incoming_rx) = mpsc::channel(config.stream_accept_queue as usize);
    let (control_stream_tx, control_stream_rx) = oneshot::channel();
    let driver = Driver {
        conn: yconn,
        open_rx,
        current_open: None,
        control_slot: (role == Role::Listener).then_some(control_stream_tx),
        ctx: ctx.clone(),
        incoming_tx,
    };
    tokio::spawn(driver.run(on_close, hs.remote));

    let result = async {
        let control_stream = match role {
            Role::Dialler => {
                let (tx, rx) = oneshot::channel();
                open_tx
                    .send(tx)
                    .await
                    .map_err(|_| ConnectionError::Closed)?;
                rx.await
                    .map_err(|_| ConnectionError::Closed)?
                    .map_err(|e| ConnectionError::Yamux(e.to_string()))?
            }
            Role::Listener => tokio::select! {
                s = control_stream_rx => s.map_err(|_| ConnectionError::Closed)?,
                _ = cancel.cancelled() => return Err(ConnectionError::Closed),
            },
        };
        let mut cs = tokio_util::compat::FuturesAsyncReadCompatExt::compat(control_stream);
        let (secret, public) = control::hello_secret();
        let peer = tokio::time::timeout(config.handshake_timeout(), async {
            write_frame(&mut cs, &control::encode_hello(&public)).await?;
            let mut buf = vec![0u8; MAX_CONTROL_FRAME];
            let n = read_frame(&mut cs, &mut buf).await?;
            control::parse_hello(&buf[..n]).map_err(ConnectionError::Control)
        })
        .await
        .map_err(|_| ConnectionError::Timeout)??;
        let state = ControlState::new(
            role,
            &hs.handshake_hash,
            secret,
            &peer,
            Duration::from_millis(config.control_ratchet_interval_ms),
            Duration::from_millis(config.ping_interval_ms),
            now(),
        );
        tokio::spawn(run_control(cs, state, ctx.clone(), control_rx));
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let ConnectionError::Control(c) = &e {
            ctx.shared.set_violation(control_violation(c));
        }
        cancel.cancel();
        return Err(e);
    }
    Ok(Connection {
        inner: Arc::new(Inner {
            remote: hs.remote,
            addr,
            outbound: role == Role::Dialler,
            ctx,
            open_tx,
            incoming: tokio::sync::Mutex::new(incoming_rx),
        }),
    })
}

fn control_violation(e: &control::ControlError) -> &'static str {
    match e {
        control::ControlError::Malformed => "malformed control message",
        control::ControlError::UnknownType(_) => "unknown control message type",
        control::ControlError::TooLong => "control frame too long",
        control::ControlError::BadHello => "bad control hello",
        control::ControlError::Auth => "control frame failed authentication",
        control::ControlError::RatchetOutOfTurn => "control ratchet out of turn",
        control::ControlError::WrongRole => "control message from the wrong role",
        _ => "control protocol error",
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> Result<(), ConnectionError> {
    let len = u16::try_from(body.len())
        .map_err(|_| ConnectionError::Control(control::ControlError::TooLong))?;
    let mut f = Vec::with_capacity(2 + body.len());
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(body);
    w.write_all(&f).await?;
    w.flush().await?;
    Ok(())
}

async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut [u8],
) -> Result<usize, ConnectionError> {
    let mut p = [0u8; 2];
    r.read_exact(&mut p).await?;
    let len = usize::from(u16::from_be_bytes(p));
    if len > buf.len() {
        return Err(ConnectionError::Control(control::ControlError::TooLong));
    }
    r.read_exact(&mut buf[..len]).await?;
    Ok(len)
}

async fn run_control<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mut state: ControlState,
    ctx: Arc<StreamCtx>,
    mut rx: mpsc::Receiver<ControlMsg>,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut rbuf = vec![0u8; 2 * (MAX_CONTROL_FRAME + 2)];
    let mut rlen = 0usize;
    let res: Result<(), ConnectionError> = async {
        loop {
            let deadline = tokio::time::Instant::from_std(state.next_deadline());
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                n = rd.read(&mut rbuf[rlen..]) => {
                    let n = n?;
                    if n == 0 {
                        return Err(ConnectionError::Closed);
                    }
                    rlen += n;
                    let mut start = 0;
                    while let Some(p) = rbuf[..rlen].get(start..start + 2) {
                        let len = usize::from(u16::from_be_bytes([p[0], p[1]]));
                        if len > MAX_CONTROL_FRAME {
                            return Err(ConnectionError::Control(control::ControlError::TooLong));
                        }
                        if start + 2 + len > rlen {
                            break;
                        }
                        let outputs = state.on_frame(&rbuf[start + 2..start + 2 + len], now()).map_err(ConnectionError::Control)?;
                        start += 2 + len;
                        handle_outputs(outputs, &ctx, &mut wr).await?;
                    }
                    rbuf.copy_within(start..rlen, 0);
                    rlen -= start;
                }
                msg = rx.recv() => {
                    let Some(msg) = msg else { return Ok(()) };
                    let body = state.seal(&msg).map_err(ConnectionError::Control)?;
                    write_frame(&mut wr, &body).await?;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let outputs = state.poll(now()).map_err(ConnectionError::Control)?;
                    handle_outputs(outputs, &ctx, &mut wr).await?;
                }
            }
        }
    }
    .await;
    match res {
        Ok(()) => {}
        Err(ConnectionError::Control(e)) => {
            tracing::warn!(error = %e, "control stream violation");
            ctx.violation(control_violation(&e));
        }
        Err(ConnectionError::Violation(r)) => ctx.violation(r),
        Err(e) => {
            tracing::debug!(error = %e, "control stream ended");
        }
    }
    ctx.cancel.cancel();
    ctx.registry.close_all();
}

async fn handle_outputs<W: AsyncWrite + Unpin>(
    outputs: Vec<Output>,
    ctx: &StreamCtx,
    wr: &mut W,
) -> Result<(), ConnectionError> {
    for o in outputs {
        match o {
            Output::Send(b) => write_frame(wr, &b).await?,
            Output::StreamKey {
                stream_id,
                epoch,
                cipher,
                key,
            } => ctx
                .registry
                .install(stream_id, epoch, cipher, &key)
                .map_err(ConnectionError::Violation)?,
            Output::KeyAck { stream_id, epoch } => ctx
                .registry
                .ack(stream_id, epoch)
                .map_err(ConnectionError::Violation)?,
            Output::Rtt(d) => ctx.shared.rtt_us.store(
                u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1),
                Ordering::Relaxed,
            ),
            Output::Ratcheted => {
                ctx.shared.control_ratchets.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

enum Event {
    Inbound(yamux::Stream),
    Closed(Result<(), yamux::ConnectionError>),
}

struct Driver<T> {
    conn: yamux::Connection<T>,
    open_rx: mpsc::Receiver<OpenReply>,
    current_open: Option<OpenReply>,
    control_slot: Option<oneshot::Sender<yamux::Stream>>,
    ctx: Arc<StreamCtx>,
    incoming_tx: mpsc::Sender<(String, Stream)>,
}

impl<T: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static> Driver<T> {
    fn poll_event(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Event> {
        loop {
            if self.current_open.is_some() {
                if let Poll::Ready(r) = self.conn.poll_new_outbound(cx) {
                    if let Some(tx) = self.current_open.take() {
                        let _ = tx.send(r);
                    }
                    continue;
                }
            } else if let Poll::Ready(Some(tx)) = self.open_rx.poll_recv(cx) {
                self.current_open = Some(tx);
                continue;
            }
            return match self.conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(s))) => Poll::Ready(Event::Inbound(s)),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Event::Closed(Err(e))),
                Poll::Ready(None) => Poll::Ready(Event::Closed(Ok(()))),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    fn on_inbound(&mut self, s: yamux::Stream) {
        if let Some(slot) = self.control_slot.take() {
            let _ = slot.send(s);
            return;
        }
        let limit = self.ctx.config.max_streams_per_connection;
        if self.ctx.inbound_streams.fetch_add(1, Ordering::Relaxed) >= limit {
            self.ctx.inbound_streams.fetch_sub(1, Ordering::Relaxed);
            self.ctx.violation("stream limit exceeded");
            return;
        }
        let keys = match self.ctx.registry.claim(s.id().val()) {
            Ok(k) => k,
            Err(r) => {
                self.ctx.inbound_streams.fetch_sub(1, Ordering::Relaxed);
                self.ctx.violation(r);
                return;
            }
        };
        let ctx = self.ctx.clone();
        let tx = self.incoming_tx.clone();
        tokio::spawn(async move {
            let mut s = s;
            let timeout = Duration::from_millis(ctx.config.stream_header_timeout_ms);
            let header = tokio::time::timeout(timeout, async {
                let mut start = [0u8; 2];
                s.read_exact(&mut start).await?;
                let len = stream_cipher::parse_header_start(start)
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
                let mut name = [0u8; stream_cipher::MAX_PROTOCOL_LEN];
                s.read_exact(&mut name[..len]).await?;
                stream_cipher::parse_protocol(&name[..len])
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))
            })
            .await;
            let protocol = match header {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    ctx.inbound_streams.fetch_sub(1, Ordering::Relaxed);
                    ctx.registry.remove(s.id().val());
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        ctx.violation("bad stream header");
                    }
                    return;
                }
                Err(_) => {
                    ctx.inbound_streams.fetch_sub(1, Ordering::Relaxed);
                    ctx.registry.remove(s.id().val());
                    tracing::debug!("stream header timed out");
                    let _ = s.close().await;
                    return;
                }
            };
            // Acknowledge the stream now (yamux ACK on an empty data frame):
            // yamux lets an opener have only 256 unacknowledged streams, and
            // an acceptor that only reads would otherwise never send one.
            let _ = std::future::poll_fn(|cx| {
                futures::io::AsyncWrite::poll_write(std::pin::Pin::new(&mut s), cx, &[])
            })
            .await;
            let stream = match Stream::new(s, keys, ctx.clone(), protocol, true).await {
                Ok(st) => st,
                Err(_) => return,
            };
            if let Err(mpsc::error::TrySendError::Full(_)) =
                tx.try_send((stream.protocol().to_owned(), stream))
            {
                tracing::debug!("stream accept queue full; resetting stream");
            }
        });
    }

    async fn run(mut self, on_close: OnClose, remote: NodeId) {
        let cancel = self.ctx.cancel.clone();
        let idle = self.ctx.config.idle_timeout();
        let mut check = tokio::time::interval((idle / 4).max(Duration::from_millis(10)));
        let shared = self.ctx.shared.clone();
        let reason: Option<String> = loop {
            tokio::select! {
                _ = cancel.cancelled() => break None,
                _ = check.tick() => {
                    if let Some(r) = shared.idle_reason(now(), idle) {
                        break Some(r.to_owned());
                    }
                }
                ev = std::future::poll_fn(|cx| self.poll_event(cx)) => match ev {
                    Event::Inbound(s) => self.on_inbound(s),
                    Event::Closed(Ok(())) => break None,
                    Event::Closed(Err(e)) => break Some(e.to_string()),
                }
            }
        };
        cancel.cancel();
        self.ctx.registry.close_all();
        // Best-effort GoAway; a peer that stopped reading cannot hold us.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            std::future::poll_fn(|cx| self.conn.poll_close(cx)),
        )
        .await;
        let violation = shared.violation();
        match (violation, reason) {
            (Some(v), _) => {
                tracing::warn!(peer = %remote, reason = v, "disconnected peer that broke a rule")
            }
            (None, Some(r)) => tracing::debug!(peer = %remote, reason = %r, "connection closed"),
            (None, None) => tracing::debug!(peer = %remote, "connection closed"),
        }
        on_close(violation);
    }
}
