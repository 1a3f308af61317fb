//! The `dht/1` service over real transport endpoints on loopback.
//!
//! `fifty_nodes_perform_every_operation` joins 50 in-process nodes (each an
//! endpoint + ConnPool + Router + DHT service) through three bootstrap peers and
//! runs every operation through them. The bad-input tests speak raw `dht/1`
//! to a node over a real stream and check that it drops the stream, reports
//! the peer, refuses forged and replayed records, and keeps serving others.
//! Every wait is bounded; nothing sleeps for luck.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn::dht::service::{self, DhtConfig, DhtHandle, Inbound, PROTOCOL, key_of};
use cairn::dht::{Config, Key, Message, Request, Response, SignedRecord, StoreStatus};
use cairn::net::{ConnPool, PeerPolicy, Right, Severity};
use cairn_transport::{Endpoint, Identity, NodeId, Router, Stream, TransportConfig};
use ed25519_dalek::SigningKey;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Longest any single step of these tests may take.
const STEP: Duration = Duration::from_secs(15);

/// A policy that records every offence (and bans nobody).
struct Recorder {
    offences: Mutex<Vec<(NodeId, Severity, String)>>,
    count: watch::Sender<usize>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            offences: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        })
    }

    fn against(&self, peer: &NodeId) -> Vec<String> {
        self.offences
            .lock()
            .iter()
            .filter(|(p, _, _)| p == peer)
            .map(|(_, _, w)| w.clone())
            .collect()
    }

    /// Waits (bounded) until `peer` has at least `n` offences recorded.
    async fn wait_for(&self, peer: &NodeId, n: usize) -> Vec<String> {
        let mut rx = self.count.subscribe();
        let peer = *peer;
        let fut = rx.wait_for(|_| self.against(&peer).len() >= n);
        tokio::time::timeout(STEP, fut)
            .await
            .expect("offence reported in time")
            .expect("recorder alive");
        self.against(&peer)
    }
}

impl PeerPolicy for Recorder {
    fn allows(&self, _peer: &NodeId, _right: Right) -> bool {
        true
    }
    fn offence(&self, peer: &NodeId, severity: Severity, what: &str) {
        self.offences
            .lock()
            .push((*peer, severity, what.to_owned()));
        self.count.send_modify(|c| *c += 1);
    }
    fn is_banned(&self, _peer: &NodeId) -> bool {
        false
    }
}

struct TestNode {
    id: NodeId,
    addr: SocketAddr,
    handle: DhtHandle,
    policy: Arc<Recorder>,
}

fn transport_config() -> TransportConfig {
    TransportConfig {
        max_connections_per_ip: 1024,
        ..TransportConfig::default()
    }
}

fn dht_config() -> DhtConfig {
    DhtConfig {
        request_timeout_ms: 3_000,
        operation_timeout_ms: 15_000,
        ..DhtConfig::default()
    }
}

async fn start_node(cancel: &CancellationToken, cfg: DhtConfig) -> TestNode {
    let ep = Endpoint::bind(
        Identity::generate(),
        transport_config(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let inbound = Inbound::new(&cfg);
    let router = Router::new().route(PROTOCOL, inbound.sender());
    let pool = ConnPool::new(ep.clone(), router, cancel.clone());
    let p = pool.clone();
    let accept_ep = ep.clone();
    tokio::spawn(async move { p.accept_from(accept_ep).await });
    let policy = Recorder::new();
    let handle = service::spawn(
        pool,
        policy.clone(),
        inbound,
        Config::default(),
        cfg,
        cancel.clone(),
    );
    TestNode {
        id: ep.node_id(),
        addr: ep.local_addr(),
        handle,
        policy,
    }
}

/// Starts `n` nodes and joins them through the first three.
async fn network(cancel: &CancellationToken, n: usize) -> Vec<TestNode> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(start_node(cancel, dht_config()).await);
    }
    let seeds: Vec<(NodeId, SocketAddr)> = nodes.iter().take(3).map(|t| (t.id, t.addr)).collect();
    for node in &nodes {
        for (id, addr) in &seeds {
            if *id != node.id {
                node.handle.add_peer(*id, vec![*addr]).await.unwrap();
            }
        }
    }
    // Join in waves of ten, so that later nodes find earlier ones and the
    // bootstrap peers are not asked by all fifty at the same instant.
    for wave in nodes.chunks(10) {
        let mut joins = JoinSet::new();
        for node in wave {
            let h = node.handle.clone();
            joins.spawn(async move { h.bootstrap().await });
        }
        while let Some(r) = joins.join_next().await {
            let found = r.unwrap().expect("bootstrap finishes");
            assert!(!found.is_empty(), "bootstrap reached someone");
        }
    }
    nodes
}

fn record(key: &SigningKey, name: &[u8], value: &[u8], seq: u64) -> SignedRecord {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    SignedRecord::sign(key, name, value, seq, expires).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_nodes_perform_every_operation() {
    let cancel = CancellationToken::new();
    let nodes = network(&cancel, 50).await;

    // Every node knows a good part of the network after joining.
    for node in &nodes {
        let table = node.handle.table().await.unwrap();
        assert!(
            table.len() >= 10,
            "table of {} has {}",
            node.id,
            table.len()
        );
        assert!(table.iter().all(|e| !e.addrs.is_empty() && e.bucket < 256));
    }

    // PING: a live node answers; a port where nothing listens does not.
    assert!(
        nodes[10]
            .handle
            .ping(nodes[40].id, vec![nodes[40].addr])
            .await
            .unwrap()
    );
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(
        !nodes[10]
            .handle
            .ping(Identity::generate().node_id(), vec![dead])
            .await
            .unwrap()
    );

    // FIND_NODE: a node finds the address of a node missing from its own
    // table (found through others).
    let mut pair = None;
    'outer: for a in 0..nodes.len() {
        let table = nodes[a].handle.table().await.unwrap();
        for (t, target) in nodes.iter().enumerate() {
            if t != a && !table.iter().any(|e| e.node == target.id) {
                pair = Some((a, t));
                break 'outer;
            }
        }
    }
    let (a, t) = pair.unwrap_or((0, nodes.len() - 1));
    let found = nodes[a]
        .handle
        .find_node(key_of(&nodes[t].id))
        .await
        .unwrap();
    let hit = found
        .iter()
        .find(|p| p.id == key_of(&nodes[t].id))
        .expect("the target is among the closest found");
    assert!(hit.addrs.contains(&nodes[t].addr));
    assert_eq!(found.len(), 20);

    // ADD_PROVIDER / GET_PROVIDERS.
    let block = Key::hash(b"a block somebody holds");
    let stored = nodes[5].handle.provide(block).await.unwrap();
    assert!(stored >= 10, "provider stored on {stored} peers");
    let providers = nodes[33].handle.get_providers(block).await.unwrap();
    let p = providers
        .iter()
        .find(|p| p.id == key_of(&nodes[5].id))
        .expect("provider found from elsewhere");
    assert!(p.addrs.contains(&nodes[5].addr));
    nodes[5].handle.stop_providing(block).await.unwrap();
    let nobody = nodes[20]
        .handle
        .get_providers(Key::hash(b"nobody has this"))
        .await
        .unwrap();
    assert!(nobody.is_empty());

    // PUT/GET of signed records: a newer sequence wins, an older one or a
    // forged one is refused.
    let publisher = SigningKey::from_bytes(&[7; 32]);
    let v1 = record(&publisher, b"volume-root", b"first", 1);
    let v2 = record(&publisher, b"volume-root", b"second", 2);
    assert!(nodes[7].handle.put_record(v1.clone()).await.unwrap() >= 10);
    let got = nodes[44].handle.get_record(v1.key()).await.unwrap();
    assert_eq!(got.as_ref(), Some(&v1));
    assert!(nodes[8].handle.put_record(v2.clone()).await.unwrap() >= 10);
    let got = nodes[21].handle.get_record(v1.key()).await.unwrap();
    assert_eq!(got.as_ref(), Some(&v2));
    // Replaying v1 (refused locally if node 30 holds v2 itself, else by the
    // peers that do): v2 is still what everyone finds.
    let _ = nodes[30].handle.put_record(v1.clone()).await;
    let got = nodes[12].handle.get_record(v1.key()).await.unwrap();
    assert_eq!(got.as_ref(), Some(&v2));
    let mut forged = record(&publisher, b"volume-root", b"forged", 3);
    forged.value = b"tampered".to_vec();
    assert!(nodes[9].handle.put_record(forged).await.is_err());
    let got = nodes[3].handle.get_record(v1.key()).await.unwrap();
    assert_eq!(got.as_ref(), Some(&v2));

    // Nobody misbehaved in an honest network.
    for node in &nodes {
        assert!(node.policy.offences.lock().is_empty());
    }
    let stats = nodes[0].handle.stats().await.unwrap();
    assert!(stats.requests_served > 0 && stats.requests_sent > 0);
    cancel.cancel();
}

/// A raw `dht/1` client: a bare endpoint that opens streams and writes bytes.
struct Raw {
    pool: ConnPool,
    id: NodeId,
}

async fn raw_client(cancel: &CancellationToken) -> Raw {
    let ep = Endpoint::bind(
        Identity::generate(),
        transport_config(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let id = ep.node_id();
    Raw {
        pool: ConnPool::new(ep, Router::new(), cancel.clone()),
        id,
    }
}

impl Raw {
    async fn stream(&self, to: &TestNode) -> Stream {
        let (_, s) = self
            .pool
            .open_stream(to.id, &[to.addr], PROTOCOL)
            .await
            .unwrap();
        s
    }

    /// Writes `bytes` (optionally closing the write side) and reads whatever
    /// comes back until the stream ends: bounded.
    async fn exchange(&self, to: &TestNode, bytes: &[u8], close: bool) -> Vec<u8> {
        let mut s = self.stream(to).await;
        // A node that refuses the stream may reset it before the write.
        if s.write_all(bytes).await.is_err() || s.flush().await.is_err() {
            return Vec::new();
        }
        if close {
            let _ = s.shutdown().await;
        }
        let mut out = Vec::new();
        let _ = tokio::time::timeout(STEP, s.read_to_end(&mut out))
            .await
            .expect("the node ends the stream in time");
        out
    }

    async fn request(&self, to: &TestNode, body: Request) -> Response {
        let frame = Message::Request {
            id: 42,
            sender_addrs: Vec::new(),
            body,
        }
        .encode_frame()
        .unwrap();
        let out = self.exchange(to, &frame, false).await;
        assert!(out.len() > 4, "an answer came back");
        match Message::decode(&out[4..]).unwrap() {
            Message::Response { id: 42, body } => body,
            other => panic!("unexpected answer {other:?}"),
        }
    }
}

/// Asserts that `victim` still answers an honest node.
async fn still_serves(honest: &TestNode, victim: &TestNode) {
    assert!(
        honest
            .handle
            .ping(victim.id, vec![victim.addr])
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_drop_the_stream_report_the_peer_and_others_are_still_served() {
    let cancel = CancellationToken::new();
    let victim = start_node(&cancel, dht_config()).await;
    let honest = start_node(&cancel, dht_config()).await;
    let raw = raw_client(&cancel).await;

    // Oversized: a length over 16 384; the body is never read.
    let out = raw
        .exchange(&victim, &(1u32 << 20).to_be_bytes(), false)
        .await;
    assert!(out.is_empty());
    let o = victim.policy.wait_for(&raw.id, 1).await;
    assert!(o[0].contains("malformed"), "{o:?}");
    still_serves(&honest, &victim).await;

    // Truncated: announces 100 bytes, sends 10, closes.
    let mut truncated = 100u32.to_be_bytes().to_vec();
    truncated.extend_from_slice(&[1; 10]);
    assert!(raw.exchange(&victim, &truncated, true).await.is_empty());
    victim.policy.wait_for(&raw.id, 2).await;
    still_serves(&honest, &victim).await;

    // Garbage inside a well-sized frame.
    let mut garbage = 24u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(&[0xA5; 24]);
    assert!(raw.exchange(&victim, &garbage, false).await.is_empty());
    victim.policy.wait_for(&raw.id, 3).await;

    // Unsolicited: a response where a request belongs.
    let pong = Message::Response {
        id: 9,
        body: Response::Pong,
    }
    .encode_frame()
    .unwrap();
    assert!(raw.exchange(&victim, &pong, false).await.is_empty());
    let o = victim.policy.wait_for(&raw.id, 4).await;
    assert!(o[3].contains("unsolicited"), "{o:?}");
    still_serves(&honest, &victim).await;

    // Nothing is left behind: no stream held, no answer waiting.
    let stats = victim.handle.stats().await.unwrap();
    assert_eq!(stats.malformed, 3);
    assert_eq!(stats.replies_waiting, 0);
    assert!(stats.inbound_active <= 1, "{stats:?}");
    // The honest node was never reported.
    assert!(victim.policy.against(&honest.id).is_empty());
    // The raw peer is not in the victim's table.
    let table = victim.handle.table().await.unwrap();
    assert!(table.iter().all(|e| e.node != raw.id));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_records_are_refused_over_the_wire() {
    let cancel = CancellationToken::new();
    let node = start_node(&cancel, dht_config()).await;
    let raw = raw_client(&cancel).await;
    let publisher = SigningKey::from_bytes(&[9; 32]);
    let v1 = record(&publisher, b"offer", b"one", 1);
    let v2 = record(&publisher, b"offer", b"two", 2);

    let put = |r: SignedRecord| Request::PutRecord { record: r };
    assert_eq!(
        raw.request(&node, put(v2.clone())).await,
        Response::PutRecordAck {
            status: StoreStatus::Stored
        }
    );
    // Replayed older sequence.
    assert_eq!(
        raw.request(&node, put(v1.clone())).await,
        Response::PutRecordAck {
            status: StoreStatus::Stale
        }
    );
    // Forged: a higher sequence whose signature does not cover its value.
    let mut forged = record(&publisher, b"offer", b"three", 3);
    forged.value = b"stolen".to_vec();
    assert_eq!(
        raw.request(&node, put(forged)).await,
        Response::PutRecordAck {
            status: StoreStatus::Invalid
        }
    );
    // The held record is still v2.
    match raw
        .request(&node, Request::GetRecord { key: v1.key() })
        .await
    {
        Response::Record { record, .. } => assert_eq!(record, Some(v2)),
        other => panic!("unexpected {other:?}"),
    }
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_over_its_request_rate_is_cut_off_while_others_are_served() {
    let cancel = CancellationToken::new();
    let cfg = DhtConfig {
        inbound_rate_per_sec: 1,
        inbound_burst: 3,
        ..dht_config()
    };
    let node = start_node(&cancel, cfg).await;
    let honest = start_node(&cancel, dht_config()).await;
    let raw = raw_client(&cancel).await;
    let ping = Message::Request {
        id: 1,
        sender_addrs: Vec::new(),
        body: Request::Ping,
    }
    .encode_frame()
    .unwrap();
    let mut answered = 0u64;
    for _ in 0..10 {
        if !raw.exchange(&node, &ping, false).await.is_empty() {
            answered += 1;
        }
    }
    // The burst of three, then one per second of run time: ten exchanges on
    // loopback take far less than the seven seconds that would refill them.
    assert!((3..10).contains(&answered), "answered {answered}");
    let stats = node.handle.stats().await.unwrap();
    assert_eq!(stats.refused_rate, 10 - answered, "{stats:?}");
    still_serves(&honest, &node).await;
    cancel.cancel();
}
