//! Public shares placed on in-process peers (real transport on 127.0.0.1,
//! real stores): hosts apply their type filter to `PutPublic`, refusing
//! executables by extension and by magic bytes with the reason shown in the
//! adder's placement report, accepting other public files, while encrypted
//! shards are placed as before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn::config::StoreConfig;
use cairn::exchange::filter::HostFilter;
use cairn::exchange::wire::{ErrorCode, Message, RefusalCode};
use cairn::exchange::{self, ExchangeConfig, ExchangeError, ExchangeHandle, StaticProviders};
use cairn::net::{ConnPool, PeerPolicy, Right, Severity};
use cairn::store::read::Body;
use cairn::store::{AddOptions, AddReport, Cap, Class, Redundancy, Store};
use cairn_transport::{Endpoint, Identity, NodeId, Router, TransportConfig};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct TestPolicy {
    offences: Mutex<Vec<(NodeId, Severity, String)>>,
}

impl PeerPolicy for TestPolicy {
    fn allows(&self, _peer: &NodeId, _right: Right) -> bool {
        true
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
    addr: SocketAddr,
    store: Store,
    exchange: ExchangeHandle,
    policy: Arc<TestPolicy>,
    _cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn start(filter: HostFilter) -> Node {
    let endpoint = Endpoint::bind(
        Identity::generate(),
        TransportConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = endpoint.node_id();
    let addr = endpoint.local_addr();
    let store = Store::open(
        &dir.path().join("store"),
        &rand::random::<[u8; 32]>(),
        *id.as_bytes(),
        StoreConfig {
            chunk_avg: 16 * 1024,
            ..StoreConfig::default()
        },
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
    tokio::spawn(async move { p.accept_from(endpoint).await });
    let policy = Arc::new(TestPolicy::default());
    let exchange = exchange::spawn(
        pool,
        store.clone(),
        policy.clone(),
        Arc::new(StaticProviders::new(Vec::new())),
        ExchangeConfig {
            request_timeout: Duration::from_secs(10),
            public_filter: filter,
            ..ExchangeConfig::default()
        },
        rx,
        cancel.clone(),
    );
    exchange::install(&exchange, tokio::runtime::Handle::current(), true);
    Node {
        id,
        addr,
        store,
        exchange,
        policy,
        _cancel: cancel,
        _dir: dir,
    }
}

/// An owner and three hosts with the default filter, all connected.
async fn network() -> (Node, Vec<Node>) {
    let owner = start(HostFilter::default()).await;
    let mut hosts = Vec::new();
    for _ in 0..3 {
        hosts.push(start(HostFilter::default()).await);
    }
    for h in &hosts {
        owner
            .exchange
            .pool()
            .connect(h.id, &[h.addr])
            .await
            .unwrap();
    }
    (owner, hosts)
}

async fn add(store: &Store, path: PathBuf, public: bool) -> AddReport {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let opts = AddOptions {
            redundancy: Some(Redundancy::new(2, 1).unwrap()),
            public,
        };
        store.add(&[path], &opts, &mut |_| {}).unwrap().remove(0)
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

fn hosted(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .map(|n| {
            n.store
                .stats()
                .unwrap()
                .classes
                .iter()
                .find(|c| c.class == Class::Hosted)
                .map(|c| c.blocks)
                .unwrap_or(0)
        })
        .sum()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Pseudo-random bytes (content-defined chunking needs entropy to cut).
fn body(len: usize, seed: u8) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed as u64).fill(&mut v[..]);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosts_refuse_a_public_exe_by_extension_and_the_report_says_why() {
    let (owner, hosts) = network().await;
    let tmp = tempfile::tempdir().unwrap();
    let exe = write(tmp.path(), "Setup.EXE", &body(40_000, 1));
    let rep = add(&owner.store, exe, true).await;
    let p = rep.placement.clone().expect("placement report");
    assert_eq!(p.shards_placed, 0, "{p:?}");
    assert!(p.shards_kept_local > 0);
    assert!(
        p.refused.iter().any(|r| r.contains("type refused")
            && r.contains("*.exe")
            && r.contains("extension filter")),
        "{p:?}"
    );
    assert_eq!(hosted(&hosts), 0, "no host keeps any block of it");
    // The add still succeeded: everything is here and reads back.
    let mut out = Vec::new();
    owner.store.cat(&rep.cap, None, &mut out).unwrap();
    assert_eq!(out, body(40_000, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosts_refuse_only_the_leading_shard_of_a_public_elf_without_extension() {
    let (owner, hosts) = network().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.extend(body(120_000, 2));
    let path = write(tmp.path(), "tool", &elf);
    let rep = add(&owner.store, path, true).await;
    let p = rep.placement.clone().expect("placement report");
    assert!(
        p.refused
            .iter()
            .any(|r| r.contains("ELF") && r.contains("magic-bytes filter")),
        "{p:?}"
    );
    let chunks = file_chunks(&owner.store, &rep.cap).await;
    assert!(chunks.len() >= 2, "several chunks");
    let own = *owner.id.as_bytes();
    // Shard 0 of chunk 0 begins the file: refused everywhere, kept here.
    assert_eq!(chunks[0].shards[0].holders, vec![own]);
    // Every other shard went to a host (magic is only looked for at the
    // start of the file).
    for (ci, c) in chunks.iter().enumerate() {
        for (si, s) in c.shards.iter().enumerate() {
            if (ci, si) != (0, 0) {
                assert!(
                    s.holders.iter().any(|h| *h != own),
                    "chunk {ci} shard {si}: {:?}",
                    s.holders
                );
            }
        }
    }
    assert!(hosted(&hosts) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_text_is_placed_and_encrypted_executables_are_unaffected() {
    let (owner, hosts) = network().await;
    let tmp = tempfile::tempdir().unwrap();
    let txt = write(tmp.path(), "notes.txt", &body(40_000, 3));
    let rep = add(&owner.store, txt, true).await;
    let p = rep.placement.clone().expect("placement report");
    assert!(p.refused.is_empty(), "{p:?}");
    assert_eq!(p.shards_kept_local, 0, "{p:?}");
    assert!(p.shards_placed > 0);
    let before = hosted(&hosts);
    assert!(before > 0);

    // A private add of an executable: hosts see only ciphertext and a plain
    // put, so the filter has nothing to say.
    let mut elf = b"\x7fELF".to_vec();
    elf.extend(body(40_000, 4));
    let exe = write(tmp.path(), "tool.exe", &elf);
    let rep = add(&owner.store, exe, false).await;
    let p = rep.placement.clone().expect("placement report");
    assert!(p.refused.is_empty(), "{p:?}");
    assert_eq!(p.shards_kept_local, 0, "{p:?}");
    assert!(hosted(&hosts) > before);

    // A host whose filter is off takes a public executable.
    let open = start(HostFilter::off()).await;
    let direct = owner
        .exchange
        .put_public(open.id, &[open.addr], b"MZ\x90\x00", "setup.exe", true)
        .await
        .unwrap();
    assert_eq!(open.store.read_block(&direct).unwrap(), b"MZ\x90\x00");
    // And a filtering host answers a direct put with the typed refusal.
    match owner
        .exchange
        .put_public(hosts[0].id, &[hosts[0].addr], b"MZ\x90\x00", "x.bin", true)
        .await
    {
        Err(ExchangeError::Refused { code, reason, .. }) => {
            assert_eq!(code, RefusalCode::TypeRefused);
            assert!(reason.contains("Windows executable"), "{reason}");
        }
        other => panic!("expected a type refusal, got {other:?}"),
    }
    for n in hosts.iter().chain([&open, &owner]) {
        assert!(n.policy.offences.lock().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_message_type_gets_the_protocol_error_and_no_proven_offence() {
    let a = start(HostFilter::default()).await;
    let b = start(HostFilter::default()).await;
    let (_, mut s) = a
        .exchange
        .pool()
        .open_stream(b.id, &[b.addr], exchange::PROTOCOL)
        .await
        .unwrap();
    // A frame of a type from some future version.
    s.write_all(&[0, 0, 0, 3, 77, 1, 2]).await.unwrap();
    s.flush().await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    let mut d = exchange::wire::Decoder::new();
    d.push(&got);
    match d.next_message().unwrap() {
        Some(Message::Error { code, .. }) => assert_eq!(code, ErrorCode::Protocol),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    let offences = b.policy.offences.lock();
    assert!(!offences.is_empty());
    assert!(
        offences.iter().all(|o| o.1 == Severity::Minor),
        "{offences:?}"
    );
}
