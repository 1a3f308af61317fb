//! The chain rules, shared by the owner appending and a third party verifying.
//!
//! Why one checker for both: the rules an honest node applies before it appends an
//! entry are exactly the rules a verifier applies to an exported segment, so they live
//! in one place ([`ChainChecker`]). The checker can defer signature checks to a batch
//! (the verifier, for speed) or make them at once (the owner, to refuse a bad receipt
//! before it is ever written).

use std::collections::{HashMap, HashSet};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use thiserror::Error;

use crate::balance::{Balances, CounterpartyBalance};
use crate::codec::DecodeError;
use crate::entry::{Entry, EntryBody, SignedHead};
use crate::receipt::ReceiptSigError;
use crate::types::{
    ArithmeticError, Balance, Hash32, NodeId, Price, PublicKey, Sig, SignatureError, Timestamp,
};

/// Why a ledger entry, segment or head is refused. Every variant that concerns an
/// entry names its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum LedgerError {
    /// The bytes are not a segment.
    #[error("malformed: {0}")]
    Malformed(DecodeError),
    /// A segment with no entries proves nothing.
    #[error("segment has no entries")]
    EmptySegment,
    /// Sequence numbers skip.
    #[error("entry {found}: gap, expected seq {expected}")]
    SequenceGap {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// A sequence number already used appears again.
    #[error("entry {found}: sequence number reused (expected {expected})")]
    SequenceReused {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// The expected sequence number appears later: entries were reordered.
    #[error("entry {found}: reordered (expected {expected} first)")]
    Reordered {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// The entry's `prev` is not the previous entry's hash.
    #[error("entry {seq}: broken hash link")]
    BrokenLink {
        /// The entry.
        seq: u64,
    },
    /// An entry identical to an earlier one.
    #[error("entry {seq}: duplicate entry")]
    DuplicateEntry {
        /// The entry.
        seq: u64,
    },
    /// Entry times go backwards.
    #[error("entry {seq}: time goes backwards")]
    TimeWentBackwards {
        /// The entry.
        seq: u64,
    },
    /// A receipt already recorded appears again.
    #[error("entry {seq}: receipt {receipt} replayed")]
    ReceiptReplayed {
        /// The entry.
        seq: u64,
        /// The receipt's id.
        receipt: Hash32,
    },
    /// A receipt chain skips a number.
    #[error("entry {seq}: receipt chain gap (expected receipt seq {expected}, found {found})")]
    ReceiptChainGap {
        /// The entry.
        seq: u64,
        /// Expected receipt seq.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// A receipt reuses a receipt sequence number or does not link to its predecessor.
    #[error("entry {seq}: receipt chain forked at receipt seq {receipt_seq}")]
    ReceiptChainFork {
        /// The entry.
        seq: u64,
        /// The receipt's seq.
        receipt_seq: u64,
    },
    /// The ledger's owner is neither provider nor consumer of the receipt.
    #[error("entry {seq}: owner is not a party to the receipt")]
    NotAParty {
        /// The entry.
        seq: u64,
    },
    /// A receipt whose provider is its consumer.
    #[error("entry {seq}: self-dealing receipt")]
    SelfDealing {
        /// The entry.
        seq: u64,
    },
    /// A receipt the counterparty (or the owner) did not validly sign.
    #[error("entry {seq}: {error}")]
    ReceiptSignature {
        /// The entry.
        seq: u64,
        /// Which signature.
        error: ReceiptSigError,
    },
    /// A contract not validly signed by both parties.
    #[error("entry {seq}: contract signature: {error}")]
    ContractSignature {
        /// The entry.
        seq: u64,
        /// Why.
        error: SignatureError,
    },
    /// A contract entry the owner is not party to.
    #[error("entry {seq}: owner is not a party to the contract")]
    NotContractParty {
        /// The entry.
        seq: u64,
    },
    /// A receipt's credits disagree with its contract's price, or its period is inverted.
    #[error("entry {seq}: receipt does not match its contract or period")]
    ReceiptTerms {
        /// The entry.
        seq: u64,
    },
    /// A balance would overflow.
    #[error("entry {seq}: {error}")]
    Arithmetic {
        /// The entry.
        seq: u64,
        /// What overflowed.
        error: ArithmeticError,
    },
    /// The head is signed by another node than the segment's owner.
    #[error("head is not the owner's")]
    HeadNotOwner,
    /// The head does not name the last entry.
    #[error("head (seq {head_seq}) does not name the last entry (seq {last_seq}) and its hash")]
    HeadMismatch {
        /// Head's seq.
        head_seq: u64,
        /// Last entry's seq.
        last_seq: u64,
    },
    /// The head's signature does not verify.
    #[error("head signature: {0}")]
    HeadSignature(SignatureError),
}

impl LedgerError {
    /// The sequence number of the entry at fault, if the error concerns one.
    pub fn at_seq(&self) -> Option<u64> {
        use LedgerError::*;
        match self {
            SequenceGap { found, .. } | SequenceReused { found, .. } | Reordered { found, .. } => {
                Some(*found)
            }
            BrokenLink { seq }
            | DuplicateEntry { seq }
            | TimeWentBackwards { seq }
            | ReceiptReplayed { seq, .. }
            | ReceiptChainGap { seq, .. }
            | ReceiptChainFork { seq, .. }
            | NotAParty { seq }
            | SelfDealing { seq }
            | ReceiptSignature { seq, .. }
            | ContractSignature { seq, .. }
            | NotContractParty { seq }
            | ReceiptTerms { seq }
            | Arithmetic { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// A signature check the checker deferred.
#[derive(Debug, Clone)]
pub(crate) struct PendingSig {
    pub msg: Vec<u8>,
    pub key: PublicKey,
    pub sig: Sig,
    pub seq: u64,
    pub kind: SigKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum SigKind {
    ReceiptConsumer,
    ReceiptProvider,
    Contract,
}

impl PendingSig {
    pub(crate) fn error(&self, e: SignatureError) -> LedgerError {
        match self.kind {
            SigKind::ReceiptConsumer => LedgerError::ReceiptSignature {
                seq: self.seq,
                error: ReceiptSigError::Consumer(e),
            },
            SigKind::ReceiptProvider => LedgerError::ReceiptSignature {
                seq: self.seq,
                error: ReceiptSigError::Provider(e),
            },
            SigKind::Contract => LedgerError::ContractSignature {
                seq: self.seq,
                error: e,
            },
        }
    }
}

/// The state needed to check the next entry of one owner's chain.
#[derive(Debug, Clone)]
pub struct ChainChecker {
    owner: PublicKey,
    genesis: bool,
    next_seq: u64,
    last_hash: Hash32,
    last_time: Timestamp,
    seen_entries: HashSet<Hash32>,
    seen_receipts: HashSet<Hash32>,
    /// (provider, consumer) → (last receipt seq, last receipt id).
    channels: HashMap<(PublicKey, PublicKey), (u64, Hash32)>,
    /// Contract id → price, for contracts opened within the checked range.
    prices: HashMap<Hash32, Price>,
    balances: Balances,
}

impl ChainChecker {
    /// A checker for `owner`'s chain starting at `start_seq` after `start_prev`.
    /// Receipt chains are checked from their first receipt when `start_seq` is 0, and
    /// from the first one seen otherwise.
    pub fn new(owner: PublicKey, start_seq: u64, start_prev: Hash32) -> Self {
        ChainChecker {
            owner,
            genesis: start_seq == 0,
            next_seq: start_seq,
            last_hash: start_prev,
            last_time: Timestamp(0),
            seen_entries: HashSet::new(),
            seen_receipts: HashSet::new(),
            channels: HashMap::new(),
            prices: HashMap::new(),
            balances: Balances::default(),
        }
    }

    /// The balances proven so far.
    pub fn balances(&self) -> &Balances {
        &self.balances
    }
    /// The next expected sequence number.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    /// Hash of the last accepted entry.
    pub fn last_hash(&self) -> Hash32 {
        self.last_hash
    }

    /// Check `entry` (whose hash is `hash`) and fold it in. Signature checks are pushed
    /// to `sigs` rather than made. `later` holds the entries after it, to tell a
    /// reordering from a gap. On error the checker is unchanged.
    pub(crate) fn check(
        &mut self,
        entry: &Entry,
        hash: Hash32,
        later: &[Entry],
        sigs: &mut Vec<PendingSig>,
    ) -> Result<(), LedgerError> {
        let step = self.prepare(entry, hash, later, sigs)?;
        self.apply(step);
        Ok(())
    }

    /// Check without changing anything; [`ChainChecker::apply`] commits the result.
    pub(crate) fn prepare(
        &self,
        entry: &Entry,
        hash: Hash32,
        later: &[Entry],
        sigs: &mut Vec<PendingSig>,
    ) -> Result<Step, LedgerError> {
        let expected = self.next_seq;
        if entry.seq != expected {
            if self.seen_entries.contains(&hash) {
                return Err(LedgerError::DuplicateEntry { seq: entry.seq });
            }
            if entry.seq < expected {
                return Err(LedgerError::SequenceReused {
                    expected,
                    found: entry.seq,
                });
            }
            if later.iter().any(|e| e.seq == expected) {
                return Err(LedgerError::Reordered {
                    expected,
                    found: entry.seq,
                });
            }
            return Err(LedgerError::SequenceGap {
                expected,
                found: entry.seq,
            });
        }
        let seq = entry.seq;
        if entry.prev != self.last_hash {
            return Err(LedgerError::BrokenLink { seq });
        }
        if entry.time < self.last_time {
            return Err(LedgerError::TimeWentBackwards { seq });
        }
        if self.seen_entries.contains(&hash) {
            return Err(LedgerError::DuplicateEntry { seq });
        }
        let mut step = Step {
            seq,
            hash,
            time: entry.time,
            balance: None,
            channel: None,
            price: None,
            receipt: None,
        };
        match &entry.body {
            EntryBody::Receipt(sr) => {
                let r = &sr.receipt;
                if r.provider == r.consumer {
                    return Err(LedgerError::SelfDealing { seq });
                }
                if r.provider != self.owner && r.consumer != self.owner {
                    return Err(LedgerError::NotAParty { seq });
                }
                if r.period_end < r.period_start {
                    return Err(LedgerError::ReceiptTerms { seq });
                }
                if let Some(price) = self.prices.get(&r.contract)
                    && !r
                        .check_price(*price)
                        .map_err(|error| LedgerError::Arithmetic { seq, error })?
                {
                    return Err(LedgerError::ReceiptTerms { seq });
                }
                let msg = r.signed_message();
                let id = Hash32::of(&msg);
                if self.seen_receipts.contains(&id) {
                    return Err(LedgerError::ReceiptReplayed { seq, receipt: id });
                }
                let chan = (r.provider, r.consumer);
                match self.channels.get(&chan) {
                    Some(&(last_seq, last_id)) => {
                        if r.seq <= last_seq
                            || (r.seq == last_seq.saturating_add(1) && r.prev != last_id)
                        {
                            return Err(LedgerError::ReceiptChainFork {
                                seq,
                                receipt_seq: r.seq,
                            });
                        }
                        if r.seq != last_seq.saturating_add(1) {
                            return Err(LedgerError::ReceiptChainGap {
                                seq,
                                expected: last_seq.saturating_add(1),
                                found: r.seq,
                            });
                        }
                    }
                    None if self.genesis => {
                        if r.seq != 1 {
                            return Err(LedgerError::ReceiptChainGap {
                                seq,
                                expected: 1,
                                found: r.seq,
                            });
                        }
                        if r.prev != Hash32::ZERO {
                            return Err(LedgerError::ReceiptChainFork {
                                seq,
                                receipt_seq: r.seq,
                            });
                        }
                    }
                    None => {}
                }
                let (peer, earned) = if r.provider == self.owner {
                    (r.consumer.node_id(), true)
                } else {
                    (r.provider.node_id(), false)
                };
                let mut line = self
                    .balances
                    .per_counterparty
                    .get(&peer)
                    .copied()
                    .unwrap_or_default();
                let mut total = self.balances.total;
                let ar = |error| LedgerError::Arithmetic { seq, error };
                if earned {
                    line.earned = line.earned.checked_add(r.credits).map_err(ar)?;
                    line.net = line.net.credit(r.credits).map_err(ar)?;
                    total = total.credit(r.credits).map_err(ar)?;
                } else {
                    line.spent = line.spent.checked_add(r.credits).map_err(ar)?;
                    line.net = line.net.debit(r.credits).map_err(ar)?;
                    total = total.debit(r.credits).map_err(ar)?;
                }
                line.last_receipt = line.last_receipt.max(entry.time);
                step.balance = Some((peer, line, total));
                step.channel = Some((chan, (r.seq, id)));
                step.receipt = Some(id);
                sigs.push(PendingSig {
                    msg: msg.clone(),
                    key: r.consumer,
                    sig: sr.consumer_sig,
                    seq,
                    kind: SigKind::ReceiptConsumer,
                });
                sigs.push(PendingSig {
                    msg,
                    key: r.provider,
                    sig: sr.provider_sig,
                    seq,
                    kind: SigKind::ReceiptProvider,
                });
            }
            EntryBody::ContractOpened(sc) => {
                let c = &sc.contract;
                if c.renter != self.owner && c.host != self.owner {
                    return Err(LedgerError::NotContractParty { seq });
                }
                let msg = c.signed_message();
                step.price = Some((Hash32::of(&msg), c.price));
                sigs.push(PendingSig {
                    msg: msg.clone(),
                    key: c.renter,
                    sig: sc.renter_sig,
                    seq,
                    kind: SigKind::Contract,
                });
                sigs.push(PendingSig {
                    msg,
                    key: c.host,
                    sig: sc.host_sig,
                    seq,
                    kind: SigKind::Contract,
                });
            }
            EntryBody::Audit(_) | EntryBody::ContractClosed { .. } => {}
        }
        Ok(step)
    }

    /// Commit a prepared step.
    pub(crate) fn apply(&mut self, step: Step) {
        self.seen_entries.insert(step.hash);
        if let Some((peer, line, total)) = step.balance {
            self.balances.per_counterparty.insert(peer, line);
            self.balances.total = total;
        }
        if let Some((k, v)) = step.channel {
            self.channels.insert(k, v);
        }
        if let Some((k, v)) = step.price {
            self.prices.insert(k, v);
        }
        if let Some(id) = step.receipt {
            self.seen_receipts.insert(id);
        }
        self.next_seq = step.seq.saturating_add(1);
        self.last_hash = step.hash;
        self.last_time = step.time;
    }
}

/// The effect of one checked entry, not yet committed.
#[derive(Debug)]
pub(crate) struct Step {
    seq: u64,
    hash: Hash32,
    time: Timestamp,
    balance: Option<(NodeId, CounterpartyBalance, Balance)>,
    channel: Option<((PublicKey, PublicKey), (u64, Hash32))>,
    price: Option<(Hash32, Price)>,
    receipt: Option<Hash32>,
}

/// A node's own ledger: an append-only hash chain it alone writes.
#[derive(Debug, Clone)]
pub struct Ledger {
    owner: PublicKey,
    entries: Vec<Entry>,
    hashes: Vec<Hash32>,
    checker: ChainChecker,
}

impl Ledger {
    /// An empty ledger for `owner`.
    pub fn new(owner: PublicKey) -> Self {
        Ledger {
            owner,
            entries: Vec::new(),
            hashes: Vec::new(),
            checker: ChainChecker::new(owner, 0, Hash32::ZERO),
        }
    }
    /// Rebuild a ledger from its stored entries (e.g. read back from redb), checking
    /// every rule and signature again, so a corrupted store is refused, not trusted.
    pub fn restore(owner: PublicKey, entries: Vec<Entry>) -> Result<Self, LedgerError> {
        let mut ledger = Ledger::new(owner);
        for e in entries {
            let hash = e.hash();
            let mut sigs = Vec::new();
            let step = ledger.checker.prepare(&e, hash, &[], &mut sigs)?;
            for p in &sigs {
                p.key.verify(&p.msg, &p.sig).map_err(|err| p.error(err))?;
            }
            ledger.checker.apply(step);
            ledger.entries.push(e);
            ledger.hashes.push(hash);
        }
        Ok(ledger)
    }

    /// The owner's key.
    pub fn owner(&self) -> PublicKey {
        self.owner
    }
    /// Append an entry recorded at `time`, after checking every rule and signature.
    /// Returns the new entry's hash; on refusal the ledger is unchanged.
    pub fn append(&mut self, time: Timestamp, body: EntryBody) -> Result<Hash32, LedgerError> {
        let entry = Entry {
            seq: self.checker.next_seq(),
            prev: self.checker.last_hash(),
            time,
            body,
        };
        let hash = entry.hash();
        let mut sigs = Vec::new();
        let step = self.checker.prepare(&entry, hash, &[], &mut sigs)?;
        for p in &sigs {
            p.key.verify(&p.msg, &p.sig).map_err(|e| p.error(e))?;
        }
        self.checker.apply(step);
        self.entries.push(entry);
        self.hashes.push(hash);
        Ok(hash)
    }
    /// Entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }
    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Hash of the entry at `seq`.
    pub fn hash_at(&self, seq: u64) -> Option<Hash32> {
        self.hashes.get(usize::try_from(seq).ok()?).copied()
    }
    /// Balances proven by the whole ledger.
    pub fn balances(&self) -> &Balances {
        self.checker.balances()
    }
    /// Sign the current head (`None` when empty). `key` must be the owner's.
    pub fn sign_head(&self, key: &SigningKey, time: Timestamp) -> Option<SignedHead> {
        let last = self.entries.last()?;
        Some(SignedHead::sign(
            key,
            last.seq,
            self.checker.last_hash(),
            time,
        ))
    }
    /// Export the entries from `from_seq` to the head as a segment (see
    /// [`crate::segment`]), with `evidence` heads attached.
    pub fn export_segment(
        &self,
        key: &SigningKey,
        from_seq: u64,
        time: Timestamp,
        evidence: &[SignedHead],
    ) -> Option<Vec<u8>> {
        let head = self.sign_head(key, time)?;
        let from = usize::try_from(from_seq).ok()?;
        let entries = self.entries.get(from..)?;
        let prev = if from == 0 {
            Hash32::ZERO
        } else {
            *self.hashes.get(from - 1)?
        };
        Some(crate::segment::encode_segment(
            self.owner, from_seq, prev, entries, &head, evidence,
        ))
    }
}
