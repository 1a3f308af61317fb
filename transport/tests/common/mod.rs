//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use cairn_transport::{Connection, Endpoint, Identity, TransportConfig};

pub fn addr() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn fast_config() -> TransportConfig {
    TransportConfig {
        handshake_timeout_ms: 5_000,
        idle_timeout_ms: 30_000,
        ..TransportConfig::default()
    }
}

/// A connected pair over an in-memory duplex pipe: (dialler side, listener side).
pub async fn duplex_pair(config: TransportConfig) -> (Connection, Connection) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let ia = Identity::generate();
    let ib = Identity::generate();
    let idb = ib.node_id();
    let cfg2 = config.clone();
    let listener = tokio::spawn(async move { Connection::accept_over(b, &ib, cfg2, addr()).await });
    let dialler = Connection::dial_over(a, &ia, idb, config, addr())
        .await
        .unwrap();
    (dialler, listener.await.unwrap().unwrap())
}

pub async fn endpoint(config: TransportConfig) -> Endpoint {
    Endpoint::bind(Identity::generate(), config, addr())
        .await
        .unwrap()
}

/// Checks that `server` still completes a connection and a stream round trip.
pub async fn still_serves(server: &Endpoint) {
    let client = endpoint(fast_config()).await;
    let srv = server.clone();
    let accept = tokio::spawn(async move {
        let conn = srv.accept().await.unwrap();
        let (proto, mut s) = conn.accept_stream().await.unwrap();
        assert_eq!(proto, "echo/1");
        let mut buf = [0u8; 5];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, &buf)
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::flush(&mut s).await.unwrap();
        conn
    });
    let conn = client
        .connect(server.node_id(), server.local_addr())
        .await
        .unwrap();
    let mut s = conn.open_stream("echo/1").await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, b"alive")
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::flush(&mut s).await.unwrap();
    let mut buf = [0u8; 5];
    tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
        .await
        .unwrap();
    assert_eq!(&buf, b"alive");
    let _server_conn = accept.await.unwrap();
}
