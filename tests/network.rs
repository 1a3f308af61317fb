//! A real network: ten `cairn daemon` processes on 127.0.0.1, each with its
//! own data directory and OS-chosen ports, joined by tickets. A file added
//! on one node is spread over the others, survives two holders killed with
//! SIGKILL, and is read back byte for byte by a node that never held it.

mod common;

use std::path::PathBuf;

use common::{Daemon, cairn, cairn_json, pseudo_random, wait_for};

const NODES: usize = 10;

fn dir(tmp: &tempfile::TempDir, i: usize) -> PathBuf {
    tmp.path().join(format!("node{i}"))
}

#[test]
fn a_file_spread_over_ten_nodes_survives_two_killed_holders() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Option<Daemon>> = (0..NODES)
        .map(|i| Some(Daemon::start(&dir(&tmp, i), &[])))
        .collect();
    let node = |nodes: &Vec<Option<Daemon>>, i: usize| -> PathBuf {
        assert!(nodes[i].is_some(), "node {i} is running");
        dir(&tmp, i)
    };
    // Everyone joins node 0 (the owner); each also joins its predecessor,
    // so the network does not hang on one node.
    for i in 1..NODES {
        let (head, tail) = nodes.split_at(i);
        let me = tail[0].as_ref().unwrap();
        me.join(head[0].as_ref().unwrap());
        if i > 1 {
            me.join(head[i - 1].as_ref().unwrap());
        }
    }

    // 50 MiB, 4+2, on node 0: every chunk's six shards go to six peers.
    let data = pseudo_random(50 << 20, 11);
    let file = tmp.path().join("big.bin");
    std::fs::write(&file, &data).unwrap();
    let added = cairn_json(
        &node(&nodes, 0),
        &["add", file.to_str().unwrap(), "--redundancy", "4+2"],
    );
    let rep = &added[0];
    let cap = rep["cap"].as_str().expect("cap").to_owned();
    let placement = &rep["placement"];
    let chunks = rep["chunks"].as_u64().expect("chunks");
    let placed = placement["shards_placed"].as_u64().unwrap_or(0);
    assert!(placed >= chunks * 6, "every shard went to a peer: {rep}");
    assert_eq!(
        placement["shards_kept_local"].as_u64(),
        Some(0),
        "no shard stayed behind: {rep}"
    );

    // The hosts announce what they took; wait until the DHT has provider
    // records of every placed block before taking holders away (bounded, no
    // sleep for luck). Node 0 hosts nothing and every host knows it (it
    // placed the shards), so each announcement lands in node 0's DHT: once
    // it holds a record for every shard placed and for the head, all
    // announcements are out. (A sum over all nodes reaching `placed` was met
    // after about a ninth of them, and the read could then find no provider
    // of the head yet.)
    wait_for(
        60,
        "hosts to announce every shard and the head in the DHT",
        || {
            let keys = cairn_json(&dir(&tmp, 0), &["dht"])["stored_provider_keys"]
                .as_u64()
                .unwrap_or(0);
            (keys > placed).then_some(())
        },
    );

    // Two holders die without warning.
    for i in [2, 3] {
        drop(nodes[i].take());
    }

    // Node 6 never held the file as its owner; it reads it back whole.
    let out = tmp.path().join("back.bin");
    let got = cairn(
        &node(&nodes, 6),
        &["get", &cap, "-o", out.to_str().unwrap()],
    );
    assert!(
        got.status.success(),
        "get on node 6 failed: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    let back = std::fs::read(&out).unwrap();
    assert!(back == data, "node 6 read back different bytes");
}
