//! Fetch of a large file stored 4+2 on 6 in-process nodes by a 7th (its
//! owner, which kept only the manifests), over loopback with the full
//! transport, against a plain single TCP transfer of the same number of
//! bytes in the same run. Size: `CAIRN_BENCH_MIB` (default 256).
//!
//! `cargo bench -p cairn --bench exchange_fetch`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn::config::StoreConfig;
use cairn::exchange::{self, ExchangeConfig, NoProviders};
use cairn::net::{AllowAll, ConnPool};
use cairn::store::{AddOptions, Cap, Redundancy, Store};
use cairn_transport::{Endpoint, Identity, NodeId, Router, TransportConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

struct Net {
    rt: tokio::runtime::Runtime,
    reader: Store,
    cap: Cap,
    bytes: u64,
    _dirs: Vec<tempfile::TempDir>,
    _cancel: CancellationToken,
}

fn setup() -> Net {
    let mib: u64 = std::env::var("CAIRN_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cancel = CancellationToken::new();
    let mut dirs = Vec::new();
    let mut stores = Vec::new();
    let mut pools = Vec::new();
    let mut peers: Vec<(NodeId, SocketAddr)> = Vec::new();
    for _ in 0..7 {
        let dir = tempfile::tempdir().unwrap();
        let (store, pool) = rt.block_on(async {
            let ep = Endpoint::bind(
                Identity::generate(),
                TransportConfig::default(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap();
            let store = Store::open(
                &dir.path().join("store"),
                &rand::random::<[u8; 32]>(),
                *ep.node_id().as_bytes(),
                StoreConfig::default(),
            )
            .unwrap();
            let (tx, rx) = exchange::inbox();
            let pool = ConnPool::new(
                ep.clone(),
                Router::new().route(exchange::PROTOCOL, tx),
                cancel.clone(),
            );
            let p = pool.clone();
            tokio::spawn(async move { p.accept_from(ep).await });
            let ex = exchange::spawn(
                pool.clone(),
                store.clone(),
                Arc::new(AllowAll),
                Arc::new(NoProviders),
                ExchangeConfig::default(),
                rx,
                cancel.clone(),
            );
            exchange::install(&ex, tokio::runtime::Handle::current(), true);
            (store, pool)
        });
        peers.push((pool.local_id(), pool.endpoint().local_addr()));
        dirs.push(dir);
        stores.push(store);
        pools.push(pool);
    }
    // Node 0 owns the file and connects to the six others.
    rt.block_on(async {
        for (id, addr) in &peers[1..] {
            pools[0].connect(*id, &[*addr]).await.unwrap();
        }
    });
    let src = tempfile::tempdir().unwrap();
    let path = src.path().join("big.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut rng = rand::thread_rng();
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..mib {
            rand::Rng::fill(&mut rng, &mut buf[..]);
            f.write_all(&buf).unwrap();
        }
    }
    let owner = stores[0].clone();
    // This thread is outside the runtime: the placer blocks on it directly.
    let opts = AddOptions {
        redundancy: Some(Redundancy::new(4, 2).unwrap()),
        ..Default::default()
    };
    let rep = owner.add(&[path], &opts, &mut |_| {}).unwrap().remove(0);
    let p = rep.placement.clone().unwrap();
    assert_eq!(p.shards_kept_local, 0);
    dirs.push(src);
    Net {
        rt,
        reader: stores[0].clone(),
        cap: rep.cap,
        bytes: mib << 20,
        _dirs: dirs,
        _cancel: cancel,
    }
}

/// A plain TCP transfer of `bytes` over loopback, 1 MiB writes.
async fn tcp_transfer(bytes: u64) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let recv = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = s.read(&mut buf).await.unwrap();
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        n
    });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let buf = vec![7u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let k = left.min(buf.len() as u64) as usize;
        s.write_all(&buf[..k]).await.unwrap();
        left -= k as u64;
    }
    s.shutdown().await.unwrap();
    drop(s);
    assert_eq!(recv.await.unwrap(), bytes);
}

fn bench(c: &mut Criterion) {
    let net = setup();
    let mut g = c.benchmark_group("exchange_fetch");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(net.bytes));
    g.bench_function("plain_tcp", |b| {
        b.iter(|| net.rt.block_on(tcp_transfer(net.bytes)))
    });
    g.bench_function("cairn_4+2_from_6_peers", |b| {
        b.iter(|| {
            let n = net
                .reader
                .cat(&net.cap, None, &mut std::io::sink())
                .unwrap();
            assert_eq!(n, net.bytes);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
