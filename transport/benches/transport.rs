//! Transport benchmarks, each against a baseline measured in the same run.
//!
//! - `bulk/*`: one stream, 64 KiB writes and reads over loopback TCP, against
//!   a plain tokio TCP copy with the same buffer sizes; rotation at the
//!   default budget, every 1 MiB, and off; both ciphers.
//! - `bulk_buffers/*`: the same at the default settings, with 8 KiB, 64 KiB
//!   and 256 KiB reads and writes, against the plain copy at each size.
//! - `bulk_nodes/*`: `bulk_buffers` with each end in a runtime of its own,
//!   one worker each, as two nodes on two single-core machines would run
//!   (the groups above put both ends and all their tasks in one runtime,
//!   which two nodes never share); the plain copy's two ends get the same
//!   two runtimes.
//! - `streams/*`: 1,000 concurrent streams moving the same total as one
//!   stream; the slowest stream's share of its fair share is printed. Every
//!   reader task is spawned and waiting before the writers are released, so
//!   the share measures the transport's order, not how soon tokio first polls
//!   1,000 freshly spawned tasks; the runtime polls its shared queue every
//!   tick for the same reason.
//! - `handshake/*`: full XX + identity check, both sides on one thread; the
//!   thread CPU time of both, and of the responder's and the initiator's
//!   `poll` alone (one side's cost per handshake on one core).
//! - `crypto_floor/*`: the two AEAD passes every bulk byte takes, seal +
//!   open, on one thread, in thread CPU time: the CPU floor of the bulk path.
//!
//! Every group runs with the node's allocator settings
//! (`cairn_transport::malloc::tune`).
//!
//! Run: `cargo bench -p cairn-transport --bench transport`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_transport::{CipherKind, Connection, Endpoint, Identity, TransportConfig};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

// Four full stream frames (default max_frame_size 65483), for both the
// baseline and the transport.
const BUF: usize = 4 * 65_483;
const BULK: usize = 256 * BUF;

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(loopback()).await.unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (b, _) = l.accept().await.unwrap();
    a.set_nodelay(true).unwrap();
    b.set_nodelay(true).unwrap();
    (a, b)
}

async fn conn_pair(cfg: TransportConfig) -> (Endpoint, Endpoint, Connection, Connection) {
    let server = Endpoint::bind(Identity::generate(), cfg.clone(), loopback())
        .await
        .unwrap();
    let client = Endpoint::bind(Identity::generate(), cfg, loopback())
        .await
        .unwrap();
    let srv = server.clone();
    let acc = tokio::spawn(async move { srv.accept().await.unwrap() });
    let a = client
        .connect(server.node_id(), server.local_addr())
        .await
        .unwrap();
    let b = acc.await.unwrap();
    (server, client, a, b)
}

/// Process CPU time (all threads) spent inside `pump`, and the bytes moved,
/// since the last `cpu_report`.
static PUMP_CPU_NS: AtomicU64 = AtomicU64::new(0);
static PUMP_BYTES: AtomicU64 = AtomicU64::new(0);

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Prints the CPU seconds the whole process spent per GiB moved by the
/// pumps since the previous call: the cost of a byte, whatever the load.
fn cpu_report(name: &str) {
    let ns = PUMP_CPU_NS.swap(0, Ordering::Relaxed) as f64;
    let bytes = PUMP_BYTES.swap(0, Ordering::Relaxed) as f64;
    if bytes > 0.0 {
        eprintln!(
            "{name}: {:.3} CPU-s per GiB (all threads of the process)",
            ns / 1e9 / (bytes / (1u64 << 30) as f64)
        );
    }
}

/// Writes `total` bytes in BUF chunks to `w` while `r` drains them; returns the time.
async fn pump<W, R>(w: W, r: R, total: usize) -> Duration
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    pump_with(w, r, total, BUF).await
}

/// `pump` with writes and reads of `size` bytes.
async fn pump_with<W, R>(mut w: W, r: R, total: usize, size: usize) -> Duration
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let start = (Instant::now(), process_cpu());
    let reader = tokio::spawn(drain(r, total, size));
    fill(&mut w, total, size).await;
    let _r = reader.await.unwrap();
    account(start, total)
}

/// Reads `total` bytes from `r` in reads of `size`.
async fn drain<R: tokio::io::AsyncRead + Unpin>(mut r: R, total: usize, size: usize) -> R {
    let mut buf = vec![0u8; size];
    let mut n = 0;
    while n < total {
        let k = r.read(&mut buf).await.unwrap();
        assert!(k > 0);
        n += k;
    }
    r
}

/// Writes `total` bytes to `w` in writes of `size`, then flushes.
async fn fill<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, total: usize, size: usize) {
    let data = vec![0x5au8; size];
    let mut sent = 0;
    while sent < total {
        let n = size.min(total - sent);
        w.write_all(&data[..n]).await.unwrap();
        sent += n;
    }
    w.flush().await.unwrap();
}

/// Adds the CPU spent and the bytes moved since `start` (wall clock,
/// process CPU) to the `cpu_report` totals; returns the wall time.
fn account(start: (Instant, Duration), total: usize) -> Duration {
    let wall = start.0.elapsed();
    PUMP_CPU_NS.fetch_add(
        (process_cpu() - start.1).as_nanos() as u64,
        Ordering::Relaxed,
    );
    PUMP_BYTES.fetch_add(total as u64, Ordering::Relaxed);
    wall
}

/// A group moving BULK bytes per iteration, 10 samples of 8 s.
fn bulk_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(BULK as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g
}

/// A runtime standing for one node with one core: the sending or the
/// receiving end of a `bulk_nodes` pair.
fn node_rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Two endpoints, each bound (so each accepting, dialling and driving its
/// connections) in its own runtime, and the connection between them.
struct Nodes {
    send_rt: Runtime,
    recv_rt: Runtime,
    _endpoints: (Endpoint, Endpoint),
    a: Arc<Connection>,
    b: Arc<Connection>,
}

fn node_pair(cfg: TransportConfig) -> Nodes {
    let (send_rt, recv_rt) = (node_rt(), node_rt());
    let server = recv_rt
        .block_on(Endpoint::bind(
            Identity::generate(),
            cfg.clone(),
            loopback(),
        ))
        .unwrap();
    let client = send_rt
        .block_on(Endpoint::bind(Identity::generate(), cfg, loopback()))
        .unwrap();
    let srv = server.clone();
    let acc = recv_rt.spawn(async move { srv.accept().await.unwrap() });
    let (id, addr) = (server.node_id(), server.local_addr());
    let cl = client.clone();
    let a = send_rt
        .block_on(async move { cl.connect(id, addr).await })
        .unwrap();
    let b = recv_rt.block_on(acc).unwrap();
    Nodes {
        send_rt,
        recv_rt,
        _endpoints: (server, client),
        a: Arc::new(a),
        b: Arc::new(b),
    }
}

/// `pump_with` across two runtimes: the reader runs on `recv`, the writer
/// on `send`, each as a task; `wrap_*` turn what was made outside into the
/// streams (a std socket is registered with the runtime that uses it).
fn pump_nodes<W, R>(
    send: &Runtime,
    recv: &Runtime,
    w: impl FnOnce() -> W + Send + 'static,
    r: impl FnOnce() -> R + Send + 'static,
    total: usize,
    size: usize,
) -> Duration
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let start = (Instant::now(), process_cpu());
    let reader = recv.spawn(async move { drain(r(), total, size).await });
    let writer = send.spawn(async move {
        let mut w = w();
        fill(&mut w, total, size).await;
        w
    });
    let _w = send.block_on(writer).unwrap();
    let _r = recv.block_on(reader).unwrap();
    account(start, total)
}

/// A connected pair of std sockets, not yet registered with any runtime.
fn std_tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind(loopback()).unwrap();
    let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    for s in [&a, &b] {
        s.set_nodelay(true).unwrap();
        s.set_nonblocking(true).unwrap();
    }
    (a, b)
}

/// A stream from `a` to `b` whose header and first key crossed already, so
/// the clock measures only the bulk.
async fn warm_stream(
    a: &Connection,
    b: &Arc<Connection>,
) -> (cairn_transport::Stream, cairn_transport::Stream) {
    let mut ws = a.open_stream("bench/1").await.unwrap();
    let bc = b.clone();
    let rs = tokio::spawn(async move { bc.accept_stream().await.unwrap().1 });
    ws.write_all(&[0u8; 1]).await.unwrap();
    ws.flush().await.unwrap();
    let mut rs = rs.await.unwrap();
    let mut one = [0u8; 1];
    rs.read_exact(&mut one).await.unwrap();
    (ws, rs)
}

fn bulk(c: &mut Criterion) {
    let rt = rt();
    let mut g = bulk_group(c, "bulk");
    g.bench_function("tcp_copy_baseline", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let (a, bb) = tcp_pair().await;
                    t += pump(a, bb, BULK).await;
                }
                t
            })
        })
    });
    cpu_report("bulk/tcp_copy_baseline");
    let variants: [(&str, CipherKind, u64); 5] = [
        (
            "aes_rotate_default",
            CipherKind::Aes256Gcm,
            TransportConfig::default().rotate_after_bytes,
        ),
        ("aes_rotate_1mib", CipherKind::Aes256Gcm, 1024 * 1024),
        ("aes_rotate_off", CipherKind::Aes256Gcm, 0),
        (
            "chacha_rotate_1mib",
            CipherKind::ChaCha20Poly1305,
            1024 * 1024,
        ),
        ("chacha_rotate_off", CipherKind::ChaCha20Poly1305, 0),
    ];
    for (name, cipher, rotate) in variants {
        let cfg = TransportConfig {
            default_cipher: cipher,
            rotate_after_bytes: rotate,
            ..TransportConfig::default()
        };
        let (_s, _c, a, bconn) = rt.block_on(conn_pair(cfg));
        let a = Arc::new(a);
        let bconn = Arc::new(bconn);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let (ws, rs) = warm_stream(&a, &bconn).await;
                        t += pump(ws, rs, BULK).await;
                    }
                    t
                })
            })
        });
        cpu_report(&format!("bulk/{name}"));
    }
    g.finish();
}

/// One stream at the default settings against a plain TCP copy, both with
/// the application's reads and writes of 8 KiB (tokio::io::copy's and
/// socat's size), one stream frame (64 KiB) and 256 KiB: the goal's ratio
/// depends on the buffer size, because small buffers cost the plain copy a
/// system call each while the transport coalesces them into full Noise
/// messages.
fn bulk_buffers(c: &mut Criterion) {
    let rt = rt();
    let mut g = bulk_group(c, "bulk_buffers");
    let (_s, _c, a, bconn) = rt.block_on(conn_pair(TransportConfig::default()));
    let a = Arc::new(a);
    let bconn = Arc::new(bconn);
    for (label, size) in [("8k", 8 * 1024), ("64k", 65_483), ("256k", BUF)] {
        g.bench_function(format!("tcp_copy_{label}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let (x, y) = tcp_pair().await;
                        t += pump_with(x, y, BULK, size).await;
                    }
                    t
                })
            })
        });
        cpu_report(&format!("bulk_buffers/tcp_copy_{label}"));
        g.bench_function(format!("cairn_{label}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let (ws, rs) = warm_stream(&a, &bconn).await;
                        t += pump_with(ws, rs, BULK, size).await;
                    }
                    t
                })
            })
        });
        cpu_report(&format!("bulk_buffers/cairn_{label}"));
    }
    g.finish();
}

/// `bulk_buffers` with each end a node of its own (see the module docs).
fn bulk_nodes(c: &mut Criterion) {
    let mut g = bulk_group(c, "bulk_nodes");
    let n = node_pair(TransportConfig::default());
    for (label, size) in [("8k", 8 * 1024), ("64k", 65_483), ("256k", BUF)] {
        g.bench_function(format!("tcp_copy_{label}"), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let (x, y) = std_tcp_pair();
                    t += pump_nodes(
                        &n.send_rt,
                        &n.recv_rt,
                        move || TcpStream::from_std(x).unwrap(),
                        move || TcpStream::from_std(y).unwrap(),
                        BULK,
                        size,
                    );
                }
                t
            })
        });
        cpu_report(&format!("bulk_nodes/tcp_copy_{label}"));
        g.bench_function(format!("cairn_{label}"), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let (ws, rs) = warm_stream_nodes(&n);
                    t += pump_nodes(&n.send_rt, &n.recv_rt, move || ws, move || rs, BULK, size);
                }
                t
            })
        });
        cpu_report(&format!("bulk_nodes/cairn_{label}"));
    }
    g.finish();
}

/// `warm_stream` with each end opened or accepted on its own node.
fn warm_stream_nodes(n: &Nodes) -> (cairn_transport::Stream, cairn_transport::Stream) {
    let b = n.b.clone();
    let rs = n
        .recv_rt
        .spawn(async move { b.accept_stream().await.unwrap().1 });
    let a = n.a.clone();
    let ws = n.send_rt.block_on(async move {
        let mut ws = a.open_stream("bench/1").await.unwrap();
        ws.write_all(&[0u8; 1]).await.unwrap();
        ws.flush().await.unwrap();
        ws
    });
    let rs = n.recv_rt.block_on(async move {
        let mut rs = rs.await.unwrap();
        let mut one = [0u8; 1];
        rs.read_exact(&mut one).await.unwrap();
        rs
    });
    (ws, rs)
}

/// Reads `total` bytes from `r`, adding each read to `counter`.
async fn read_counted(
    mut r: cairn_transport::Stream,
    total: usize,
    counter: Arc<Vec<AtomicU64>>,
    i: usize,
    polled: Arc<AtomicU64>,
) {
    polled.fetch_add(1, Ordering::Relaxed);
    let mut buf = vec![0u8; BUF];
    let mut n = 0;
    while n < total {
        let k = r.read(&mut buf).await.unwrap();
        assert!(k > 0);
        n += k;
        counter[i].fetch_add(k as u64, Ordering::Relaxed);
    }
}

/// Waits for `start`, then writes `total` bytes to `w` in BUF chunks.
async fn write_after(
    mut w: cairn_transport::Stream,
    total: usize,
    start: Arc<tokio::sync::Barrier>,
) {
    start.wait().await;
    fill(&mut w, total, BUF).await;
    // Keep the stream open until the reader has everything.
    std::future::pending::<()>().await;
}

fn many_streams(c: &mut Criterion) {
    const N: usize = 1000;
    // Twice the yamux stream window, so streams compete for the connection.
    const PER: usize = 8 * 65_483;
    // Workers take from the shared queue on every tick: with tokio's default
    // (every 61 ticks) the writer tasks the start barrier wakes sit in that
    // queue while the first ones run, which is what the 0% "slowest stream"
    // of earlier runs measured (see docs/BENCHMARKS.md).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .global_queue_interval(1)
        .enable_all()
        .build()
        .unwrap();
    PUMP_CPU_NS.store(0, Ordering::Relaxed);
    PUMP_BYTES.store(0, Ordering::Relaxed);
    let mut g = c.benchmark_group("streams");
    g.throughput(Throughput::Bytes((N * PER) as u64));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let (_s, _c, a, bconn) = rt.block_on(conn_pair(TransportConfig::default()));
    let a = Arc::new(a);
    let bconn = Arc::new(bconn);
    g.bench_function("one_stream_same_total", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let mut ws = a.open_stream("bench/1").await.unwrap();
                    ws.write_all(&[0u8; 1]).await.unwrap();
                    ws.flush().await.unwrap();
                    let mut rs = bconn.accept_stream().await.unwrap().1;
                    let mut one = [0u8; 1];
                    rs.read_exact(&mut one).await.unwrap();
                    t += pump(ws, rs, N * PER).await;
                }
                t
            })
        })
    });
    cpu_report("streams/one_stream_same_total");
    let mut worst_share = f64::MAX;
    let mut median_shares = Vec::new();
    g.bench_function("thousand_streams", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    // Open and prime all streams first; then move data on all at once.
                    let mut pairs = Vec::with_capacity(N);
                    for _ in 0..N {
                        let mut ws = a.open_stream("bench/1").await.unwrap();
                        ws.write_all(&[0u8; 1]).await.unwrap();
                        ws.flush().await.unwrap();
                        let mut rs = bconn.accept_stream().await.unwrap().1;
                        let mut one = [0u8; 1];
                        rs.read_exact(&mut one).await.unwrap();
                        pairs.push((ws, rs));
                    }
                    let counters: Arc<Vec<AtomicU64>> =
                        Arc::new((0..N).map(|_| AtomicU64::new(0)).collect());
                    // Every reader task exists (and is waiting) before the
                    // writers are released together.
                    let mut readers = tokio::task::JoinSet::new();
                    let mut writers = tokio::task::JoinSet::new();
                    let barrier = Arc::new(tokio::sync::Barrier::new(N + 1));
                    let polled = Arc::new(AtomicU64::new(0));
                    for (i, (ws, rs)) in pairs.into_iter().enumerate() {
                        readers.spawn(read_counted(rs, PER, counters.clone(), i, polled.clone()));
                        writers.spawn(write_after(ws, PER, barrier.clone()));
                    }
                    while polled.load(Ordering::Relaxed) < N as u64 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    let start = Instant::now();
                    let cpu = process_cpu();
                    barrier.wait().await;
                    // When the first stream completes, compare every stream's
                    // progress with the mean: the slowest one's share of it.
                    if let Some(r) = readers.join_next().await {
                        r.unwrap();
                    }
                    let snap: Vec<u64> =
                        counters.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                    let mean = snap.iter().sum::<u64>() as f64 / N as f64;
                    let min = snap.iter().copied().min().unwrap_or(0) as f64;
                    worst_share = worst_share.min(min / mean);
                    let mut sorted = snap.clone();
                    sorted.sort_unstable();
                    let median = sorted[N / 2] as f64;
                    median_shares.push(median / mean);
                    while let Some(r) = readers.join_next().await {
                        r.unwrap();
                    }
                    writers.abort_all();
                    t += start.elapsed();
                    PUMP_CPU_NS
                        .fetch_add((process_cpu() - cpu).as_nanos() as u64, Ordering::Relaxed);
                    PUMP_BYTES.fetch_add((N * PER) as u64, Ordering::Relaxed);
                }
                t
            })
        })
    });
    g.finish();
    cpu_report("streams/thousand_streams");
    eprintln!(
        "streams/thousand_streams: when the first stream finished, the slowest had {:.0}% of the mean progress (worst of {} iterations); the median stream {:.0}% (mean over iterations)",
        worst_share * 100.0,
        median_shares.len(),
        100.0 * median_shares.iter().sum::<f64>() / median_shares.len().max(1) as f64
    );
}

/// CPU time this thread has consumed. On the shared build machine wall time
/// also counts the time other processes hold the core; per-core rates are
/// measured in thread CPU time instead.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wraps a future and adds the thread CPU time spent inside its `poll` to
/// `spent`. On a single-threaded runtime with both handshake sides on one
/// in-memory pipe, that is the work of this side alone.
struct Timed<'a, F> {
    inner: std::pin::Pin<Box<F>>,
    spent: &'a std::cell::Cell<Duration>,
}

impl<F: std::future::Future> std::future::Future for Timed<'_, F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let t = thread_cpu();
        let r = self.inner.as_mut().poll(cx);
        self.spent.set(self.spent.get() + (thread_cpu() - t));
        r
    }
}

#[derive(Clone, Copy)]
enum Side {
    Both,
    Responder,
    Initiator,
}

fn handshakes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Identity::generate();
    let client = Identity::generate();
    let sid = server.node_id();
    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    let cases = [
        ("xx_identity_both_sides_one_core", Side::Both),
        ("xx_identity_responder_only", Side::Responder),
        ("xx_identity_initiator_only", Side::Initiator),
    ];
    for (name, side) in cases {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let resp = std::cell::Cell::new(Duration::ZERO);
                let init = std::cell::Cell::new(Duration::ZERO);
                let start = thread_cpu();
                for _ in 0..iters {
                    rt.block_on(async {
                        let (mut x, mut y) = tokio::io::duplex(4096);
                        let (r, i) = tokio::join!(
                            Timed {
                                inner: Box::pin(cairn_transport::handshake::respond(
                                    &mut y, &server
                                )),
                                spent: &resp,
                            },
                            Timed {
                                inner: Box::pin(cairn_transport::handshake::initiate(
                                    &mut x, &client, sid
                                )),
                                spent: &init,
                            }
                        );
                        assert!(r.is_ok() && i.is_ok());
                    })
                }
                match side {
                    Side::Both => thread_cpu() - start,
                    Side::Responder => resp.get(),
                    Side::Initiator => init.get(),
                }
            })
        });
    }
    g.finish();
}

/// The cryptographic floor of the bulk path, on one thread: every byte a
/// stream moves is sealed and opened once by the connection's Noise
/// ChaCha20-Poly1305 (65,519-byte messages) and once by the stream cipher
/// (65,483-byte frames). Their summed cost per byte bounds what two cores can
/// move, whatever the rest of the code does.
fn crypto_floor(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Identity::generate();
    let client = Identity::generate();
    let sid = server.node_id();
    let (mut tx, mut rx) = rt.block_on(async {
        let (mut x, mut y) = tokio::io::duplex(4096);
        let (r, i) = tokio::join!(
            cairn_transport::handshake::respond(&mut y, &server),
            cairn_transport::handshake::initiate(&mut x, &client, sid)
        );
        (i.unwrap().keys.send, r.unwrap().keys.recv)
    });
    let mut g = c.benchmark_group("crypto_floor");
    const NOISE_PLAIN: usize = 65_519;
    g.throughput(Throughput::Bytes(NOISE_PLAIN as u64));
    // Sealed and opened in place, as the connection does.
    let mut wire = vec![0x5au8; 65_535];
    g.bench_function("noise_chachapoly_seal_open_64k", |b| {
        b.iter_custom(|iters| {
            let start = thread_cpu();
            for _ in 0..iters {
                let n = tx.seal_in_place(&mut wire, NOISE_PLAIN).unwrap();
                let k = rx.open_in_place(&mut wire[..n]).unwrap();
                assert_eq!(k, NOISE_PLAIN);
            }
            thread_cpu() - start
        })
    });
    const FRAME: usize = 65_483;
    g.throughput(Throughput::Bytes(FRAME as u64));
    for (name, kind) in [
        ("stream_aes256gcm_seal_open_64k", CipherKind::Aes256Gcm),
        (
            "stream_chacha20poly1305_seal_open_64k",
            CipherKind::ChaCha20Poly1305,
        ),
    ] {
        use cairn_transport::stream_cipher::{FRAME_HEAD, StreamKey, TAG};
        let key = [7u8; 32];
        let mut sealer = StreamKey::new(kind, 0, &key);
        let mut opener = StreamKey::new(kind, 0, &key);
        let mut buf = vec![0x5au8; FRAME_HEAD + FRAME + TAG];
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu();
                for _ in 0..iters {
                    let total = sealer.seal(&mut buf, FRAME).unwrap();
                    let (head, body) = buf.split_at_mut(FRAME_HEAD);
                    let head: [u8; FRAME_HEAD] = (&*head).try_into().unwrap();
                    let n = opener.open(&head, &mut body[..total - FRAME_HEAD]).unwrap();
                    assert_eq!(n, FRAME);
                }
                thread_cpu() - start
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bulk,
    bulk_buffers,
    bulk_nodes,
    many_streams,
    handshakes,
    crypto_floor
);

/// `criterion_main!`, after applying the allocator settings the node runs
/// with (`cairn_transport::malloc`), before any thread starts.
fn main() {
    cairn_transport::malloc::tune();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
