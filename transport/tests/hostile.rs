//! Peers that break the rules are refused, and the endpoint keeps serving
//! everyone else. Also: a bare Noise + yamux-ping client (what the Python
//! interop test does) is answered without ever opening a control stream.

mod common;

use std::time::Duration;

use cairn_transport::handshake::{self, HandshakeError, NOISE_PARAMS, PROLOGUE};
use cairn_transport::{ConnectionError, Identity, NodeId, TransportConfig, payload};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A hand-driven initiator, independent of the crate's handshake code path.
struct RawClient {
    tcp: TcpStream,
    noise: snow::TransportState,
    remote: NodeId,
}

async fn read_frame(tcp: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut p = [0u8; 2];
    tcp.read_exact(&mut p).await?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(p))];
    tcp.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame(tcp: &mut TcpStream, body: &[u8]) {
    let mut f = (body.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    tcp.write_all(&f).await.unwrap();
}

/// Completes XX, sending `payload3` in message 3.
async fn raw_handshake(addr: std::net::SocketAddr, me: &Identity, payload3: &[u8]) -> RawClient {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let secret = me.secret_bytes().1;
    let mut hs = snow::Builder::new(NOISE_PARAMS.parse().unwrap())
        .prologue(PROLOGUE)
        .unwrap()
        .local_private_key(&secret[..])
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut buf = vec![0u8; 65535];
    let n = hs.write_message(&[], &mut buf).unwrap();
    write_frame(&mut tcp, &buf[..n]).await;
    let m2 = read_frame(&mut tcp).await.unwrap();
    let mut out = vec![0u8; 65535];
    let n = hs.read_message(&m2, &mut out).unwrap();
    let rs: [u8; 32] = hs.get_remote_static().unwrap().try_into().unwrap();
    let remote = payload::verify(&out[..n], &rs).expect("server proves its identity");
    let n = hs.write_message(payload3, &mut buf).unwrap();
    write_frame(&mut tcp, &buf[..n]).await;
    RawClient {
        tcp,
        noise: hs.into_transport_mode().unwrap(),
        remote,
    }
}

fn yamux_ping(flags: u16, opaque: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[1] = 2; // type: ping
    h[2..4].copy_from_slice(&flags.to_be_bytes());
    h[8..12].copy_from_slice(&opaque.to_be_bytes());
    h
}

#[tokio::test]
async fn bare_noise_client_gets_yamux_ping_answered_without_a_control_stream() {
    let cfg = TransportConfig {
        idle_timeout_ms: 800,
        ..fast_config()
    };
    let server = endpoint(cfg).await;
    let me = Identity::generate();
    let mut c = raw_handshake(server.local_addr(), &me, &payload::encode(&me)).await;
    assert_eq!(c.remote, server.node_id());
    let mut buf = vec![0u8; 65535];
    let n = c
        .noise
        .write_message(&yamux_ping(0x1, 0xC0FFEE), &mut buf)
        .unwrap();
    write_frame(&mut c.tcp, &buf[..n]).await;
    // Read yamux frames (the byte stream may be cut anywhere) until our ACK.
    let mut plain = Vec::new();
    let mut got_ack = false;
    while !got_ack {
        let msg = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut c.tcp))
            .await
            .unwrap()
            .unwrap();
        let mut out = vec![0u8; 65535];
        let k = c.noise.read_message(&msg, &mut out).unwrap();
        plain.extend_from_slice(&out[..k]);
        while plain.len() >= 12 {
            let f: Vec<u8> = plain.drain(..12).collect();
            assert_eq!(f[0], 0, "yamux version");
            if f[1] == 2
                && u16::from_be_bytes([f[2], f[3]]) & 0x2 != 0
                && u32::from_be_bytes([f[8], f[9], f[10], f[11]]) == 0xC0FFEE
            {
                got_ack = true;
            }
        }
    }
    // The connection stays up until the idle timeout closes it.
    let eof = tokio::time::timeout(Duration::from_secs(5), async {
        while read_frame(&mut c.tcp).await.is_ok() {}
    })
    .await;
    assert!(eof.is_ok(), "idle connection closed by the server");
    still_serves(&server).await;
}

#[tokio::test]
async fn dialling_the_wrong_node_id_fails_and_server_keeps_serving() {
    let server = endpoint(fast_config()).await;
    let client = endpoint(fast_config()).await;
    let wrong = Identity::generate().node_id();
    let err = client
        .connect(wrong, server.local_addr())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectionError::Handshake(HandshakeError::WrongNodeId { .. })
        ),
        "{err}"
    );
    still_serves(&server).await;
}

#[tokio::test]
async fn bad_identity_signature_is_refused_and_server_keeps_serving() {
    let server = endpoint(fast_config()).await;
    let me = Identity::generate();
    let other = Identity::generate();
    // Identity key of `other`, but the Noise key is `me`'s: signature does not cover it.
    let c = raw_handshake(server.local_addr(), &me, &payload::encode(&other)).await;
    let mut tcp = c.tcp;
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut b))
        .await
        .unwrap();
    assert!(matches!(r, Ok(0) | Err(_)), "server closed the connection");
    still_serves(&server).await;
}

#[tokio::test]
async fn wrong_prologue_fails_the_handshake_and_server_keeps_serving() {
    let server = endpoint(fast_config()).await;
    let me = Identity::generate();
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let err = handshake::initiate_with_prologue(&mut tcp, &me, Some(server.node_id()), b"cairn/2")
        .await
        .unwrap_err();
    assert!(matches!(err, HandshakeError::Noise(_)), "{err}");
    still_serves(&server).await;
}

#[tokio::test]
async fn garbage_before_the_handshake_is_refused_and_server_keeps_serving() {
    let server = endpoint(fast_config()).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(&[0xff; 5000]).await.unwrap();
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut b))
        .await
        .unwrap();
    assert!(matches!(r, Ok(0) | Err(_)));
    still_serves(&server).await;
}

#[tokio::test]
async fn garbage_and_truncated_noise_frames_are_refused_and_server_keeps_serving() {
    let server = endpoint(fast_config()).await;
    let me = Identity::generate();
    // Garbage that is not a valid Noise message.
    let mut c = raw_handshake(server.local_addr(), &me, &payload::encode(&me)).await;
    write_frame(&mut c.tcp, &[0xAB; 300]).await;
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.tcp.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(r.is_ok());
    // A frame cut short by the peer closing.
    let mut c = raw_handshake(server.local_addr(), &me, &payload::encode(&me)).await;
    c.tcp.write_all(&[0x10, 0x00, 1, 2, 3]).await.unwrap();
    c.tcp.shutdown().await.unwrap();
    drop(c);
    still_serves(&server).await;
}

#[tokio::test]
async fn oversized_and_garbage_stream_frames_close_the_connection_only() {
    for bad in [
        // Head claiming a frame larger than max_frame_size.
        vec![0u8, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff],
        // A well-sized frame whose ciphertext is garbage.
        {
            let mut v = vec![0u8, 0, 0, 0, 0, 0, 0, 32];
            v.extend_from_slice(&[0x55; 48]);
            v
        },
        // A frame under an epoch no key was announced for.
        {
            let mut v = vec![0u8, 0, 0, 9, 0, 0, 0, 1];
            v.extend_from_slice(&[0x55; 17]);
            v
        },
    ] {
        let server = endpoint(fast_config()).await;
        let client = endpoint(fast_config()).await;
        let srv = server.clone();
        let accept = tokio::spawn(async move {
            let conn = srv.accept().await.unwrap();
            let (_, mut s) = conn.accept_stream().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let r = s.read(&mut buf).await;
            (r.is_err(), conn)
        });
        let conn = client
            .connect(server.node_id(), server.local_addr())
            .await
            .unwrap();
        let mut s = conn.open_stream("blocks/1").await.unwrap();
        s.write_raw_for_test(&bad).await.unwrap();
        let (errored, sconn) = tokio::time::timeout(Duration::from_secs(5), accept)
            .await
            .unwrap()
            .unwrap();
        assert!(errored, "bad frame refused");
        tokio::time::timeout(Duration::from_secs(5), sconn.closed())
            .await
            .expect("connection closed");
        tokio::time::timeout(Duration::from_secs(5), conn.closed())
            .await
            .expect("peer saw the close");
        still_serves(&server).await;
    }
}

#[tokio::test]
async fn stream_open_flood_past_the_limit_disconnects_and_server_keeps_serving() {
    let server = endpoint(TransportConfig {
        max_streams_per_connection: 8,
        ..fast_config()
    })
    .await;
    let client = endpoint(fast_config()).await;
    let srv = server.clone();
    let holder = tokio::spawn(async move {
        let conn = srv.accept().await.unwrap();
        let mut held = Vec::new();
        while let Ok(s) = conn.accept_stream().await {
            held.push(s);
        }
        held.len()
    });
    let conn = client
        .connect(server.node_id(), server.local_addr())
        .await
        .unwrap();
    let mut streams = Vec::new();
    for _ in 0..16 {
        match conn.open_stream("dht/1").await {
            Ok(mut s) => {
                let _ = s.flush().await;
                streams.push(s);
            }
            Err(_) => break,
        }
    }
    tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .expect("flooder disconnected");
    let held = tokio::time::timeout(Duration::from_secs(5), holder)
        .await
        .unwrap()
        .unwrap();
    assert!(held <= 8, "server accepted {held} streams");
    still_serves(&server).await;
}

#[tokio::test]
async fn repeat_offenders_are_refused_for_a_cooldown() {
    let cfg = TransportConfig {
        offenses_before_ban: 2,
        ban_cooldown_ms: 60_000,
        ..fast_config()
    };
    let server = endpoint(cfg).await;
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
        tcp.write_all(&[0x00, 0x40]).await.unwrap();
        tcp.write_all(&[0x17; 64]).await.unwrap();
        let mut b = [0u8; 1];
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut b))
            .await
            .unwrap();
    }
    let ip = server.local_addr().ip();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !server.is_banned(ip) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("offender banned");
    let client = endpoint(fast_config()).await;
    assert!(
        client
            .connect(server.node_id(), server.local_addr())
            .await
            .is_err()
    );
}
