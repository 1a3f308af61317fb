//! The snapshot feed of a real daemon: `GET /v1/snapshot` and the SSE
//! stream of `GET /v1/events`, read through `ApiClient`, including a peer
//! that connects over the real transport and shows on the Peers data.

mod common;

use std::time::Duration;

use cairn::api::client::{ApiClient, ClientError};
use cairn::api::snapshot::{Level, SNAPSHOT_VERSION};
use cairn_transport::{Endpoint, Identity, NodeId, TransportConfig};
use futures::StreamExt;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn snapshot_route_describes_the_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(dir.path(), &[]);
    let client = ApiClient::for_data_dir(dir.path()).expect("client");
    let snap = rt().block_on(client.snapshot()).expect("snapshot");
    assert_eq!(snap.version, SNAPSHOT_VERSION);
    assert!(snap.seq >= 1, "a published snapshot has seq >= 1");
    assert_eq!(snap.node.node_id, daemon.node_id());
    assert_eq!(snap.node.ticket, daemon.ready["ticket"].as_str().unwrap());
    assert!(snap.space.disk_total > 0, "disk size is read");
    // The daemon runs with RUST_LOG=warn (tests/common): the log ring
    // follows the same filter as stderr.
    if std::env::var("RUST_LOG").is_err() {
        assert!(
            snap.logs.iter().all(|l| l.level >= Level::Warn),
            "the log ring honours the filter: {:?}",
            snap.logs
        );
    }
}

#[test]
fn events_stream_starts_at_once_and_shows_a_connecting_peer() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(dir.path(), &[]);
    let client = ApiClient::for_data_dir(dir.path()).expect("client");
    rt().block_on(async {
        let mut events = client.events().await.expect("events");
        let first = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("the first snapshot comes at once")
            .expect("stream open")
            .expect("a snapshot");
        assert!(first.peers.is_empty());

        // A peer connects over the real transport.
        let ep = Endpoint::bind(
            Identity::generate(),
            TransportConfig::default(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("bind");
        let node: NodeId = daemon.node_id().parse().expect("node id");
        let conn = ep
            .connect(node, daemon.addr().parse().unwrap())
            .await
            .expect("connect");
        let _stream = conn.open_stream("cairn/test/1").await;
        let me = ep.node_id().to_string();
        let seen = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let snap = events.next().await.expect("open").expect("snapshot");
                assert!(snap.seq > first.seq, "seq only grows");
                if let Some(p) = snap.peers.iter().find(|p| p.node_id == me) {
                    return p.clone();
                }
            }
        })
        .await
        .expect("the peer shows within 10 s");
        assert!(seen.connected);
        assert!(seen.bytes_in > 0 && seen.bytes_out > 0, "{seen:?}");
        ep.close().await;
    });
}

#[test]
fn events_stream_reports_a_stopped_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(dir.path(), &[]);
    let client = ApiClient::for_data_dir(dir.path()).expect("client");
    rt().block_on(async {
        let mut events = client.events().await.expect("events");
        events.next().await.expect("first").expect("snapshot");
        let status = tokio::task::spawn_blocking(move || daemon.terminate())
            .await
            .unwrap();
        assert!(status.success());
        let end = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match events.next().await {
                    Some(Ok(_)) => continue,
                    other => return other,
                }
            }
        })
        .await
        .expect("the stream ends within 10 s of the daemon stopping");
        assert!(matches!(end, Some(Err(_)) | None), "{end:?}");
        // And a new attempt says plainly that no daemon runs.
        let again = ApiClient::for_data_dir(dir.path());
        assert!(
            matches!(again, Err(ClientError::NoDaemon(_))),
            "api.addr is removed on shutdown"
        );
    });
}

#[test]
fn dashboard_feed_reconnects_when_the_daemon_restarts() {
    use cairn::api::snapshot::Notice;
    use cairn::dashboard::remote::{Target, follow};
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    let dir = tempfile::tempdir().unwrap();
    let first = common::Daemon::start(dir.path(), &[]);
    let first_id = first.node_id();
    rt().block_on(async {
        let (snap_tx, mut snap_rx) = watch::channel(Default::default());
        let (note_tx, mut note_rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let task = tokio::spawn(follow(
            Target::DataDir(dir.path().to_owned()),
            snap_tx,
            note_tx,
            stop.clone(),
        ));
        let wait = Duration::from_secs(15);
        tokio::time::timeout(wait, snap_rx.wait_for(|s| s.seq > 0))
            .await
            .expect("a snapshot within 15 s")
            .expect("feed open");

        let status = tokio::task::spawn_blocking(move || first.terminate())
            .await
            .unwrap();
        assert!(status.success());
        let lost = tokio::time::timeout(wait, note_rx.recv())
            .await
            .expect("a notice within 15 s");
        assert!(
            matches!(lost, Some(Notice::Disconnected { .. })),
            "{lost:?}"
        );

        // The daemon comes back on a new API port; the feed finds it.
        let dir2 = dir.path().to_owned();
        let second = tokio::task::spawn_blocking(move || common::Daemon::start(&dir2, &[]))
            .await
            .unwrap();
        let back = tokio::time::timeout(wait, note_rx.recv())
            .await
            .expect("reconnected within 15 s");
        assert_eq!(back, Some(Notice::Connected));
        let snap = snap_rx.borrow().clone();
        assert_eq!(snap.node.node_id, first_id, "same data dir, same node");
        stop.cancel();
        task.await.unwrap();
        drop(second);
    });
}

#[test]
fn dashboard_without_a_daemon_says_so_with_exit_code_7() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::cairn(dir.path(), &["dashboard"]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no cairn daemon is running"), "{stderr}");
}

#[test]
fn dashboard_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let _daemon = common::Daemon::start(dir.path(), &[]);
    let out = common::cairn(dir.path(), &["dashboard"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a terminal"), "{stderr}");
}
