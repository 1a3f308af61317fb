//! Signed offers and contracts: what a node lends, and what two nodes agreed.
//!
//! Why both carry public keys: anyone holding the object alone can check who signed it,
//! without a directory of keys. A contract is signed by both parties over the same
//! canonical bytes, so either signature alone proves nothing and the pair proves consent.

use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::{
    BlockId, Hash32, Price, PublicKey, Quantity, ResourceKind, Sig, SignatureError, Timestamp,
    read_hash, read_pk, read_sig,
};

/// Domain tag of an offer.
pub const OFFER_DOMAIN: &str = "cairn-market/offer";
/// Domain tag of a contract.
pub const CONTRACT_DOMAIN: &str = "cairn-market/contract";
/// Largest encoded offer.
pub const MAX_OFFER_BYTES: usize = 512;
/// Most blocks a contract may list.
pub const MAX_CONTRACT_BLOCKS: usize = 4096;
/// Largest encoded contract.
pub const MAX_CONTRACT_BYTES: usize = 256 + MAX_CONTRACT_BLOCKS * 40;

/// What a node lends: one resource, its capacity and price, and the terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// The lender's key.
    pub provider: PublicKey,
    /// A number the provider chooses to tell its offers apart.
    pub offer_id: u64,
    /// The resource lent.
    pub resource: ResourceKind,
    /// How much of it (in the resource's unit; for storage, bytes of space).
    pub capacity: Quantity,
    /// The price.
    pub price: Price,
    /// Shortest contract accepted, seconds.
    pub min_duration: u64,
    /// Longest contract accepted, seconds.
    pub max_duration: u64,
    /// Most any one consumer may take.
    pub max_per_consumer: Quantity,
    /// The offer lapses at this time.
    pub valid_until: Timestamp,
}

/// An offer with the provider's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOffer {
    /// The terms.
    pub offer: Offer,
    /// The provider's signature over [`Offer::signed_message`].
    pub signature: Sig,
}

impl Offer {
    /// The canonical bytes that are signed.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut w = Writer::with_header(OFFER_DOMAIN, 1);
        w.raw(&self.provider.0);
        w.u64(self.offer_id);
        self.resource.encode(&mut w);
        w.u64(self.capacity.0);
        self.price.encode(&mut w);
        w.u64(self.min_duration);
        w.u64(self.max_duration);
        w.u64(self.max_per_consumer.0);
        w.u64(self.valid_until.0);
        w.finish()
    }
    /// Sign with the provider's key (which must match `provider`).
    pub fn sign(self, key: &SigningKey) -> SignedOffer {
        let signature = Sig::sign(key, &self.signed_message());
        SignedOffer {
            offer: self,
            signature,
        }
    }
}

impl SignedOffer {
    /// Check the provider's signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        self.offer
            .provider
            .verify(&self.offer.signed_message(), &self.signature)
    }
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.offer.signed_message();
        b.extend_from_slice(&self.signature.0);
        b
    }
    /// Decode (at most [`MAX_OFFER_BYTES`]); does not check the signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MAX_OFFER_BYTES)?;
        r.header(OFFER_DOMAIN, 1)?;
        let offer = Offer {
            provider: read_pk(&mut r)?,
            offer_id: r.u64()?,
            resource: ResourceKind::decode(&mut r)?,
            capacity: Quantity(r.u64()?),
            price: Price::decode(&mut r)?,
            min_duration: r.u64()?,
            max_duration: r.u64()?,
            max_per_consumer: Quantity(r.u64()?),
            valid_until: Timestamp(r.u64()?),
        };
        let signature = read_sig(&mut r)?;
        r.finish()?;
        Ok(SignedOffer { offer, signature })
    }
}

/// A block a storage contract covers, with its length (the proof tree's shape needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockRef {
    /// BLAKE3 of the block.
    pub id: BlockId,
    /// Its length in bytes.
    pub len: u64,
}

/// What a renter and a host agreed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contract {
    /// Who pays.
    pub renter: PublicKey,
    /// Who lends.
    pub host: PublicKey,
    /// Distinguishes contracts between the same pair.
    pub nonce: u64,
    /// The resource.
    pub resource: ResourceKind,
    /// Blocks covered (storage contracts); may be empty when a byte budget is used.
    pub blocks: Vec<BlockRef>,
    /// Most units the renter may use (bytes for storage/bandwidth, fuel for CPU).
    pub budget: Quantity,
    /// Start.
    pub start: Timestamp,
    /// Duration in seconds.
    pub duration: u64,
    /// Agreed price.
    pub price: Price,
    /// Seconds between storage audits (0 = no audits).
    pub audit_interval: u64,
    /// 1 KiB chunks challenged per audit.
    pub audit_chunks: u16,
}

/// A contract with both signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedContract {
    /// The terms.
    pub contract: Contract,
    /// The renter's signature.
    pub renter_sig: Sig,
    /// The host's signature.
    pub host_sig: Sig,
}

impl Contract {
    /// The canonical bytes both parties sign.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut w = Writer::with_header(CONTRACT_DOMAIN, 1);
        self.encode_body(&mut w);
        w.finish()
    }
    fn encode_body(&self, w: &mut Writer) {
        w.raw(&self.renter.0);
        w.raw(&self.host.0);
        w.u64(self.nonce);
        self.resource.encode(w);
        w.u32(self.blocks.len() as u32);
        for b in &self.blocks {
            w.raw(&b.id.0);
            w.u64(b.len);
        }
        w.u64(self.budget.0);
        w.u64(self.start.0);
        w.u64(self.duration);
        self.price.encode(w);
        w.u64(self.audit_interval);
        w.u16(self.audit_chunks);
    }
    /// The contract's id: BLAKE3 of its signed message.
    pub fn id(&self) -> Hash32 {
        Hash32::of(&self.signed_message())
    }
    /// Sign with both keys (a test and simulation helper; on the wire each side signs
    /// its half with [`Contract::sign_half`]).
    pub fn sign(self, renter: &SigningKey, host: &SigningKey) -> SignedContract {
        let m = self.signed_message();
        SignedContract {
            renter_sig: Sig::sign(renter, &m),
            host_sig: Sig::sign(host, &m),
            contract: self,
        }
    }
    /// One party's signature.
    pub fn sign_half(&self, key: &SigningKey) -> Sig {
        Sig::sign(key, &self.signed_message())
    }
}

impl SignedContract {
    /// Check both signatures.
    pub fn verify(&self) -> Result<(), SignatureError> {
        let m = self.contract.signed_message();
        self.contract.renter.verify(&m, &self.renter_sig)?;
        self.contract.host.verify(&m, &self.host_sig)
    }
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.encode(&mut w);
        w.finish()
    }
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.raw(CONTRACT_DOMAIN.as_bytes());
        w.u8(1);
        self.contract.encode_body(w);
        w.raw(&self.renter_sig.0);
        w.raw(&self.host_sig.0);
    }
    /// Decode (at most [`MAX_CONTRACT_BYTES`]); does not check signatures.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MAX_CONTRACT_BYTES)?;
        let c = Self::decode(&mut r)?;
        r.finish()?;
        Ok(c)
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.header(CONTRACT_DOMAIN, 1)?;
        let renter = read_pk(r)?;
        let host = read_pk(r)?;
        let nonce = r.u64()?;
        let resource = ResourceKind::decode(r)?;
        let n = r.count("contract blocks", MAX_CONTRACT_BLOCKS, 40)?;
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            blocks.push(BlockRef {
                id: read_hash(r)?,
                len: r.u64()?,
            });
        }
        let contract = Contract {
            renter,
            host,
            nonce,
            resource,
            blocks,
            budget: Quantity(r.u64()?),
            start: Timestamp(r.u64()?),
            duration: r.u64()?,
            price: Price::decode(r)?,
            audit_interval: r.u64()?,
            audit_chunks: r.u16()?,
        };
        Ok(SignedContract {
            contract,
            renter_sig: read_sig(r)?,
            host_sig: read_sig(r)?,
        })
    }
}
