//! The store's placement and read hooks, implemented over the exchange.
//!
//! The store calls these on its blocking threads; they block on the async
//! exchange through a runtime handle. Placement spreads one chunk's shards
//! over distinct peers that may store (connected in the pool and allowed by
//! the policy), pushing them all at once; a refused or failed push moves to
//! a peer not yet used for this chunk, and a shard no peer takes is left for
//! the store to keep locally (and to report). Must not be called from
//! inside the runtime's own worker threads (`block_on` would panic); the
//! store's operations run on `spawn_blocking` threads.
//!
//! The shards of a public share go out as `PutPublic`, naming the file (and
//! marking the shard that begins it), so each host can apply its type
//! filter; a refusal is reported back (peer and reason) and the shard moves
//! on like after any other refusal.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_transport::NodeId;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::runtime::Handle;
use tracing::{debug, info};

use super::service::ExchangeHandle;
use crate::net::Right;
use crate::store::manifest::ChunkRef;
use crate::store::{BlockId, Placed, Placer, PublicHint, ShardSource};

use super::service::ExchangeError;

/// Places shards on peers through the exchange.
pub struct ExchangePlacer {
    exchange: ExchangeHandle,
    runtime: Handle,
    keep_local: bool,
    /// Rotates the starting peer so chunks spread over all peers.
    next: AtomicUsize,
}

impl ExchangePlacer {
    pub fn new(exchange: ExchangeHandle, runtime: Handle, keep_local: bool) -> ExchangePlacer {
        ExchangePlacer {
            exchange,
            runtime,
            keep_local,
            next: AtomicUsize::new(0),
        }
    }

    /// Connected peers this node may place shards on, rotated, and how
    /// many peers are connected at all (not banned).
    fn candidates(&self) -> (Vec<NodeId>, usize) {
        let policy = self.exchange.policy();
        let local = self.exchange.pool().local_id();
        let mut connected: Vec<NodeId> = self
            .exchange
            .pool()
            .connected_peers()
            .into_iter()
            .filter(|p| *p != local && !policy.is_banned(p))
            .collect();
        connected.sort();
        connected.dedup();
        let n_connected = connected.len();
        let mut peers = connected;
        peers.retain(|p| policy.allows(p, Right::Store));
        if !peers.is_empty() {
            let n = self.next.fetch_add(1, Ordering::Relaxed) % peers.len();
            peers.rotate_left(n);
        }
        (peers, n_connected)
    }

    /// Place the shards; per shard the peers holding it, the refusals met
    /// and the peers there were.
    async fn place_async(
        &self,
        shards: &[(BlockId, &[u8])],
        public: Option<&PublicHint<'_>>,
    ) -> Placed {
        let mut holders = vec![Vec::new(); shards.len()];
        let mut refused = Vec::new();
        let (candidates, peers_connected) = self.candidates();
        let peers_allowed = candidates.len();
        let mut spare = candidates.into_iter();
        let mut used: HashSet<NodeId> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let push = |i: usize, peer: NodeId| {
            let ex = self.exchange.clone();
            let bytes = shards[i].1;
            let public = public.map(|h| (h.name.to_owned(), h.leading == Some(i)));
            async move {
                let res = match public {
                    Some((name, leading)) => ex.put_public(peer, &[], bytes, &name, leading).await,
                    None => ex.put(peer, &[], bytes).await,
                };
                (i, peer, res)
            }
        };
        for i in 0..shards.len() {
            match spare.next() {
                Some(p) => {
                    used.insert(p);
                    running.push(push(i, p));
                }
                None => break,
            }
        }
        while let Some((i, peer, res)) = running.next().await {
            match res {
                Ok(id) if id == shards[i].0 => holders[i].push(*peer.as_bytes()),
                Ok(_) => debug!(%peer, "peer acknowledged another id"),
                Err(e) => {
                    info!(%peer, error = %e, "placing a shard failed; trying another peer");
                    if let ExchangeError::Refused { code, reason, .. } = &e {
                        let line = format!("{peer} refused: {code} ({reason})");
                        if !refused.contains(&line) {
                            refused.push(line);
                        }
                    }
                    if let Some(p) = spare.by_ref().find(|p| !used.contains(p)) {
                        used.insert(p);
                        running.push(push(i, p));
                    }
                }
            }
        }
        Placed {
            holders,
            keep_local: self.keep_local,
            refused,
            peers_connected,
            peers_allowed,
        }
    }
}

impl Placer for ExchangePlacer {
    /// The owner announces itself as a provider of what it keeps (through
    /// the node's announce queue, like the blocks it hosts for others), so
    /// a reader finds a head or manifest with the owner even when the hosts
    /// that took copies are gone.
    fn kept(&self, ids: &[BlockId]) {
        if let Some(tx) = &self.exchange.config().hosted {
            for id in ids {
                if tx.try_send(*id).is_err() {
                    tracing::debug!(block = %id, "announce queue full; left to the republish");
                }
            }
        }
    }

    fn place(&self, shards: &[(BlockId, &[u8])]) -> Placed {
        self.runtime.block_on(self.place_async(shards, None))
    }

    fn place_public(&self, shards: &[(BlockId, &[u8])], hint: &PublicHint<'_>) -> Placed {
        self.runtime.block_on(self.place_async(shards, Some(hint)))
    }
}

/// Finds missing shards through the exchange.
pub struct ExchangeSource {
    exchange: ExchangeHandle,
    runtime: Handle,
}

impl ExchangeSource {
    pub fn new(exchange: ExchangeHandle, runtime: Handle) -> ExchangeSource {
        ExchangeSource { exchange, runtime }
    }
}

impl ShardSource for ExchangeSource {
    fn fetch_shards(&self, c: &ChunkRef, present: &[bool], need: usize) -> Vec<(usize, Vec<u8>)> {
        self.runtime
            .block_on(self.exchange.fetch_shards(c, present, need))
    }

    fn fetch_block(&self, id: &BlockId) -> Option<Vec<u8>> {
        self.runtime
            .block_on(self.exchange.fetch(*id, Vec::new()))
            .ok()
    }
}

/// Install the exchange as `store`'s placer (when `place` is set) and
/// shard source.
pub fn install(exchange: &ExchangeHandle, runtime: Handle, place: bool) {
    let store = exchange.store().clone();
    if place {
        store.set_placer(Some(Arc::new(ExchangePlacer::new(
            exchange.clone(),
            runtime.clone(),
            exchange.config().keep_local,
        ))));
    }
    store.set_shard_source(Some(Arc::new(ExchangeSource::new(
        exchange.clone(),
        runtime,
    ))));
}
