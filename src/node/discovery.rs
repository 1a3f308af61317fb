//! Keeps the DHT's routing table fed from what the node already knows.
//!
//! The peer book knows the peers the owner joined, bootstrapped or paired
//! with, with addresses that were dialled successfully: the best seeds a
//! Kademlia table can have. Every few seconds any such peer missing from the
//! table is added, and the node bootstraps (a lookup of its own id, which
//! fills the buckets near it) whenever that brought the table from empty to
//! something, and otherwise at a slow pace, so a table that emptied
//! (everyone went away) refills once peers are back. Polling the book rather
//! than reacting to connection events avoids racing the join that writes the
//! addresses just after the connection is up. The DHT core itself refreshes
//! buckets and checks liveness; this task only seeds.

use std::collections::HashSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::dht::service::DhtHandle;
use crate::peers::PeerBook;

/// How often the book is compared with the routing table.
const RESEED: Duration = Duration::from_secs(2);
/// Bootstrap at least this often while the node runs.
const REBOOTSTRAP_TICKS: u32 = 150;

/// Seed the DHT from the peer book until `cancel`.
pub async fn run(dht: DhtHandle, book: PeerBook, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(RESEED);
    let mut since_bootstrap = 0u32;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let known: HashSet<_> = match dht.table().await {
            Ok(t) => t.into_iter().map(|e| e.node).collect(),
            Err(_) => continue,
        };
        let mut added = 0;
        for rec in book.all() {
            if rec.banned.is_some() || rec.addrs.is_empty() || known.contains(&rec.node_id) {
                continue;
            }
            let addrs = rec.addrs.iter().map(|a| a.addr).collect();
            if dht.add_peer(rec.node_id, addrs).await.is_ok() {
                added += 1;
            }
        }
        since_bootstrap += 1;
        if (added > 0 && known.is_empty()) || since_bootstrap >= REBOOTSTRAP_TICKS {
            since_bootstrap = 0;
            match dht.bootstrap().await {
                Ok(found) => debug!(peers = found.len(), "dht bootstrap done"),
                Err(e) => debug!(error = %e, "dht bootstrap failed"),
            }
        }
    }
}
