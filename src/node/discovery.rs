//! Keeps the DHT's routing table fed from what the node already knows.
//!
//! The peer book knows the peers the owner joined, bootstrapped or paired
//! with, and the pool knows who is connected right now. Both are the best
//! seeds a Kademlia table can have: at start every known peer with an
//! address goes into the DHT and the node bootstraps (a lookup of its own
//! id, which fills the buckets near it); later, each peer that connects is
//! added with the addresses the book has for it, and the node bootstraps
//! again at a slow pace so a table that emptied (everyone went away) refills
//! once peers are back. The DHT core itself refreshes buckets and checks
//! liveness; this task only seeds.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::dht::service::DhtHandle;
use crate::net::{ConnPool, PoolEvent};
use crate::peers::PeerBook;

/// How often the node bootstraps again while it runs.
const REBOOTSTRAP: Duration = Duration::from_secs(300);

/// Seed the DHT from the peer book and the pool until `cancel`.
pub async fn run(dht: DhtHandle, pool: ConnPool, book: PeerBook, cancel: CancellationToken) {
    let mut events = pool.subscribe();
    for rec in book.all() {
        if rec.banned.is_some() || rec.addrs.is_empty() {
            continue;
        }
        let addrs = rec.addrs.iter().map(|a| a.addr).collect();
        if let Err(e) = dht.add_peer(rec.node_id, addrs).await {
            debug!(error = %e, "dht: cannot seed a known peer");
        }
    }
    let mut bootstrapped = bootstrap(&dht).await;
    let mut tick = tokio::time::interval(REBOOTSTRAP);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => bootstrapped = bootstrap(&dht).await,
            ev = events.recv() => match ev {
                Ok(PoolEvent::Connected { peer, .. }) => {
                    let addrs: Vec<_> = book
                        .get(&peer)
                        .map(|r| r.addrs.iter().map(|a| a.addr).collect())
                        .unwrap_or_default();
                    if !addrs.is_empty() {
                        let _ = dht.add_peer(peer, addrs).await;
                        if !bootstrapped {
                            bootstrapped = bootstrap(&dht).await;
                        }
                    }
                }
                Ok(PoolEvent::Disconnected { .. }) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// One bootstrap; true when it reached anyone.
async fn bootstrap(dht: &DhtHandle) -> bool {
    match dht.bootstrap().await {
        Ok(found) => {
            debug!(peers = found.len(), "dht bootstrap done");
            !found.is_empty()
        }
        Err(e) => {
            debug!(error = %e, "dht bootstrap failed");
            false
        }
    }
}
