//! The stream side of the service: one short task per `dht/1` stream.
//!
//! Outbound, [`request`] opens a stream through the pool (dialling if needed),
//! writes one request frame, reads one response frame and posts it to the
//! driver, all within the request timeout. Inbound, [`accept_loop`] refuses
//! streams from banned peers, over the per-peer rate, or beyond the bound on
//! concurrent inbound streams *before reading anything*; each admitted stream
//! gets [`serve`], which reads one request within the timeout, posts it to the
//! driver and writes the answer back. A stream task never touches the core,
//! and every wait in it is bounded, so a peer that stalls holds one slot for
//! at most one timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cairn_transport::{Connection, Stream};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tracing::debug;

use super::driver::Input;
use super::frame::{FrameError, read_frame, write_frame};
use super::rate::RateLimiter;
use super::{Counters, PROTOCOL, Shared, key_of, node_of, now};
use crate::dht::{Message, PeerInfo, RequestId};

/// Most peers whose inbound rate is tracked at once.
const MAX_RATE_PEERS: usize = 4096;

/// Sends request `id` (already framed) to `to` and posts the outcome.
pub(crate) async fn request(
    shared: Arc<Shared>,
    to: PeerInfo,
    id: RequestId,
    frame: Vec<u8>,
    _permit: OwnedSemaphorePermit,
) {
    let exchange = async {
        let (_conn, mut stream) = shared
            .pool
            .open_stream(node_of(&to.id), &to.addrs, PROTOCOL)
            .await
            .map_err(|e| {
                debug!(peer = ?to.id, error = %e, "dht request not delivered");
                None
            })?;
        write_frame(&mut stream, &frame).await.map_err(|_| None)?;
        let body = read_frame(&mut stream).await.map_err(Some)?;
        let _ = stream.shutdown().await;
        Ok::<Vec<u8>, Option<FrameError>>(body)
    };
    let outcome = tokio::select! {
        _ = shared.cancel.cancelled() => return,
        r = tokio::time::timeout(shared.request_timeout(), exchange) => r,
    };
    let input = match outcome {
        Ok(Ok(body)) => match Message::decode(&body) {
            Ok(message @ Message::Response { .. }) => Input::Response {
                from: to.id,
                message,
            },
            Ok(Message::Request { .. }) | Err(_) => Input::Malformed { from: to.id },
        },
        Ok(Err(Some(e))) if e.is_malformed() => Input::Malformed { from: to.id },
        Ok(Err(_)) | Err(_) => Input::SendFailed { id },
    };
    // A malformed answer also fails the request at once.
    if matches!(input, Input::Malformed { .. }) {
        let _ = shared.inbox.send(Input::SendFailed { id }).await;
    }
    let _ = shared.inbox.send(input).await;
}

/// Serves inbound `dht/1` streams until the service is cancelled.
pub(crate) async fn accept_loop(mut rx: mpsc::Receiver<(Connection, Stream)>, shared: Arc<Shared>) {
    let mut limiter = RateLimiter::new(
        shared.cfg.inbound_rate_per_sec,
        shared.cfg.inbound_burst,
        MAX_RATE_PEERS,
    );
    loop {
        let next = tokio::select! {
            _ = shared.cancel.cancelled() => break,
            next = rx.recv() => next,
        };
        let Some((conn, stream)) = next else { break };
        let node = conn.remote_node_id();
        let c = &shared.counters;
        if shared.policy.is_banned(&node) {
            Counters::bump(&c.refused_banned);
            continue;
        }
        if !limiter.allow(&key_of(&node), now()) {
            debug!(peer = %node, "dht/1 request rate exceeded; stream dropped");
            Counters::bump(&c.refused_rate);
            continue;
        }
        let Ok(permit) = shared.inbound_slots.clone().try_acquire_owned() else {
            Counters::bump(&c.refused_busy);
            continue;
        };
        tokio::spawn(serve(shared.clone(), conn, stream, permit));
    }
}

/// Reads one request from `stream`, has the driver answer it, writes the answer.
async fn serve(
    shared: Arc<Shared>,
    conn: Connection,
    mut stream: Stream,
    _permit: OwnedSemaphorePermit,
) {
    let from = key_of(&conn.remote_node_id());
    let observed = conn.remote_addr().ip();
    let timeout = shared.request_timeout();
    let work = async {
        let body = match read_frame(&mut stream).await {
            Ok(b) => b,
            Err(e) if e.is_malformed() => return Some(Input::Malformed { from }),
            Err(_) => return None,
        };
        let message = match Message::decode(&body) {
            Ok(Message::Request {
                id,
                sender_addrs,
                body,
            }) => Message::Request {
                id,
                sender_addrs: announced_addrs(sender_addrs, observed),
                body,
            },
            Ok(Message::Response { .. }) => return Some(Input::Unsolicited { from }),
            Err(_) => return Some(Input::Malformed { from }),
        };
        let (tx, rx) = oneshot::channel();
        shared
            .inbox
            .send(Input::Request {
                from,
                message,
                reply: tx,
            })
            .await
            .ok()?;
        let answer = rx.await.ok()?;
        if write_frame(&mut stream, &answer).await.is_ok() {
            Counters::bump(&shared.counters.requests_served);
        }
        let _ = stream.shutdown().await;
        None
    };
    let report = tokio::select! {
        _ = shared.cancel.cancelled() => None,
        r = tokio::time::timeout(timeout, work) => r.unwrap_or_else(|_| {
            debug!(peer = ?from, "dht/1 inbound stream timed out");
            None
        }),
    };
    // The stream is dropped (reset) here before the report is posted.
    drop(stream);
    if let Some(input) = report {
        debug!(peer = ?from, ?input, "bad dht/1 input; stream dropped");
        let _ = shared.inbox.send(input).await;
    }
}

/// The addresses a peer announced, with an unspecified IP (a node listening on
/// `0.0.0.0` / `::`) replaced by the IP its connection comes from. The port of
/// the connection itself is never used: inbound connections come from
/// ephemeral ports.
pub fn announced_addrs(mut addrs: Vec<SocketAddr>, observed: IpAddr) -> Vec<SocketAddr> {
    for a in &mut addrs {
        if a.ip().is_unspecified() {
            a.set_ip(observed);
        }
    }
    let mut out: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for a in addrs {
        if a.port() != 0 && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_announced_ip_takes_the_observed_ip() {
        let observed: IpAddr = "10.1.2.3".parse().unwrap();
        let got = announced_addrs(
            vec![
                "0.0.0.0:7341".parse().unwrap(),
                "192.0.2.7:7000".parse().unwrap(),
                "[::]:7341".parse().unwrap(),
                "192.0.2.7:0".parse().unwrap(),
            ],
            observed,
        );
        assert_eq!(
            got,
            vec![
                "10.1.2.3:7341".parse().unwrap(),
                "192.0.2.7:7000".parse().unwrap(),
            ]
        );
    }
}
