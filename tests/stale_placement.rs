//! A stale placement record is rescued by the DHT: when the only holder a
//! manifest names is gone and its shards now live on a node the manifest
//! does not name, a read finds them through that node's provider
//! announcements and succeeds.
//!
//! tests/network.rs reads around *lost* holders with parity from the other
//! holders the manifest names; it never needs a holder the manifest does
//! not know. Here every shard has exactly one recorded holder (one copy),
//! so the read can only succeed through the DHT.

mod common;

use cairn::exchange::wire::{Decoder, Message};
use cairn::store::{Class, Store};
use cairn_transport::{Endpoint, Identity, NodeId, TransportConfig};
use common::{Daemon, cairn, cairn_json, pseudo_random, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Hand `blocks` to the daemon `node` at `addr` with `blocks/1` puts, as
/// any peer allowed to store may; returns how many it acknowledged.
fn put_all(node: &str, addr: &str, blocks: &[Vec<u8>]) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let node: NodeId = node.parse().unwrap();
    rt.block_on(async {
        let ep = Endpoint::bind(
            Identity::generate(),
            TransportConfig::default(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let conn = ep
            .connect(node, addr.parse().unwrap())
            .await
            .expect("connect to the new host");
        let mut acked = 0;
        for bytes in blocks {
            let mut s = conn
                .open_stream(cairn::exchange::PROTOCOL)
                .await
                .expect("open a blocks/1 stream");
            let id = cairn::store::BlockId::of(bytes);
            let put = Message::Put {
                id,
                bytes: bytes.clone(),
            };
            s.write_all(&put.encode()).await.unwrap();
            s.flush().await.unwrap();
            let mut dec = Decoder::new();
            let mut buf = vec![0u8; 4096];
            let answer = loop {
                if let Some(m) = dec.next_message().expect("a valid answer") {
                    break m;
                }
                let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
                    .await
                    .expect("no answer to a put within 10 s")
                    .unwrap();
                assert!(n > 0, "stream closed without an answer to a put");
                dec.push(&buf[..n]);
            };
            match answer {
                Message::PutAck { id: got } if got == id => acked += 1,
                other => panic!("put refused: {other:?}"),
            }
        }
        acked
    })
}

#[test]
fn a_shard_moved_off_its_recorded_holder_is_found_through_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    let b_dir = tmp.path().join("b");
    let a = Daemon::start(&a_dir, &[]);
    let b = Daemon::start(&b_dir, &[]);
    a.join(&b);

    // One copy of every chunk, all on B (A's only peer): the manifest names
    // B as the one holder of each shard.
    let data = pseudo_random(700 * 1024, 9);
    let file = tmp.path().join("f.bin");
    std::fs::write(&file, &data).unwrap();
    let added = cairn_json(&a_dir, &["add", file.to_str().unwrap(), "--copies", "1"]);
    let cap = added[0]["cap"].as_str().expect("cap").to_owned();
    let placement = &added[0]["placement"];
    assert_eq!(
        placement["shards_kept_local"].as_u64(),
        Some(0),
        "every shard went to B: {added}"
    );

    // B dies without warning; its shards move to C, which A never placed
    // anything on (read from B's store the way a repair would copy them).
    drop(b);
    let blocks: Vec<Vec<u8>> = {
        let store = Store::open_datadir(&cairn::datadir::DataDir::at(&b_dir))
            .expect("open the dead host's store");
        let ids = store.block_ids(Class::Hosted).unwrap();
        assert!(!ids.is_empty(), "B hosted nothing");
        ids.iter().map(|id| store.get_block(id).unwrap()).collect()
    };
    let c = Daemon::start(&tmp.path().join("c"), &[]);
    c.join(&a);
    // C announces what it takes at once: its DHT table must hold A by then.
    c.wait_dht_knows(&[&a]);
    let acked = put_all(&c.node_id(), &c.addr(), &blocks);
    assert_eq!(acked, blocks.len());

    // C announces what it took; A hears the announcements.
    wait_for(30, "C's provider announcements to reach A", || {
        let keys = cairn_json(&a_dir, &["dht"])["stored_provider_keys"]
            .as_u64()
            .unwrap_or(0);
        (keys >= blocks.len() as u64).then_some(())
    });

    // The manifest still names only B; the read succeeds through the DHT.
    let out = tmp.path().join("back.bin");
    let got = cairn(&a_dir, &["get", &cap, "-o", out.to_str().unwrap()]);
    assert!(
        got.status.success(),
        "get with a stale placement failed: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == data,
        "different bytes read back"
    );
}

/// The owner provides what it keeps (its heads, manifests and, with
/// `keep_local`, its shards), so a reader that knows only the cap finds the
/// file through the owner when every host of the head is gone, even a
/// reader that met the owner after its announcements went out: a node
/// answers a provider lookup for a key it provides with itself. Without
/// that, the head's only provider record names the dead host and the read
/// fails "no such cap".
#[test]
fn the_owner_is_found_as_a_provider_of_its_head_when_its_hosts_are_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    cairn(&a_dir, &["init"]);
    let cfg_path = a_dir.join("config.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    assert!(
        cfg.contains("keep_local = false"),
        "config template changed"
    );
    std::fs::write(
        &cfg_path,
        cfg.replace("keep_local = false", "keep_local = true"),
    )
    .unwrap();
    let a = Daemon::start(&a_dir, &[]);
    let b = Daemon::start(&tmp.path().join("b"), &[]);
    a.join(&b);

    let data = pseudo_random(300 * 1024, 21);
    let file = tmp.path().join("f.bin");
    std::fs::write(&file, &data).unwrap();
    let added = cairn_json(&a_dir, &["add", file.to_str().unwrap(), "--copies", "1"]);
    let cap = added[0]["cap"].as_str().expect("cap").to_owned();
    assert!(
        added[0]["placement"]["shards_placed"].as_u64().unwrap_or(0) > 0,
        "the shards went to B as well: {added}"
    );

    // C meets A only, after the add: A's announcements went out before C
    // existed, so C holds none of them. Asked by C, A names itself as a
    // provider of what it keeps.
    let c = Daemon::start(&tmp.path().join("c"), &[]);
    c.join(&a);
    let own = |v: &serde_json::Value| {
        v["classes"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["class"] == "own"))
            .and_then(|c| c["blocks"].as_u64())
            .unwrap_or(0)
    };
    let kept = own(&cairn_json(&a_dir, &["stats"]));
    assert!(kept > 0, "A keeps its own blocks");
    wait_for(30, "A to provide every block it keeps", || {
        let n = cairn_json(&a_dir, &["dht"])["providing_keys"]
            .as_u64()
            .unwrap_or(0);
        (n >= kept).then_some(())
    });
    c.wait_dht_knows(&[&a]);
    drop(b);

    let out = tmp.path().join("back.bin");
    let got = cairn(&c.dir, &["get", &cap, "-o", out.to_str().unwrap()]);
    assert!(
        got.status.success(),
        "get through the owner failed: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == data,
        "different bytes read back"
    );
}
