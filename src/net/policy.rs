//! What a peer may ask of this node, decided in one place.
//!
//! Services (block exchange, DHT, compute, relay) ask the policy before
//! serving a peer and report misbehaviour to it; peer management implements it
//! from the persisted permissions and ban list. Keeping it a small trait here
//! lets each service be tested with [`AllowAll`] and lets peer management own
//! the rules without the services knowing how they are stored.

use cairn_transport::NodeId;

/// A right a peer can be granted (Stasher's client rights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Right {
    /// Keep blocks on this node (hosted shards).
    Store,
    /// Read blocks this node holds.
    Fetch,
    /// Run work on this node's CPU.
    Compute,
    /// Relay traffic through this node.
    Relay,
}

/// How bad a peer's misbehaviour was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Possibly accidental (a timeout, an unanswerable request).
    Minor,
    /// Provably wrong (a block that does not hash to its id, a malformed
    /// message, a forged signature).
    Proven,
}

/// Decides what peers may do and hears about what they did wrong.
pub trait PeerPolicy: Send + Sync + 'static {
    /// Whether `peer` currently holds `right` (false for a banned peer).
    fn allows(&self, peer: &NodeId, right: Right) -> bool;
    /// `peer` misbehaved; `what` is a short human-readable reason. The policy
    /// may ban the peer (and the pool then disconnects it).
    fn offence(&self, peer: &NodeId, severity: Severity, what: &str);
    /// Whether `peer` is banned.
    fn is_banned(&self, peer: &NodeId) -> bool;
}

/// Every peer holds every right and nothing is ever banned: for tests and
/// for tools that talk to a single trusted node.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl PeerPolicy for AllowAll {
    fn allows(&self, _peer: &NodeId, _right: Right) -> bool {
        true
    }
    fn offence(&self, peer: &NodeId, severity: Severity, what: &str) {
        tracing::warn!(%peer, ?severity, what, "peer misbehaved");
    }
    fn is_banned(&self, _peer: &NodeId) -> bool {
        false
    }
}
