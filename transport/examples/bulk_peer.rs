//! One end of a two-process bulk transfer over loopback, for
//! `scripts/bench-transport-procs.sh`: the way the issue's reference
//! figures (libp2p-perf, socat) were taken, each end a process of its own
//! with tokio's default runtime, the work spawned as a task as the node
//! does, and the node's allocator settings.
//!
//! ```text
//! bulk_peer recv [tcp]              prints "ADDR NODEID", then, when done,
//!                                   "MIB_PER_S CPU_S_PER_GIB" (this process)
//! bulk_peer send ADDR NODEID [tcp]
//! ```
//!
//! `BULK_BYTES` (default 512 MiB) and `BULK_BUF` (default 8 KiB: the size
//! of every application read and write) set the transfer; the receiver
//! starts its clock at a one-byte marker, after the handshake.
//! `BULK_GLIBC_DEFAULTS=1` leaves glibc's allocator policy as it is, to
//! measure what `cairn_transport::malloc::tune` buys.

use std::io::Write;
use std::time::{Duration, Instant};

use cairn_transport::{Endpoint, Identity, NodeId, TransportConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    if std::env::var_os("BULK_GLIBC_DEFAULTS").is_none() {
        cairn_transport::malloc::tune();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tcp = args.iter().any(|a| a == "tcp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let job = match args.first().map(String::as_str) {
        Some("recv") => rt.spawn(recv(tcp)),
        Some("send") if args.len() >= 3 => {
            let addr = args[1].parse().expect("ADDR");
            let id = args[2].parse().ok();
            rt.spawn(send(addr, id, tcp))
        }
        _ => {
            eprintln!("usage: bulk_peer recv [tcp] | bulk_peer send ADDR NODEID [tcp]");
            std::process::exit(2);
        }
    };
    rt.block_on(job).expect("bulk_peer task");
}

async fn recv(tcp: bool) {
    let loopback = "127.0.0.1:0".parse().unwrap();
    if tcp {
        let l = tokio::net::TcpListener::bind(loopback).await.unwrap();
        announce(&format!("{} -", l.local_addr().unwrap()));
        let (s, _) = l.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        read_all(s).await;
    } else {
        let ep = Endpoint::bind(Identity::generate(), TransportConfig::default(), loopback)
            .await
            .unwrap();
        announce(&format!("{} {}", ep.local_addr(), ep.node_id()));
        let conn = ep.accept().await.unwrap();
        let (_, s) = conn.accept_stream().await.unwrap();
        read_all(s).await;
        conn.close();
    }
}

/// Reads the marker, then `BULK_BYTES` in `BULK_BUF` reads, and prints the
/// rate and this process's CPU per GiB.
async fn read_all(mut input: impl AsyncRead + Unpin) {
    let (bytes, buf) = (
        env_usize("BULK_BYTES", 512 << 20),
        env_usize("BULK_BUF", 8192),
    );
    let mut marker = [0u8; 1];
    input.read_exact(&mut marker).await.unwrap();
    let (t0, c0) = (Instant::now(), process_cpu());
    let mut b = vec![0u8; buf];
    let mut n = 0;
    while n < bytes {
        let k = input.read(&mut b).await.unwrap();
        assert!(k > 0, "the sender stopped after {n} of {bytes} bytes");
        n += k;
    }
    let (wall, cpu) = (
        t0.elapsed().as_secs_f64(),
        (process_cpu() - c0).as_secs_f64(),
    );
    let gib = bytes as f64 / (1u64 << 30) as f64;
    announce(&format!("{:.1} {:.3}", gib * 1024.0 / wall, cpu / gib));
}

async fn send(addr: std::net::SocketAddr, id: Option<NodeId>, tcp: bool) {
    if tcp {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        write_all(&mut s).await;
        // Until the receiver has read everything and closed.
        let _ = s.read(&mut [0u8; 1]).await;
    } else {
        let loopback = "127.0.0.1:0".parse().unwrap();
        let ep = Endpoint::bind(Identity::generate(), TransportConfig::default(), loopback)
            .await
            .unwrap();
        let conn = ep.connect(id.expect("NODEID"), addr).await.unwrap();
        let mut s = conn.open_stream("bench/bulk").await.unwrap();
        write_all(&mut s).await;
        conn.closed().await;
    }
}

/// Writes the marker, then `BULK_BYTES` in `BULK_BUF` writes.
async fn write_all(out: &mut (impl AsyncWrite + Unpin)) {
    let (bytes, buf) = (
        env_usize("BULK_BYTES", 512 << 20),
        env_usize("BULK_BUF", 8192),
    );
    let data = vec![0x5au8; buf];
    out.write_all(&[1]).await.unwrap();
    let mut sent = 0;
    while sent < bytes {
        let k = buf.min(bytes - sent);
        out.write_all(&data[..k]).await.unwrap();
        sent += k;
    }
    out.flush().await.unwrap();
}

fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}
