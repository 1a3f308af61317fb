//! The DHT as the exchange's source of block holders, and the announcing of
//! the blocks this node hosts.
//!
//! A reader whose manifest names holders that are gone asks the DHT who
//! provides the block; hosts make that answer true by announcing every block
//! they accept to keep, owners every block of their own adds they keep
//! (heads, manifests, shards kept locally: through the store's
//! `Placer::kept` hook), and both, after a restart, every block they still
//! keep, since the DHT core's list of what it provides lives in memory. The core
//! republishes what it provides before the records expire; an announcement
//! that reached no peer (a host whose routing table was still empty) is
//! made again after a short, growing wait, since the republish is hours away.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::dht::Key;
use std::net::SocketAddr;

use cairn_transport::NodeId;

use crate::dht::service::{DhtHandle, key_of, node_of};
use crate::exchange::{Candidates, Providers};
use crate::store::{BlockId, Class, Store};

/// Provider announcements in flight at once.
const ANNOUNCE_CONCURRENCY: usize = 8;

/// The DHT's provider records, as the exchange's [`Providers`].
#[derive(Clone)]
pub struct DhtProviders(pub DhtHandle);

impl Providers for DhtProviders {
    fn providers(&self, id: BlockId) -> BoxFuture<'static, Candidates> {
        let dht = self.0.clone();
        Box::pin(async move {
            match dht.get_providers(Key(id.0)).await {
                Ok(found) => found
                    .into_iter()
                    .map(|p| (node_of(&p.id), p.addrs))
                    .collect(),
                Err(e) => {
                    debug!(block = %id, error = %e, "provider lookup failed");
                    Vec::new()
                }
            }
        })
    }

    /// The routing table's addresses for `peer`, else a lookup of its id.
    fn addresses(&self, peer: NodeId) -> BoxFuture<'static, Vec<SocketAddr>> {
        let dht = self.0.clone();
        Box::pin(async move {
            if let Ok(table) = dht.table().await
                && let Some(e) = table.into_iter().find(|e| e.node == peer)
                && !e.addrs.is_empty()
            {
                return e.addrs;
            }
            match dht.find_node(key_of(&peer)).await {
                Ok(found) => found
                    .into_iter()
                    .find(|p| node_of(&p.id) == peer)
                    .map(|p| p.addrs)
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            }
        })
    }
}

/// Announcements that no peer stored, waiting to be made again.
const RETRY_QUEUE: usize = 4096;
/// Attempts of one announcement before it waits for the core's republish.
const MAX_ATTEMPTS: u32 = 6;
/// First wait before an announcement is made again; doubles per attempt.
const RETRY_FIRST: Duration = Duration::from_secs(2);

/// Announce every hosted block now, then each newly hosted one, until
/// `cancel`. An announcement that no peer stored (the routing table was
/// still empty: a host that took blocks just after it met its first peer)
/// is made again after 2, 4, 8… s, at most [`MAX_ATTEMPTS`] times, so it is
/// not lost until the core's republish hours later.
pub async fn announce(
    dht: DhtHandle,
    store: Store,
    mut hosted: mpsc::Receiver<BlockId>,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(ANNOUNCE_CONCURRENCY));
    let s = store.clone();
    // What it hosts for others and what it keeps of its own (heads,
    // manifests, shards kept locally): it provides both.
    let held = tokio::task::spawn_blocking(move || {
        let mut ids = s.block_ids(Class::Hosted)?;
        ids.extend(s.block_ids(Class::Own)?);
        Ok::<_, crate::store::StoreError>(ids)
    })
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    if !held.is_empty() {
        info!(blocks = held.len(), "announcing hosted blocks");
    }
    let mut backlog = held.into_iter();
    let (failed_tx, mut failed_rx) = mpsc::channel::<(BlockId, u32)>(RETRY_QUEUE);
    // Due time and a serial (unique keys) → block and attempts so far.
    let mut retry: BTreeMap<(Instant, u64), (BlockId, u32)> = BTreeMap::new();
    let mut serial = 0u64;
    loop {
        let (id, attempts) = match backlog.next() {
            Some(id) => (id, 0),
            None => {
                let due = retry.keys().next().map(|(t, _)| *t);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    id = hosted.recv() => match id {
                        Some(id) => (id, 0),
                        None => return,
                    },
                    Some((id, n)) = failed_rx.recv() => {
                        if n < MAX_ATTEMPTS && retry.len() < RETRY_QUEUE {
                            let wait = RETRY_FIRST.saturating_mul(1 << (n - 1).min(16));
                            serial += 1;
                            retry.insert((Instant::now() + wait, serial), (id, n));
                        }
                        continue;
                    }
                    _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                        match retry.pop_first() {
                            Some((_, v)) => v,
                            None => continue,
                        }
                    }
                }
            }
        };
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let dht = dht.clone();
        let failed = failed_tx.clone();
        tokio::spawn(async move {
            let stored = match dht.provide(Key(id.0)).await {
                Ok(n) => n,
                Err(e) => {
                    debug!(block = %id, error = %e, "provider announcement failed");
                    0
                }
            };
            drop(permit);
            if stored == 0 {
                debug!(block = %id, attempt = attempts + 1, "no peer stored the announcement");
                let _ = failed.try_send((id, attempts + 1));
            }
        });
    }
}
