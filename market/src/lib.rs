//! cairn-market: the rules of cairn's resource market, as pure functions and
//! state machines. No I/O and no clock: every time is an argument.
//!
//! The crate is layered from units up: [`types`] (identities, integer amounts), the
//! canonical [`codec`], the signed objects ([`offer`], [`receipt`]), the ledger chain
//! ([`entry`], [`ledger`], [`segment`]) and what is derived from it ([`balance`],
//! [`quota`], [`reputation`]), the proofs of work ([`proof`] for storage, [`cpu`] for
//! compute), metering of bandwidth ([`bandwidth`]), and a seeded [`simulation`] of a
//! whole market with cheaters in it.

pub mod balance;
pub mod bandwidth;
pub mod codec;
pub mod cpu;
pub mod entry;
pub mod ledger;
pub mod offer;
pub mod proof;
pub mod quota;
pub mod receipt;
pub mod reputation;
pub mod segment;
pub mod simulation;
pub mod types;

pub use balance::{Balances, CounterpartyBalance, DebtDecay};
pub use entry::{
    AuditOutcome, AuditRecord, CloseReason, Entry, EntryBody, Misbehaviour, SignedHead,
};
pub use ledger::{ChainChecker, Ledger, LedgerError};
pub use offer::{BlockRef, Contract, Offer, SignedContract, SignedOffer};
pub use receipt::{Receipt, SignedReceipt};
pub use segment::{Segment, Verdict, verify_segment};
pub use types::{
    Balance, BlockId, Credits, Hash32, NodeId, Price, PublicKey, Quantity, ResourceKind, Sig,
    Timestamp,
};
