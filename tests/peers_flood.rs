//! One bad peer disturbs no one else: while a raw TCP client sends garbage
//! and a peer floods a daemon with stream opens, an honest peer keeps getting
//! answers and the daemon's other peer stays connected.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cairn::peers::pair;
use cairn_transport::{Endpoint, Identity, NodeId, TransportConfig};
use common::Daemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn endpoint() -> Endpoint {
    Endpoint::bind(
        Identity::generate(),
        TransportConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// One honest `pair/1` round trip with a secret the daemon never issued: it
/// must answer "refused".
async fn honest_round_trip(conn: &cairn_transport::Connection) -> Result<(), String> {
    let mut s = conn
        .open_stream(pair::PROTOCOL)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(&pair::encode_request(&[0x42; 32]))
        .await
        .map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())?;
    let mut resp = [0u8; pair::RESPONSE_LEN];
    s.read_exact(&mut resp).await.map_err(|e| e.to_string())?;
    match pair::decode_response(&resp) {
        Ok(pair::Verdict::Refused) => Ok(()),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

#[test]
fn garbage_and_stream_floods_from_one_peer_do_not_disturb_others() {
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Daemon::start(ta.path(), &[]);
    let b = Daemon::start(tb.path(), &[]);
    a.join(&b);
    let b_id: NodeId = b.node_id().parse().unwrap();
    let b_addr: SocketAddr = b.addr().parse().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The honest peer connects before any abuse starts.
        let honest_ep = endpoint().await;
        let honest = honest_ep.connect(b_id, b_addr).await.unwrap();
        honest_round_trip(&honest).await.unwrap();

        // Garbage: raw TCP clients that send bytes that are no handshake.
        let garbage = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(3);
            let junk = common::pseudo_random(64 * 1024, 7);
            while Instant::now() < deadline {
                if let Ok(mut s) = std::net::TcpStream::connect(b_addr) {
                    let _ = s.write_all(&junk);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });

        // Flood: one authenticated peer opens thousands of streams, half to
        // a protocol nobody serves, half `pair/1` streams that never speak.
        let flood_ep = endpoint().await;
        let flooder = flood_ep.connect(b_id, b_addr).await.unwrap();
        let flood = tokio::spawn(async move {
            let mut held = Vec::new();
            let mut opened = 0u32;
            for i in 0..4000u32 {
                let proto = if i % 2 == 0 {
                    "flood/1"
                } else {
                    pair::PROTOCOL
                };
                match flooder.open_stream(proto).await {
                    Ok(s) => {
                        opened += 1;
                        if held.len() < 900 {
                            held.push(s);
                        }
                    }
                    Err(_) => tokio::task::yield_now().await,
                }
            }
            (opened, held.len())
        });

        // Meanwhile the honest peer keeps being answered, each round trip
        // within a bounded time.
        let mut answered = 0;
        while !flood.is_finished() || answered < 20 {
            let started = Instant::now();
            tokio::time::timeout(Duration::from_secs(5), honest_round_trip(&honest))
                .await
                .unwrap_or_else(|_| panic!("honest round trip {answered} got no answer in 5 s"))
                .unwrap_or_else(|e| panic!("honest round trip {answered} failed: {e}"));
            assert!(started.elapsed() < Duration::from_secs(5));
            answered += 1;
            if answered > 500 {
                break;
            }
        }
        let (opened, _) = flood.await.unwrap();
        assert!(opened > 100, "the flood opened only {opened} streams");
        garbage.join().unwrap();
        assert!(!honest.is_closed(), "the honest connection was dropped");
    });
    // The daemon's other peer was never disconnected and the API answers.
    assert!(a.connected_to(&b.node_id()));
    assert!(b.connected_to(&a.node_id()));
}
