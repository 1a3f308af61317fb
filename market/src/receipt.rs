//! Receipts: the only thing that moves credit.
//!
//! Why a receipt is signed by the consumer *and* countersigned by the provider: the
//! consumer's signature is the admission that the resource was delivered (the provider
//! cannot invent income), the provider's is the acceptance of the amount (the consumer
//! cannot invent a cheap receipt). Receipts between one provider and one consumer form
//! their own chain (`seq`, `prev`), so a replayed or forked receipt is caught even when
//! it is copied into a ledger with a correct entry link.

use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::{
    ArithmeticError, Credits, Hash32, PublicKey, Quantity, ResourceKind, Sig, SignatureError,
    Timestamp, read_hash, read_pk, read_sig,
};

/// Domain tag of a receipt.
pub const RECEIPT_DOMAIN: &str = "cairn-market/receipt";
/// Size of an encoded receipt (fixed).
pub const RECEIPT_BYTES: usize =
    RECEIPT_DOMAIN.len() + 1 + 32 + 32 + 1 + 8 + 8 + 8 + 8 + 32 + 8 + 32 + 64 + 64;

/// A resource delivered, as the consumer admits and the provider accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// Who delivered (earns).
    pub provider: PublicKey,
    /// Who used (pays).
    pub consumer: PublicKey,
    /// The resource.
    pub resource: ResourceKind,
    /// How much, in the resource's unit.
    pub amount: Quantity,
    /// The credit it is worth (the contract's price applied to `amount`).
    pub credits: Credits,
    /// Start of the period covered.
    pub period_start: Timestamp,
    /// End of the period covered.
    pub period_end: Timestamp,
    /// The contract it settles (zero when none, e.g. metered bandwidth).
    pub contract: Hash32,
    /// Position in the provider→consumer receipt chain, from 1.
    pub seq: u64,
    /// Id of the previous receipt of that chain (zero for the first).
    pub prev: Hash32,
}

/// A receipt with both signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// The consumer's signature over [`Receipt::signed_message`].
    pub consumer_sig: Sig,
    /// The provider's countersignature over the same bytes.
    pub provider_sig: Sig,
}

impl Receipt {
    /// The canonical bytes both parties sign.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut w = Writer::with_header(RECEIPT_DOMAIN, 1);
        self.encode_body(&mut w);
        w.finish()
    }
    fn encode_body(&self, w: &mut Writer) {
        w.raw(&self.provider.0);
        w.raw(&self.consumer.0);
        self.resource.encode(w);
        w.u64(self.amount.0);
        w.u64(self.credits.0);
        w.u64(self.period_start.0);
        w.u64(self.period_end.0);
        w.raw(&self.contract.0);
        w.u64(self.seq);
        w.raw(&self.prev.0);
    }
    /// The receipt's id: BLAKE3 of its signed message (the `prev` of the next one).
    pub fn id(&self) -> Hash32 {
        Hash32::of(&self.signed_message())
    }
    /// The consumer's signature.
    pub fn sign_as_consumer(&self, key: &SigningKey) -> Sig {
        Sig::sign(key, &self.signed_message())
    }
    /// The provider's countersignature.
    pub fn countersign(self, consumer_sig: Sig, key: &SigningKey) -> SignedReceipt {
        let provider_sig = Sig::sign(key, &self.signed_message());
        SignedReceipt {
            receipt: self,
            consumer_sig,
            provider_sig,
        }
    }
    /// Check that `credits` equals `price` applied to `amount`.
    pub fn check_price(&self, price: crate::types::Price) -> Result<bool, ArithmeticError> {
        Ok(price.cost(self.amount)? == self.credits)
    }
}

impl SignedReceipt {
    /// Check both signatures (consumer first).
    pub fn verify(&self) -> Result<(), ReceiptSigError> {
        let m = self.receipt.signed_message();
        self.receipt
            .consumer
            .verify(&m, &self.consumer_sig)
            .map_err(ReceiptSigError::Consumer)?;
        self.receipt
            .provider
            .verify(&m, &self.provider_sig)
            .map_err(ReceiptSigError::Provider)
    }
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.encode(&mut w);
        w.finish()
    }
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.raw(RECEIPT_DOMAIN.as_bytes());
        w.u8(1);
        self.receipt.encode_body(w);
        w.raw(&self.consumer_sig.0);
        w.raw(&self.provider_sig.0);
    }
    /// Decode (exactly [`RECEIPT_BYTES`]); does not check signatures.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, RECEIPT_BYTES)?;
        let s = Self::decode(&mut r)?;
        r.finish()?;
        Ok(s)
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.header(RECEIPT_DOMAIN, 1)?;
        let receipt = Receipt {
            provider: read_pk(r)?,
            consumer: read_pk(r)?,
            resource: ResourceKind::decode(r)?,
            amount: Quantity(r.u64()?),
            credits: Credits(r.u64()?),
            period_start: Timestamp(r.u64()?),
            period_end: Timestamp(r.u64()?),
            contract: read_hash(r)?,
            seq: r.u64()?,
            prev: read_hash(r)?,
        };
        Ok(SignedReceipt {
            receipt,
            consumer_sig: read_sig(r)?,
            provider_sig: read_sig(r)?,
        })
    }
}

/// Which of a receipt's two signatures failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum ReceiptSigError {
    /// The consumer's signature (the admission of delivery).
    #[error("consumer signature: {0}")]
    Consumer(SignatureError),
    /// The provider's countersignature.
    #[error("provider countersignature: {0}")]
    Provider(SignatureError),
}
