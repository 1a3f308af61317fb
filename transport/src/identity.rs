//! Node identity: an Ed25519 signing key (who we are) and a separate X25519
//! Noise static key (what the handshake uses), bound together by a signature
//! carried in the handshake payload.
//!
//! The two keys are kept apart so the long-term identity never takes part in
//! Diffie-Hellman, and so the Noise key could be replaced without changing the
//! NodeId. `NodeId` is BLAKE3 of the Ed25519 public key; its text form is
//! lowercase RFC 4648 base32 without padding (52 characters).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

/// Length of a NodeId in bytes.
pub const NODE_ID_LEN: usize = 32;
/// Length of the text form of a NodeId.
pub const NODE_ID_TEXT_LEN: usize = 52;

/// BLAKE3 hash of a node's Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; NODE_ID_LEN]);

/// Why a NodeId text could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeIdParseError {
    /// The text is not 52 characters long.
    #[error("a NodeId is {NODE_ID_TEXT_LEN} characters, got {0}")]
    Length(usize),
    /// The text is not lowercase base32.
    #[error("a NodeId is lowercase base32 without padding")]
    Encoding,
}

fn base32_lower() -> data_encoding::Encoding {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
    // Both padding-free and case-sensitive: one canonical text per id.
    spec.encoding()
        .unwrap_or_else(|_| data_encoding::BASE32_NOPAD.clone())
}

impl NodeId {
    /// The NodeId of an Ed25519 public key.
    pub fn from_public_key(public_key: &[u8; 32]) -> NodeId {
        NodeId(*blake3::hash(public_key).as_bytes())
    }
    /// Wraps raw NodeId bytes.
    pub fn from_bytes(bytes: [u8; NODE_ID_LEN]) -> NodeId {
        NodeId(bytes)
    }
    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; NODE_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base32_lower().encode(&self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = NodeIdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != NODE_ID_TEXT_LEN {
            return Err(NodeIdParseError::Length(s.len()));
        }
        let bytes = base32_lower()
            .decode(s.as_bytes())
            .map_err(|_| NodeIdParseError::Encoding)?;
        let arr: [u8; NODE_ID_LEN] = bytes.try_into().map_err(|_| NodeIdParseError::Encoding)?;
        Ok(NodeId(arr))
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A node's long-term keys: Ed25519 identity plus X25519 Noise static key.
///
/// The X25519 public key and the signed handshake payload are derived once,
/// when the identity is built: both are constant, and computing them per
/// handshake cost one base-point multiplication and one Ed25519 signature on
/// every connection.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
    noise: StaticSecret,
    noise_public: [u8; 32],
    payload: [u8; crate::payload::PAYLOAD_LEN],
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("node_id", &self.node_id())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Identity {
        Identity::build(
            SigningKey::generate(&mut OsRng),
            StaticSecret::random_from_rng(OsRng),
        )
    }
    fn build(signing: SigningKey, noise: StaticSecret) -> Identity {
        let noise_public = XPublic::from(&noise).to_bytes();
        let payload = crate::payload::compute(&signing, &noise_public);
        Identity {
            signing,
            noise,
            noise_public,
            payload,
        }
    }
    /// Rebuilds an identity from the secrets returned by [`Identity::secret_bytes`].
    pub fn from_secret_bytes(ed25519: [u8; 32], x25519: [u8; 32]) -> Identity {
        Identity::build(SigningKey::from_bytes(&ed25519), StaticSecret::from(x25519))
    }
    /// The two 32-byte secrets (Ed25519 seed, X25519 secret), for persisting.
    pub fn secret_bytes(&self) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
        (
            Zeroizing::new(self.signing.to_bytes()),
            Zeroizing::new(self.noise.to_bytes()),
        )
    }
    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_public_key(&self.public_key())
    }
    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
    /// The X25519 Noise static public key.
    pub fn noise_public_key(&self) -> [u8; 32] {
        self.noise_public
    }
    /// The signed identity payload of this identity's handshake messages.
    pub(crate) fn handshake_payload(&self) -> &[u8; crate::payload::PAYLOAD_LEN] {
        &self.payload
    }
    pub(crate) fn noise_secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.noise.to_bytes())
    }
    /// Ed25519 signature of `msg` with the identity key.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

/// Verifies an Ed25519 signature by `public_key` (strict verification).
pub fn verify_signature(public_key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_text_round_trips_and_is_52_lowercase_chars() {
        let id = Identity::generate().node_id();
        let text = id.to_string();
        assert_eq!(text.len(), 52);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
        assert_eq!(text.parse::<NodeId>().unwrap(), id);
        assert!(text.to_uppercase().parse::<NodeId>().is_err());
        assert!(text[1..].parse::<NodeId>().is_err());
    }

    #[test]
    fn identity_survives_secret_bytes_round_trip() {
        let a = Identity::generate();
        let (ed, x) = a.secret_bytes();
        let b = Identity::from_secret_bytes(*ed, *x);
        assert_eq!(a.node_id(), b.node_id());
        assert_eq!(a.noise_public_key(), b.noise_public_key());
    }

    #[test]
    fn signatures_verify_only_for_their_message() {
        let a = Identity::generate();
        let sig = a.sign(b"hello");
        assert!(verify_signature(&a.public_key(), b"hello", &sig));
        assert!(!verify_signature(&a.public_key(), b"hellO", &sig));
    }

    #[test]
    fn node_id_serde_is_its_text_form() {
        let id = Identity::generate().node_id();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<NodeId>(&json).unwrap(), id);
    }
}
