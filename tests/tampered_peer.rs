//! A peer that serves tampered blocks is caught and banned while the read
//! still succeeds.
//!
//! The honest network (an owner, two hosts, a reader) is real `cairn daemon`
//! processes. The malicious node is built here from the library's own parts
//! (a transport `Endpoint`, the connection pool and router, the `blocks/1`
//! wire): it accepts the owner's shards like any host, and when asked for
//! them sends the bytes with one bit flipped. Nothing in the production
//! binary can be switched to misbehave.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cairn::exchange::wire::{Decoder, Message, WantMode};
use cairn::net::ConnPool;
use cairn::store::BlockId;
use cairn::ticket::Ticket;
use cairn_transport::{Endpoint, Identity, Router, Stream, TransportConfig};
use common::{Daemon, cairn, cairn_json, pseudo_random, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// What the malicious node was given and what it did with it.
#[derive(Default)]
struct Held {
    blocks: Mutex<HashMap<BlockId, Vec<u8>>>,
    /// Tampered blocks it sent.
    served: AtomicUsize,
}

/// A host that keeps every block it is given and serves it altered.
struct TamperingPeer {
    /// Runs the node's tasks; dropped with it.
    _rt: tokio::runtime::Runtime,
    cancel: CancellationToken,
    held: Arc<Held>,
    node_id: String,
    ticket: String,
}

impl TamperingPeer {
    fn start() -> TamperingPeer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cancel = CancellationToken::new();
        let held = Arc::new(Held::default());
        let (node_id, ticket) = rt.block_on(async {
            let identity = Identity::generate();
            let id = identity.node_id();
            let ep = Endpoint::bind(
                identity,
                TransportConfig::default(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .expect("bind the malicious node's endpoint");
            let addr: SocketAddr = ep.local_addr();
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let router = Router::new().route(cairn::exchange::PROTOCOL, tx);
            let pool = ConnPool::new(ep.clone(), router, cancel.clone());
            tokio::spawn(async move { pool.accept_from(ep).await });
            let h = held.clone();
            tokio::spawn(async move {
                while let Some((_conn, stream)) = rx.recv().await {
                    tokio::spawn(serve(stream, h.clone()));
                }
            });
            let ticket = Ticket {
                node_id: *id.as_bytes(),
                addrs: vec![addr],
                secret: None,
            };
            (id.to_string(), ticket.to_string())
        });
        TamperingPeer {
            _rt: rt,
            cancel,
            held,
            node_id,
            ticket,
        }
    }

    fn holds(&self, id: &BlockId) -> bool {
        self.held.blocks.lock().unwrap().contains_key(id)
    }

    fn held_count(&self) -> usize {
        self.held.blocks.lock().unwrap().len()
    }
}

impl Drop for TamperingPeer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// One `blocks/1` stream: puts are kept and acknowledged; wanted blocks are
/// sent with their first byte flipped.
async fn serve(mut s: Stream, held: Arc<Held>) {
    let mut dec = Decoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        loop {
            let msg = match dec.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => return,
            };
            let mut out = Vec::new();
            match msg {
                Message::Put { id, bytes } => {
                    held.blocks.lock().unwrap().insert(id, bytes);
                    out.push(Message::PutAck { id });
                }
                Message::Want { mode, ids } => {
                    for id in ids {
                        let got = held.blocks.lock().unwrap().get(&id).cloned();
                        out.push(match (mode, got) {
                            (WantMode::Block, Some(mut bytes)) => {
                                if let Some(b) = bytes.first_mut() {
                                    *b ^= 1;
                                }
                                held.served.fetch_add(1, Ordering::Relaxed);
                                Message::Block { id, bytes }
                            }
                            (WantMode::Have, Some(_)) => Message::Have { id },
                            (_, None) => Message::DontHave { id },
                        });
                    }
                }
                _ => return,
            }
            for m in out {
                if s.write_all(&m.encode()).await.is_err() {
                    return;
                }
            }
            if s.flush().await.is_err() {
                return;
            }
        }
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => dec.push(&buf[..n]),
        }
    }
}

fn hosted_blocks(dir: &std::path::Path) -> u64 {
    let stats = cairn_json(dir, &["stats"]);
    stats["classes"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["class"] == "hosted"))
        .and_then(|c| c["blocks"].as_u64())
        .unwrap_or_else(|| panic!("no hosted class in stats: {stats}"))
}

fn dht_provider_keys(dir: &std::path::Path) -> u64 {
    cairn_json(dir, &["dht"])["stored_provider_keys"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_peer_serving_tampered_blocks_is_banned_and_the_read_still_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    // Small chunks: a file of many chunks, so the malicious host holds a
    // data shard of more chunks than the ban takes (3 proven offences).
    let owner_dir = dir("owner");
    assert_eq!(cairn(&owner_dir, &["init"]).status.code(), Some(0));
    let cfg = std::fs::read_to_string(owner_dir.join("config.toml")).unwrap();
    assert!(cfg.contains("chunk_avg = 1048576"));
    std::fs::write(
        owner_dir.join("config.toml"),
        cfg.replace("chunk_avg = 1048576", "chunk_avg = 16384"),
    )
    .unwrap();
    let owner = Daemon::start(&owner_dir, &[]);
    let h1 = Daemon::start(&dir("h1"), &[]);
    let h2 = Daemon::start(&dir("h2"), &[]);
    let evil = TamperingPeer::start();

    // The owner's storage peers: two honest hosts and the malicious one.
    owner.join(&h1);
    owner.join(&h2);
    h2.join(&h1);
    cairn_json(&owner.dir, &["join", &evil.ticket]);
    wait_for(
        10,
        "the owner to list the malicious peer as connected",
        || owner.connected_to(&evil.node_id).then_some(()),
    );

    // No wait for the hosts' DHT tables to fill: a host that takes a block
    // before it knows anyone to announce it to announces it again shortly
    // (node/providing.rs), which the wait for provider records below proves.

    // 2+1 over three peers: every chunk puts one shard on each of them, and
    // with the placer's rotation the malicious node holds a data shard of
    // two chunks in three.
    let data = pseudo_random(512 * 1024, 23);
    let file = tmp.path().join("f.bin");
    std::fs::write(&file, &data).unwrap();
    let added = cairn_json(
        &owner.dir,
        &["add", file.to_str().unwrap(), "--redundancy", "2+1"],
    );
    let rep = &added[0];
    let cap = rep["cap"].as_str().expect("cap").to_owned();
    let chunks = rep["chunks"].as_u64().expect("chunks");
    assert!(chunks >= 6, "too few chunks for three offences: {rep}");
    assert_eq!(
        rep["placement"]["shards_kept_local"].as_u64(),
        Some(0),
        "every shard went to a peer: {rep}"
    );
    assert!(
        evil.held_count() as u64 >= chunks,
        "the malicious peer was given {} blocks for {chunks} chunks",
        evil.held_count()
    );

    // The head is found by id through the DHT, announced by the honest
    // hosts that keep a copy: wait until the owner's DHT holds a provider
    // record for every block the honest hosts keep (the head counted once
    // if both keep it).
    let head: cairn::store::cap::Cap = cap.parse().unwrap();
    let both_keep_head = u64::from(!evil.holds(&head.head));
    wait_for(30, "the honest hosts to announce their blocks", || {
        let want = hosted_blocks(&h1.dir) + hosted_blocks(&h2.dir) - both_keep_head;
        (dht_provider_keys(&owner.dir) >= want).then_some(())
    });

    // The reader joins everyone after the add (so it held no shard).
    let reader = Daemon::start(&dir("reader"), &[]);
    reader.join(&owner);
    reader.join(&h1);
    reader.join(&h2);
    cairn_json(&reader.dir, &["join", &evil.ticket]);
    wait_for(
        10,
        "the reader to list the malicious peer as connected",
        || reader.connected_to(&evil.node_id).then_some(()),
    );

    // The reader finds the head through its DHT: wait until the table has
    // the honest nodes (seeded from its peer book every 2 s).
    reader.wait_dht_knows(&[&owner, &h1, &h2]);

    let out = tmp.path().join("back.bin");
    let got = cairn(&reader.dir, &["get", &cap, "-o", out.to_str().unwrap()]);
    assert!(
        got.status.success(),
        "get on the reader failed: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == data,
        "the reader got different bytes"
    );
    let served = evil.held.served.load(Ordering::Relaxed);
    assert!(
        served >= 3,
        "the malicious peer was asked only {served} times"
    );

    // The reader banned the malicious peer after the repeat rule, with the
    // reason, and penalised no honest node.
    let bad = reader
        .peer(&evil.node_id)
        .expect("the reader knows the malicious peer");
    let ban = &bad["banned"];
    assert!(ban.is_object(), "the malicious peer is not banned: {bad}");
    let reason = ban["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("proven offences") && reason.contains("does not match its id"),
        "ban reason: {reason}"
    );
    assert!(bad["offences"].as_u64().unwrap_or(0) >= 3, "{bad}");
    assert_eq!(
        bad["connected"], false,
        "a banned peer stays connected: {bad}"
    );
    for honest in [&owner, &h1, &h2] {
        let p = reader
            .peer(&honest.node_id())
            .expect("the reader knows every honest node");
        assert_eq!(
            p["offences"].as_u64(),
            Some(0),
            "honest node penalised: {p}"
        );
        assert!(p["banned"].is_null(), "honest node banned: {p}");
    }
    // A second read does not ask the banned peer again.
    let out2 = tmp.path().join("back2.bin");
    let got = cairn(&reader.dir, &["get", &cap, "-o", out2.to_str().unwrap()]);
    assert!(got.status.success());
    assert!(std::fs::read(&out2).unwrap() == data);
    assert_eq!(
        evil.held.served.load(Ordering::Relaxed),
        served,
        "a banned peer was asked for blocks"
    );
}
