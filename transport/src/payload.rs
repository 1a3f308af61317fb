//! The identity payload of Noise handshake messages 2 and 3.
//!
//! `identity public key (32) || Ed25519 signature (64) || extensions (any)`,
//! the signature covering `cairn-noise-key:` || the sender's Noise static
//! key. It binds the X25519 key the handshake authenticated to the Ed25519
//! key the NodeId names. Unknown extension bytes are ignored so the payload
//! can grow without a new protocol version.

use crate::identity::{Identity, NodeId, verify_signature};

/// Domain separator signed together with the Noise static key.
pub const SIGNATURE_CONTEXT: &[u8] = b"cairn-noise-key:";
/// Length of the fixed part of the payload.
pub const PAYLOAD_LEN: usize = 96;
/// Largest payload accepted (fits in one Noise handshake message).
pub const MAX_PAYLOAD_LEN: usize = 65535 - 32 - 16 - 32 - 16 - 16;

/// Why a handshake payload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// Shorter than 96 bytes.
    #[error("identity payload of {0} bytes, need at least 96")]
    TooShort(usize),
    /// Longer than any handshake message can carry.
    #[error("identity payload of {0} bytes is too long")]
    TooLong(usize),
    /// The signature does not cover the Noise key under the identity key.
    #[error("identity signature does not verify")]
    BadSignature,
}

/// A parsed, not yet verified, identity payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPayload<'a> {
    /// Ed25519 public key of the sender.
    pub public_key: [u8; 32],
    /// Signature over `cairn-noise-key:` || Noise static key.
    pub signature: [u8; 64],
    /// Extension bytes (ignored by this version).
    pub extensions: &'a [u8],
}

fn signed_message(noise_static: &[u8; 32]) -> [u8; 48] {
    let mut m = [0u8; 48];
    m[..16].copy_from_slice(SIGNATURE_CONTEXT);
    m[16..].copy_from_slice(noise_static);
    m
}

/// The 96-byte payload this identity sends (computed once per identity).
pub fn encode(identity: &Identity) -> [u8; PAYLOAD_LEN] {
    *identity.handshake_payload()
}

/// Builds the payload: public key, then the signature over the Noise key.
pub(crate) fn compute(
    signing: &ed25519_dalek::SigningKey,
    noise_public: &[u8; 32],
) -> [u8; PAYLOAD_LEN] {
    use ed25519_dalek::Signer as _;
    let mut out = [0u8; PAYLOAD_LEN];
    out[..32].copy_from_slice(&signing.verifying_key().to_bytes());
    out[32..].copy_from_slice(&signing.sign(&signed_message(noise_public)).to_bytes());
    out
}

/// Splits a payload into its parts without checking the signature.
pub fn parse(bytes: &[u8]) -> Result<IdentityPayload<'_>, PayloadError> {
    if bytes.len() > MAX_PAYLOAD_LEN {
        return Err(PayloadError::TooLong(bytes.len()));
    }
    let (Some(pk), Some(sig)) = (bytes.get(..32), bytes.get(32..PAYLOAD_LEN)) else {
        return Err(PayloadError::TooShort(bytes.len()));
    };
    let mut public_key = [0u8; 32];
    public_key.copy_from_slice(pk);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(sig);
    Ok(IdentityPayload {
        public_key,
        signature,
        extensions: bytes.get(PAYLOAD_LEN..).unwrap_or(&[]),
    })
}

/// Parses and verifies a payload against the Noise static key the handshake
/// authenticated; returns the sender's NodeId.
pub fn verify(bytes: &[u8], remote_noise_static: &[u8; 32]) -> Result<NodeId, PayloadError> {
    let p = parse(bytes)?;
    if !verify_signature(
        &p.public_key,
        &signed_message(remote_noise_static),
        &p.signature,
    ) {
        return Err(PayloadError::BadSignature);
    }
    Ok(NodeId::from_public_key(&p.public_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_payload_verifies_to_own_node_id() {
        let id = Identity::generate();
        assert_eq!(
            verify(&encode(&id), &id.noise_public_key()),
            Ok(id.node_id())
        );
    }

    #[test]
    fn cached_payload_is_the_one_rebuilt_from_the_secrets() {
        let id = Identity::generate();
        let (ed, x) = id.secret_bytes();
        let again = Identity::from_secret_bytes(*ed, *x);
        assert_eq!(encode(&again), encode(&id));
        let (signing, _) = id.secret_bytes();
        let fresh = compute(
            &ed25519_dalek::SigningKey::from_bytes(&signing),
            &id.noise_public_key(),
        );
        assert_eq!(encode(&id), fresh);
    }

    #[test]
    fn extensions_are_ignored() {
        let id = Identity::generate();
        let mut p = encode(&id).to_vec();
        p.extend_from_slice(b"future extension");
        assert_eq!(verify(&p, &id.noise_public_key()), Ok(id.node_id()));
    }

    #[test]
    fn payload_for_another_noise_key_is_refused() {
        let id = Identity::generate();
        let other = Identity::generate();
        assert_eq!(
            verify(&encode(&id), &other.noise_public_key()),
            Err(PayloadError::BadSignature)
        );
    }

    #[test]
    fn short_payload_is_refused() {
        assert_eq!(parse(&[0u8; 95]), Err(PayloadError::TooShort(95)));
    }
}
