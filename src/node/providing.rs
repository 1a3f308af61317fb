//! The DHT as the exchange's source of block holders, and the announcing of
//! the blocks this node hosts.
//!
//! A reader whose manifest names holders that are gone asks the DHT who
//! provides the block; hosts make that answer true by announcing every block
//! they accept to keep (and, after a restart, every block they still keep,
//! since the DHT core's list of what it provides lives in memory). The core
//! republishes what it provides before the records expire.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc};
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

/// Announce every hosted block now, then each newly hosted one, until
/// `cancel`.
pub async fn announce(
    dht: DhtHandle,
    store: Store,
    mut hosted: mpsc::Receiver<BlockId>,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(ANNOUNCE_CONCURRENCY));
    let s = store.clone();
    let held = tokio::task::spawn_blocking(move || s.block_ids(Class::Hosted))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    if !held.is_empty() {
        info!(blocks = held.len(), "announcing hosted blocks");
    }
    let mut backlog = held.into_iter();
    loop {
        let id = match backlog.next() {
            Some(id) => id,
            None => tokio::select! {
                _ = cancel.cancelled() => return,
                id = hosted.recv() => match id {
                    Some(id) => id,
                    None => return,
                },
            },
        };
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let dht = dht.clone();
        tokio::spawn(async move {
            if let Err(e) = dht.provide(Key(id.0)).await {
                debug!(block = %id, error = %e, "provider announcement failed");
            }
            drop(permit);
        });
    }
}
