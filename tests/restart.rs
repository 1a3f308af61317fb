//! A restart keeps what a node knows: a daemon stopped with SIGTERM and
//! started again on the same data directory still knows its peers and
//! redials them, reads its roots back (from the peers that hold the
//! shards), and still answers `dht/1` GET_PROVIDERS with the provider
//! records it held for others before the restart (kept in `dht.redb`).

mod common;

use std::net::SocketAddr;

use cairn::dht::service::frame::{read_frame, write_frame};
use cairn::dht::{Key, Message, Request, Response};
use cairn_transport::{Endpoint, Identity, NodeId, TransportConfig};
use common::{Daemon, cairn, cairn_json, pseudo_random, wait_for};

/// Ask the daemon at `addr` directly, over one `dht/1` stream from a fresh
/// identity, which providers of `key` it holds.
fn providers_held(node: &str, addr: &str, key: Key) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let node: NodeId = node.parse().unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    rt.block_on(async {
        let ep = Endpoint::bind(
            Identity::generate(),
            TransportConfig::default(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let conn = ep.connect(node, addr).await.expect("connect to the daemon");
        let mut s = conn
            .open_stream(cairn::dht::service::PROTOCOL)
            .await
            .expect("open a dht/1 stream");
        let req = Message::Request {
            id: 7,
            sender_addrs: Vec::new(),
            body: Request::GetProviders { key },
        };
        write_frame(&mut s, &req.encode_frame().unwrap())
            .await
            .unwrap();
        let body = tokio::time::timeout(std::time::Duration::from_secs(10), read_frame(&mut s))
            .await
            .expect("no dht/1 answer within 10 s")
            .expect("read the dht/1 answer");
        match Message::decode(&body).expect("decode the dht/1 answer") {
            Message::Response {
                id: 7,
                body: Response::Providers { providers, .. },
            } => providers
                .into_iter()
                .map(|p| NodeId::from_bytes(p.id.0).to_string())
                .collect(),
            other => panic!("unexpected dht/1 answer {other:?}"),
        }
    })
}

#[test]
fn a_restart_keeps_peers_store_and_the_provider_records_held_for_others() {
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    let a = Daemon::start(&a_dir, &[]);
    let b = Daemon::start(&tmp.path().join("b"), &[]);
    let c = Daemon::start(&tmp.path().join("c"), &[]);
    // A dials both (so its book holds their listen addresses); they know
    // each other too.
    a.join(&b);
    a.join(&c);
    b.join(&c);
    let (a_id, b_id, c_id) = (a.node_id(), b.node_id(), c.node_id());
    // The hosts announce what they take at once: their DHT tables must hold
    // A by then.
    b.wait_dht_knows(&[&a]);
    c.wait_dht_knows(&[&a]);

    // A root of A's, its shards on B and C (two copies; the head on both).
    let data = pseudo_random(300 * 1024, 5);
    let file = tmp.path().join("f.bin");
    std::fs::write(&file, &data).unwrap();
    let added = cairn_json(&a_dir, &["add", file.to_str().unwrap(), "--copies", "2"]);
    let cap = added[0]["cap"].as_str().expect("cap").to_owned();
    assert_eq!(
        added[0]["placement"]["shards_kept_local"].as_u64(),
        Some(0),
        "every shard went to a peer: {added}"
    );
    let head: cairn::store::Cap = cap.parse().unwrap();
    let head_key = Key(head.head.0);

    // B and C host the head and announce it; A keeps their provider records.
    let before = wait_for(
        30,
        "A to hold provider records of the head from B and C",
        || {
            let mut got = providers_held(&a_id, &a.addr(), head_key);
            got.sort();
            (got.contains(&b_id) && got.contains(&c_id)).then_some(got)
        },
    );
    let keys_before = cairn_json(&a_dir, &["dht"])["stored_provider_keys"]
        .as_u64()
        .unwrap();
    assert!(keys_before > 0);

    // SIGTERM: a clean stop, then a start on the same data directory.
    let status = a.terminate();
    assert!(status.success(), "A did not stop cleanly: {status}");
    assert!(
        a_dir.join(cairn::dht::service::persist::FILE).exists(),
        "no DHT file in the data directory"
    );
    let a = Daemon::start(&a_dir, &[]);
    assert_eq!(a.node_id(), a_id);

    // The provider records are answered at once, before any peer could
    // re-announce (hosts announce when they take a block, and republish
    // after hours): they came back from the file.
    let mut after = providers_held(&a_id, &a.addr(), head_key);
    after.sort();
    assert_eq!(after, before, "provider records lost in the restart");
    let keys_after = cairn_json(&a_dir, &["dht"])["stored_provider_keys"]
        .as_u64()
        .unwrap();
    assert_eq!(
        keys_after, keys_before,
        "provider keys held before and after"
    );

    // Its peers are still known and redialled without a new join.
    let peers = a.peers();
    for id in [&b_id, &c_id] {
        assert!(
            peers.iter().any(|p| p["id"] == **id),
            "peer {id} forgotten: {peers:?}"
        );
    }
    wait_for(20, "A to redial B and C after the restart", || {
        (a.connected_to(&b_id) && a.connected_to(&c_id)).then_some(())
    });

    // Its root is still listed and reads back from the hosts.
    let ls = cairn_json(&a_dir, &["ls"]);
    assert!(
        ls.to_string().contains(&cap),
        "the root is not listed after the restart: {ls}"
    );
    let out = tmp.path().join("back.bin");
    let got = cairn(&a_dir, &["get", &cap, "-o", out.to_str().unwrap()]);
    assert!(
        got.status.success(),
        "get after the restart failed: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == data,
        "different bytes after the restart"
    );

    // A crash (SIGKILL) loses at most what was not yet written: once A's DHT
    // reports nothing pending, the records it holds survive it too.
    let g = tmp.path().join("g.bin");
    std::fs::write(&g, pseudo_random(50 * 1024, 6)).unwrap();
    let added = cairn_json(&a_dir, &["add", g.to_str().unwrap(), "--copies", "2"]);
    let head2: cairn::store::Cap = added[0]["cap"].as_str().unwrap().parse().unwrap();
    let head2 = Key(head2.head.0);
    wait_for(30, "A to hold provider records of the second head", || {
        let got = providers_held(&a_id, &a.addr(), head2);
        (got.contains(&b_id) && got.contains(&c_id)).then_some(())
    });
    wait_for(10, "A's DHT to write what it holds", || {
        (cairn_json(&a_dir, &["dht"])["persist_pending"].as_u64() == Some(0)).then_some(())
    });
    drop(a);
    let a = Daemon::start(&a_dir, &[]);
    let got = providers_held(&a_id, &a.addr(), head2);
    assert!(
        got.contains(&b_id) && got.contains(&c_id),
        "provider records lost in a crash after they were written: {got:?}"
    );
    drop((a, b, c));
}
