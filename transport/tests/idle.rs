//! Idle means "no application stream open": control-stream pings and key
//! traffic keep flowing on an idle connection, yet it must still close.

mod common;

use std::time::{Duration, Instant};

use cairn_transport::TransportConfig;
use common::{duplex_pair, endpoint};

const IDLE_MS: u64 = 1000;

fn idle_config() -> TransportConfig {
    TransportConfig {
        idle_timeout_ms: IDLE_MS,
        // Pings far more often than the idle timeout: they must not keep the
        // connection alive.
        ping_interval_ms: 100,
        handshake_timeout_ms: 5_000,
        ..TransportConfig::default()
    }
}

#[tokio::test]
async fn connection_with_only_control_pings_closes_after_idle_timeout() {
    let server = endpoint(idle_config()).await;
    let client = endpoint(idle_config()).await;
    let srv = server.clone();
    let accepted = tokio::spawn(async move { srv.accept().await.unwrap() });
    let started = Instant::now();
    let conn = client
        .connect(server.node_id(), server.local_addr())
        .await
        .unwrap();
    let server_conn = accepted.await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .expect("idle connection was not closed");
    tokio::time::timeout(Duration::from_secs(5), server_conn.closed())
        .await
        .expect("server side of the idle connection was not closed");
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_millis(IDLE_MS),
        "closed after {lived:?}, before the idle timeout"
    );
    // Pings did flow while it was idle: an RTT was measured.
    assert!(conn.stats().rtt.is_some(), "no control ping was answered");
}

#[tokio::test]
async fn open_stream_keeps_connection_alive_and_closing_it_starts_the_idle_clock() {
    let (a, b) = duplex_pair(idle_config()).await;
    let s = a.open_stream("hold/1").await.unwrap();
    let (_, r) = b.accept_stream().await.unwrap();
    // Three idle periods with a stream open and no data on it.
    tokio::time::sleep(Duration::from_millis(3 * IDLE_MS)).await;
    assert!(!a.is_closed(), "connection with an open stream was closed");
    assert!(!b.is_closed(), "connection with an open stream was closed");
    drop(s);
    drop(r);
    let closed_at = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), a.closed())
        .await
        .expect("connection did not close after its last stream closed");
    tokio::time::timeout(Duration::from_secs(5), b.closed())
        .await
        .expect("listener side did not close after its last stream closed");
    assert!(closed_at.elapsed() >= Duration::from_millis(IDLE_MS) - Duration::from_millis(50));
}
