//! RSS per idle connection: opens 1,000 connections from one client endpoint
//! to one server endpoint in this process and reports the growth of the
//! resident set divided by the connection count (each connection's two ends
//! are both in this process, so the figure per end is half).
//!
//! Run: `cargo bench -p cairn-transport --bench idle_memory`.

use std::time::Duration;

use cairn_transport::{Endpoint, Identity, TransportConfig};

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // The node's allocator settings, as in the `cairn` binary.
    cairn_transport::malloc::tune();
    const N: usize = 1000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = TransportConfig { max_connections_per_ip: 4096, ..TransportConfig::default() };
        let server = Endpoint::bind(Identity::generate(), cfg.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = Endpoint::bind(Identity::generate(), cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        // Warm up allocator and runtime with a few connections first.
        let mut conns = Vec::new();
        let mut accepted = Vec::new();
        for _ in 0..10 {
            let srv = server.clone();
            let acc = tokio::spawn(async move { srv.accept().await.unwrap() });
            conns.push(client.connect(server.node_id(), server.local_addr()).await.unwrap());
            accepted.push(acc.await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss_kib();
        for _ in 0..N {
            let srv = server.clone();
            let acc = tokio::spawn(async move { srv.accept().await.unwrap() });
            conns.push(client.connect(server.node_id(), server.local_addr()).await.unwrap());
            accepted.push(acc.await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib();
        let per_conn = (after.saturating_sub(before)) as f64 / N as f64;
        println!("idle_memory: {N} idle connections, RSS {before} KiB -> {after} KiB");
        println!("idle_memory: {per_conn:.1} KiB per connection (both ends in-process), {:.1} KiB per end", per_conn / 2.0);
        assert_eq!(server.connections().len(), N + 10);
    });
}
