//! Data crosses intact over an in-memory pipe, over real TCP, and on 1,000
//! concurrent streams of one connection.

mod common;

use std::time::Duration;

use cairn_transport::{CipherKind, TransportConfig};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn echo_round_trip(
    a: &cairn_transport::Connection,
    b: &cairn_transport::Connection,
    len: usize,
) {
    let data = pattern(len as u32, len);
    let b = b.clone();
    let server = tokio::spawn(async move {
        let (proto, mut s) = b.accept_stream().await.unwrap();
        assert_eq!(proto, "blocks/1");
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        s.write_all(&got).await.unwrap();
        s.shutdown().await.unwrap();
    });
    let mut s = a.open_stream("blocks/1").await.unwrap();
    s.write_all(&data).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert!(back == data, "echo differs");
    server.await.unwrap();
}

#[tokio::test]
async fn duplex_round_trip_preserves_bytes_in_both_directions() {
    let (a, b) = duplex_pair(fast_config()).await;
    assert_eq!(a.remote_node_id(), a.remote_node_id());
    for len in [1, 100, 65_536, 300_001] {
        echo_round_trip(&a, &b, len).await;
    }
}

#[tokio::test]
async fn both_ciphers_round_trip() {
    for cipher in [CipherKind::ChaCha20Poly1305, CipherKind::Aes256Gcm] {
        let cfg = TransportConfig {
            default_cipher: cipher,
            ..fast_config()
        };
        let (a, b) = duplex_pair(cfg).await;
        echo_round_trip(&a, &b, 200_000).await;
        let mut s = a.open_stream("blocks/1").await.unwrap();
        s.write_all(b"x").await.unwrap();
        s.flush().await.unwrap();
        let (_, mut r) = b.accept_stream().await.unwrap();
        let mut one = [0u8; 1];
        r.read_exact(&mut one).await.unwrap();
        assert_eq!(s.stats().send_cipher, Some(cipher));
        assert_eq!(r.stats().recv_cipher, Some(cipher));
        assert_eq!(a.stats().streams.len(), 1);
    }
}

#[tokio::test]
async fn tcp_round_trip_between_endpoints() {
    let server = endpoint(fast_config()).await;
    let client = endpoint(fast_config()).await;
    let srv = server.clone();
    let accept = tokio::spawn(async move { srv.accept().await.unwrap() });
    let a = client
        .connect(server.node_id(), server.local_addr())
        .await
        .unwrap();
    let b = accept.await.unwrap();
    assert_eq!(a.remote_node_id(), server.node_id());
    assert_eq!(b.remote_node_id(), client.node_id());
    echo_round_trip(&a, &b, 1_000_000).await;
    assert_eq!(client.connections().len(), 1);
    assert!(a.stats().bytes_sent > 1_000_000);
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn a_thousand_concurrent_streams_each_arrive_byte_for_byte() {
    let (a, b) = duplex_pair(fast_config()).await;
    const N: usize = 1000;
    const LEN: usize = 8_000;
    let server = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..N {
            let (_, mut s) = b.accept_stream().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                s.read_to_end(&mut got).await.unwrap();
                s.write_all(&got).await.unwrap();
                s.shutdown().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        b
    });
    let mut tasks = Vec::new();
    for i in 0..N {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let data = pattern(i as u32, LEN);
            let mut s = a.open_stream("blocks/1").await.unwrap();
            s.write_all(&data).await.unwrap();
            s.shutdown().await.unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.unwrap();
            assert!(back == data, "stream {i} differs");
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await
    .expect("1000 streams finish");
    server.await.unwrap();
}

#[tokio::test]
async fn more_than_256_streams_open_while_the_acceptor_only_reads() {
    // yamux caps unacknowledged outbound streams at 256; the acceptor must
    // acknowledge streams itself even if it never writes.
    let (a, b) = duplex_pair(fast_config()).await;
    let mut held = Vec::new();
    for i in 0..300u32 {
        let mut ws = tokio::time::timeout(Duration::from_secs(5), a.open_stream("blocks/1"))
            .await
            .unwrap_or_else(|_| panic!("stream {i} could not be opened"))
            .unwrap();
        ws.write_all(&i.to_be_bytes()).await.unwrap();
        ws.flush().await.unwrap();
        let (_, mut rs) = b.accept_stream().await.unwrap();
        let mut got = [0u8; 4];
        rs.read_exact(&mut got).await.unwrap();
        assert_eq!(u32::from_be_bytes(got), i);
        held.push((ws, rs));
    }
}

#[tokio::test]
async fn router_delivers_streams_to_the_handler_of_their_protocol() {
    let (a, b) = duplex_pair(fast_config()).await;
    let (dht_tx, mut dht_rx) = tokio::sync::mpsc::channel(4);
    let (blocks_tx, mut blocks_rx) = tokio::sync::mpsc::channel(4);
    let router = cairn_transport::Router::new()
        .route("dht/1", dht_tx)
        .route("blocks/1", blocks_tx);
    tokio::spawn(async move { router.serve(b).await });
    let mut opened = Vec::new();
    for proto in ["blocks/1", "unknown/1", "dht/1"] {
        let mut s = a.open_stream(proto).await.unwrap();
        s.write_all(proto.as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        opened.push(s);
    }
    let (_, mut s) = dht_rx.recv().await.unwrap();
    assert_eq!(s.protocol(), "dht/1");
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"dht/1");
    let (_, s) = blocks_rx.recv().await.unwrap();
    assert_eq!(s.protocol(), "blocks/1");
    assert!(dht_rx.try_recv().is_err() && blocks_rx.try_recv().is_err());
}

/// Frames are opened in the reader's buffer when it has room for a whole
/// frame and in a pooled buffer otherwise; a frame that arrives in pieces
/// (yamux credit runs out mid-frame every 256 KiB) is carried over between
/// calls. Every reader buffer size must see the same bytes.
#[tokio::test]
async fn any_reader_buffer_size_sees_the_same_bytes() {
    let (a, b) = duplex_pair(fast_config()).await;
    const LEN: usize = 1_200_000;
    for rbuf in [7usize, 65_483 + 16, 65_536 + 100, 1 << 20] {
        let data = pattern(rbuf as u32, LEN);
        let bb = b.clone();
        let reader = tokio::spawn(async move {
            let (_, mut s) = bb.accept_stream().await.unwrap();
            let mut got = Vec::with_capacity(LEN);
            let mut buf = vec![0u8; rbuf];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if got.len() % 3 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            got
        });
        let mut s = a.open_stream("blocks/1").await.unwrap();
        let mut off = 0;
        for chunk in [1usize, 1000, 65_483, 200_000].iter().cycle() {
            if off == LEN {
                break;
            }
            let end = (off + chunk).min(LEN);
            s.write_all(&data[off..end]).await.unwrap();
            s.flush().await.unwrap();
            off = end;
        }
        s.shutdown().await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), LEN, "reader buffer {rbuf}");
        assert!(got == data, "bytes differ with reader buffer {rbuf}");
    }
}

/// Small writes are gathered into frames: ten writes of 100 bytes and a
/// flush arrive as one frame (one read of a large buffer returns a whole
/// frame's plaintext), a write larger than a frame is cut into full frames,
/// and writes of every size without a flush in between keep their bytes
/// and order once the stream is flushed or shut down.
#[tokio::test]
async fn small_writes_are_gathered_into_frames_until_flush() {
    let (a, b) = duplex_pair(fast_config()).await;
    let mut w = a.open_stream("blocks/1").await.unwrap();
    let data = pattern(11, 1000);
    for piece in data.chunks(100) {
        w.write_all(piece).await.unwrap();
    }
    w.flush().await.unwrap();
    let (_, mut r) = b.accept_stream().await.unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let n = r.read(&mut buf).await.unwrap();
    assert_eq!(n, 1000, "ten gathered writes arrive as one frame");
    assert_eq!(&buf[..n], &data[..]);

    // No flush between writes of mixed sizes: same bytes, same order.
    const LEN: usize = 700_000;
    let data = pattern(12, LEN);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        let mut off = 0;
        for chunk in [3usize, 8192, 70_000, 1, 65_483, 65_482].iter().cycle() {
            if off == LEN {
                break;
            }
            let end = (off + chunk).min(LEN);
            w.write_all(&sent[off..end]).await.unwrap();
            off = end;
        }
        w.shutdown().await.unwrap();
        w
    });
    let mut got = Vec::with_capacity(LEN);
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= 65_483, "a frame holds at most max_frame_size bytes");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == data, "gathered bytes differ");
    drop(writer.await.unwrap());
}
