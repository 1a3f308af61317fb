//! Hooks through which the network places and finds shards.
//!
//! The store knows nothing of peers: `add` hands each chunk's shards to a
//! [`Placer`] (if one is set) and records the holders it reports in the
//! manifest; `read_chunk` asks a [`ShardSource`] (if one is set) for the
//! shards it does not hold. Both are called on the store's blocking threads,
//! so they are plain synchronous traits; the block exchange implements them
//! by blocking on its async handle. With neither set the store behaves as a
//! single node.

use serde::Serialize;

use super::block::BlockId;
use super::manifest::ChunkRef;

/// Where a chunk's shards went.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    /// Per shard (in the order given), the peers that acknowledged it.
    pub holders: Vec<Vec<[u8; 32]>>,
    /// Whether the owner also keeps a local copy of the shards placed.
    pub keep_local: bool,
    /// Why peers refused shards (one line per distinct reason, naming the
    /// peer), for the add's report.
    pub refused: Vec<String>,
    /// Peers connected at placement (not banned, not this node), whatever
    /// their rights: with some but no shard placed, the add's report says
    /// no peer was able to store it.
    pub peers_connected: usize,
    /// Of those, the peers this node may place shards on (store right).
    pub peers_allowed: usize,
}

/// What hosts are told about the shards of a public (plaintext) share, so
/// each can filter what it keeps by type (its name's extension, and the
/// file's leading bytes). Encrypted shards carry no such hint: a host sees
/// only ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicHint<'a> {
    /// The name of the file (or directory) the shards belong to.
    pub name: &'a str,
    /// Index (in the shards given) of the shard whose bytes begin the file:
    /// shard 0 of the file's first chunk; `None` for any other chunk.
    pub leading: Option<usize>,
}

/// Pushes shards to distinct peers allowed to store them.
pub trait Placer: Send + Sync {
    /// Place `shards` (id, bytes) of one chunk, each on a different peer
    /// where possible. Shards no peer took are kept locally by the store.
    fn place(&self, shards: &[(BlockId, &[u8])]) -> Placed;

    /// Place the shards of a public share, telling each host `hint` so it
    /// can refuse types it does not keep. A placer that has no way to tell
    /// hosts places them as it places any shard.
    fn place_public(&self, shards: &[(BlockId, &[u8])], hint: &PublicHint<'_>) -> Placed {
        let _ = hint;
        self.place(shards)
    }

    /// The owner now keeps `ids` itself (blocks of its own adds newly
    /// indexed here: heads, manifests, shards kept locally), so it can say
    /// it provides them. Called after they are durable. Default: nothing.
    fn kept(&self, ids: &[BlockId]) {
        let _ = ids;
    }
}

/// Fetches blocks this store does not hold.
pub trait ShardSource: Send + Sync {
    /// Fetch `need` more shards of chunk `c` (skipping the indices marked
    /// `present`), each from a different peer where possible, falling back
    /// to other holders and to parity shards; returns what it obtained as
    /// (shard index, bytes), every one verified against its id.
    fn fetch_shards(&self, c: &ChunkRef, present: &[bool], need: usize) -> Vec<(usize, Vec<u8>)>;
    /// A single block (say, a cap's head) from anyone who has it, verified.
    fn fetch_block(&self, id: &BlockId) -> Option<Vec<u8>>;
}

/// What placement did during one add (part of the `AddReport`).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PlacementReport {
    /// Shards stored on peers.
    pub shards_placed: u64,
    /// Shards no peer took (too few peers allowed to store), kept here.
    pub shards_kept_local: u64,
    /// Distinct peers that took at least one shard.
    pub peers: u64,
    /// Set when not every shard could go to a distinct peer.
    pub warning: Option<String>,
    /// Refusals by peers (say, a host's type filter refusing a public
    /// executable), one line per distinct reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Most peers connected (not banned) when a chunk was placed.
    #[serde(default)]
    pub peers_connected: u64,
    /// Most of them this node was allowed to place shards on.
    #[serde(default)]
    pub peers_allowed: u64,
}

impl PlacementReport {
    /// Peers were there, yet not one shard went to any of them: everything
    /// is kept on this node only. An add in that state has not done what
    /// the user asked of a node with peers, so the CLI exits non-zero (the
    /// data is stored, and the cap printed, all the same). A node with no
    /// peers at all is a single node: keeping everything is its normal case.
    pub fn none_placed(&self) -> bool {
        self.shards_placed == 0 && self.shards_kept_local > 0 && self.peers_connected > 0
    }

    /// Why nothing was placed, in one line, for a `none_placed` report.
    pub fn none_placed_reason(&self) -> String {
        let peers = |n: u64| if n == 1 { "peer" } else { "peers" };
        if self.peers_allowed == 0 {
            format!(
                "no peer is allowed to store: {} connected {}, none with the store right (cairn peers set NODE store=on)",
                self.peers_connected,
                peers(self.peers_connected)
            )
        } else if self.refused.is_empty() {
            format!(
                "no peer was able to store: {} {} allowed to store, every push failed (see the daemon's log)",
                self.peers_allowed,
                peers(self.peers_allowed)
            )
        } else {
            format!(
                "no peer was able to store: {} {} allowed to store, all refused: {}",
                self.peers_allowed,
                peers(self.peers_allowed),
                self.refused.join("; ")
            )
        }
    }
}

/// Most distinct refusal lines kept in one report.
pub const MAX_REFUSALS_REPORTED: usize = 16;
