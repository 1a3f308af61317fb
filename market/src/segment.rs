//! Exported ledger segments and their verification by a third party.
//!
//! Why this shape: a verifier holds nothing but the segment, so the segment carries the
//! owner's key, where it starts (sequence number and the hash it links to), the
//! entries, the owner's signed head over the last one, and any heads collected as
//! evidence. Signature checks are batched (Ed25519 batch verification), and only when a
//! batch fails are they re-checked one by one to name the first bad entry.

use std::collections::HashMap;
use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use crate::balance::Balances;
use crate::codec::{DecodeError, Reader, Writer};
use crate::entry::{Entry, HEAD_BYTES, MAX_ENTRY_BYTES, Misbehaviour, SignedHead};
use crate::ledger::{ChainChecker, LedgerError, PendingSig};
use crate::types::{
    Balance, Credits, Hash32, NodeId, PublicKey, SignatureError, read_hash, read_pk,
};

/// Domain tag of a segment.
pub const SEGMENT_DOMAIN: &str = "cairn-market/segment";
/// Current segment format version.
pub const SEGMENT_VERSION: u8 = 1;
/// Largest segment accepted.
pub const MAX_SEGMENT_BYTES: usize = 64 * 1024 * 1024;
/// Most entries in a segment.
pub const MAX_SEGMENT_ENTRIES: usize = 1_000_000;
/// Most evidence heads in a segment.
pub const MAX_EVIDENCE_HEADS: usize = 1024;
/// Signatures per batch verification call: large batches amortise the multiscalar
/// multiplication (4.6× single verification at 32,768 vs 2.6× at 256, see BENCHMARKS.md).
const BATCH: usize = 32_768;

/// A decoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The ledger's owner.
    pub owner: PublicKey,
    /// Sequence number of the first entry.
    pub start_seq: u64,
    /// Hash the first entry links to (zero at genesis).
    pub start_prev: Hash32,
    /// The entries.
    pub entries: Vec<Entry>,
    /// The owner's head over the last entry.
    pub head: SignedHead,
    /// Heads collected as evidence (e.g. a conflicting head of the owner).
    pub evidence: Vec<SignedHead>,
}

pub(crate) fn encode_segment(
    owner: PublicKey,
    start_seq: u64,
    start_prev: Hash32,
    entries: &[Entry],
    head: &SignedHead,
    evidence: &[SignedHead],
) -> Vec<u8> {
    let mut w = Writer::with_header(SEGMENT_DOMAIN, SEGMENT_VERSION);
    w.raw(&owner.0);
    w.u64(start_seq);
    w.raw(&start_prev.0);
    w.u32(entries.len() as u32);
    for e in entries {
        w.bytes(&e.to_bytes());
    }
    w.raw(&head.to_bytes());
    w.u32(evidence.len() as u32);
    for h in evidence {
        w.raw(&h.to_bytes());
    }
    w.finish()
}

impl Segment {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_segment(
            self.owner,
            self.start_seq,
            self.start_prev,
            &self.entries,
            &self.head,
            &self.evidence,
        )
    }
    /// Decode (at most [`MAX_SEGMENT_BYTES`]); checks nothing but the format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MAX_SEGMENT_BYTES)?;
        r.header(SEGMENT_DOMAIN, SEGMENT_VERSION)?;
        let owner = read_pk(&mut r)?;
        let start_seq = r.u64()?;
        let start_prev = read_hash(&mut r)?;
        let n = r.count("segment entries", MAX_SEGMENT_ENTRIES, 4 + 40)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(Entry::from_bytes(r.bytes("entry", MAX_ENTRY_BYTES)?)?);
        }
        let head = SignedHead::from_bytes(r.take(HEAD_BYTES)?)?;
        let m = r.count("evidence heads", MAX_EVIDENCE_HEADS, HEAD_BYTES)?;
        let mut evidence = Vec::with_capacity(m);
        for _ in 0..m {
            evidence.push(SignedHead::from_bytes(r.take(HEAD_BYTES)?)?);
        }
        r.finish()?;
        Ok(Segment {
            owner,
            start_seq,
            start_prev,
            entries,
            head,
            evidence,
        })
    }
}

/// One counterparty's line in a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceLine {
    /// The counterparty.
    pub node: NodeId,
    /// Earned from it.
    pub earned: Credits,
    /// Spent with it.
    pub spent: Credits,
    /// Net.
    pub net: Balance,
}

/// A misbehaviour found in a segment's heads, with its proof in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MisbehaviourReport {
    /// The convicted node.
    pub node: NodeId,
    /// The sequence number signed twice.
    pub seq: u64,
    /// One hash.
    pub hash_a: Hash32,
    /// The other.
    pub hash_b: Hash32,
    /// The encoded [`Misbehaviour`] proof, hex.
    pub proof: String,
}

/// The error part of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictError {
    /// Sequence number of the offending entry, if one is at fault.
    pub at_seq: Option<u64>,
    /// The typed error.
    pub error: LedgerError,
    /// Its message.
    pub message: String,
}

/// What `cairn ledger verify` reports: whether the segment holds, the balances it
/// proves, and any misbehaviour its heads prove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Segment format version read.
    pub format_version: u8,
    /// The ledger's owner (absent when the bytes are not a segment).
    pub owner: Option<NodeId>,
    /// Sequence number of the first entry.
    pub first_seq: Option<u64>,
    /// Sequence number of the last entry.
    pub last_seq: Option<u64>,
    /// Entries in the segment.
    pub entries: u64,
    /// Entries verified before the first error (all of them when valid).
    pub verified_entries: u64,
    /// Whether every rule holds.
    pub valid: bool,
    /// The first error, when not valid.
    pub error: Option<VerdictError>,
    /// Balances per counterparty, proven by the counter-signed receipts among the
    /// verified entries.
    pub balances: Vec<BalanceLine>,
    /// Their sum.
    pub total: Balance,
    /// Misbehaviour proven by the segment's heads.
    pub misbehaviour: Vec<MisbehaviourReport>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Some(o) => writeln!(f, "ledger of   {o}")?,
            None => writeln!(f, "ledger of   (unknown)")?,
        }
        if let (Some(a), Some(b)) = (self.first_seq, self.last_seq) {
            writeln!(
                f,
                "entries     {} (seq {a}..={b}), {} verified",
                self.entries, self.verified_entries
            )?;
        }
        match &self.error {
            None => writeln!(f, "verdict     VALID")?,
            Some(e) => writeln!(f, "verdict     INVALID: {}", e.message)?,
        }
        if !self.valid && !self.balances.is_empty() {
            writeln!(
                f,
                "balances below cover the verified entries before the error"
            )?;
        }
        if !self.balances.is_empty() {
            writeln!(
                f,
                "{:<54} {:>14} {:>14} {:>15}",
                "counterparty", "earned", "spent", "net"
            )?;
            for l in &self.balances {
                writeln!(
                    f,
                    "{:<54} {:>14} {:>14} {:>15}",
                    l.node.to_string(),
                    l.earned.0,
                    l.spent.0,
                    l.net.to_string()
                )?;
            }
        }
        writeln!(f, "total       {}", self.total)?;
        if self.misbehaviour.is_empty() {
            write!(f, "misbehaviour none")
        } else {
            for m in &self.misbehaviour {
                writeln!(
                    f,
                    "MISBEHAVIOUR {} signed two heads at seq {}: {} / {}",
                    m.node, m.seq, m.hash_a, m.hash_b
                )?;
            }
            Ok(())
        }
    }
}

/// Verify an exported segment with public keys alone: every link, every sequence
/// number, every receipt's two signatures, the head; derive the balances and collect
/// misbehaviour. Never panics on any input.
pub fn verify_segment(bytes: &[u8]) -> Verdict {
    let seg = match Segment::from_bytes(bytes) {
        Ok(s) => s,
        Err(e) => {
            let error = LedgerError::Malformed(e);
            return Verdict {
                format_version: SEGMENT_VERSION,
                owner: None,
                first_seq: None,
                last_seq: None,
                entries: 0,
                verified_entries: 0,
                valid: false,
                error: Some(VerdictError {
                    at_seq: None,
                    message: error.to_string(),
                    error,
                }),
                balances: Vec::new(),
                total: Balance::ZERO,
                misbehaviour: Vec::new(),
            };
        }
    };
    verify_decoded(&seg)
}

/// [`verify_segment`] on an already decoded segment.
pub fn verify_decoded(seg: &Segment) -> Verdict {
    let (verified, error, balances) = check_segment(seg);
    let misbehaviour = find_misbehaviour(seg);
    let lines = balances
        .per_counterparty
        .iter()
        .map(|(n, b)| BalanceLine {
            node: *n,
            earned: b.earned,
            spent: b.spent,
            net: b.net,
        })
        .collect();
    Verdict {
        format_version: SEGMENT_VERSION,
        owner: Some(seg.owner.node_id()),
        first_seq: seg.entries.first().map(|e| e.seq),
        last_seq: seg.entries.last().map(|e| e.seq),
        entries: seg.entries.len() as u64,
        verified_entries: verified as u64,
        valid: error.is_none(),
        error: error.map(|e| VerdictError {
            at_seq: e.at_seq(),
            message: e.to_string(),
            error: e,
        }),
        balances: lines,
        total: balances.total,
        misbehaviour,
    }
}

/// Returns (entries verified, first error, balances over the verified entries).
fn check_segment(seg: &Segment) -> (usize, Option<LedgerError>, Balances) {
    if seg.entries.is_empty() {
        return (0, Some(LedgerError::EmptySegment), Balances::default());
    }
    let mut checker = ChainChecker::new(seg.owner, seg.start_seq, seg.start_prev);
    let mut sigs: Vec<PendingSig> = Vec::new();
    // Sig index at which each entry's signatures start, to rebuild a prefix.
    let mut structural: Option<(usize, LedgerError)> = None;
    let mut snapshots: Vec<usize> = Vec::with_capacity(seg.entries.len());
    for (i, e) in seg.entries.iter().enumerate() {
        snapshots.push(sigs.len());
        let later = seg.entries.get(i + 1..).unwrap_or(&[]);
        if let Err(err) = checker.check(e, e.hash(), later, &mut sigs) {
            structural = Some((i, err));
            break;
        }
    }
    let limit = structural
        .as_ref()
        .map(|(i, _)| *i)
        .unwrap_or(seg.entries.len());
    // Head checks, only if the chain itself holds.
    let mut head_pending = None;
    if structural.is_none() {
        let last_seq = checker.next_seq().saturating_sub(1);
        if seg.head.node != seg.owner {
            structural = Some((limit, LedgerError::HeadNotOwner));
        } else if seg.head.seq != last_seq || seg.head.hash != checker.last_hash() {
            structural = Some((
                limit,
                LedgerError::HeadMismatch {
                    head_seq: seg.head.seq,
                    last_seq,
                },
            ));
        } else {
            head_pending = Some(seg.head);
        }
    }
    if let Some((bad, p)) = first_bad_signature(&sigs).and_then(|i| Some((i, sigs.get(i)?))) {
        let idx = snapshots.iter().rposition(|&s| s <= bad).unwrap_or(0);
        let err = p.error(
            p.key
                .verifying_key()
                .err()
                .unwrap_or(SignatureError::Invalid),
        );
        return (idx, Some(err), prefix_balances(seg, idx));
    }
    if let Some((i, err)) = structural {
        return (i, Some(err), checker.balances().clone());
    }
    if let Some(h) = head_pending
        && let Err(e) = h.verify()
    {
        return (
            limit,
            Some(LedgerError::HeadSignature(e)),
            checker.balances().clone(),
        );
    }
    (limit, None, checker.balances().clone())
}

fn prefix_balances(seg: &Segment, n: usize) -> Balances {
    let mut checker = ChainChecker::new(seg.owner, seg.start_seq, seg.start_prev);
    let mut sink = Vec::new();
    for e in seg.entries.iter().take(n) {
        if checker.check(e, e.hash(), &[], &mut sink).is_err() {
            break;
        }
    }
    checker.balances().clone()
}

/// Index of the first signature that fails, checking in batches.
fn first_bad_signature(sigs: &[PendingSig]) -> Option<usize> {
    let mut keys: HashMap<PublicKey, Option<VerifyingKey>> = HashMap::new();
    for (chunk_no, chunk) in sigs.chunks(BATCH).enumerate() {
        let base = chunk_no * BATCH;
        let mut vks = Vec::with_capacity(chunk.len());
        for (j, p) in chunk.iter().enumerate() {
            match *keys
                .entry(p.key)
                .or_insert_with(|| p.key.verifying_key().ok())
            {
                Some(vk) => vks.push(vk),
                None => return Some(base + j),
            }
        }
        let msgs: Vec<&[u8]> = chunk.iter().map(|p| p.msg.as_slice()).collect();
        let ss: Vec<Signature> = chunk
            .iter()
            .map(|p| Signature::from_bytes(&p.sig.0))
            .collect();
        if ed25519_dalek::verify_batch(&msgs, &ss, &vks).is_err() {
            // Find the first culprit with strict single verification.
            for (j, p) in chunk.iter().enumerate() {
                if p.key.verify(&p.msg, &p.sig).is_err() {
                    return Some(base + j);
                }
            }
        }
        // Batch verification is not strict; enforce canonical S and reject
        // small-order keys the same way single verification does.
        for (j, (p, vk)) in chunk.iter().zip(&vks).enumerate() {
            if vk.is_weak() || !s_is_canonical(&p.sig.0) {
                return Some(base + j);
            }
        }
    }
    None
}

/// Whether the scalar half of a signature is reduced (s < ℓ).
fn s_is_canonical(sig: &[u8; 64]) -> bool {
    // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    for i in (0..32).rev() {
        let s = sig[32 + i];
        if s < L[i] {
            return true;
        }
        if s > L[i] {
            return false;
        }
    }
    false
}

fn find_misbehaviour(seg: &Segment) -> Vec<MisbehaviourReport> {
    let mut heads: Vec<SignedHead> = Vec::with_capacity(seg.evidence.len() + 1);
    heads.push(seg.head);
    heads.extend(seg.evidence.iter().copied());
    heads.retain(|h| h.verify().is_ok());
    let mut by_key: HashMap<(PublicKey, u64), SignedHead> = HashMap::new();
    let mut out = Vec::new();
    for h in heads {
        match by_key.get(&(h.node, h.seq)) {
            Some(prev) if prev.hash != h.hash => {
                if let Ok(m) = Misbehaviour::from_heads(*prev, h) {
                    out.push(MisbehaviourReport {
                        node: m.node(),
                        seq: h.seq,
                        hash_a: prev.hash,
                        hash_b: h.hash,
                        proof: m.to_bytes().iter().map(|b| format!("{b:02x}")).collect(),
                    });
                }
            }
            Some(_) => {}
            None => {
                by_key.insert((h.node, h.seq), h);
            }
        }
    }
    out
}
