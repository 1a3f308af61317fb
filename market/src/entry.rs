//! Ledger entries, signed heads and misbehaviour proofs.
//!
//! Why entries are not signed one by one: the chain is. Each entry names the hash of
//! the one before it and the owner signs only the head, so one signature commits to the
//! whole history and verification costs one hash per entry plus the counterparties'
//! receipt signatures. The price is that a head signature is a commitment: two heads
//! with one sequence number and different hashes are a [`Misbehaviour`] proof that
//! anyone can check with the owner's public key alone.

use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::codec::{DecodeError, Reader, Writer};
use crate::offer::{MAX_CONTRACT_BYTES, SignedContract};
use crate::receipt::SignedReceipt;
use crate::types::{
    BlockId, Hash32, NodeId, PublicKey, Sig, SignatureError, Timestamp, read_hash, read_pk,
    read_sig,
};

/// Domain tag of an entry.
pub const ENTRY_DOMAIN: &str = "cairn-market/entry";
/// Domain tag of a signed head.
pub const HEAD_DOMAIN: &str = "cairn-market/head";
/// Domain tag of a misbehaviour proof.
pub const MISBEHAVIOUR_DOMAIN: &str = "cairn-market/misbehaviour";
/// Largest encoded entry.
pub const MAX_ENTRY_BYTES: usize = MAX_CONTRACT_BYTES + 128;
/// Size of an encoded signed head (fixed).
pub const HEAD_BYTES: usize = HEAD_DOMAIN.len() + 1 + 32 + 8 + 32 + 8 + 64;
/// Size of an encoded misbehaviour proof (fixed).
pub const MISBEHAVIOUR_BYTES: usize = MISBEHAVIOUR_DOMAIN.len() + 1 + 2 * HEAD_BYTES;

/// How a storage audit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AuditOutcome {
    /// The proof checked against the block id.
    Passed,
    /// A proof came back and did not check.
    FailedBadProof,
    /// No proof came back in time.
    FailedNoAnswer,
}

impl AuditOutcome {
    /// Whether the host passed.
    pub fn passed(self) -> bool {
        matches!(self, AuditOutcome::Passed)
    }
}

/// The result of one storage audit, as recorded by the auditor (the ledger's owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// The audited host.
    pub host: PublicKey,
    /// The contract the block is held under.
    pub contract: Hash32,
    /// The block challenged.
    pub block: BlockId,
    /// The challenge's nonce.
    pub nonce: [u8; 32],
    /// Chunks challenged.
    pub chunks: u16,
    /// The outcome.
    pub outcome: AuditOutcome,
}

/// Why a contract ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CloseReason {
    /// It ran its course.
    Completed,
    /// The host was banned (failed audits, misbehaviour): repair follows.
    HostBanned,
    /// A party withdrew.
    Cancelled,
}

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// A counter-signed receipt: the only entry that moves credit.
    Receipt(SignedReceipt),
    /// A storage audit's outcome.
    Audit(AuditRecord),
    /// A contract both parties signed.
    ContractOpened(SignedContract),
    /// A contract ended.
    ContractClosed {
        /// Its id.
        contract: Hash32,
        /// Why.
        reason: CloseReason,
    },
}

/// One link of a node's hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the owner's chain, from 0.
    pub seq: u64,
    /// Hash of the previous entry (zero for seq 0).
    pub prev: Hash32,
    /// When the owner recorded it.
    pub time: Timestamp,
    /// What it records.
    pub body: EntryBody,
}

impl Entry {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_header(ENTRY_DOMAIN, 1);
        w.u64(self.seq);
        w.raw(&self.prev.0);
        w.u64(self.time.0);
        match &self.body {
            EntryBody::Receipt(r) => {
                w.u8(1);
                r.encode(&mut w);
            }
            EntryBody::Audit(a) => {
                w.u8(2);
                w.raw(&a.host.0);
                w.raw(&a.contract.0);
                w.raw(&a.block.0);
                w.raw(&a.nonce);
                w.u16(a.chunks);
                w.u8(match a.outcome {
                    AuditOutcome::Passed => 1,
                    AuditOutcome::FailedBadProof => 2,
                    AuditOutcome::FailedNoAnswer => 3,
                });
            }
            EntryBody::ContractOpened(c) => {
                w.u8(3);
                c.encode(&mut w);
            }
            EntryBody::ContractClosed { contract, reason } => {
                w.u8(4);
                w.raw(&contract.0);
                w.u8(match reason {
                    CloseReason::Completed => 1,
                    CloseReason::HostBanned => 2,
                    CloseReason::Cancelled => 3,
                });
            }
        }
        w.finish()
    }
    /// The entry's hash: BLAKE3 of its bytes.
    pub fn hash(&self) -> Hash32 {
        Hash32::of(&self.to_bytes())
    }
    /// Decode (at most [`MAX_ENTRY_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MAX_ENTRY_BYTES)?;
        r.header(ENTRY_DOMAIN, 1)?;
        let seq = r.u64()?;
        let prev = read_hash(&mut r)?;
        let time = Timestamp(r.u64()?);
        let body = match r.u8()? {
            1 => EntryBody::Receipt(SignedReceipt::decode(&mut r)?),
            2 => EntryBody::Audit(AuditRecord {
                host: read_pk(&mut r)?,
                contract: read_hash(&mut r)?,
                block: read_hash(&mut r)?,
                nonce: r.array()?,
                chunks: r.u16()?,
                outcome: match r.u8()? {
                    1 => AuditOutcome::Passed,
                    2 => AuditOutcome::FailedBadProof,
                    3 => AuditOutcome::FailedNoAnswer,
                    tag => {
                        return Err(DecodeError::InvalidTag {
                            what: "audit outcome",
                            tag,
                        });
                    }
                },
            }),
            3 => EntryBody::ContractOpened(SignedContract::decode(&mut r)?),
            4 => EntryBody::ContractClosed {
                contract: read_hash(&mut r)?,
                reason: match r.u8()? {
                    1 => CloseReason::Completed,
                    2 => CloseReason::HostBanned,
                    3 => CloseReason::Cancelled,
                    tag => {
                        return Err(DecodeError::InvalidTag {
                            what: "close reason",
                            tag,
                        });
                    }
                },
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "entry body",
                    tag,
                });
            }
        };
        r.finish()?;
        Ok(Entry {
            seq,
            prev,
            time,
            body,
        })
    }
}

/// A ledger owner's signed statement "my chain at `seq` ends in `hash`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedHead {
    /// The owner's key.
    pub node: PublicKey,
    /// Sequence number of the last entry.
    pub seq: u64,
    /// Hash of that entry.
    pub hash: Hash32,
    /// When the owner signed it.
    pub time: Timestamp,
    /// The owner's signature over [`SignedHead::signed_message`].
    pub signature: Sig,
}

impl SignedHead {
    /// Sign a head.
    pub fn sign(key: &SigningKey, seq: u64, hash: Hash32, time: Timestamp) -> Self {
        let node = PublicKey::of(key);
        let m = head_message(&node, seq, &hash, time);
        SignedHead {
            node,
            seq,
            hash,
            time,
            signature: Sig::sign(key, &m),
        }
    }
    /// The canonical bytes that are signed.
    pub fn signed_message(&self) -> Vec<u8> {
        head_message(&self.node, self.seq, &self.hash, self.time)
    }
    /// Check the signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        self.node.verify(&self.signed_message(), &self.signature)
    }
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.signed_message();
        b.extend_from_slice(&self.signature.0);
        b
    }
    /// Decode (exactly [`HEAD_BYTES`]); does not check the signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, HEAD_BYTES)?;
        let h = Self::decode(&mut r)?;
        r.finish()?;
        Ok(h)
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.header(HEAD_DOMAIN, 1)?;
        Ok(SignedHead {
            node: read_pk(r)?,
            seq: r.u64()?,
            hash: read_hash(r)?,
            time: Timestamp(r.u64()?),
            signature: read_sig(r)?,
        })
    }
}

fn head_message(node: &PublicKey, seq: u64, hash: &Hash32, time: Timestamp) -> Vec<u8> {
    let mut w = Writer::with_header(HEAD_DOMAIN, 1);
    w.raw(&node.0);
    w.u64(seq);
    w.raw(&hash.0);
    w.u64(time.0);
    w.finish()
}

/// Two heads signed by one node for one sequence number with different hashes: the
/// node forked its ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misbehaviour {
    /// One head.
    pub a: SignedHead,
    /// The other.
    pub b: SignedHead,
}

/// Why a claimed misbehaviour proof is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
#[non_exhaustive]
pub enum MisbehaviourError {
    /// The heads name different nodes.
    #[error("heads are from different nodes")]
    DifferentNodes,
    /// The heads name different sequence numbers.
    #[error("heads have different sequence numbers")]
    DifferentSeq,
    /// The heads are the same chain.
    #[error("heads agree")]
    SameHash,
    /// A head's signature does not verify.
    #[error("head signature: {0}")]
    Signature(SignatureError),
}

impl Misbehaviour {
    /// Build a proof from two heads, if they are one.
    pub fn from_heads(a: SignedHead, b: SignedHead) -> Result<Self, MisbehaviourError> {
        let m = Misbehaviour { a, b };
        m.verify()?;
        Ok(m)
    }
    /// The node it convicts.
    pub fn node(&self) -> NodeId {
        self.a.node.node_id()
    }
    /// Check the proof with public keys alone.
    pub fn verify(&self) -> Result<(), MisbehaviourError> {
        if self.a.node != self.b.node {
            return Err(MisbehaviourError::DifferentNodes);
        }
        if self.a.seq != self.b.seq {
            return Err(MisbehaviourError::DifferentSeq);
        }
        if self.a.hash == self.b.hash {
            return Err(MisbehaviourError::SameHash);
        }
        self.a.verify().map_err(MisbehaviourError::Signature)?;
        self.b.verify().map_err(MisbehaviourError::Signature)
    }
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_header(MISBEHAVIOUR_DOMAIN, 1);
        w.raw(&self.a.to_bytes());
        w.raw(&self.b.to_bytes());
        w.finish()
    }
    /// Decode (exactly [`MISBEHAVIOUR_BYTES`]); does not verify.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MISBEHAVIOUR_BYTES)?;
        r.header(MISBEHAVIOUR_DOMAIN, 1)?;
        let a = SignedHead::decode(&mut r)?;
        let b = SignedHead::decode(&mut r)?;
        r.finish()?;
        Ok(Misbehaviour { a, b })
    }
}
