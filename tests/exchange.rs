//! Block exchange and placement across in-process nodes: real transport
//! endpoints on 127.0.0.1, real stores in temporary directories.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn::config::StoreConfig;
use cairn::exchange::wire::{Message, WantMode};
use cairn::exchange::{
    self, ExchangeConfig, ExchangeError, ExchangeHandle, StaticProviders, wire::RefusalCode,
};
use cairn::net::{ConnPool, PeerPolicy, Right, Severity};
use cairn::store::read::Body;
use cairn::store::{AddOptions, AddReport, Cap, Class, Redundancy, Store};
use cairn_transport::{Connection, Endpoint, Identity, NodeId, Router, Stream, TransportConfig};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A policy that records offences and can withhold rights from peers.
#[derive(Default)]
struct TestPolicy {
    no_store: Mutex<HashSet<NodeId>>,
    offences: Mutex<Vec<(NodeId, Severity, String)>>,
}

impl PeerPolicy for TestPolicy {
    fn allows(&self, peer: &NodeId, right: Right) -> bool {
        !(right == Right::Store && self.no_store.lock().contains(peer))
    }
    fn offence(&self, peer: &NodeId, severity: Severity, what: &str) {
        self.offences
            .lock()
            .push((*peer, severity, what.to_owned()));
    }
    fn is_banned(&self, _peer: &NodeId) -> bool {
        false
    }
}

struct Node {
    id: NodeId,
    store: Store,
    exchange: ExchangeHandle,
    policy: Arc<TestPolicy>,
    cancel: CancellationToken,
    endpoint: Endpoint,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn stop(&self) {
        self.cancel.cancel();
        self.endpoint.close().await;
    }
}

async fn bind() -> Endpoint {
    Endpoint::bind(
        Identity::generate(),
        TransportConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn exchange_cfg() -> ExchangeConfig {
    ExchangeConfig {
        request_timeout: Duration::from_secs(10),
        ..ExchangeConfig::default()
    }
}

/// A real node: pool, router with `blocks/1`, store, exchange, hooks.
async fn start(endpoint: Endpoint, store_cfg: StoreConfig, providers: StaticProviders) -> Node {
    start_with(endpoint, store_cfg, providers, exchange_cfg()).await
}

async fn start_with(
    endpoint: Endpoint,
    store_cfg: StoreConfig,
    providers: StaticProviders,
    cfg: ExchangeConfig,
) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let id = endpoint.node_id();
    let store = Store::open(
        &dir.path().join("store"),
        &rand::random::<[u8; 32]>(),
        *id.as_bytes(),
        store_cfg,
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let (tx, rx) = exchange::inbox();
    let pool = ConnPool::new(
        endpoint.clone(),
        Router::new().route(exchange::PROTOCOL, tx),
        cancel.clone(),
    );
    let p = pool.clone();
    let ep = endpoint.clone();
    tokio::spawn(async move { p.accept_from(ep).await });
    let policy = Arc::new(TestPolicy::default());
    let exchange = exchange::spawn(
        pool,
        store.clone(),
        policy.clone(),
        Arc::new(providers),
        cfg,
        rx,
        cancel.clone(),
    );
    exchange::install(&exchange, tokio::runtime::Handle::current(), true);
    Node {
        id,
        store,
        exchange,
        policy,
        cancel,
        endpoint,
        _dir: dir,
    }
}

/// A node that accepts every put and answers every want with wrong bytes.
async fn start_tamperer(endpoint: Endpoint) -> CancellationToken {
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<(Connection, Stream)>(64);
    let pool = ConnPool::new(
        endpoint.clone(),
        Router::new().route(exchange::PROTOCOL, tx),
        cancel.clone(),
    );
    let p = pool.clone();
    tokio::spawn(async move { p.accept_from(endpoint).await });
    tokio::spawn(async move {
        while let Some((_, mut s)) = rx.recv().await {
            tokio::spawn(async move {
                let mut d = exchange::wire::Decoder::new();
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    d.push(&buf[..n]);
                    while let Ok(Some(m)) = d.next_message() {
                        let reply = match m {
                            Message::Put { id, .. } => Message::PutAck { id },
                            Message::Want {
                                mode: WantMode::Block,
                                ids,
                            } => {
                                // Every id of a want-list gets wrong bytes.
                                let mut out = Vec::new();
                                for id in ids {
                                    out.extend(
                                        Message::Block {
                                            id,
                                            bytes: vec![0x66; 4096],
                                        }
                                        .encode(),
                                    );
                                }
                                if s.write_all(&out).await.is_err() || s.flush().await.is_err() {
                                    return;
                                }
                                continue;
                            }
                            _ => return,
                        };
                        if s.write_all(&reply.encode()).await.is_err() || s.flush().await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    cancel
}

fn random_file(dir: &std::path::Path, len: usize) -> (PathBuf, Vec<u8>) {
    let mut data = vec![0u8; len];
    rand::Rng::fill(&mut rand::thread_rng(), &mut data[..]);
    let p = dir.join("file.bin");
    std::fs::write(&p, &data).unwrap();
    (p, data)
}

async fn add(store: &Store, path: PathBuf) -> AddReport {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let opts = AddOptions {
            redundancy: Some(Redundancy::new(4, 2).unwrap()),
            ..Default::default()
        };
        store.add(&[path], &opts, &mut |_| {}).unwrap().remove(0)
    })
    .await
    .unwrap()
}

async fn cat(store: &Store, cap: &Cap) -> Vec<u8> {
    let (store, cap) = (store.clone(), cap.clone());
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        store.cat(&cap, None, &mut out).unwrap();
        out
    })
    .await
    .unwrap()
}

async fn file_chunks(store: &Store, cap: &Cap) -> Vec<cairn::store::manifest::ChunkRef> {
    let (store, cap) = (store.clone(), cap.clone());
    tokio::task::spawn_blocking(move || match store.open_body(&cap).unwrap() {
        Body::File(f) => f.chunks,
        Body::Dir(_) => panic!("expected a file"),
    })
    .await
    .unwrap()
}

async fn connect_all(from: &Node, to: &[(NodeId, SocketAddr)]) {
    for (id, addr) in to {
        from.exchange.pool().connect(*id, &[*addr]).await.unwrap();
    }
}

fn hosted_blocks(store: &Store) -> u64 {
    store
        .stats()
        .unwrap()
        .classes
        .iter()
        .find(|c| c.class == Class::Hosted)
        .map(|c| c.blocks)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_go_to_six_distinct_peers_and_read_back_with_two_holders_gone() {
    let endpoints: Vec<Endpoint> = futures::future::join_all((0..7).map(|_| bind())).await;
    let all: Vec<(NodeId, SocketAddr)> = endpoints
        .iter()
        .map(|e| (e.node_id(), e.local_addr()))
        .collect();
    let providers = StaticProviders::new(all.iter().map(|(i, a)| (*i, vec![*a])).collect());
    let mut nodes = Vec::new();
    for ep in endpoints {
        nodes.push(start(ep, StoreConfig::default(), providers.clone()).await);
    }
    connect_all(&nodes[0], &all[1..]).await;

    let tmp = tempfile::tempdir().unwrap();
    let (path, data) = random_file(tmp.path(), 6 << 20);
    let rep = add(&nodes[0].store, path).await;
    let placement = rep.placement.clone().expect("placement report");
    assert_eq!(placement.shards_kept_local, 0, "{placement:?}");
    assert_eq!(placement.peers, 6);
    assert!(placement.warning.is_none());

    let chunks = file_chunks(&nodes[0].store, &rep.cap).await;
    assert!(chunks.len() >= 3, "a several-MiB file makes several chunks");
    let owner = *nodes[0].id.as_bytes();
    for c in &chunks {
        let holders: HashSet<[u8; 32]> = c.shards.iter().flat_map(|s| s.holders.clone()).collect();
        assert_eq!(holders.len(), 6, "each shard on its own peer");
        assert!(!holders.contains(&owner), "keep_local = false");
        for s in &c.shards {
            assert_eq!(s.holders.len(), 1);
            let holder = nodes
                .iter()
                .find(|n| *n.id.as_bytes() == s.holders[0])
                .unwrap();
            assert!(holder.store.location(&s.id).unwrap().is_some());
        }
    }

    // Two holders go away; node 7 reads the file from what is left.
    nodes[1].stop().await;
    nodes[2].stop().await;
    let got = cat(&nodes[6].store, &rep.cap).await;
    assert!(got == data, "byte-identical read from node 7");
    let stats = nodes[6].exchange.stats().await.unwrap();
    assert!(stats.down > 0);
    assert!(stats.peers.len() >= 3, "shards came from several peers");
    for n in &nodes {
        assert!(
            n.policy
                .offences
                .lock()
                .iter()
                .all(|o| o.1 != Severity::Proven)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_blocks_are_detected_reported_and_read_around() {
    let mut endpoints: Vec<Endpoint> = futures::future::join_all((0..7).map(|_| bind())).await;
    let all: Vec<(NodeId, SocketAddr)> = endpoints
        .iter()
        .map(|e| (e.node_id(), e.local_addr()))
        .collect();
    let liar_id = all[6].0;
    let providers = StaticProviders::new(all.iter().map(|(i, a)| (*i, vec![*a])).collect());
    let liar = start_tamperer(endpoints.pop().unwrap()).await;
    let mut nodes = Vec::new();
    for ep in endpoints {
        nodes.push(start(ep, StoreConfig::default(), providers.clone()).await);
    }
    connect_all(&nodes[0], &all[1..]).await;

    let tmp = tempfile::tempdir().unwrap();
    // Enough chunks that the rotation of placement puts the liar on a data
    // shard (which a read asks for first) in some of them: with 2 chunks it
    // held only parity shards in about one run of five, and was never asked.
    let (path, data) = random_file(tmp.path(), 12 << 20);
    let rep = add(&nodes[0].store, path).await;
    let chunks = file_chunks(&nodes[0].store, &rep.cap).await;
    let on_liar = chunks
        .iter()
        .flat_map(|c| &c.shards)
        .filter(|s| s.holders.contains(liar_id.as_bytes()))
        .count();
    assert!(on_liar > 0, "the liar holds shards");
    let liar_at: Vec<Vec<usize>> = chunks
        .iter()
        .map(|c| {
            c.shards
                .iter()
                .enumerate()
                .filter(|(_, s)| s.holders.contains(liar_id.as_bytes()))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    assert!(
        liar_at
            .iter()
            .zip(&chunks)
            .any(|(at, c)| at.iter().any(|i| *i < c.redundancy.k as usize)),
        "the liar holds a data shard, which the read will ask it for: {liar_at:?}"
    );

    // Node 1 kept no data shards: it reads them from peers, the liar too.
    let got = cat(&nodes[0].store, &rep.cap).await;
    assert!(got == data, "read succeeds despite the tampering peer");
    let offences = nodes[0].policy.offences.lock().clone();
    assert!(
        offences
            .iter()
            .any(|(p, s, _)| *p == liar_id && *s == Severity::Proven),
        "the liar is reported: {offences:?}"
    );
    assert!(offences.iter().all(|(p, _, _)| *p == liar_id));
    liar.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peer_without_store_right_gets_nothing_and_the_report_says_so() {
    let endpoints: Vec<Endpoint> = futures::future::join_all((0..7).map(|_| bind())).await;
    let all: Vec<(NodeId, SocketAddr)> = endpoints
        .iter()
        .map(|e| (e.node_id(), e.local_addr()))
        .collect();
    let providers = StaticProviders::new(Vec::new());
    let mut nodes = Vec::new();
    for ep in endpoints {
        nodes.push(start(ep, StoreConfig::default(), providers.clone()).await);
    }
    // Node 1 withholds the store right from node 2; node 3 refuses node 1.
    nodes[0].policy.no_store.lock().insert(nodes[1].id);
    nodes[2].policy.no_store.lock().insert(nodes[0].id);
    connect_all(&nodes[0], &all[1..]).await;

    let tmp = tempfile::tempdir().unwrap();
    let (path, data) = random_file(tmp.path(), 2 << 20);
    let rep = add(&nodes[0].store, path).await;
    let placement = rep.placement.clone().unwrap();
    assert_eq!(
        hosted_blocks(&nodes[1].store),
        0,
        "no right, nothing placed"
    );
    assert_eq!(
        hosted_blocks(&nodes[2].store),
        0,
        "refusing host got nothing"
    );
    // Four peers for six shards per chunk: two per chunk stay here.
    assert_eq!(placement.peers, 4);
    assert!(placement.shards_kept_local > 0);
    assert!(
        placement
            .warning
            .as_deref()
            .unwrap()
            .contains("kept only on this node")
    );
    let owner = *nodes[0].id.as_bytes();
    for c in file_chunks(&nodes[0].store, &rep.cap).await {
        let placed: Vec<&[u8; 32]> = c
            .shards
            .iter()
            .flat_map(|s| &s.holders)
            .filter(|h| **h != owner)
            .collect();
        let distinct: HashSet<_> = placed.iter().collect();
        assert_eq!(placed.len(), distinct.len(), "distinct peers per chunk");
    }
    assert!(cat(&nodes[0].store, &rep.cap).await == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_beyond_the_hosted_quota_is_refused_clearly() {
    let a = bind().await;
    let b = bind().await;
    let (b_id, b_addr) = (b.node_id(), b.local_addr());
    let none = StaticProviders::new(Vec::new());
    let na = start(a, StoreConfig::default(), none.clone()).await;
    let nb = start(
        b,
        StoreConfig {
            quota_hosted: 10_000,
            ..StoreConfig::default()
        },
        none,
    )
    .await;
    let small = vec![1u8; 6_000];
    let id = na.exchange.put(b_id, &[b_addr], &small).await.unwrap();
    assert_eq!(nb.store.read_block(&id).unwrap(), small);
    match na.exchange.put(b_id, &[b_addr], &[2u8; 6_000]).await {
        Err(ExchangeError::Refused { code, reason, .. }) => {
            assert_eq!(code, RefusalCode::NoSpace);
            assert!(reason.contains("10000"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same block again is no new space: accepted.
    na.exchange.put(b_id, &[b_addr], &small).await.unwrap();
    // And fetch works the other way, while an unknown block is not found.
    assert_eq!(
        na.exchange
            .fetch(id, vec![(b_id, vec![b_addr])])
            .await
            .unwrap(),
        small
    );
    let missing = cairn::store::BlockId::of(b"nobody has this");
    assert!(matches!(
        na.exchange.fetch(missing, vec![(b_id, vec![b_addr])]).await,
        Err(ExchangeError::NotFound(_))
    ));
    let s = na.exchange.stats().await.unwrap();
    assert_eq!(s.in_flight, 0);
    assert_eq!(s.peers.len(), 1);
    assert!(s.up >= 12_000 && s.down >= 6_000, "{s:?}");
}

/// How a scripted peer answers the wants of its `blocks/1` streams.
#[derive(Default)]
struct Script {
    blocks: std::collections::HashMap<cairn::store::BlockId, Vec<u8>>,
    /// Ids answered with wrong bytes.
    tamper: HashSet<cairn::store::BlockId>,
    /// Answers given in all before the peer falls silent (None: no limit).
    answers: Option<usize>,
    /// When set, each answer waits for a permit.
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

/// What a scripted peer saw.
#[derive(Default)]
struct Seen {
    streams: std::sync::atomic::AtomicUsize,
    wants: std::sync::atomic::AtomicUsize,
    answered: std::sync::atomic::AtomicUsize,
}

/// A peer speaking `blocks/1` by a script: answers wants in order, one
/// block frame per id, as a real node does.
async fn start_scripted(endpoint: Endpoint, script: Script) -> (Arc<Seen>, CancellationToken) {
    use std::sync::atomic::Ordering::SeqCst;
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<(Connection, Stream)>(64);
    let pool = ConnPool::new(
        endpoint.clone(),
        Router::new().route(exchange::PROTOCOL, tx),
        cancel.clone(),
    );
    let p = pool.clone();
    tokio::spawn(async move { p.accept_from(endpoint).await });
    let seen = Arc::new(Seen::default());
    let script = Arc::new(script);
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Some((_, s)) = rx.recv().await {
            s2.streams.fetch_add(1, SeqCst);
            let (seen, script) = (s2.clone(), script.clone());
            // Wants are read as they come (so several can be outstanding)
            // and answered in order by a second task.
            let (mut rd, mut s) = tokio::io::split(s);
            let (want_tx, mut want_rx) = mpsc::channel::<cairn::store::BlockId>(1024);
            let reader_seen = seen.clone();
            tokio::spawn(async move {
                let mut d = exchange::wire::Decoder::new();
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    d.push(&buf[..n]);
                    while let Ok(Some(m)) = d.next_message() {
                        let Message::Want { ids, .. } = m else { return };
                        reader_seen.wants.fetch_add(ids.len(), SeqCst);
                        for id in ids {
                            if want_tx.send(id).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            tokio::spawn(async move {
                while let Some(id) = want_rx.recv().await {
                    if let Some(g) = &script.gate {
                        g.acquire().await.unwrap().forget();
                    }
                    if script
                        .answers
                        .is_some_and(|a| seen.answered.load(SeqCst) >= a)
                    {
                        // Silent from here on, the stream held open.
                        std::future::pending::<()>().await;
                    }
                    let reply = match script.blocks.get(&id) {
                        Some(b) if script.tamper.contains(&id) => Message::Block {
                            id,
                            bytes: b.iter().map(|x| x ^ 1).collect(),
                        },
                        Some(b) => Message::Block {
                            id,
                            bytes: b.clone(),
                        },
                        None => Message::DontHave { id },
                    };
                    seen.answered.fetch_add(1, SeqCst);
                    if s.write_all(&reply.encode()).await.is_err() || s.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (seen, cancel)
}

fn random_blocks(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut b = vec![0u8; len];
            rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
            b
        })
        .collect()
}

/// An honest node holding `blocks`.
async fn honest_holder(blocks: &[Vec<u8>]) -> Node {
    let node = start(
        bind().await,
        StoreConfig::default(),
        StaticProviders::new(Vec::new()),
    )
    .await;
    for b in blocks {
        node.store.put_block(Class::Hosted, b).unwrap();
    }
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_wants_with_a_wrong_block_in_the_middle_get_it_elsewhere() {
    let blocks = random_blocks(12, 64 * 1024);
    let ids: Vec<_> = blocks
        .iter()
        .map(|b| cairn::store::BlockId::of(b))
        .collect();
    let liar_ep = bind().await;
    let liar = (liar_ep.node_id(), vec![liar_ep.local_addr()]);
    let (seen, stop) = start_scripted(
        liar_ep,
        Script {
            blocks: ids.iter().copied().zip(blocks.iter().cloned()).collect(),
            tamper: [ids[5]].into(),
            ..Script::default()
        },
    )
    .await;
    let honest = honest_holder(&blocks[5..6]).await;
    let honest_c = (honest.id, vec![honest.endpoint.local_addr()]);
    let me = start(
        bind().await,
        StoreConfig::default(),
        StaticProviders::new(Vec::new()),
    )
    .await;

    let got = futures::future::join_all(
        ids.iter()
            .map(|id| me.exchange.fetch(*id, vec![liar.clone(), honest_c.clone()])),
    )
    .await;
    for (g, b) in got.into_iter().zip(&blocks) {
        assert!(g.unwrap() == *b, "every block arrives, verified");
    }
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(seen.streams.load(SeqCst), 1, "all wants shared one stream");
    assert_eq!(seen.wants.load(SeqCst), 12);
    let offences = me.policy.offences.lock().clone();
    assert_eq!(
        offences,
        vec![(
            liar.0,
            Severity::Proven,
            "sent a block that does not match its id".to_owned()
        )],
        "one proven offence, against the liar only"
    );
    let stats = honest.exchange.stats().await.unwrap();
    assert_eq!(
        stats.up,
        64 * 1024,
        "only the tampered block came from the honest node"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_stalls_mid_pipeline_is_closed_once_and_the_rest_come_from_elsewhere() {
    let blocks = random_blocks(6, 32 * 1024);
    let ids: Vec<_> = blocks
        .iter()
        .map(|b| cairn::store::BlockId::of(b))
        .collect();
    let staller_ep = bind().await;
    let staller = (staller_ep.node_id(), vec![staller_ep.local_addr()]);
    let (seen, stop) = start_scripted(
        staller_ep,
        Script {
            blocks: ids.iter().copied().zip(blocks.iter().cloned()).collect(),
            answers: Some(2),
            ..Script::default()
        },
    )
    .await;
    let honest = honest_holder(&blocks).await;
    let honest_c = (honest.id, vec![honest.endpoint.local_addr()]);
    let me = start_with(
        bind().await,
        StoreConfig::default(),
        StaticProviders::new(Vec::new()),
        ExchangeConfig {
            request_timeout: Duration::from_millis(800),
            ..ExchangeConfig::default()
        },
    )
    .await;

    let t0 = std::time::Instant::now();
    let got = futures::future::join_all(ids.iter().map(|id| {
        me.exchange
            .fetch(*id, vec![staller.clone(), honest_c.clone()])
    }))
    .await;
    for (g, b) in got.into_iter().zip(&blocks) {
        assert!(g.unwrap() == *b);
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(seen.answered.load(SeqCst), 2);
    assert_eq!(seen.wants.load(SeqCst), 6, "all six were outstanding on it");
    let offences = me.policy.offences.lock().clone();
    assert_eq!(
        offences,
        vec![(
            staller.0,
            Severity::Minor,
            "block request timed out".to_owned()
        )],
        "one stall, one offence"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while me.exchange.pool().get(&staller.0).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled connection was not closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_fetches_with_wants_outstanding_leave_the_lane_usable() {
    use std::sync::atomic::Ordering::SeqCst;
    let blocks = random_blocks(5, 16 * 1024);
    let ids: Vec<_> = blocks
        .iter()
        .map(|b| cairn::store::BlockId::of(b))
        .collect();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let peer_ep = bind().await;
    let peer = (peer_ep.node_id(), vec![peer_ep.local_addr()]);
    let (seen, stop) = start_scripted(
        peer_ep,
        Script {
            blocks: ids.iter().copied().zip(blocks.iter().cloned()).collect(),
            gate: Some(gate.clone()),
            ..Script::default()
        },
    )
    .await;
    let me = start(
        bind().await,
        StoreConfig::default(),
        StaticProviders::new(Vec::new()),
    )
    .await;

    let tasks: Vec<_> = ids[..4]
        .iter()
        .map(|id| {
            let (ex, id, c) = (me.exchange.clone(), *id, peer.clone());
            tokio::spawn(async move { ex.fetch(id, vec![c]).await })
        })
        .collect();
    // Four wants outstanding at once on one stream, none answered yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while seen.wants.load(SeqCst) < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the wants never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.answered.load(SeqCst), 0);
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        assert!(t.await.unwrap_err().is_cancelled());
    }
    // The peer answers the abandoned wants, then the next one.
    gate.add_permits(5);
    let got = me.exchange.fetch(ids[4], vec![peer.clone()]).await.unwrap();
    assert!(got == blocks[4]);
    assert_eq!(seen.answered.load(SeqCst), 5);
    assert_eq!(seen.streams.load(SeqCst), 1, "the same lane served it");
    assert_eq!(me.exchange.open_lanes(), 1);
    assert!(me.policy.offences.lock().is_empty());
    stop.cancel();
}
