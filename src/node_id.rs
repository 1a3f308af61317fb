//! A node's identity as others see it: NodeId = BLAKE3(Ed25519 public key).
//!
//! Text form: lowercase RFC 4648 base32 without padding, 52 characters, the
//! same everywhere (tickets, logs, the CLI, the dashboard).

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;

/// BLAKE3 of a node's Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; 32]);

/// A string that is not a NodeId.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a node id: expected 52 base32 characters")]
pub struct NodeIdParseError;

impl NodeId {
    pub fn from_bytes(bytes: [u8; 32]) -> NodeId {
        NodeId(bytes)
    }

    pub fn from_public_key(key: &ed25519_dalek::VerifyingKey) -> NodeId {
        NodeId(*blake3::hash(key.as_bytes()).as_bytes())
    }

    /// The NodeId belonging to an Ed25519 secret key.
    pub fn from_identity_secret(secret: &[u8; 32]) -> NodeId {
        let key = ed25519_dalek::SigningKey::from_bytes(secret);
        NodeId::from_public_key(&key.verifying_key())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE32_NOPAD.encode(&self.0).to_ascii_lowercase())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = NodeIdParseError;

    fn from_str(s: &str) -> Result<NodeId, NodeIdParseError> {
        if s.len() != 52 {
            return Err(NodeIdParseError);
        }
        let bytes = BASE32_NOPAD
            .decode(s.to_ascii_uppercase().as_bytes())
            .map_err(|_| NodeIdParseError)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| NodeIdParseError)?;
        Ok(NodeId(arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_is_52_chars() {
        let id = NodeId::from_identity_secret(&[1; 32]);
        let s = id.to_string();
        assert_eq!(s.len(), 52);
        assert_eq!(s, s.to_ascii_lowercase());
        assert_eq!(s.parse::<NodeId>().unwrap(), id);
        assert!("abc".parse::<NodeId>().is_err());
    }
}
