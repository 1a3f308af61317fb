//! Who else may hold a block, when its recorded holders are unknown or gone.
//!
//! The DHT answers this in a running node; the exchange only sees a trait
//! object so it neither depends on the DHT nor waits for it in tests. The
//! integrator plugs the DHT's provider lookup in.

use std::net::SocketAddr;
use std::sync::Arc;

use cairn_transport::NodeId;
use futures::future::BoxFuture;

use crate::store::BlockId;

/// Peers (with their addresses) that may hold a block.
pub type Candidates = Vec<(NodeId, Vec<SocketAddr>)>;

/// Looks up providers of a block.
pub trait Providers: Send + Sync + 'static {
    fn providers(&self, id: BlockId) -> BoxFuture<'static, Candidates>;

    /// Where to dial `peer` (a holder named by a manifest, which records
    /// node ids only), when no connection to it is open. None known: empty.
    fn addresses(&self, _peer: NodeId) -> BoxFuture<'static, Vec<SocketAddr>> {
        Box::pin(async { Vec::new() })
    }
}

/// Knows no providers (a node without a DHT).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProviders;

impl Providers for NoProviders {
    fn providers(&self, _id: BlockId) -> BoxFuture<'static, Candidates> {
        Box::pin(async { Vec::new() })
    }
}

/// Names the same peers for every block: a small fixed network (tests, a
/// set of one's own devices).
#[derive(Debug, Clone, Default)]
pub struct StaticProviders {
    peers: Arc<Candidates>,
}

impl StaticProviders {
    pub fn new(peers: Candidates) -> StaticProviders {
        StaticProviders {
            peers: Arc::new(peers),
        }
    }
}

impl Providers for StaticProviders {
    fn providers(&self, _id: BlockId) -> BoxFuture<'static, Candidates> {
        let peers = self.peers.clone();
        Box::pin(async move { peers.as_ref().clone() })
    }
}
