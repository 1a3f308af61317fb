//! Storage proofs: BLAKE3 verified streaming, checked against the block id alone.
//!
//! Why our own slices instead of a general range format: a challenge asks for a few
//! 1 KiB chunks, which are exactly BLAKE3's chunks, so the proof is the challenged
//! chunks plus the chaining values of every subtree that holds no challenged chunk,
//! listed in a fixed depth-first order. The verifier rebuilds the BLAKE3 tree from
//! those (with `blake3::hazmat`) and compares the root with the block id. Nothing is
//! sent twice: subtrees shared by several challenged chunks are opened, not hashed.
//! The challenge's chunk indices come from its nonce, so the host cannot choose them
//! and cannot precompute answers.

use blake3::hazmat::{
    HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};
use serde::Serialize;
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::{BlockId, Hash32, read_hash};

/// Domain tag of a challenge.
pub const CHALLENGE_DOMAIN: &str = "cairn-market/challenge";
/// Domain tag of a proof.
pub const PROOF_DOMAIN: &str = "cairn-market/proof";
/// BLAKE3 chunk size; the unit of a challenge.
pub const CHUNK: u64 = 1024;
/// Largest block a challenge may name (1 GiB).
pub const MAX_BLOCK_LEN: u64 = 1 << 30;
/// Most chunks one challenge may ask for.
pub const MAX_CHALLENGE_CHUNKS: usize = 64;
/// Largest encoded proof: every chunk plus a full path of hashes for each.
pub const MAX_PROOF_BYTES: usize = 128 + MAX_CHALLENGE_CHUNKS * (3 + 1024 + 21 * 33);

/// "Prove you hold these chunks of this block."
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    /// The block (its BLAKE3 hash).
    pub block: BlockId,
    /// Its length (from the contract): the tree's shape depends on it.
    pub block_len: u64,
    /// Fresh randomness from the challenger.
    pub nonce: [u8; 32],
    /// Chunk indices, sorted and distinct, derived from the nonce.
    pub chunks: Vec<u64>,
}

/// Why a proof is refused (or cannot be built).
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum ProofError {
    /// The challenge is not well formed.
    #[error("invalid challenge: {0}")]
    BadChallenge(&'static str),
    /// The host's data is not the block.
    #[error("data does not match the block length")]
    WrongData,
    /// The proof names another block or nonce.
    #[error("proof answers another challenge")]
    WrongChallenge,
    /// The proof ran out of items, or an item has the wrong kind or size.
    #[error("proof has the wrong shape")]
    Shape,
    /// The proof has items left over.
    #[error("proof has extra items")]
    ExtraItems,
    /// The rebuilt root is not the block id.
    #[error("root hash does not match the block id")]
    RootMismatch,
    /// The bytes are not a proof.
    #[error("malformed: {0}")]
    Malformed(DecodeError),
}

fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK).max(1)
}

impl Challenge {
    /// The challenge for `count` chunks of `block`, with indices drawn from `nonce`.
    pub fn derive(
        block: BlockId,
        block_len: u64,
        nonce: [u8; 32],
        count: usize,
    ) -> Result<Self, ProofError> {
        if block_len > MAX_BLOCK_LEN {
            return Err(ProofError::BadChallenge("block too large"));
        }
        let n = chunk_count(block_len);
        let want = (count.min(MAX_CHALLENGE_CHUNKS) as u64).min(n).max(1);
        let mut h = blake3::Hasher::new_derive_key("cairn-market challenge chunk indices v1");
        h.update(&block.0);
        h.update(&block_len.to_be_bytes());
        h.update(&nonce);
        let mut xof = h.finalize_xof();
        let mut chunks = Vec::new();
        while (chunks.len() as u64) < want {
            let mut b = [0u8; 8];
            xof.fill(&mut b);
            let i = u64::from_le_bytes(b) % n;
            if !chunks.contains(&i) {
                chunks.push(i);
            }
        }
        chunks.sort_unstable();
        Ok(Challenge {
            block,
            block_len,
            nonce,
            chunks,
        })
    }

    fn validate(&self) -> Result<(), ProofError> {
        if self.block_len > MAX_BLOCK_LEN {
            return Err(ProofError::BadChallenge("block too large"));
        }
        if self.chunks.is_empty() || self.chunks.len() > MAX_CHALLENGE_CHUNKS {
            return Err(ProofError::BadChallenge("chunk count"));
        }
        let n = chunk_count(self.block_len);
        if self.chunks.windows(2).any(|w| w[0] >= w[1]) || self.chunks.iter().any(|&c| c >= n) {
            return Err(ProofError::BadChallenge("chunk indices"));
        }
        Ok(())
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_header(CHALLENGE_DOMAIN, 1);
        w.raw(&self.block.0);
        w.u64(self.block_len);
        w.raw(&self.nonce);
        w.u32(self.chunks.len() as u32);
        for c in &self.chunks {
            w.u64(*c);
        }
        w.finish()
    }
    /// Decode and validate.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, 128 + MAX_CHALLENGE_CHUNKS * 8)?;
        r.header(CHALLENGE_DOMAIN, 1)?;
        let block = read_hash(&mut r)?;
        let block_len = r.u64()?;
        let nonce = r.array()?;
        let n = r.count("challenge chunks", MAX_CHALLENGE_CHUNKS, 8)?;
        let mut chunks = Vec::with_capacity(n);
        for _ in 0..n {
            chunks.push(r.u64()?);
        }
        r.finish()?;
        let c = Challenge {
            block,
            block_len,
            nonce,
            chunks,
        };
        c.validate()
            .map_err(|_| DecodeError::InvalidValue { what: "challenge" })?;
        Ok(c)
    }
}

/// One item of a proof, in depth-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofItem {
    /// The chaining value of a subtree with no challenged chunk.
    Subtree([u8; 32]),
    /// A challenged chunk's bytes.
    Chunk(Vec<u8>),
}

/// A host's answer to a [`Challenge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The block answered for.
    pub block: BlockId,
    /// The nonce answered.
    pub nonce: [u8; 32],
    /// The tree items.
    pub items: Vec<ProofItem>,
}

/// Build the proof for `challenge` from the block's bytes.
pub fn prove(challenge: &Challenge, data: &[u8]) -> Result<StorageProof, ProofError> {
    challenge.validate()?;
    if data.len() as u64 != challenge.block_len {
        return Err(ProofError::WrongData);
    }
    let mut items = Vec::new();
    prove_node(data, 0, &challenge.chunks, &mut items);
    Ok(StorageProof {
        block: challenge.block,
        nonce: challenge.nonce,
        items,
    })
}

fn subtree_cv(data: &[u8], offset: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.set_input_offset(offset);
    h.update(data);
    h.finalize_non_root()
}

/// `data` is the subtree starting at byte `offset`; `wanted` the challenged chunk
/// indices inside it.
fn prove_node(data: &[u8], offset: u64, wanted: &[u64], out: &mut Vec<ProofItem>) {
    if wanted.is_empty() {
        out.push(ProofItem::Subtree(subtree_cv(data, offset)));
        return;
    }
    let len = data.len() as u64;
    if len <= CHUNK {
        out.push(ProofItem::Chunk(data.to_vec()));
        return;
    }
    let left = left_subtree_len(len);
    let split = (offset + left) / CHUNK;
    let k = wanted.partition_point(|&c| c < split);
    let (l, r) = data.split_at(left as usize);
    prove_node(l, offset, &wanted[..k], out);
    prove_node(r, offset + left, &wanted[k..], out);
}

/// Check `proof` against `challenge` with nothing but the block id and length.
pub fn verify(challenge: &Challenge, proof: &StorageProof) -> Result<(), ProofError> {
    challenge.validate()?;
    if proof.block != challenge.block || proof.nonce != challenge.nonce {
        return Err(ProofError::WrongChallenge);
    }
    let mut items = proof.items.iter();
    let root = verify_node(0, challenge.block_len, true, &challenge.chunks, &mut items)?;
    if items.next().is_some() {
        return Err(ProofError::ExtraItems);
    }
    if Hash32(root) != challenge.block {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Returns the chaining value of the subtree (or the root hash when `root`).
fn verify_node<'a>(
    offset: u64,
    len: u64,
    root: bool,
    wanted: &[u64],
    items: &mut impl Iterator<Item = &'a ProofItem>,
) -> Result<[u8; 32], ProofError> {
    if wanted.is_empty() {
        // The root always holds a challenged chunk (validated non-empty).
        return match items.next() {
            Some(ProofItem::Subtree(cv)) if !root => Ok(*cv),
            _ => Err(ProofError::Shape),
        };
    }
    if len <= CHUNK {
        return match items.next() {
            Some(ProofItem::Chunk(bytes)) if bytes.len() as u64 == len => {
                if root {
                    Ok(*blake3::hash(bytes).as_bytes())
                } else {
                    Ok(subtree_cv(bytes, offset))
                }
            }
            _ => Err(ProofError::Shape),
        };
    }
    let left = left_subtree_len(len);
    let split = (offset + left) / CHUNK;
    let k = wanted.partition_point(|&c| c < split);
    let l = verify_node(offset, left, false, wanted.get(..k).unwrap_or(&[]), items)?;
    let r = verify_node(
        offset + left,
        len - left,
        false,
        wanted.get(k..).unwrap_or(&[]),
        items,
    )?;
    Ok(if root {
        *merge_subtrees_root(&l, &r, Mode::Hash).as_bytes()
    } else {
        merge_subtrees_non_root(&l, &r, Mode::Hash)
    })
}

impl StorageProof {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_header(PROOF_DOMAIN, 1);
        w.raw(&self.block.0);
        w.raw(&self.nonce);
        w.u32(self.items.len() as u32);
        for it in &self.items {
            match it {
                ProofItem::Subtree(cv) => {
                    w.u8(1);
                    w.raw(cv);
                }
                ProofItem::Chunk(b) => {
                    w.u8(2);
                    w.u16(b.len() as u16);
                    w.raw(b);
                }
            }
        }
        w.finish()
    }
    /// Decode (at most [`MAX_PROOF_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MAX_PROOF_BYTES)?;
        r.header(PROOF_DOMAIN, 1)?;
        let block = read_hash(&mut r)?;
        let nonce = r.array()?;
        let n = r.count("proof items", MAX_CHALLENGE_CHUNKS * 22, 3)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(match r.u8()? {
                1 => ProofItem::Subtree(r.array()?),
                2 => {
                    let len = r.u16()? as usize;
                    if len > CHUNK as usize {
                        return Err(DecodeError::CountTooLarge {
                            what: "chunk",
                            count: len as u64,
                            limit: CHUNK,
                        });
                    }
                    ProofItem::Chunk(r.take(len)?.to_vec())
                }
                tag => {
                    return Err(DecodeError::InvalidTag {
                        what: "proof item",
                        tag,
                    });
                }
            });
        }
        r.finish()?;
        Ok(StorageProof {
            block,
            nonce,
            items,
        })
    }
}
